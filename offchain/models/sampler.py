"""A hand-built two-step sampler using every generation op (issue 15), for disputes, the prover's coverage and the
game fuzzer: request bytes -> GEN_PARAMS; committed logits -> TOPK blocks -> TOPK merge; then per step PRNG ->
SAMPLE -> GEN_STOP (step 1 reads step 0's stop output). Not a language model: the logits are a fixed weight, so
both steps sample from the same candidates (offchain/models/generate.py chains the real decoder)."""

from __future__ import annotations

import numpy as np

from offchain.engine.dtypes import DType
from offchain.engine.graph import Graph, Node, TensorKind, TensorRef, TensorSpec
from offchain.engine.model import Model
from offchain.engine.ops import OpCode
from offchain.engine.ops.sample import request_params

V, K, BLOCK, FRAC = 40, 8, 16, 4  # vocabulary, top-k size, TOPK block, logits' frac bits
EOS = 2
STEPS = 2


def sampler_model(seed: int = 15) -> Model:
    """Nodes: 0 GEN_PARAMS (N = 4, K), 1 TOPK mode 0, 2 TOPK mode 1, then per step s: PRNG, SAMPLE, GEN_STOP.
    Input: the 16 request parameter bytes (INT8 [16]); weight: logits INT16/f4 [1, 1, V]."""
    i32 = DType.INT32
    raw = TensorSpec((16,), DType.INT8, 0, 5, "request.params")
    logits = TensorSpec((1, 1, V), DType.INT16, FRAC, 5, "logits")
    params4 = TensorSpec((4,), i32, 0, 5, "params4")
    blocks = TensorSpec((-(-V // BLOCK), K, 2), i32, 0, 5, "topk.blocks")
    cand = TensorSpec((1, K, 2), i32, 0, 5, "topk.final")
    scalar = TensorSpec((1,), i32, 0, 5, "scalar")
    a = lambda j: TensorRef(TensorKind.ACTIVATION, j)  # noqa: E731
    nodes = [
        Node(OpCode.GEN_PARAMS, (TensorRef(TensorKind.INPUT, 0),), (raw,), params4, (4, K), "params"),
        Node(OpCode.TOPK, (TensorRef(TensorKind.WEIGHT, 0),), (logits,), blocks, (0, K, BLOCK), "topk.0"),
        Node(OpCode.TOPK, (a(1),), (blocks,), cand, (1, K, blocks.shape[0]), "topk.1"),
    ]
    for step in range(STEPS):
        base = len(nodes)
        nodes.append(Node(OpCode.PRNG, (a(0),), (params4,), scalar, (step,), f"prng.{step}"))
        nodes.append(Node(OpCode.SAMPLE, (a(2), a(0), a(base)), (cand, params4, scalar), scalar, (FRAC,),
                          f"sample.{step}"))
        ins, specs = (a(base + 1), a(0)), (scalar, params4)
        if step:
            ins, specs = ins + (a(base - 1),), specs + (scalar,)
        nodes.append(Node(OpCode.GEN_STOP, ins, specs, scalar, (step, EOS), f"stop.{step}"))
    graph = Graph([raw], [logits], nodes)
    values = np.random.default_rng(seed).integers(-400, 400, size=(1, 1, V)).astype(np.int16)
    model = Model(graph, [values], {"name": "sampler"})
    model.validate()
    return model


def sampler_input(max_new: int = 3, temperature: float = 0.8, top_k: int = 5, seed: int = 77) -> np.ndarray:
    """The request's parameter bytes as the INT8 [16] input."""
    return np.frombuffer(request_params(max_new, temperature, top_k, seed), dtype=np.int8).copy()


def sampler_fixture() -> tuple[Model, np.ndarray]:
    return sampler_model(), sampler_input()

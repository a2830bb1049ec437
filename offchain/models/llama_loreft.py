"""`llama-tiny-loreft`: llama-tiny with a LoReFT intervention (LOREFT node) on the residual stream after every
decoder layer, the opp/ai demo shape of "Llama-2-7B fine-tuned with 32 LoReFT interventions" at toy size. The
interventions' weights are the private part (``private_spec``); all of them share one circuit, hence one key,
so a submission's proofs verify in one batch."""

from __future__ import annotations

import dataclasses

import numpy as np

from offchain.engine.dtypes import DType
from offchain.engine.graph import Graph, Node, TensorKind, TensorRef, TensorSpec
from offchain.engine.model import Model
from offchain.engine.ops import OpCode
from offchain.zk.private import PrivateSpec

RANK = 4
#: R and W frac bits (int8 values up to 40, i.e. |R|, |W| <= 0.31); b's frac is h's frac + FW.
FW = 7


def layer_outputs(model: Model) -> list[int]:
    """Index of the last node of each decoder layer (its residual output), in order."""
    last: dict[int, int] = {}
    for i, node in enumerate(model.graph.nodes):
        if "(DecoderLayer)" in node.source:
            layer = int(node.source.split("module 'layers.")[1].split("'")[0])
            last[layer] = i
    return [last[k] for k in sorted(last)]


def insert_interventions(model: Model, after: list[int], rank: int = RANK, seed: int = 11) -> Model:
    """``model`` with a LOREFT node after each node in ``after`` (which later nodes then read instead)."""
    rng = np.random.default_rng(seed)
    g = model.graph
    weights, w_specs = list(model.weights), list(g.weights)
    nodes: list[Node] = []
    moved: dict[int, int] = {}   # old node index -> new index of the tensor that replaces it for later readers

    def remap(ref: TensorRef) -> TensorRef:
        return TensorRef(TensorKind.ACTIVATION, moved[ref.index]) if ref.kind == TensorKind.ACTIVATION else ref

    for i, node in enumerate(g.nodes):
        nodes.append(dataclasses.replace(node, inputs=tuple(remap(r) for r in node.inputs)))
        moved[i] = len(nodes) - 1
        if i in after:
            h = node.output
            d = h.shape[-1]
            r_spec = TensorSpec((rank, d), DType.INT8, FW, 5, f"loreft{i}.R")
            w_spec = TensorSpec((rank, d), DType.INT8, FW, 5, f"loreft{i}.W")
            b_spec = TensorSpec((rank,), DType.INT32, h.frac + FW, 5, f"loreft{i}.b")
            refs = []
            for spec, values in ((r_spec, rng.integers(-40, 41, (rank, d))), (w_spec, rng.integers(-40, 41, (rank, d))),
                                 (b_spec, rng.integers(-(1 << (h.frac + FW - 4)), 1 << (h.frac + FW - 4), rank))):
                weights.append(values.astype(spec.dtype.numpy))
                w_specs.append(spec)
                refs.append(TensorRef(TensorKind.WEIGHT, len(w_specs) - 1))
            out = TensorSpec(h.shape, h.dtype, h.frac, h.chunk_log2, f"loreft.{i}")
            nodes.append(Node(OpCode.LOREFT, (TensorRef(TensorKind.ACTIVATION, moved[i]), *refs),
                              (h, r_spec, w_spec, b_spec), out, (), f"loreft after node {i}"))
            moved[i] = len(nodes) - 1
    out = Model(Graph(list(g.inputs), w_specs, nodes), weights, {**model.meta, "name": model.meta.get("name", "")})
    out.validate()
    return out


def llama_tiny_loreft() -> tuple[Model, np.ndarray]:
    """The model and an example prompt (token ids)."""
    from offchain.models import build_reference

    base = build_reference("llama-tiny")
    model = insert_interventions(base.model, layer_outputs(base.model))
    model.meta["name"] = "llama-tiny-loreft"
    return model, base.example_inputs[0]


def private_spec(model: Model) -> PrivateSpec:
    """Every LOREFT node is private."""
    return PrivateSpec(tuple(i for i, n in enumerate(model.graph.nodes) if n.op == OpCode.LOREFT))

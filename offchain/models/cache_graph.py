"""A small graph of the KV-cache ops (offchain/engine/ops/cache.py), for the dispute tests and the game fuzzer:
ids [1, 6] -> ALIGN_END -> ATTN_BIAS -> CAT_MATMUL axis 0 -> CAT_MATMUL axis 1, whose CAT_MATMUL blocks mix an
earlier node's output (root proven against the trace root) with weights (proven against the weights root), as a
decode step's cache does."""

from __future__ import annotations

import numpy as np

from offchain.engine.dtypes import DType
from offchain.engine.graph import Graph, Node, TensorKind, TensorRef, TensorSpec
from offchain.engine.model import Model
from offchain.engine.ops import OpCode

PAD, NEG = 0, -20000
IDS = [5, 9, 11, PAD, PAD, PAD]  # a prompt of three tokens, BPE_IDS-style trailing pads


def _act(i: int) -> TensorRef:
    return TensorRef(TensorKind.ACTIVATION, i)


def _w(i: int) -> TensorRef:
    return TensorRef(TensorKind.WEIGHT, i)


def cache_graph() -> tuple[Model, np.ndarray]:
    """ids [1, 6] -> ALIGN_END -> ATTN_BIAS [6, 6] (q0 = 3, nq = 3, g = 2) -> CAT_MATMUL axis 0 (a W0 [4, 6]; blocks
    the bias [6, 6] and W1 [2, 6]) -> CAT_MATMUL axis 1 (a the scores [4, 8]; blocks the bias [6, 6] and W2 [6, 2])."""
    i32, i16 = DType.INT32, DType.INT16
    ids = TensorSpec((1, 6), i32, 0, 5, "ids")
    rng = np.random.default_rng(15)
    w_specs = [TensorSpec((4, 6), i16, 4, 5, "w0"), TensorSpec((2, 6), i16, 1, 5, "w1"),
               TensorSpec((6, 2), i16, 1, 5, "w2")]
    weights = [rng.integers(-300, 300, size=s.shape).astype(np.int16) for s in w_specs]
    aligned = TensorSpec((1, 6), i32, 0, 5, "aligned")
    bias = TensorSpec((6, 6), i16, 1, 5, "bias")
    scores = TensorSpec((4, 8), i16, 1, 5, "scores")
    mixed = TensorSpec((4, 6), i32, 0, 5, "mixed")
    nodes = [
        Node(OpCode.ALIGN_END, (TensorRef(TensorKind.INPUT, 0),), (ids,), aligned, (PAD,), "align"),
        Node(OpCode.ATTN_BIAS, (_act(0),), (aligned,), bias, (PAD, NEG, 3, 3, 2), "bias"),
        Node(OpCode.CAT_MATMUL, (_w(0), _act(1), _w(1)), (w_specs[0], bias, w_specs[1]), scores, (0,), "scores"),
        Node(OpCode.CAT_MATMUL, (_act(2), _act(1), _w(2)), (scores, bias, w_specs[2]), mixed, (1,), "mix"),
    ]
    model = Model(Graph([ids], w_specs, nodes), weights, {"name": "cache-ops"})
    model.validate()
    return model, np.array([IDS], dtype=np.int32)

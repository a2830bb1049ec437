"""A small hidden-state block with a LoReFT intervention (LOREFT node), for tests of the operator, its one-step
proof and its private (Groth16) form: h int16 [rows, d] -> LOREFT (rank r) -> RELU."""

from __future__ import annotations

import numpy as np

from offchain.engine.dtypes import DType
from offchain.engine.graph import Graph, Node, TensorKind, TensorRef, TensorSpec
from offchain.engine.model import Model
from offchain.engine.ops import OpCode


def loreft_block(rows: int = 2, d: int = 16, r: int = 2, seed: int = 4) -> Model:
    """h frac 8, R and W int8 frac 6, b int32 frac 14; output int16 frac 8 (h's), then RELU."""
    rng = np.random.default_rng(seed)
    h = TensorSpec((rows, d), DType.INT16, 8, 5, "h")
    r_spec = TensorSpec((r, d), DType.INT8, 6, 5, "R")
    w_spec = TensorSpec((r, d), DType.INT8, 6, 5, "W")
    b_spec = TensorSpec((r,), DType.INT32, 14, 5, "b")
    out = TensorSpec((rows, d), DType.INT16, 8, 5, "loreft")
    relu = TensorSpec((rows, d), DType.INT16, 8, 5, "relu")
    w = lambda j: TensorRef(TensorKind.WEIGHT, j)  # noqa: E731
    nodes = [
        Node(OpCode.LOREFT, (TensorRef(TensorKind.INPUT, 0), w(0), w(1), w(2)), (h, r_spec, w_spec, b_spec), out, (),
             "loreft"),
        Node(OpCode.RELU, (TensorRef(TensorKind.ACTIVATION, 0),), (out,), relu, (), "relu"),
    ]
    weights = [rng.integers(-128, 128, (r, d)).astype(np.int8), rng.integers(-128, 128, (r, d)).astype(np.int8),
               rng.integers(-(1 << 20), 1 << 20, r).astype(np.int32)]
    model = Model(Graph([h], [r_spec, w_spec, b_spec], nodes), weights, {"name": "loreft-block"})
    model.validate()
    return model


def loreft_input(rows: int = 2, d: int = 16, seed: int = 5, scale: int = 6000) -> np.ndarray:
    return np.random.default_rng(seed).integers(-scale, scale, (rows, d)).astype(np.int16)

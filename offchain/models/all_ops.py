"""A small integer model that uses every operator, for one-step proofs through the whole prover."""

from __future__ import annotations

import numpy as np

from offchain.engine.dtypes import DType
from offchain.engine.graph import Graph, Node, TensorKind, TensorRef, TensorSpec
from offchain.engine.model import Model
from offchain.engine.ops import OpCode

T, D, V = 6, 8, 20  # tokens, model width, vocabulary


class _Builder:
    def __init__(self, rng: np.random.Generator):
        self.rng = rng
        self.weights: list[np.ndarray] = []
        self.w_specs: list[TensorSpec] = []
        self.nodes: list[Node] = []

    def weight(self, shape, dtype: DType, frac: int, lo: int | None = None, hi: int | None = None):
        spec = TensorSpec(tuple(shape), dtype, frac, 5)
        lo = dtype.qmin if lo is None else lo
        hi = dtype.qmax if hi is None else hi
        self.weights.append(self.rng.integers(lo, hi + 1, size=shape).astype(dtype.numpy))
        self.w_specs.append(spec)
        return TensorRef(TensorKind.WEIGHT, len(self.w_specs) - 1), spec

    def node(self, op, operands, shape, dtype: DType, frac: int, params=()):
        out = TensorSpec(tuple(shape), dtype, frac, 5)
        refs = tuple(r for r, _ in operands)
        specs = tuple(s for _, s in operands)
        self.nodes.append(Node(int(op), refs, specs, out, tuple(params), op.name))
        return TensorRef(TensorKind.ACTIVATION, len(self.nodes) - 1), out


def all_ops_model(seed: int = 3) -> Model:
    """ids int32 [1, T] -> embedding, RMSNorm, linear, RoPE, attention (reshape, permute, matmul, causal
    softmax), GELU, SiLU, slice, concat, add/sub/mul with broadcasting, neg, LayerNorm, conv, ReLU, max and
    average pooling, mean, amax, tanh, sigmoid, softplus, clamp, leaky ReLU, hardswish, hardsigmoid, expand,
    where (a constant mask), rescale."""
    b = _Builder(np.random.default_rng(seed))
    ids = (TensorRef(TensorKind.INPUT, 0), TensorSpec((1, T), DType.INT32, 0, 5))
    table = b.weight((V, D), DType.INT8, 4)
    x = b.node(OpCode.EMBEDDING, [ids, table], (1, T, D), DType.INT16, 6)
    x = b.node(OpCode.RMSNORM, [x, b.weight((D,), DType.INT16, 14, 8000, 20000)], (1, T, D), DType.INT16, 10, (1,))
    q = b.node(OpCode.LINEAR, [x, b.weight((D, D), DType.INT8, 6)], (1, T, D), DType.INT16, 8)
    cos = b.weight((T, D), DType.INT16, 14, -16384, 16384)
    sin = b.weight((T, D), DType.INT16, 14, -16384, 16384)
    q = b.node(OpCode.ROPE, [q, cos, sin], (1, T, D), DType.INT16, 8)
    heads = b.node(OpCode.RESHAPE, [q], (1, T, 2, D // 2), DType.INT16, 8)
    heads = b.node(OpCode.PERMUTE, [heads], (1, 2, T, D // 2), DType.INT16, 8, (0, 2, 1, 3))
    scores = b.node(OpCode.MATMUL, [heads, heads], (1, 2, T, T), DType.INT32, 12)
    probs = b.node(OpCode.SOFTMAX, [scores], (1, 2, T, T), DType.INT16, 14, (1,))
    act = b.node(OpCode.GELU, [probs], (1, 2, T, T), DType.INT16, 14, (0,))
    act = b.node(OpCode.SILU, [act], (1, 2, T, T), DType.INT16, 14)
    act = b.node(OpCode.GELU, [act], (1, 2, T, T), DType.INT16, 14, (1,))
    half = b.node(OpCode.SLICE, [act], (1, 2, T, T // 2), DType.INT16, 14, (3, 1, 2))
    joined = b.node(OpCode.CONCAT, [half, half], (1, 2, T, T), DType.INT16, 14, (3,))
    mixed = b.node(OpCode.ADD, [joined, probs], (1, 2, T, T), DType.INT16, 13)
    mixed = b.node(OpCode.SUB, [mixed, b.weight((T,), DType.INT8, 5)], (1, 2, T, T), DType.INT16, 13)
    mixed = b.node(OpCode.MUL, [mixed, b.weight((2, 1, 1), DType.INT8, 6)], (1, 2, T, T), DType.INT16, 12)
    mixed = b.node(OpCode.NEG, [mixed], (1, 2, T, T), DType.INT16, 12)
    normed = b.node(OpCode.LAYERNORM, [mixed, b.weight((T,), DType.INT16, 14, 8000, 20000),
                                       b.weight((T,), DType.INT16, 14, -4000, 4000)], (1, 2, T, T), DType.INT16, 10, (3,))
    conv = b.node(OpCode.CONV2D, [normed, b.weight((3, 2, 3, 3), DType.INT8, 6),
                                  b.weight((3,), DType.INT32, 16, -5000, 5000)], (1, 3, 3, 3), DType.INT16, 10,
                  (2, 2, 1, 1))
    conv = b.node(OpCode.RELU, [conv], (1, 3, 3, 3), DType.INT16, 10)
    conv = b.node(OpCode.MAXPOOL2D, [conv], (1, 3, 3, 3), DType.INT16, 10, (3, 3, 1, 1, 1, 1))
    conv = b.node(OpCode.AVGPOOL2D, [conv], (1, 3, 3, 3), DType.INT16, 10, (3, 3, 1, 1, 1, 1, 0))
    mean = b.node(OpCode.MEAN, [conv], (1, 3, 3), DType.INT16, 10, (round((1 << 12) / 3), 12))
    peak = b.node(OpCode.AMAX, [mean], (1, 3, 1), DType.INT16, 10)
    act = b.node(OpCode.TANH, [peak], (1, 3, 1), DType.INT16, 14)
    act = b.node(OpCode.SIGMOID, [act], (1, 3, 1), DType.INT16, 14)
    act = b.node(OpCode.SOFTPLUS, [act], (1, 3, 1), DType.INT16, 12)
    act = b.node(OpCode.CLAMP, [act], (1, 3, 1), DType.INT16, 12, (-(1 << 11), 1 << 11))
    act = b.node(OpCode.LEAKY_RELU, [act], (1, 3, 1), DType.INT16, 12, (167772, 24))
    act = b.node(OpCode.HARDSWISH, [act], (1, 3, 1), DType.INT16, 12)
    act = b.node(OpCode.HARDSIGMOID, [act], (1, 3, 1), DType.INT16, 14)
    wide = b.node(OpCode.EXPAND, [act], (1, 3, 4), DType.INT16, 14)
    cond = b.weight((1, 1, 4), DType.INT8, 0, 0, 1)
    picked = b.node(OpCode.WHERE, [cond, wide, b.weight((1, 3, 1), DType.INT16, 14)], (1, 3, 4), DType.INT16, 14)
    b.node(OpCode.RESCALE, [picked], (1, 3, 4), DType.INT8, 6)
    model = Model(Graph([ids[1]], b.w_specs, b.nodes), b.weights, {"name": "all-ops"})
    model.validate()
    return model


def all_ops_input(seed: int = 4) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, V, size=(1, T)).astype(np.int32)

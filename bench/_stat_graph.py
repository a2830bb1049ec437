"""Shared by the RSQRT / EXP tests (disputes, the prover over every op) and the game fuzzer: a small hand-built graph
of the two-pass softmax and a normalisation by 1 / sqrt of a mean square, as the compiler lowers a wide softmax and a
GroupNorm (sd-unet-block, issue 16). x [2, 8] INT16 frac 8 in:
    m = AMAX(x), d = SUB(x, m) (INT32 f8), e = EXP(d) (INT32 Q30), S' = MEAN(e) (sum >> 3, INT32 f27),
    p = EXP(d, S') (INT16 f14: softmax of x), v = MEAN(MUL(x, x)) (INT32 f16), r = RSQRT(v, eps 1) (INT32 f20),
    out = MUL(p, r) (INT16 f14)."""

from __future__ import annotations

import numpy as np

from offchain.engine.dtypes import DType
from offchain.engine.graph import Graph, Node, TensorKind, TensorRef, TensorSpec
from offchain.engine.model import Model
from offchain.engine.ops import OpCode

ROWS, N = 2, 8
#: Node indices of the ops the disputes corrupt.
EXP_NODE, EXP_DIV_NODE, RSQRT_NODE = 2, 4, 7


def stat_graph(seed: int = 65) -> tuple[Model, np.ndarray]:
    nodes: list[Node] = []

    def node(op, operands, shape, dtype, frac, params=()):
        out = TensorSpec(tuple(shape), dtype, frac, 5)
        nodes.append(Node(int(op), tuple(r for r, _ in operands), tuple(s for _, s in operands), out,
                          tuple(params), op.name))
        return TensorRef(TensorKind.ACTIVATION, len(nodes) - 1), out

    x = (TensorRef(TensorKind.INPUT, 0), TensorSpec((ROWS, N), DType.INT16, 8, 5))
    m = node(OpCode.AMAX, [x], (ROWS, 1), DType.INT16, 8)
    d = node(OpCode.SUB, [x, m], (ROWS, N), DType.INT32, 8)
    e = node(OpCode.EXP, [d], (ROWS, N), DType.INT32, 30)
    s = node(OpCode.MEAN, [e], (ROWS, 1), DType.INT32, 27, (1, 0))
    p = node(OpCode.EXP, [d, s], (ROWS, N), DType.INT16, 14)
    q = node(OpCode.MUL, [x, x], (ROWS, N), DType.INT32, 16)
    v = node(OpCode.MEAN, [q], (ROWS, 1), DType.INT32, 16, (1, 3))
    r = node(OpCode.RSQRT, [v], (ROWS, 1), DType.INT32, 20, (1,))
    node(OpCode.MUL, [p, r], (ROWS, N), DType.INT16, 14)
    model = Model(Graph([x[1]], [], nodes), [], {"name": "stat-ops"})
    model.validate()
    rng = np.random.default_rng(seed)
    return model, rng.integers(-(4 << 8), 4 << 8, size=(ROWS, N)).astype(np.int16)

"""Shared by the RSQRT / EXP tests (disputes, the prover over every op) and the game fuzzer: a small hand-built graph
of the two-pass softmax and a normalisation by 1 / sqrt of a mean square, as the compiler lowers a wide softmax and a
GroupNorm (sd-unet-block, issue 16). x [2, 8] INT16 frac 8 in:
    m = AMAX(x), e = EXP(x, m) (INT32 Q30), S' = MEAN(e) (sum >> 3, INT32 f27), p = EXP(x, m, S') (INT16 f14:
    softmax of x), d = SUB(x, m) (INT16 f8), q = EXP(d) (INT16 f12: the one-input form), v = MEAN(MUL(x, x)) (INT32
    f16), r = RSQRT(v, eps 1) (INT32 f20), out = MUL(ADD(p, q), r) (INT16 f14)."""

from __future__ import annotations

import numpy as np

from offchain.engine.dtypes import DType
from offchain.engine.graph import Graph, Node, TensorKind, TensorRef, TensorSpec
from offchain.engine.model import Model
from offchain.engine.ops import OpCode

ROWS, N = 2, 8
#: Node indices of the ops the disputes corrupt: EXP's three forms and RSQRT.
EXP_MAX_NODE, EXP_DIV_NODE, EXP_NODE, RSQRT_NODE = 1, 3, 5, 8


def stat_graph(seed: int = 65) -> tuple[Model, np.ndarray]:
    nodes: list[Node] = []

    def node(op, operands, shape, dtype, frac, params=()):
        out = TensorSpec(tuple(shape), dtype, frac, 5)
        nodes.append(Node(int(op), tuple(r for r, _ in operands), tuple(s for _, s in operands), out,
                          tuple(params), op.name))
        return TensorRef(TensorKind.ACTIVATION, len(nodes) - 1), out

    x = (TensorRef(TensorKind.INPUT, 0), TensorSpec((ROWS, N), DType.INT16, 8, 5))
    m = node(OpCode.AMAX, [x], (ROWS, 1), DType.INT16, 8)                        # 0
    e = node(OpCode.EXP, [x, m], (ROWS, N), DType.INT32, 30)                     # 1
    s = node(OpCode.MEAN, [e], (ROWS, 1), DType.INT32, 27, (1, 0))               # 2
    p = node(OpCode.EXP, [x, m, s], (ROWS, N), DType.INT16, 14)                  # 3
    d = node(OpCode.SUB, [x, m], (ROWS, N), DType.INT16, 8)                      # 4
    q = node(OpCode.EXP, [d], (ROWS, N), DType.INT16, 12)                        # 5
    sq = node(OpCode.MUL, [x, x], (ROWS, N), DType.INT32, 16)                    # 6
    v = node(OpCode.MEAN, [sq], (ROWS, 1), DType.INT32, 16, (1, 3))              # 7
    r = node(OpCode.RSQRT, [v], (ROWS, 1), DType.INT32, 20, (1,))               # 8
    both = node(OpCode.ADD, [p, q], (ROWS, N), DType.INT16, 12)                  # 9
    node(OpCode.MUL, [both, r], (ROWS, N), DType.INT16, 14)                      # 10
    model = Model(Graph([x[1]], [], nodes), [], {"name": "stat-ops"})
    model.validate()
    rng = np.random.default_rng(seed)
    return model, rng.integers(-(4 << 8), 4 << 8, size=(ROWS, N)).astype(np.int16)

"""LINEAR (x W^T + b) and MATMUL (a b^T): the reductions that dominate model cost.

Both reduce over the last axis of *both* operands, so the operands of one
output element are two contiguous rows (torch's ``[out, in]`` weight layout;
for MATMUL the compiler hands b over already transposed, ``[..., N, K]``).

LINEAR  inputs: x [..., K] (any dtype, frac fx), W [N, K] (frac fw),
        optional bias [N] int32 with frac fx + fw.  params: none.
        out [..., N] = rescale(sum_k x[..., k] W[n, k] + b[n], fx + fw - fo)
MATMUL  inputs: a [..., M, K], b [..., N, K] (same leading dims).  params: none.
        out [..., M, N] = rescale(sum_k a[..., m, k] b[..., n, k], fa + fb - fo)
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from offchain.engine.dtypes import DType
from offchain.engine.errors import DtypeMismatchError, ShapeMismatchError
from offchain.engine.graph import Node
from offchain.engine.ops.base import Op, Range, expect_inputs, expect_params, expect_shape
from offchain.engine.ops.codes import OpCode
from offchain.engine.ops.fixed import (
    accumulator_bits,
    check_shift,
    exact_matmul_rescale,
    rescale_int,
)

#: Accumulators must fit int64 with a bit to spare for the rounding offset.
MAX_ACC_BITS = 62


def _shift(node: Node) -> int:
    return node.in_specs[0].frac + node.in_specs[1].frac - node.output.frac


def _check_acc(node: Node, k: int) -> None:
    bits = accumulator_bits(node.in_specs[0].dtype, node.in_specs[1].dtype, k) + 1
    if bits > MAX_ACC_BITS:
        raise DtypeMismatchError(f"accumulator may need {bits} bits (> {MAX_ACC_BITS}) "
                                 f"for {node.in_specs[0].dtype.name} x {node.in_specs[1].dtype.name} "
                                 f"over {k} terms")


class Linear(Op):
    """Fully connected layer, weight ``[out, in]``."""

    code = OpCode.LINEAR
    name = "LINEAR"

    def check(self, node: Node) -> None:
        expect_inputs(node, (2, 3))
        expect_params(node, 0)
        x, w = node.in_specs[0], node.in_specs[1]
        if len(x.shape) < 1 or len(w.shape) != 2:
            raise ShapeMismatchError(f"x {x.shape} needs rank >= 1 and W {w.shape} rank 2")
        n, k = w.shape
        expect_shape("x last dim", x.shape[-1:], (k,))
        expect_shape("output", node.output.shape, x.shape[:-1] + (n,))
        if len(node.inputs) == 3:
            b = node.in_specs[2]
            expect_shape("bias", b.shape, (n,))
            if b.dtype != DType.INT32 or b.frac != x.frac + w.frac:
                raise DtypeMismatchError(f"bias must be INT32 with frac {x.frac + w.frac}, "
                                         f"got {b.dtype.name}/f{b.frac}")
        _check_acc(node, k)
        check_shift(_shift(node), "requantisation")

    def forward(self, inputs: Sequence[np.ndarray], node: Node) -> np.ndarray:
        bias = inputs[2] if len(inputs) == 3 else None
        return exact_matmul_rescale(inputs[0], inputs[1], bias, _shift(node), node.output.dtype)

    def operand_ranges(self, node: Node, out_index: int,
                       inputs: Sequence[np.ndarray] | None = None) -> list[Range]:
        n, k = node.in_specs[1].shape
        row, col = divmod(out_index, n)
        ranges = [(0, row * k, k), (1, col * k, k)]
        if len(node.inputs) == 3:
            ranges.append((2, col, 1))
        return ranges

    def element(self, node: Node, operands: Sequence[Sequence[int]], out_index: int) -> int:
        acc = sum(int(a) * int(b) for a, b in zip(operands[0], operands[1]))
        if len(operands) == 3:
            acc += int(operands[2][0])
        return rescale_int(acc, _shift(node), node.output.dtype)


class Matmul(Op):
    """Batched ``a @ b^T`` with b given as ``[..., N, K]`` so its rows are contiguous."""

    code = OpCode.MATMUL
    name = "MATMUL"

    def check(self, node: Node) -> None:
        expect_inputs(node, (2,))
        expect_params(node, 0)
        a, b = node.in_specs
        if len(a.shape) < 2 or len(b.shape) != len(a.shape):
            raise ShapeMismatchError(f"a {a.shape} and b {b.shape} need the same rank >= 2")
        expect_shape("b leading dims", b.shape[:-2], a.shape[:-2])
        expect_shape("b last dim (K)", b.shape[-1:], a.shape[-1:])
        expect_shape("output", node.output.shape, a.shape[:-1] + (b.shape[-2],))
        _check_acc(node, a.shape[-1])
        check_shift(_shift(node), "requantisation")

    def forward(self, inputs: Sequence[np.ndarray], node: Node) -> np.ndarray:
        return exact_matmul_rescale(inputs[0], inputs[1], None, _shift(node), node.output.dtype)

    def operand_ranges(self, node: Node, out_index: int,
                       inputs: Sequence[np.ndarray] | None = None) -> list[Range]:
        m, k = node.in_specs[0].shape[-2:]
        n = node.in_specs[1].shape[-2]
        batch, rest = divmod(out_index, m * n)
        row, col = divmod(rest, n)
        return [(0, (batch * m + row) * k, k), (1, (batch * n + col) * k, k)]

    def element(self, node: Node, operands: Sequence[Sequence[int]], out_index: int) -> int:
        acc = sum(int(a) * int(b) for a, b in zip(operands[0], operands[1]))
        return rescale_int(acc, _shift(node), node.output.dtype)

"""ADD, SUB, MUL: binary elementwise ops with numpy broadcasting.

Broadcasting: shapes are right-aligned; a dimension of size 1 (or a missing
leading dimension) repeats; the output shape is ``np.broadcast_shapes(a, b)``
and must equal the node's output shape. Each output element reads one element
of each input.

ADD/SUB: both operands are first aligned exactly to fc = max(fa, fb) by left
shifts (|fa - fb| <= 30), then out = rescale(a' +/- b', fc - fo).
MUL:     out = rescale(a * b, fa + fb - fo).
params: none.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from offchain.engine import kernels
from offchain.engine.errors import ParamError, ShapeMismatchError
from offchain.engine.graph import Node
from offchain.engine.ops.base import Op, Range, expect_inputs, expect_params, expect_shape, ravel, unravel
from offchain.engine.ops.codes import OpCode
from offchain.engine.ops.fixed import check_shift, rescale, rescale_int

#: Largest frac difference ADD/SUB align by shifting (int32 << 30 plus another stays below 2**63).
MAX_ALIGN_SHIFT = 30


def broadcast_index(out_multi: Sequence[int], in_shape: Sequence[int]) -> int:
    """Flat index into an input of ``in_shape`` read by output multi-index ``out_multi``."""
    offset = len(out_multi) - len(in_shape)
    multi = [0 if dim == 1 else out_multi[offset + axis] for axis, dim in enumerate(in_shape)]
    return ravel(multi, in_shape)


class _Binary(Op):
    def check(self, node: Node) -> None:
        expect_inputs(node, (2,))
        expect_params(node, 0)
        a, b = node.in_specs
        try:
            shape = np.broadcast_shapes(a.shape, b.shape)
        except ValueError:
            raise ShapeMismatchError(f"shapes {a.shape} and {b.shape} do not broadcast") from None
        expect_shape("output", node.output.shape, tuple(shape))
        self._check_scales(node)

    def _check_scales(self, node: Node) -> None:
        raise NotImplementedError

    def operand_ranges(self, node: Node, out_index: int,
                       inputs: Sequence[np.ndarray] | None = None) -> list[Range]:
        multi = unravel(out_index, node.output.shape)
        return [(slot, broadcast_index(multi, spec.shape), 1) for slot, spec in enumerate(node.in_specs)]


class _AddSub(_Binary):
    sign: int

    def _aligned(self, node: Node) -> tuple[int, int, int]:
        fa, fb = node.in_specs[0].frac, node.in_specs[1].frac
        fc = max(fa, fb)
        return fc - fa, fc - fb, fc - node.output.frac

    def _check_scales(self, node: Node) -> None:
        sa, sb, s = self._aligned(node)
        if max(sa, sb) > MAX_ALIGN_SHIFT:
            raise ParamError(f"frac bits differ by {max(sa, sb)} > {MAX_ALIGN_SHIFT}")
        check_shift(s, "requantisation")

    def forward(self, inputs: Sequence[np.ndarray], node: Node) -> np.ndarray:
        sa, sb, s = self._aligned(node)
        out = kernels.binary("add" if self.sign > 0 else "sub", inputs[0], inputs[1], sa, sb, s,
                             node.output.shape, node.output.dtype.numpy)
        if out is not None:
            return out
        a = np.left_shift(inputs[0].astype(np.int64), sa)
        b = np.left_shift(inputs[1].astype(np.int64), sb)
        return rescale(a + self.sign * b, s, node.output.dtype)

    def element(self, node: Node, operands: Sequence[Sequence[int]], out_index: int) -> int:
        sa, sb, s = self._aligned(node)
        acc = (int(operands[0][0]) << sa) + self.sign * (int(operands[1][0]) << sb)
        return rescale_int(acc, s, node.output.dtype)


class Add(_AddSub):
    """Elementwise sum."""

    code = OpCode.ADD
    name = "ADD"
    sign = 1


class Sub(_AddSub):
    """Elementwise difference a - b."""

    code = OpCode.SUB
    name = "SUB"
    sign = -1


class Mul(_Binary):
    """Elementwise product."""

    code = OpCode.MUL
    name = "MUL"

    def _shift(self, node: Node) -> int:
        return node.in_specs[0].frac + node.in_specs[1].frac - node.output.frac

    def _check_scales(self, node: Node) -> None:
        check_shift(self._shift(node), "requantisation")

    def forward(self, inputs: Sequence[np.ndarray], node: Node) -> np.ndarray:
        out = kernels.binary("mul", inputs[0], inputs[1], 0, 0, self._shift(node), node.output.shape,
                             node.output.dtype.numpy)
        if out is not None:
            return out
        acc = inputs[0].astype(np.int64) * inputs[1].astype(np.int64)
        return rescale(acc, self._shift(node), node.output.dtype)

    def element(self, node: Node, operands: Sequence[Sequence[int]], out_index: int) -> int:
        return rescale_int(int(operands[0][0]) * int(operands[1][0]), self._shift(node), node.output.dtype)

"""MEAN: average over the last axis (mean pooling).

inputs: x [..., n] (frac fx).  params: (mult, k) with mult >= 0, 0 <= k <= 40.
out [...] or [..., 1] = rescale(mult * sum_j x[..., j], k + fx - fo)
The compiler sets mult = round(2**k / n), so out ~ mean(x); the division is a
multiplication by a committed constant, which keeps the one rounding rule.
Reducing another axis is a PERMUTE first, so one output reads one contiguous row.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from offchain.engine.errors import ParamError, ShapeMismatchError
from offchain.engine.graph import Node
from offchain.engine.ops.base import Op, Range, expect_inputs, expect_params
from offchain.engine.ops.codes import OpCode
from offchain.engine.ops.fixed import check_shift, rescale, rescale_int

MAX_MEAN_K = 40


class Mean(Op):
    """Mean over the last axis via a fixed-point reciprocal."""

    code = OpCode.MEAN
    name = "MEAN"

    def _shift(self, node: Node) -> int:
        return node.params[1] + node.in_specs[0].frac - node.output.frac

    def check(self, node: Node) -> None:
        expect_inputs(node, (1,))
        expect_params(node, 2)
        mult, k = node.params
        if not 0 <= k <= MAX_MEAN_K or not 0 <= mult < (1 << (MAX_MEAN_K + 1)):
            raise ParamError(f"mult {mult} / k {k} out of range (k <= {MAX_MEAN_K}, mult < 2**{MAX_MEAN_K + 1})")
        shape = node.in_specs[0].shape
        if not shape:
            raise ShapeMismatchError("input must have rank >= 1")
        if node.output.shape not in (shape[:-1], shape[:-1] + (1,)):
            raise ShapeMismatchError(f"output {node.output.shape} must be {shape[:-1]} (+ (1,))")
        n = shape[-1]
        if (n * (-node.in_specs[0].dtype.qmin) * max(mult, 1)).bit_length() > 62:
            raise ParamError(f"sum of {n} terms times mult {mult} may overflow int64")
        check_shift(self._shift(node), "requantisation")

    def forward(self, inputs: Sequence[np.ndarray], node: Node) -> np.ndarray:
        acc = inputs[0].astype(np.int64).sum(axis=-1) * node.params[0]
        return rescale(acc, self._shift(node), node.output.dtype).reshape(node.output.shape)

    def operand_ranges(self, node: Node, out_index: int,
                       inputs: Sequence[np.ndarray] | None = None) -> list[Range]:
        n = node.in_specs[0].shape[-1]
        return [(0, out_index * n, n)]

    def element(self, node: Node, operands: Sequence[Sequence[int]], out_index: int) -> int:
        acc = sum(int(v) for v in operands[0]) * node.params[0]
        return rescale_int(acc, self._shift(node), node.output.dtype)

"""SOFTMAX over the last axis, optionally causal, wrapped from ``offchain.engine.intmath``.

inputs: x [..., n] (frac fx, 0 <= fx <= 24).  params: (causal,), 0 or 1.
out [..., n] (frac fo <= 30) = intmath softmax(x, fx, fo, out dtype, causal):
causal means row i of the second-to-last axis sees keys j <= i (top-left
aligned); masked outputs are 0. One output element reads its whole row.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from offchain.engine import intmath_softmax
from offchain.engine.errors import ParamError, ShapeMismatchError
from offchain.engine.graph import Node
from offchain.engine.intmath import IntMathError
from offchain.engine.ops.base import Op, Range, expect_inputs, expect_params, expect_shape
from offchain.engine.ops.codes import OpCode


class Softmax(Op):
    """Row softmax with integer exp."""

    code = OpCode.SOFTMAX
    name = "SOFTMAX"

    def check(self, node: Node) -> None:
        expect_inputs(node, (1,))
        expect_params(node, 1)
        shape = node.in_specs[0].shape
        expect_shape("output", node.output.shape, shape)
        if node.params[0] not in (0, 1):
            raise ParamError(f"causal flag {node.params[0]} must be 0 or 1")
        if not shape or (node.params[0] and len(shape) < 2):
            raise ShapeMismatchError(f"input {shape} needs rank >= 1 (>= 2 when causal)")
        if node.in_specs[0].size == 0:
            return
        try:
            intmath_softmax.softmax(np.zeros((1, shape[-1]), np.int64), node.in_specs[0].frac,
                                    node.output.frac, node.output.dtype.numpy)
        except IntMathError as exc:
            raise ParamError(str(exc)) from None

    def forward(self, inputs: Sequence[np.ndarray], node: Node) -> np.ndarray:
        x = inputs[0]
        if x.size == 0:
            return np.zeros(node.output.shape, node.output.dtype.numpy)
        return intmath_softmax.softmax(x, node.in_specs[0].frac, node.output.frac, node.output.dtype.numpy,
                                       causal=bool(node.params[0]))

    def operand_ranges(self, node: Node, out_index: int,
                       inputs: Sequence[np.ndarray] | None = None) -> list[Range]:
        n = node.in_specs[0].shape[-1]
        return [(0, (out_index // n) * n, n)]

    def element(self, node: Node, operands: Sequence[Sequence[int]], out_index: int) -> int:
        shape = node.in_specs[0].shape
        n = shape[-1]
        valid = None
        if node.params[0]:
            valid = min(n, (out_index // n) % shape[-2] + 1)
        return int(intmath_softmax.softmax_element([int(v) for v in operands[0]], out_index % n,
                                                   node.in_specs[0].frac, node.output.frac,
                                                   node.output.dtype.numpy, valid))

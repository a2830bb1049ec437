"""RELU, NEG, RESCALE: one-input elementwise ops with exact integer rules.

All take x (frac fx) and produce out (frac fo, same shape), params: none.
RELU:    out = rescale(max(x, 0), fx - fo)
NEG:     out = rescale(-x, fx - fo)
RESCALE: out = rescale(x, fx - fo)   (changes dtype and/or frac bits)
Each output element reads the same element of x.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from offchain.engine.graph import Node
from offchain.engine.ops.base import Op, Range, expect_inputs, expect_params, expect_shape
from offchain.engine.ops.codes import OpCode
from offchain.engine.ops.fixed import check_shift, rescale, rescale_int


class _Unary(Op):
    def _shift(self, node: Node) -> int:
        return node.in_specs[0].frac - node.output.frac

    def check(self, node: Node) -> None:
        expect_inputs(node, (1,))
        expect_params(node, 0)
        expect_shape("output", node.output.shape, node.in_specs[0].shape)
        check_shift(self._shift(node), "requantisation")

    def operand_ranges(self, node: Node, out_index: int,
                       inputs: Sequence[np.ndarray] | None = None) -> list[Range]:
        return [(0, out_index, 1)]

    def forward(self, inputs: Sequence[np.ndarray], node: Node) -> np.ndarray:
        return rescale(self._map(inputs[0].astype(np.int64)), self._shift(node), node.output.dtype)

    def element(self, node: Node, operands: Sequence[Sequence[int]], out_index: int) -> int:
        return rescale_int(self._map_int(int(operands[0][0])), self._shift(node), node.output.dtype)

    def _map(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _map_int(self, x: int) -> int:
        raise NotImplementedError


class Relu(_Unary):
    """max(x, 0)."""

    code = OpCode.RELU
    name = "RELU"

    def _map(self, x: np.ndarray) -> np.ndarray:
        return np.maximum(x, 0)

    def _map_int(self, x: int) -> int:
        return max(x, 0)


class Neg(_Unary):
    """-x (saturating: -(-128) in int8 becomes 127)."""

    code = OpCode.NEG
    name = "NEG"

    def _map(self, x: np.ndarray) -> np.ndarray:
        return -x

    def _map_int(self, x: int) -> int:
        return -x


class Rescale(_Unary):
    """Identity on real values: only dtype and/or frac bits change."""

    code = OpCode.RESCALE
    name = "RESCALE"

    def _map(self, x: np.ndarray) -> np.ndarray:
        return x

    def _map_int(self, x: int) -> int:
        return x

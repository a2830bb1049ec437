"""LAYERNORM and RMSNORM over the last axis, wrapped from ``offchain.engine.intmath``.

LAYERNORM inputs: x [..., n] (frac fx), gamma [n] (frac fg), beta [n] (frac fb).
RMSNORM   inputs: x [..., n], gamma [n].
params: (eps_lsb2,) = round(eps * 4^fx), eps in input-LSB^2 units (>= 0).
out [..., n] (frac fo) = intmath layernorm / rmsnorm(x, ..., fx, fg, [fb,] fo, eps_lsb2, out dtype);
fracs must satisfy intmath's bounds (0..30, fo <= 20 + fg). One output element
reads its whole row plus gamma[j] (and beta[j]).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from offchain.engine import intmath_norm
from offchain.engine.errors import ParamError, ShapeMismatchError
from offchain.engine.graph import Node
from offchain.engine.intmath import IntMathError
from offchain.engine.ops.base import Op, Range, expect_inputs, expect_params, expect_shape
from offchain.engine.ops.codes import OpCode


class _RowNorm(Op):
    n_inputs: int

    def check(self, node: Node) -> None:
        expect_inputs(node, (self.n_inputs,))
        expect_params(node, 1)
        shape = node.in_specs[0].shape
        if not shape:
            raise ShapeMismatchError("x needs rank >= 1")
        for k in range(1, self.n_inputs):
            expect_shape(f"parameter {k}", node.in_specs[k].shape, shape[-1:])
        expect_shape("output", node.output.shape, shape)
        n = shape[-1]
        row = np.zeros((1, n), np.int64)
        params = [np.zeros(n, np.int64)] * (self.n_inputs - 1)
        try:
            self._vector(row, params, node)
        except IntMathError as exc:
            raise ParamError(str(exc)) from None

    def _vector(self, x: np.ndarray, params: Sequence[np.ndarray], node: Node) -> np.ndarray:
        raise NotImplementedError

    def forward(self, inputs: Sequence[np.ndarray], node: Node) -> np.ndarray:
        return self._vector(inputs[0], inputs[1:], node)

    def operand_ranges(self, node: Node, out_index: int,
                       inputs: Sequence[np.ndarray] | None = None) -> list[Range]:
        n = node.in_specs[0].shape[-1]
        j = out_index % n
        return [(0, out_index - j, n)] + [(k, j, 1) for k in range(1, self.n_inputs)]


class LayerNorm(_RowNorm):
    """(x - mean) / sqrt(var + eps) * gamma + beta."""

    code = OpCode.LAYERNORM
    name = "LAYERNORM"
    n_inputs = 3

    def _vector(self, x: np.ndarray, params: Sequence[np.ndarray], node: Node) -> np.ndarray:
        x_s, g_s, b_s = node.in_specs
        return intmath_norm.layernorm(x, params[0], params[1], x_s.frac, g_s.frac, b_s.frac, node.output.frac,
                                      node.params[0], node.output.dtype.numpy)

    def element(self, node: Node, operands: Sequence[Sequence[int]], out_index: int) -> int:
        x_s, g_s, b_s = node.in_specs
        n = x_s.shape[-1]
        return int(intmath_norm.layernorm_element([int(v) for v in operands[0]], out_index % n,
                                                  int(operands[1][0]), int(operands[2][0]), x_s.frac,
                                                  g_s.frac, b_s.frac, node.output.frac, node.params[0],
                                                  node.output.dtype.numpy))


class RmsNorm(_RowNorm):
    """x / sqrt(mean(x^2) + eps) * gamma."""

    code = OpCode.RMSNORM
    name = "RMSNORM"
    n_inputs = 2

    def _vector(self, x: np.ndarray, params: Sequence[np.ndarray], node: Node) -> np.ndarray:
        x_s, g_s = node.in_specs
        return intmath_norm.rmsnorm(x, params[0], x_s.frac, g_s.frac, node.output.frac, node.params[0],
                                    node.output.dtype.numpy)

    def element(self, node: Node, operands: Sequence[Sequence[int]], out_index: int) -> int:
        x_s, g_s = node.in_specs
        n = x_s.shape[-1]
        return int(intmath_norm.rmsnorm_element([int(v) for v in operands[0]], out_index % n,
                                                int(operands[1][0]), x_s.frac, g_s.frac, node.output.frac,
                                                node.params[0], node.output.dtype.numpy))

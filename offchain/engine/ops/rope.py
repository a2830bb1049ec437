"""ROPE: rotary position embedding, rotate-half convention (Llama / GPT-NeoX).

inputs: x [..., T, D] (frac fx, D even), cos [T, D], sin [T, D] (same frac fc,
the position tables already sliced to T, as HF builds them with cat(freqs, freqs)).
params: none.  With h = D / 2 and rotate_half(x) = cat(-x[h:], x[:h]):
    out[..., t, i] = rescale(x[t, i] cos[t, i] - x[t, i + h] sin[t, i], fx + fc - fo)   for i < h
    out[..., t, i] = rescale(x[t, i] cos[t, i] + x[t, i - h] sin[t, i], fx + fc - fo)   for i >= h
One output element reads two elements of x and one of each table.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from offchain.engine import kernels
from offchain.engine.errors import DtypeMismatchError, ShapeMismatchError
from offchain.engine.graph import Node
from offchain.engine.ops.base import Op, Range, expect_inputs, expect_params, expect_shape
from offchain.engine.ops.codes import OpCode
from offchain.engine.ops.fixed import check_shift, rescale, rescale_int


class Rope(Op):
    """x * cos + rotate_half(x) * sin."""

    code = OpCode.ROPE
    name = "ROPE"

    def _shift(self, node: Node) -> int:
        return node.in_specs[0].frac + node.in_specs[1].frac - node.output.frac

    def check(self, node: Node) -> None:
        expect_inputs(node, (3,))
        expect_params(node, 0)
        x, cos, sin = node.in_specs
        if len(x.shape) < 2 or x.shape[-1] % 2:
            raise ShapeMismatchError(f"x {x.shape} needs rank >= 2 and an even last dim")
        expect_shape("cos", cos.shape, x.shape[-2:])
        expect_shape("sin", sin.shape, x.shape[-2:])
        expect_shape("output", node.output.shape, x.shape)
        if (cos.dtype, cos.frac) != (sin.dtype, sin.frac):
            raise DtypeMismatchError("cos and sin tables must share dtype and frac")
        check_shift(self._shift(node), "requantisation")

    def forward(self, inputs: Sequence[np.ndarray], node: Node) -> np.ndarray:
        out = kernels.rope(inputs[0], inputs[1], inputs[2], self._shift(node), node.output.dtype.numpy)
        if out is not None:
            return out
        x, cos, sin = (a.astype(np.int64) for a in inputs)
        h = x.shape[-1] // 2
        rotated = np.concatenate([-x[..., h:], x[..., :h]], axis=-1)
        return rescale(x * cos + rotated * sin, self._shift(node), node.output.dtype)

    def operand_ranges(self, node: Node, out_index: int,
                       inputs: Sequence[np.ndarray] | None = None) -> list[Range]:
        t_n, d = node.in_specs[0].shape[-2:]
        h = d // 2
        i = out_index % d
        partner = out_index + h if i < h else out_index - h
        table = out_index % (t_n * d)
        return [(0, out_index, 1), (0, partner, 1), (1, table, 1), (2, table, 1)]

    def element(self, node: Node, operands: Sequence[Sequence[int]], out_index: int) -> int:
        d = node.in_specs[0].shape[-1]
        sign = -1 if out_index % d < d // 2 else 1
        x, other, cos, sin = (int(v[0]) for v in operands)
        return rescale_int(x * cos + sign * other * sin, self._shift(node), node.output.dtype)

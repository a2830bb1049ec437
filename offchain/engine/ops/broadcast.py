"""EXPAND, WHERE: broadcast reads, values unchanged.

Broadcasting is numpy's: an input's shape is right-aligned with the output's and each of its dims is 1 (the
element repeats) or equals the output's. Each output element reads one element of each input
(``elementwise.broadcast_index``).

EXPAND  inputs: x.  params: none.  out = x broadcast to out.shape (expand, expand_as, broadcast_to;
        x, out share dtype and frac).
WHERE   inputs: cond, x, y.  params: none.  out = x where cond != 0, else y (where, masked_fill):
        cond holds any integer of its dtype (no refusal: non-zero selects x); x, y and out share dtype and frac,
        so the selected element is copied unchanged.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from offchain.engine.errors import ShapeMismatchError
from offchain.engine.graph import Node, TensorSpec
from offchain.engine.ops.base import Op, Range, expect_inputs, expect_params, expect_same_scale, unravel
from offchain.engine.ops.codes import OpCode
from offchain.engine.ops.elementwise import broadcast_index


def _expect_broadcasts(what: str, spec: TensorSpec, out_shape: tuple[int, ...]) -> None:
    """Raise ShapeMismatchError unless ``spec.shape`` broadcasts to exactly ``out_shape``."""
    shape = spec.shape
    offset = len(out_shape) - len(shape)
    if offset < 0 or any(d not in (1, out_shape[offset + k]) for k, d in enumerate(shape)):
        raise ShapeMismatchError(f"{what} shape {shape} does not broadcast to {out_shape}")


class _Broadcast(Op):
    """Shared: one element of each input at its broadcast index."""

    def operand_ranges(self, node: Node, out_index: int,
                       inputs: Sequence[np.ndarray] | None = None) -> list[Range]:
        multi = unravel(out_index, node.output.shape)
        return [(slot, broadcast_index(multi, spec.shape), 1) for slot, spec in enumerate(node.in_specs)]


class Expand(_Broadcast):
    """Broadcast copy."""

    code = OpCode.EXPAND
    name = "EXPAND"

    def check(self, node: Node) -> None:
        expect_inputs(node, (1,))
        expect_params(node, 0)
        expect_same_scale("input vs output", node.in_specs[0], node.output)
        _expect_broadcasts("input", node.in_specs[0], node.output.shape)

    def forward(self, inputs: Sequence[np.ndarray], node: Node) -> np.ndarray:
        return np.ascontiguousarray(np.broadcast_to(inputs[0], node.output.shape))

    def element(self, node: Node, operands: Sequence[Sequence[int]], out_index: int) -> int:
        return int(operands[0][0])


class Where(_Broadcast):
    """Select x where cond != 0, else y."""

    code = OpCode.WHERE
    name = "WHERE"

    def check(self, node: Node) -> None:
        expect_inputs(node, (3,))
        expect_params(node, 0)
        for k, what in ((1, "x"), (2, "y")):
            expect_same_scale(f"{what} vs output", node.in_specs[k], node.output)
        for spec, what in zip(node.in_specs, ("cond", "x", "y")):
            _expect_broadcasts(what, spec, node.output.shape)

    def forward(self, inputs: Sequence[np.ndarray], node: Node) -> np.ndarray:
        cond, x, y = inputs
        out = np.where(np.asarray(cond) != 0, x, y)
        return np.ascontiguousarray(np.broadcast_to(out, node.output.shape)).astype(node.output.dtype.numpy)

    def element(self, node: Node, operands: Sequence[Sequence[int]], out_index: int) -> int:
        return int(operands[1][0]) if int(operands[0][0]) != 0 else int(operands[2][0])

"""RESHAPE, PERMUTE, SLICE, CONCAT: data movement, values unchanged.

Every input and the output share dtype and frac bits (the compiler inserts a
RESCALE where they would differ); each output element is one input element.

RESHAPE  inputs: x.  params: none.  Same element count; row-major order kept
         (flatten and view are RESHAPE).
PERMUTE  inputs: x.  params: perm (one per axis, a permutation of 0..r-1):
         out.shape[i] = x.shape[perm[i]]  (transpose is PERMUTE).
SLICE    inputs: x.  params: (axis, start, step), step >= 1; out.shape equals
         x.shape except on ``axis`` where it is the count n, and
         out[..., i, ...] = x[..., start + i * step, ...] with start + (n-1) step < x.shape[axis].
CONCAT   inputs: x_0 .. x_{m-1}, m >= 1.  params: (axis,). Shapes agree except on axis.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from offchain.engine.errors import ParamError, ShapeMismatchError
from offchain.engine.graph import Node
from offchain.engine.ops.base import (
    Op,
    Range,
    expect_inputs,
    expect_params,
    expect_same_scale,
    expect_shape,
    ravel,
    unravel,
)
from offchain.engine.ops.codes import OpCode


class _Move(Op):
    """Shared: output element = one operand element, unchanged."""

    def _check_scales(self, node: Node) -> None:
        for k, spec in enumerate(node.in_specs):
            expect_same_scale(f"input {k} vs output", spec, node.output)

    def element(self, node: Node, operands: Sequence[Sequence[int]], out_index: int) -> int:
        return int(operands[0][0])


class Reshape(_Move):
    """Row-major reshape."""

    code = OpCode.RESHAPE
    name = "RESHAPE"

    def check(self, node: Node) -> None:
        expect_inputs(node, (1,))
        expect_params(node, 0)
        self._check_scales(node)
        if node.output.size != node.in_specs[0].size:
            raise ShapeMismatchError(f"cannot reshape {node.in_specs[0].shape} to {node.output.shape}")

    def forward(self, inputs: Sequence[np.ndarray], node: Node) -> np.ndarray:
        return inputs[0].reshape(node.output.shape)

    def operand_ranges(self, node: Node, out_index: int,
                       inputs: Sequence[np.ndarray] | None = None) -> list[Range]:
        return [(0, out_index, 1)]


class Permute(_Move):
    """Axis permutation."""

    code = OpCode.PERMUTE
    name = "PERMUTE"

    def check(self, node: Node) -> None:
        expect_inputs(node, (1,))
        shape = node.in_specs[0].shape
        expect_params(node, len(shape))
        if sorted(node.params) != list(range(len(shape))):
            raise ParamError(f"perm {node.params} is not a permutation of 0..{len(shape) - 1}")
        self._check_scales(node)
        expect_shape("output", node.output.shape, tuple(shape[p] for p in node.params))

    def forward(self, inputs: Sequence[np.ndarray], node: Node) -> np.ndarray:
        return np.ascontiguousarray(np.transpose(inputs[0], node.params))

    def operand_ranges(self, node: Node, out_index: int,
                       inputs: Sequence[np.ndarray] | None = None) -> list[Range]:
        out_multi = unravel(out_index, node.output.shape)
        in_multi = [0] * len(out_multi)
        for i, p in enumerate(node.params):
            in_multi[p] = out_multi[i]
        return [(0, ravel(in_multi, node.in_specs[0].shape), 1)]


class Slice(_Move):
    """Strided slice along one axis."""

    code = OpCode.SLICE
    name = "SLICE"

    def check(self, node: Node) -> None:
        expect_inputs(node, (1,))
        expect_params(node, 3)
        axis, start, step = node.params
        shape = node.in_specs[0].shape
        if not 0 <= axis < len(shape):
            raise ParamError(f"axis {axis} outside rank {len(shape)}")
        n = node.output.shape[axis] if len(node.output.shape) == len(shape) else -1
        want = shape[:axis] + (n,) + shape[axis + 1:]
        expect_shape("output", node.output.shape, want)
        if step < 1 or start < 0 or (n > 0 and start + (n - 1) * step >= shape[axis]):
            raise ParamError(f"slice start {start} step {step} count {n} exceeds axis size {shape[axis]}")
        self._check_scales(node)

    def forward(self, inputs: Sequence[np.ndarray], node: Node) -> np.ndarray:
        axis, start, step = node.params
        n = node.output.shape[axis]
        index = [slice(None)] * inputs[0].ndim
        index[axis] = slice(start, start + n * step, step)
        return np.ascontiguousarray(inputs[0][tuple(index)])

    def operand_ranges(self, node: Node, out_index: int,
                       inputs: Sequence[np.ndarray] | None = None) -> list[Range]:
        axis, start, step = node.params
        multi = unravel(out_index, node.output.shape)
        multi[axis] = start + multi[axis] * step
        return [(0, ravel(multi, node.in_specs[0].shape), 1)]


class Concat(_Move):
    """Concatenation along one axis."""

    code = OpCode.CONCAT
    name = "CONCAT"

    def check(self, node: Node) -> None:
        if not node.inputs:
            raise ParamError("takes at least one input")
        expect_params(node, 1)
        (axis,) = node.params
        first = node.in_specs[0].shape
        if not 0 <= axis < len(first):
            raise ParamError(f"axis {axis} outside rank {len(first)}")
        for k, spec in enumerate(node.in_specs):
            if len(spec.shape) != len(first) or any(
                    d != e for i, (d, e) in enumerate(zip(spec.shape, first)) if i != axis):
                raise ShapeMismatchError(f"input {k} shape {spec.shape} does not match {first} off axis {axis}")
        total = sum(spec.shape[axis] for spec in node.in_specs)
        expect_shape("output", node.output.shape, first[:axis] + (total,) + first[axis + 1:])
        self._check_scales(node)

    def forward(self, inputs: Sequence[np.ndarray], node: Node) -> np.ndarray:
        return np.concatenate(list(inputs), axis=node.params[0])

    def operand_ranges(self, node: Node, out_index: int,
                       inputs: Sequence[np.ndarray] | None = None) -> list[Range]:
        (axis,) = node.params
        multi = unravel(out_index, node.output.shape)
        pos = multi[axis]
        for slot, spec in enumerate(node.in_specs):
            if pos < spec.shape[axis]:
                multi[axis] = pos
                return [(slot, ravel(multi, spec.shape), 1)]
            pos -= spec.shape[axis]
        raise ParamError(f"output index {out_index} outside {node.output.shape}")

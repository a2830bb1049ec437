"""The operator interface every op module implements.

An op has exactly one definition, given twice: ``forward`` computes the
whole output tensor vectorised on numpy; ``element`` computes one output
element from plain Python ints, exactly as the Solidity one-step prover will.
``operand_ranges`` says which contiguous flat ranges of which inputs that one
element reads; the one-step proof proves exactly those ranges against the
operands' Merkle roots and passes their values to ``element``.
Tests check ``forward == element`` element for element.
"""

from __future__ import annotations

from typing import ClassVar, Sequence

import numpy as np

from offchain.engine.errors import DtypeMismatchError, ParamError, ShapeMismatchError
from offchain.engine.graph import Node, TensorSpec

#: (input slot, flat start index, number of elements)
Range = tuple[int, int, int]


class Op:
    """Base class of operators. Subclasses set ``code``, ``name`` and override the four methods.

    Callers: the executor (``forward``), the one-step prover and challenger
    (``element`` and ``operand_ranges``), graph validation (``check``).
    """

    code: ClassVar[int]
    name: ClassVar[str]
    #: True when operand_ranges needs the input values (e.g. embedding looks up rows by id).
    data_dependent: ClassVar[bool] = False

    def check(self, node: Node) -> None:
        """Raise ShapeMismatchError / DtypeMismatchError / ParamError if ``node`` breaks this op's rules."""
        raise NotImplementedError

    def forward(self, inputs: Sequence[np.ndarray], node: Node) -> np.ndarray:
        """The whole output, as an array of ``node.output.dtype`` and ``node.output.shape``.

        ``inputs[k]`` holds the values of operand k with shape ``node.in_specs[k].shape``.
        """
        raise NotImplementedError

    def element(self, node: Node, operands: Sequence[Sequence[int]], out_index: int) -> int:
        """Output element ``out_index`` (flat, row-major) from the operand ranges' values.

        ``operands[r]`` lists the values of range r of ``operand_ranges(node, out_index)``,
        in the same order. Pure Python ints only.
        """
        raise NotImplementedError

    def operand_ranges(self, node: Node, out_index: int,
                       inputs: Sequence[np.ndarray] | None = None) -> list[Range]:
        """Contiguous flat ranges ``(slot, start, length)`` that output element ``out_index`` reads.

        ``inputs`` is only needed by ops with ``data_dependent = True``.
        """
        raise NotImplementedError

    def input_domain(self, node: Node, slot: int) -> tuple[int, int] | None:
        """The inclusive range of values operand ``slot`` may hold for this op to have a result (the forward
        and the one-step proof refuse any other value), or None when every value of its dtype is accepted.

        Called for the operands that are the request input (``offchain.engine.domain.input_domain``), whose
        domain the oracle then enforces at request time. An op that refuses values no range describes raises
        GraphError here, so a model feeding it the request input cannot be registered.
        """
        return None


def expect_inputs(node: Node, counts: Sequence[int]) -> None:
    """Raise ParamError unless the node has one of the allowed numbers of inputs."""
    if len(node.inputs) not in counts:
        raise ParamError(f"takes {' or '.join(map(str, counts))} inputs, got {len(node.inputs)}")


def expect_params(node: Node, count: int) -> None:
    """Raise ParamError unless the node has exactly ``count`` params."""
    if len(node.params) != count:
        raise ParamError(f"takes {count} params, got {len(node.params)}: {node.params}")


def expect_shape(what: str, got: tuple[int, ...], want: tuple[int, ...]) -> None:
    """Raise ShapeMismatchError naming ``what`` unless ``got == want``."""
    if tuple(got) != tuple(want):
        raise ShapeMismatchError(f"{what} has shape {got}, expected {want}")


def expect_same_scale(what: str, a: TensorSpec, b: TensorSpec) -> None:
    """Raise DtypeMismatchError unless ``a`` and ``b`` share dtype and frac bits."""
    if (a.dtype, a.frac) != (b.dtype, b.frac):
        raise DtypeMismatchError(f"{what}: {a.dtype.name}/f{a.frac} differs from {b.dtype.name}/f{b.frac}")


def unravel(index: int, shape: Sequence[int]) -> list[int]:
    """Row-major multi-index of flat ``index`` in ``shape`` (pure ints, as in Solidity)."""
    out = [0] * len(shape)
    for axis in range(len(shape) - 1, -1, -1):
        dim = shape[axis]
        out[axis] = index % dim
        index //= dim
    return out


def ravel(multi: Sequence[int], shape: Sequence[int]) -> int:
    """Flat row-major index of ``multi`` in ``shape``."""
    flat = 0
    for i, dim in zip(multi, shape):
        flat = flat * dim + i
    return flat

"""Helpers to call the Solidity operator contracts with engine nodes and compare them with the Python ops.

The contracts take ``NodeDesc`` and ``Operand`` structs (contracts/dispute/lib/LibDescriptor.sol,
LibOperand.sol); here they are plain tuples built from the canonical descriptor bytes, so the test
also covers the encoding the one-step prover decodes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from offchain.engine.descriptor import HEADER_WORDS, TENSOR_WORDS, WORD, encode_node
from offchain.engine.graph import Node
from offchain.engine.ops import get_op

TensorTuple = tuple[int, int, int, int, int, list[int]]
NodeTuple = tuple[int, int, TensorTuple, list[TensorTuple], list[int]]
OperandTuple = tuple[bytes, int, int, int]


def _word(data: bytes, k: int, signed: bool = False) -> int:
    return int.from_bytes(data[WORD * k:WORD * (k + 1)], "big", signed=signed)


def _tensor(data: bytes, w: int) -> TensorTuple:
    rank = _word(data, w + 5)
    shape = [_word(data, w + 6 + j) for j in range(rank)]
    return (_word(data, w), _word(data, w + 1), _word(data, w + 2), _word(data, w + 3, signed=True),
            _word(data, w + 4), shape)


def desc_tuple(descriptor: bytes) -> NodeTuple:
    """``NodeDesc`` as an ABI tuple (op, index, out, inputs, params), decoded from descriptor bytes
    the way LibDescriptor.decode does."""
    op, index, n, p = (_word(descriptor, k) for k in range(1, 5))
    out = _tensor(descriptor, HEADER_WORDS)
    inputs = [_tensor(descriptor, HEADER_WORDS + TENSOR_WORDS * (1 + k)) for k in range(n)]
    base = HEADER_WORDS + TENSOR_WORDS * (1 + n)
    params = [_word(descriptor, base + j, signed=True) for j in range(p)]
    return (op, index, out, inputs, params)


def operand(values: Sequence[int], width: int, skip: int = 0) -> OperandTuple:
    """``Operand`` holding exactly ``values`` (big-endian two's complement, ``width`` bytes each), after
    ``skip`` leading filler elements, as a proven chunk would have them."""
    filler = b"\x5a" * (skip * width)
    packed = b"".join(int(v).to_bytes(width, "big", signed=True) for v in values)
    return (filler + packed, skip, width, len(values))


@dataclass
class Checked:
    """What one element check saw (returned for gas measurements and extra assertions)."""

    index: int
    value: int
    operands: list[OperandTuple]


def check_against_contract(contract, node: Node, inputs: Sequence[np.ndarray], indices: Sequence[int],
                           skip: int = 0) -> list[Checked]:
    """For each output index: the contract's ``rangeCount``/``range`` equal Python's ``operand_ranges`` and its
    ``element`` equals Python's ``element`` and the forward output. Returns what was checked."""
    op = get_op(node.op)
    op.check(node)
    out = op.forward(inputs, node).reshape(-1)
    flats = [np.asarray(a).reshape(-1) for a in inputs]
    nd = desc_tuple(encode_node(node, 0))
    dependent = contract.dataDependent(node.op)
    assert dependent == op.data_dependent
    checked = []
    for idx in indices:
        ranges = op.operand_ranges(node, idx, inputs)
        assert contract.rangeCount(nd, idx) == len(ranges), (op.name, idx)
        operands: list[OperandTuple] = []
        values: list[list[int]] = []
        for r, (slot, start, length) in enumerate(ranges):
            got = contract.range(nd, idx, r, operands if dependent else [])
            assert tuple(got) == (slot, start, length), (op.name, idx, r, tuple(got), (slot, start, length))
            vals = [int(v) for v in flats[slot][start:start + length]]
            values.append(vals)
            operands.append(operand(vals, int(node.in_specs[slot].dtype), skip))
        want = op.element(node, values, idx)
        assert want == int(out[idx]), (op.name, idx, want, int(out[idx]))
        got = contract.element(nd, operands, idx)
        assert got == want, (op.name, idx, got, want, ranges)
        checked.append(Checked(idx, want, operands))
    return checked


def check_elements_only(contract, node: Node, inputs: Sequence[np.ndarray], indices: Sequence[int]) -> None:
    """Only ``element`` (contract == Python element == forward) for many indices; for dense value grids whose
    ranges ``check_against_contract`` already covers on other indices."""
    op = get_op(node.op)
    op.check(node)
    out = op.forward(inputs, node).reshape(-1)
    flats = [np.asarray(a).reshape(-1) for a in inputs]
    nd = desc_tuple(encode_node(node, 0))
    for idx in indices:
        values = [[int(v) for v in flats[slot][start:start + length]]
                  for slot, start, length in op.operand_ranges(node, idx, inputs)]
        want = op.element(node, values, idx)
        assert want == int(out[idx]), (op.name, idx, want, int(out[idx]))
        operands = [operand(v, int(node.in_specs[slot].dtype))
                    for v, (slot, _, _) in zip(values, op.operand_ranges(node, idx, inputs))]
        got = contract.element(nd, operands, idx)
        assert got == want, (op.name, idx, got, want, values)


def element_call(node: Node, inputs: Sequence[np.ndarray], idx: int) -> tuple[NodeTuple, list[OperandTuple], int]:
    """(descriptor tuple, operands, Python's value) for ``element(d, operands, idx)``."""
    op = get_op(node.op)
    flats = [np.asarray(a).reshape(-1) for a in inputs]
    values, operands = [], []
    for slot, start, length in op.operand_ranges(node, idx, inputs):
        vals = [int(v) for v in flats[slot][start:start + length]]
        values.append(vals)
        operands.append(operand(vals, int(node.in_specs[slot].dtype)))
    return desc_tuple(encode_node(node, 0)), operands, op.element(node, values, idx)


def calldata_gas(data: bytes) -> int:
    """Intrinsic calldata gas of a transaction's input (4 per zero byte, 16 per other byte)."""
    zeros = data.count(0)
    return 4 * zeros + 16 * (len(data) - zeros)


def element_gas(contract, node: Node, inputs: Sequence[np.ndarray], idx: int, sender) -> tuple[int, int]:
    """(gas of a transaction calling ``element`` as eth_estimateGas reports it, that minus the 21000 base and
    the calldata's intrinsic gas: the execution cost the prover pays when it calls the operator).
    Also checks the element against Python's, so a figure is never taken from a wrong result."""
    nd, operands, want = element_call(node, inputs, idx)
    assert contract.element(nd, operands, idx) == want
    total = contract.element.estimate_gas_cost(nd, operands, idx, sender=sender)
    data = contract.element.as_transaction(nd, operands, idx, sender=sender).data
    return total, total - 21000 - calldata_gas(bytes(data))

"""Helpers to call the Solidity operator contracts with engine nodes and compare them with the Python ops.

The contracts take ``NodeDesc`` and ``Operand`` structs (contracts/dispute/lib/LibDescriptor.sol,
LibOperand.sol); offchain/dispute/operators.py builds them as ABI tuples from the canonical descriptor
bytes, so the tests also cover the encoding the one-step prover decodes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from eth_abi import encode
from eth_utils import keccak
from web3.exceptions import ContractCustomError, ContractLogicError

from offchain.dispute.operators import NodeTuple, OperandTuple, descriptor_tuple, operand_tuple
from offchain.engine.descriptor import encode_node
from offchain.engine.graph import Node
from offchain.engine.ops import get_op

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
    nd = descriptor_tuple(encode_node(node, 0))
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
            operands.append(operand_tuple(vals, int(node.in_specs[slot].dtype), skip))
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
    nd = descriptor_tuple(encode_node(node, 0))
    for idx in indices:
        values = [[int(v) for v in flats[slot][start:start + length]]
                  for slot, start, length in op.operand_ranges(node, idx, inputs)]
        want = op.element(node, values, idx)
        assert want == int(out[idx]), (op.name, idx, want, int(out[idx]))
        operands = [operand_tuple(v, int(node.in_specs[slot].dtype))
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
        operands.append(operand_tuple(vals, int(node.in_specs[slot].dtype)))
    return descriptor_tuple(encode_node(node, 0)), operands, op.element(node, values, idx)


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


def revert_data(chain, call, *args, sender=None, value: int = 0) -> bytes | None:
    """Revert data of a call (from ``sender`` with ``value`` wei, if given), None when it returns. Raw eth_call:
    ape's revert decoding traces every call, which takes seconds each, and re-sends a failed transaction later,
    when a game clock may have run out."""
    tx = {"to": call.contract.address, "data": call.encode_input(*args), "value": value}
    if sender is not None:
        tx["from"] = sender.address
    try:
        chain.provider.web3.eth.call(tx)
    except (ContractCustomError, ContractLogicError) as exc:
        raw = getattr(exc, "data", None) or ""
        return bytes.fromhex(str(raw).removeprefix("0x")) if raw else b""
    return None


def custom_error(signature: str, types: Sequence[str] = (), values: Sequence = ()) -> bytes:
    """ABI encoding of a custom error: selector of ``signature`` then its arguments."""
    return keccak(text=signature)[:4] + encode(list(types), list(values))

"""What a one-step proof of one output element needs, taken from a model and its trace.

Who calls: the challenger (to build the on-chain step call) and tests that
check every node of a compiled model element by element. The contract gets
the same data: the node's descriptor, and per operand range the tensor it
lies in, the flat range and the values (proved against that tensor's root).
"""

from __future__ import annotations

from dataclasses import dataclass

from offchain.engine.executor import Trace
from offchain.engine.graph import TensorRef, TensorSpec
from offchain.engine.model import Model
from offchain.engine.ops import get_op


@dataclass(frozen=True)
class OperandRange:
    """Elements ``[start, start + length)`` (flat, row-major) of tensor ``ref`` (operand ``slot``)."""

    slot: int
    ref: TensorRef
    spec: TensorSpec
    start: int
    length: int
    values: tuple[int, ...]


def element_operands(model: Model, trace: Trace, node_index: int, out_index: int) -> list[OperandRange]:
    """The operand ranges (with values) that output element ``out_index`` of node ``node_index`` reads."""
    node = model.graph.nodes[node_index]
    if not 0 <= out_index < node.output.size:
        raise IndexError(f"element {out_index} outside node {node_index}'s output of {node.output.size}")
    inputs = trace.operands(model, node_index)
    ranges = []
    for slot, start, length in get_op(node.op).operand_ranges(node, out_index, inputs):
        flat = inputs[slot].reshape(-1)
        ranges.append(OperandRange(slot, node.inputs[slot], node.in_specs[slot], start, length,
                                   tuple(int(v) for v in flat[start:start + length])))
    return ranges


def recompute_element(model: Model, trace: Trace, node_index: int, out_index: int) -> int:
    """Output element ``out_index`` of node ``node_index`` recomputed from its operand ranges alone."""
    node = model.graph.nodes[node_index]
    operands = [r.values for r in element_operands(model, trace, node_index, out_index)]
    return get_op(node.op).element(node, operands, out_index)

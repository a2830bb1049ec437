"""The one-step proof a challenger sends to `OneStepProver.recompute`, and the values it proves.

Encoding (the contract's): ``abi.encode(OperandRoot[] roots, RangeProof[] ranges)`` with
``OperandRoot = (bytes32 root, bytes32[] proof)`` per input slot of the node and
``RangeProof = (bytes chunks, bytes32[] proof)`` per operand range, in the op's ``operand_ranges`` order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from eth_abi import encode

from offchain.dispute.claimed_tree import ClaimedTree
from offchain.dispute.commitment import ExecutionCommitment
from offchain.engine.graph import TensorKind
from offchain.engine.ops import get_op

PROOF_ABI = ["(bytes32,bytes32[])[]", "(bytes,bytes32[])[]"]


@dataclass(frozen=True)
class StepProof:
    """The proof bytes plus, for checks and logs, the operand values and the element they give."""

    proof: bytes
    operands: list[list[int]]
    value: int


def build_step_proof(
    honest: ExecutionCommitment, claimed: ClaimedTree, node_index: int, element: int
) -> StepProof:
    """Proof of output element ``element`` of node ``node_index`` from the honest operands.

    Operand roots of earlier nodes are proven against the claimed trace (``claimed``), whose leaves before
    ``node_index`` agree with the honest ones; weights against the model's weights tree; the input is the
    claim's input root itself.
    """
    model = honest.model
    node = model.model.graph.nodes[node_index]
    roots = []
    trees = []
    for ref in node.inputs:
        if ref.kind == TensorKind.INPUT:
            tree, proof = honest.input_tree, []
        elif ref.kind == TensorKind.WEIGHT:
            tree = model.weight_tree(ref.index)
            proof = list(model.weights_tree.prove_leaf(ref.index).siblings)
        else:
            tree = honest.output_tree(ref.index)
            proof = claimed.prove_leaf(ref.index, agreed_before=node_index)
        trees.append(tree)
        roots.append((tree.root, proof))

    op = get_op(node.op)
    inputs = honest.trace.operands(model.model, node_index)
    ranges = []
    operands: list[list[int]] = []
    for slot, start, length in op.operand_ranges(node, element, inputs):
        flat = np.asarray(inputs[slot]).reshape(-1)
        operands.append([int(v) for v in flat[start:start + length]])
        if length == 0:
            ranges.append((b"", []))
            continue
        ep = trees[slot].prove_elements(start, length)
        ranges.append((b"".join(ep.chunks), list(ep.siblings)))
    value = op.element(node, operands, element)
    return StepProof(proof=encode(PROOF_ABI, [roots, ranges]), operands=operands, value=value)

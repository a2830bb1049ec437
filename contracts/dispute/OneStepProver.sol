// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.24;

import {IOneStepProver} from "./interfaces/IOneStepProver.sol";
import {IOperator} from "./interfaces/IOperator.sol";
import {IStepErrors} from "./interfaces/IStepErrors.sol";
import {LibDescriptor, NodeDesc, TensorDesc} from "./lib/LibDescriptor.sol";
import {LibMerkle} from "./lib/LibMerkle.sol";
import {Operand} from "./lib/LibOperand.sol";
import {StepContext} from "./lib/Types.sol";

/// @title OneStepProver
/// @notice Recomputes one element of one node's output (DESIGN.md section 4, step 4).
///
/// Proof encoding: `abi.encode(OperandRoot[] roots, RangeProof[] ranges)` where
///   - roots[k] is input slot k's tensor root with its Merkle proof: against the weights root (weights), the
///     trace root (activations of earlier nodes), or equal to the input root (the model's single input);
///   - ranges[r] holds the whole chunks covering range r of the element's operand ranges (as the operator
///     computes them) with a range proof against that operand's root.
/// The operators themselves live in per-family contracts behind IOperator, found by op code.
contract OneStepProver is IOneStepProver, IStepErrors {
    struct OperandRoot {
        bytes32 root;
        bytes32[] proof;
    }

    struct RangeProof {
        bytes chunks;
        bytes32[] proof;
    }


    mapping(uint256 op => IOperator) public operatorFor;

    constructor(uint256[] memory codes, IOperator[] memory operators) {
        if (codes.length != operators.length) revert BadOperatorTable();
        for (uint256 i; i < codes.length; ++i) {
            // INVARIANT: One op code has exactly one definition.
            if (address(operators[i]) == address(0) || address(operatorFor[codes[i]]) != address(0)) {
                revert BadOperatorTable();
            }
            operatorFor[codes[i]] = operators[i];
        }
    }

    /// @inheritdoc IOneStepProver
    function outputLayout(bytes calldata descriptor)
        external
        pure
        returns (uint256 numel, uint256 widthBytes, uint256 chunkLog2)
    {
        return LibDescriptor.outputLayout(descriptor);
    }

    /// @inheritdoc IOneStepProver
    function recompute(StepContext calldata ctx, bytes calldata descriptor, bytes calldata proof)
        external
        view
        returns (int256 value)
    {
        NodeDesc memory d = LibDescriptor.decode(descriptor);
        if (d.index != ctx.nodeIndex) revert WrongNode(d.index, ctx.nodeIndex);
        IOperator op = operatorFor[d.op];
        if (address(op) == address(0)) revert UnknownOp(d.op);
        (OperandRoot[] memory roots, RangeProof[] memory ranges) = abi.decode(proof, (OperandRoot[], RangeProof[]));
        _checkRoots(ctx, d, roots);

        Operand[] memory operands = _loadOperands(op, d, ctx.elementIndex, roots, ranges);
        return op.element(d, operands, ctx.elementIndex);
    }

    /// @dev Asks the operator which ranges element `e` reads and proves each against its operand's root.
    function _loadOperands(
        IOperator op,
        NodeDesc memory d,
        uint256 e,
        OperandRoot[] memory roots,
        RangeProof[] memory ranges
    ) internal view returns (Operand[] memory operands) {
        uint256 count = op.rangeCount(d, e);
        if (ranges.length != count) revert WrongRangeCount(ranges.length, count);
        operands = new Operand[](count);
        bool dependent = op.dataDependent(d.op);
        for (uint256 r; r < count; ++r) {
            Operand[] memory loaded = new Operand[](dependent ? r : 0);
            for (uint256 q; q < loaded.length; ++q) {
                loaded[q] = operands[q];
            }
            uint256[3] memory range;
            (range[0], range[1], range[2]) = op.range(d, e, r, loaded);
            if (range[0] >= d.inputs.length) revert WrongOperandCount(range[0], d.inputs.length);
            operands[r] = _loadRange(d.inputs[range[0]], roots[range[0]].root, range, ranges[r], r);
        }
    }

    function _checkRoots(StepContext calldata ctx, NodeDesc memory d, OperandRoot[] memory roots) internal pure {
        if (roots.length != d.inputs.length) revert WrongOperandCount(roots.length, d.inputs.length);
        for (uint256 k; k < roots.length; ++k) {
            TensorDesc memory t = d.inputs[k];
            bool ok;
            if (t.kind == LibDescriptor.KIND_INPUT) {
                // Models take one input tensor, whose root is the claim's input root.
                ok = t.index == 0 && roots[k].root == ctx.inputRoot;
            } else if (t.kind == LibDescriptor.KIND_WEIGHT) {
                ok = LibMerkle.verifyLeaf(ctx.weightsRoot, ctx.weightCount, t.index, roots[k].root, roots[k].proof);
            } else {
                // INVARIANT: A node reads only earlier nodes' outputs, which the descent made agreed values.
                ok = t.index < ctx.nodeIndex
                    && LibMerkle.verifyLeaf(ctx.traceRoot, ctx.nodeCount, t.index, roots[k].root, roots[k].proof);
            }
            if (!ok) revert OperandRootNotProven(k);
        }
    }

    /// @dev Proves range `r` = (slot, start, len) of operand `t` (root `root`) and returns it packed.
    function _loadRange(TensorDesc memory t, bytes32 root, uint256[3] memory range, RangeProof memory rp, uint256 r)
        internal
        pure
        returns (Operand memory o)
    {
        uint256 numel = LibDescriptor.numelOf(t);
        if (range[1] + range[2] > numel) revert RangeOutOfTensor(range[0], range[1], range[2], numel);
        o.width = t.width;
        o.len = range[2];
        if (range[2] == 0) {
            if (rp.chunks.length != 0 || rp.proof.length != 0) revert RangeNotProven(r);
            return o;
        }
        uint256 chunkBytes = uint256(1) << t.chunkLog2;
        uint256 perChunk = chunkBytes / t.width;
        uint256 firstChunk = range[1] / perChunk;
        uint256 count = (range[1] + range[2] - 1) / perChunk - firstChunk + 1;
        if (rp.chunks.length != count * chunkBytes) revert RangeNotProven(r);
        bytes32[] memory leaves = _chunkLeaves(rp.chunks, chunkBytes, count);
        uint256 totalChunks = (numel * t.width + chunkBytes - 1) / chunkBytes;
        // INVARIANT: Operand values are exactly the committed tensor's elements at the range's position.
        if (!LibMerkle.verifyRange(root, totalChunks, firstChunk, leaves, rp.proof)) revert RangeNotProven(r);
        o.data = rp.chunks;
        o.skip = range[1] - firstChunk * perChunk;
    }

    function _chunkLeaves(bytes memory chunks, uint256 chunkBytes, uint256 count)
        internal
        pure
        returns (bytes32[] memory leaves)
    {
        leaves = new bytes32[](count);
        for (uint256 c; c < count; ++c) {
            bytes32 h;
            assembly ("memory-safe") {
                h := keccak256(add(add(chunks, 0x20), mul(c, chunkBytes)), chunkBytes)
            }
            leaves[c] = h;
        }
    }
}

// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.24;

import {LibDescriptor, NodeDesc, TensorDesc} from "../dispute/lib/LibDescriptor.sol";
import {LibMerkle} from "../dispute/lib/LibMerkle.sol";
import {IModelRegistry} from "../oracle/interfaces/IModelRegistry.sol";
import {IPrivateNodeJudge, PrivateIO, PrivateReveal, RevealContext} from "./interfaces/IPrivateNodeJudge.sol";
import {IProofVerifier} from "./interfaces/IProofVerifier.sol";
import {LibGroth16} from "./lib/LibGroth16.sol";
import {PrivateNodeHasher} from "./PrivateNodeHasher.sol";

/// @title PrivateNodeJudge
/// @notice Private nodes in the optimistic protocol. A submission proves each private node with Groth16 (the
///         statement binds Poseidon hashes of the node's input and output to the registered weight commitment)
///         and publishes the node's output, bound to the trace by keccak. Challengers recompute everything else.
///         A game can still land on a private node (its leaf is disputed); the submitter then reveals the node's
///         input and output, and wins iff keccak roots and Poseidon hashes all match what was proven. A submitter
///         that cannot (it posted a leaf other than the proven output) runs out of clock and loses.
/// @dev Stateless: the game stores the pairs' hash and passes the context.
contract PrivateNodeJudge is IPrivateNodeJudge {
    IModelRegistry public immutable registry;
    IProofVerifier public immutable verifier;
    PrivateNodeHasher public immutable hasher;

    constructor(IModelRegistry registry_, IProofVerifier verifier_, PrivateNodeHasher hasher_) {
        registry = registry_;
        verifier = verifier_;
        hasher = hasher_;
    }

    /// @inheritdoc IPrivateNodeJudge
    function checkProposal(uint256 modelId, bytes32 traceRoot, PrivateIO[] calldata ios)
        external
        view
        returns (bytes32 ioHash, uint32[] memory nodes, uint256[] memory pairs)
    {
        IModelRegistry.PrivateNode[] memory priv = registry.privateNodes(modelId);
        uint256 nodeCount = registry.getModel(modelId).nodeCount;
        if (ios.length != priv.length || priv.length == 0) revert PrivateProofCount(ios.length, priv.length);
        pairs = new uint256[](2 * ios.length);
        uint256[] memory signals = new uint256[](ios.length);
        nodes = new uint32[](ios.length);
        for (uint256 k; k < ios.length; ++k) {
            PrivateIO calldata io = ios[k];
            nodes[k] = priv[k].node;
            bytes32 root = LibMerkle.tensorRoot(io.output, uint256(1) << priv[k].outChunkLog2);
            // INVARIANT: The published output is the trace's leaf, so challengers recompute from the real values.
            if (!LibMerkle.verifyLeaf(traceRoot, nodeCount, priv[k].node, root, io.leafProof)) {
                revert PrivateOutputNotInTrace(priv[k].node);
            }
            if (io.inHash >= LibGroth16.R) revert HashNotInField(io.inHash);
            if (io.outHash >= LibGroth16.R) revert HashNotInField(io.outHash);
            signals[k] = hasher.publicSignal(io.inHash, io.outHash, priv[k].commitment);
            (pairs[2 * k], pairs[2 * k + 1]) = (io.inHash, io.outHash);
        }
        _verifyRuns(priv, ios, signals);
        ioHash = keccak256(abi.encodePacked(pairs));
    }

    /// @dev Verifies the proofs, one batch per run of consecutive nodes sharing a key.
    function _verifyRuns(IModelRegistry.PrivateNode[] memory priv, PrivateIO[] calldata ios, uint256[] memory signals)
        internal
        view
    {
        uint256 start;
        while (start < priv.length) {
            uint256 end = start + 1;
            while (end < priv.length && priv[end].keyId == priv[start].keyId) {
                ++end;
            }
            uint256[][] memory inputs = new uint256[][](end - start);
            bytes[] memory proofs = new bytes[](end - start);
            for (uint256 k = start; k < end; ++k) {
                inputs[k - start] = new uint256[](1);
                inputs[k - start][0] = signals[k];
                proofs[k - start] = ios[k].proof;
            }
            bool ok = end - start == 1
                ? verifier.verify(priv[start].keyId, inputs[0], proofs[0])
                : verifier.verifyBatch(priv[start].keyId, inputs, proofs);
            // INVARIANT: No result of a private model stands without valid proofs for all its private nodes.
            if (!ok) revert PrivateProofInvalid(priv[start].node);
            start = end;
        }
    }

    /// @inheritdoc IPrivateNodeJudge
    function checkReveal(RevealContext calldata ctx, PrivateReveal calldata r) external view {
        if (keccak256(abi.encodePacked(r.pairs)) != ctx.ioHash) revert PrivateIOMismatch();
        IModelRegistry.PrivateNode[] memory priv = registry.privateNodes(ctx.modelId);
        uint256 k;
        while (k < priv.length && priv[k].node != ctx.nodeIndex) {
            ++k;
        }
        if (k == priv.length || r.pairs.length != 2 * priv.length) revert NotPrivateNode(ctx.nodeIndex);
        NodeDesc memory d = LibDescriptor.decode(r.descriptor);
        _checkInput(ctx, d.inputs[0], r, r.pairs[2 * k]);
        TensorDesc memory y = d.out;
        if (r.output.length != LibDescriptor.numelOf(y) * y.width) revert PrivateOutputMismatch("length");
        // INVARIANT: The revealed output is exactly the disputed leaf and exactly what the proof was about.
        if (LibMerkle.tensorRoot(r.output, uint256(1) << y.chunkLog2) != ctx.outputRoot) {
            revert PrivateOutputMismatch("root");
        }
        if (hasher.tensorHash(_values(r.output, y.width), y.width * 8) != r.pairs[2 * k + 1]) {
            revert PrivateOutputMismatch("poseidon");
        }
    }

    function _checkInput(RevealContext calldata ctx, TensorDesc memory x, PrivateReveal calldata r, uint256 inHash)
        internal
        view
    {
        if (r.input.length != LibDescriptor.numelOf(x) * x.width) revert PrivateInputMismatch("length");
        bytes32 root = LibMerkle.tensorRoot(r.input, uint256(1) << x.chunkLog2);
        bool ok;
        if (x.kind == LibDescriptor.KIND_INPUT) {
            ok = root == ctx.inputRoot;
        } else if (x.kind == LibDescriptor.KIND_ACTIVATION) {
            uint256 nodeCount = registry.getModel(ctx.modelId).nodeCount;
            // INVARIANT: The input is an earlier node's output, agreed by the descent (its leaf is in the trace).
            ok = x.index < ctx.nodeIndex && LibMerkle.verifyLeaf(ctx.traceRoot, nodeCount, x.index, root, r.inputProof);
        } else {
            revert UnsupportedPrivateInput(x.kind);
        }
        if (!ok) revert PrivateInputMismatch("root");
        if (hasher.tensorHash(_values(r.input, x.width), x.width * 8) != inHash) revert PrivateInputMismatch("poseidon");
    }

    /// @dev Packed big-endian two's complement values of `width` bytes each.
    function _values(bytes calldata data, uint256 width) internal pure returns (int256[] memory v) {
        v = new int256[](data.length / width);
        uint256 shift = 256 - width * 8;
        for (uint256 i; i < v.length; ++i) {
            uint256 at = i * width;
            int256 x;
            assembly ("memory-safe") {
                x := signextend(sub(width, 1), shr(shift, calldataload(add(data.offset, at))))
            }
            v[i] = x;
        }
    }
}

// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.24;

/// @notice What a submission carries for one private node (in the model's private-node order): the Poseidon
///         hashes of the node's input and output tensors, the Groth16 proof of Poseidon(inHash, outHash,
///         commitment), and the node's packed output tensor with a proof that its tensor root is the node's trace
///         leaf, so that anyone can recompute the public rest of the model.
struct PrivateIO {
    uint256 inHash;
    uint256 outHash;
    bytes proof;
    bytes output;
    bytes32[] leafProof;
}

/// @notice The submitter's answer when a dispute lands on a private node: the node's descriptor, its input and
///         output tensors (packed), the input's proof against the trace (unless it is the model's input), and the
///         (inHash, outHash) pairs of every private node as proposed.
struct PrivateReveal {
    bytes descriptor;
    bytes input;
    bytes32[] inputProof;
    bytes output;
    uint256[] pairs;
}

/// @notice The claim and game facts a private reveal is checked against.
struct RevealContext {
    uint256 modelId;
    bytes32 inputRoot;
    bytes32 traceRoot;
    uint256 nodeIndex;
    bytes32 outputRoot;
    bytes32 ioHash;
}

/// @title IPrivateNodeJudge
/// @notice The dispute game's checks for private nodes (opp/ai, DESIGN.md section 5): proofs at proposal, and the
///         reveal that resolves a game landing on a private node.
interface IPrivateNodeJudge {
    /// @dev `given` private-node entries were submitted for a model with `expected` private nodes.
    error PrivateProofCount(uint256 given, uint256 expected);
    /// @dev The published output of private node `node` is not that node's leaf of the trace.
    error PrivateOutputNotInTrace(uint32 node);
    /// @dev The Groth16 proof(s) for private node `node` (the first of a batch) do not verify.
    error PrivateProofInvalid(uint32 node);
    /// @dev A hash is not a BN254 scalar field element.
    error HashNotInField(uint256 value);
    /// @dev The revealed (inHash, outHash) pairs are not the proposed ones.
    error PrivateIOMismatch();
    /// @dev Node `node` is not private for this model.
    error NotPrivateNode(uint256 node);
    /// @dev The revealed input does not match: "length", "root" (keccak tensor root) or "poseidon" (inHash).
    error PrivateInputMismatch(string what);
    /// @dev The revealed output does not match: "length", "root" or "poseidon" (outHash).
    error PrivateOutputMismatch(string what);
    /// @dev A private node's first operand must be the model input or an earlier node's output, not `kind`.
    error UnsupportedPrivateInput(uint256 kind);

    /// @notice Checks every private node's published output against the trace and its Groth16 proof (consecutive
    ///         nodes with the same key in one batch); reverts with the errors above, else returns
    ///         the private node indices, the pairs (inHash_0, outHash_0, inHash_1, ...) and ioHash, their
    ///         keccak256(abi.encodePacked(pairs)).
    function checkProposal(uint256 modelId, bytes32 traceRoot, PrivateIO[] calldata ios)
        external
        view
        returns (bytes32 ioHash, uint32[] memory nodes, uint256[] memory pairs);

    /// @notice Passes iff the revealed input is the node's agreed operand, the revealed output is the disputed leaf,
    ///         and both Poseidon-hash to the proven pair; reverts naming the first check that fails.
    function checkReveal(RevealContext calldata ctx, PrivateReveal calldata r) external view;
}

// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.24;

/// @notice Life of a claim (a submitted inference result).
enum ClaimStatus {
    /// No claim with this id.
    None,
    /// In its challenge window, or with games still open.
    Pending,
    /// Lost a game: the result must not be used.
    Void,
    /// Window over and no game lost: the result stands.
    Finalized
}

/// @notice Life of one game between a claim's submitter and one challenger.
enum GameStatus {
    None,
    InProgress,
    ChallengerWon,
    SubmitterWon,
    /// The claim was voided by another game first; the challenger's bond is returned with a share of the
    /// submitter's bond.
    Moot
}

/// @notice Where a game stands.
enum Phase {
    /// Level 1: descent over the trace root to one node of the graph.
    TraceDescent,
    /// Between the levels: the challenger opens the disputed node's descriptor.
    OpenNode,
    /// Level 2: descent over that node's output tensor root to one chunk.
    TensorDescent,
    /// The submitter reveals the disputed chunk's bytes.
    ChunkReveal,
    /// The challenger names one element of the chunk and proves its true value (one step).
    Step,
    /// The descent landed on a private node: the submitter reveals its input and output (PrivateNodeJudge).
    PrivateReveal
}

/// @notice Whose move it is; the other side's clock is stopped.
enum Turn {
    Submitter,
    Challenger
}

/// @notice A submitted result: what model, on what input, answered what, with which execution trace.
struct Claim {
    uint256 modelId;
    /// Tensor root of the request's input.
    bytes32 inputRoot;
    /// Tensor root of the posted output; the trace's last leaf.
    bytes32 outputRoot;
    /// Merkle root over every node's output tensor root, in execution order.
    bytes32 traceRoot;
    address submitter;
    /// Who created the claim (the submitter itself, or a trusted proposer such as the oracle).
    address proposer;
    uint128 bond;
    uint64 createdAt;
    /// Games not yet resolved.
    uint32 openGames;
    ClaimStatus status;
    /// Challenger bonds of games the submitter won while the claim was pending: held until the claim is decided
    /// (paid to the submitter, less the burn, when it finalizes; returned to those challengers if it is voided,
    /// and taken off here as each is returned).
    uint128 escrow;
    /// Set when the claim is voided: the most each game still open then may receive on `settleMoot` besides its
    /// bond (its challenger's gas at the stated price, from the submitter's bond); what it does not take goes to
    /// the winner.
    uint128 mootCap;
    /// The challenger whose game voided the claim.
    address voidedBy;
}

/// @notice One bisection game. The current position is a node of the tree being descended:
///         `level` counts from that tree's root, `index` within the level, `node` its claimed hash.
struct Game {
    uint256 claimId;
    address challenger;
    uint128 bond;
    GameStatus status;
    Phase phase;
    Turn turn;
    uint8 treeDepth;
    uint8 level;
    uint64 index;
    /// Leaves of the tree being descended (trace: the model's node count; tensor: its chunk count).
    uint64 leafCount;
    bytes32 node;
    /// keccak256 of the children the submitter revealed last (the challenger picks among them).
    bytes32 revealed;
    /// Level 1's result: the disputed graph node and its descriptor's hash.
    uint32 nodeIndex;
    /// log2 of the disputed tensor's chunk size in bytes.
    uint8 chunkLog2;
    bytes32 descriptorHash;
    /// Chess clocks: seconds each side has used, and when the current turn began.
    uint64 submitterUsed;
    uint64 challengerUsed;
    uint64 turnStartedAt;
    /// True once a game the submitter won is refunded to its challenger because the claim was voided later.
    bool refunded;
    /// Moves the challenger made (its gas is compensated if the game turns moot).
    uint16 challengerMoves;
}

/// @notice What the one-step prover needs to recompute one element of one node's output.
struct StepContext {
    bytes32 graphRoot;
    uint256 nodeCount;
    bytes32 weightsRoot;
    uint256 weightCount;
    bytes32 inputRoot;
    bytes32 traceRoot;
    uint256 nodeIndex;
    /// Flat (row-major) index of the disputed element in the node's output.
    uint256 elementIndex;
}

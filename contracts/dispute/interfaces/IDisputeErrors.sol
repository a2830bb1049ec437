// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.24;

import {ClaimStatus, GameStatus, Phase, Turn} from "../lib/Types.sol";

/// @title IDisputeErrors
/// @notice Every error of the dispute game, declared once. Contracts that call the game (the oracle) inherit this
///         interface so that errors bubbling up from the game are in their own ABI.
interface IDisputeErrors {
    /// @dev The game's configuration is unusable (named field).
    error BadConfig(string field);
    /// @dev A bond of the wrong size was sent.
    error WrongBond(uint256 sent, uint256 required);
    /// @dev Only the submitter itself or a trusted proposer may create a claim for `submitter`.
    error NotProposer(address caller, address submitter);
    /// @dev A claim root was zero.
    error ZeroClaimRoot();
    /// @dev The posted output root is not the trace's last leaf.
    error OutputNotInTrace(bytes32 outputRoot);
    /// @dev No claim with this id.
    error UnknownClaim(uint256 claimId);
    /// @dev The claim is not in the status this call needs.
    error ClaimNotPending(uint256 claimId, ClaimStatus status);
    /// @dev Only a voided claim's games can be settled with settleMoot.
    error ClaimNotVoid(uint256 claimId, ClaimStatus status);
    /// @dev Challenges are only accepted inside the window.
    error ChallengeWindowClosed(uint256 claimId, uint256 closedAt);
    /// @dev A submitter cannot challenge its own claim.
    error SelfChallenge(uint256 claimId);
    /// @dev The claim cannot be finalized yet.
    error ClaimNotFinalizable(uint256 claimId, uint256 windowEndsAt, uint256 openGames);
    /// @dev No game with this id.
    error UnknownGame(uint256 gameId);
    /// @dev The game is over.
    error GameNotInProgress(uint256 gameId, GameStatus status);
    /// @dev This move belongs to another phase of the game.
    error WrongPhase(Phase expected, Phase actual);
    /// @dev It is the other side's turn.
    error NotYourTurn(Turn turn);
    /// @dev Only the game's submitter or challenger may make this move.
    error WrongCaller(address caller, address expected);
    /// @dev The side to move has run out of clock.
    error ClockExpired(uint256 used, uint256 budget);
    /// @dev The side to move still has clock left.
    error ClockNotExpired(uint256 used, uint256 budget);
    /// @dev A reveal must hold exactly `expected` children.
    error WrongChildCount(uint256 given, uint256 expected);
    /// @dev The revealed children do not hash up to the disputed node.
    error ChildrenDoNotHashToParent(bytes32 computed, bytes32 parent);
    /// @dev The challenger re-sent children other than those revealed.
    error NotTheRevealedChildren();
    /// @dev A picked child index is outside the revealed children.
    error PickOutOfRange(uint256 pick, uint256 count);
    /// @dev The picked child is padding with the correct empty hash: nothing to dispute there.
    error PaddingAgrees(uint256 level, uint256 index);
    /// @dev The descriptor is not node `nodeIndex` of the graph.
    error DescriptorNotInGraph(uint256 nodeIndex);
    /// @dev The revealed chunk does not hash to the disputed leaf, or has the wrong length.
    error ChunkMismatch(bytes32 computed, bytes32 leaf);
    /// @dev The named element is outside the chunk.
    error ElementOutOfChunk(uint256 element, uint256 elementsPerChunk);
    /// @dev The one-step recomputation agrees with the submitter: the challenger's clock keeps running.
    error StepAgreesWithClaim(int256 value);
    /// @dev Nothing to withdraw.
    error NothingToWithdraw(address account);
    /// @dev A payout could not be sent.
    error PayoutFailed(address account, uint256 amount);
    /// @dev Model `modelId` has private nodes: results must come through `proposePrivate` with their proofs.
    error PrivateProofsRequired(uint256 modelId);
    /// @dev No private-node judge is set (or it was set already).
    error PrivateJudgeUnavailable();
}

// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.24;

import {PrivateIO, PrivateReveal} from "../../zk/interfaces/IPrivateNodeJudge.sol";
import {Claim, ClaimStatus, Game} from "../lib/Types.sol";
import {IDisputeErrors} from "./IDisputeErrors.sol";

/// @title IDisputeGame
/// @notice Bonded claims of inference results and the bisection games that dispute them (DESIGN.md section 4).
///
/// A claim commits to (model, input root, output root, trace root). Inside the challenge window anyone may
/// open a game against it with a bond; several games may run in parallel and a claim that loses any one of
/// them is void. A game is two k-ary descents and one step:
///   1. trace descent: the submitter reveals the 2^j descendants of the disputed trace-tree node, the
///      challenger picks the (leftmost) child it disagrees with, down to one leaf = one graph node;
///   2. the challenger opens that node's descriptor (proved against the graph root);
///   3. tensor descent: the same over the node's output tensor root, down to one chunk;
///   4. the submitter reveals the chunk's bytes; the challenger names one element and the one-step prover
///      recomputes it from proven operands. A different value wins the game for the challenger.
/// Each side has a chess clock; the side to move that exceeds its budget loses on `timeout`.
/// Payouts are credited and withdrawn (pull payments). A claim proven false never pays its submitter: the
/// challenger that voids it gets its bond back plus the submitter's bond less a burn (so colluding
/// self-challenges never profit), less, for each other game still open, that game's compensation: it turns moot
/// and gets its bond back plus its challenger's gas at a stated price (base + per move, capped so that the winner
/// keeps at least half the pot). Bonds the submitter wins on a pending claim are held in the claim's escrow: paid
/// (less the burn) when the claim finalizes, returned to their challengers if it is voided later. A submitter that loses a game loses its whole bond; a challenger that loses loses its bond.
interface IDisputeGame is IDisputeErrors {
    /// @dev A claim was created.
    event ClaimProposed(
        uint256 indexed claimId,
        uint256 indexed modelId,
        address indexed submitter,
        bytes32 inputRoot,
        bytes32 outputRoot,
        bytes32 traceRoot
    );
    /// @dev A challenger opened a game against a claim.
    event GameStarted(uint256 indexed gameId, uint256 indexed claimId, address indexed challenger);
    /// @dev The submitter revealed the children of the disputed node.
    event Revealed(uint256 indexed gameId, uint8 level, uint64 index, bytes32[] children);
    /// @dev The challenger picked a child to dispute.
    event Picked(uint256 indexed gameId, uint8 level, uint64 index, bytes32 node);
    /// @dev Level 1 ended at graph node `nodeIndex`; level 2 descends its output tensor of `chunkCount` chunks.
    event NodeOpened(uint256 indexed gameId, uint32 nodeIndex, uint64 chunkCount, bytes descriptor);
    /// @dev The submitter revealed the disputed chunk.
    event ChunkRevealed(uint256 indexed gameId, uint64 chunkIndex, bytes chunk);
    /// @dev The game ended.
    event GameResolved(uint256 indexed gameId, uint256 indexed claimId, bool challengerWon, string reason);
    /// @dev A game the submitter won was refunded to its challenger because the claim was voided afterwards.
    event GameRefunded(uint256 indexed gameId, uint256 indexed claimId, uint256 amount);
    /// @dev The claim lost a game and is void.
    event ClaimVoided(uint256 indexed claimId, uint256 indexed gameId);
    /// @dev The claim's window passed with no game lost.
    event ClaimFinalized(uint256 indexed claimId);
    /// @dev ETH was credited to an account (withdraw with `withdraw`).
    event Credited(address indexed account, uint256 amount);
    /// @dev ETH was burned from a loser's bond.
    event Burned(uint256 amount);
    /// @dev A claim of a model with private nodes published those nodes' outputs (proven, bound to the trace) and
    ///      the Poseidon hashes its proofs are about.
    event PrivateOutputsPublished(uint256 indexed claimId, uint32[] nodes, bytes[] outputs, uint256[] pairs);
    /// @dev The submitter revealed private node `nodeIndex`'s input and output, and they matched its proof.
    event PrivateRevealed(uint256 indexed gameId, uint32 nodeIndex);

    /// @notice Creates a claim with the submitter's bond (exactly `submitterBond()`).
    /// @param outputProof Merkle proof that `outputRoot` is the trace's last leaf.
    /// @param submitter The claim's submitter: `msg.sender`, unless the caller holds the proposer role.
    function propose(
        uint256 modelId,
        bytes32 inputRoot,
        bytes32 outputRoot,
        bytes32 traceRoot,
        bytes32[] calldata outputProof,
        address submitter
    ) external payable returns (uint256 claimId);

    /// @notice `propose` for a model with private nodes: `ios` carries, per private node (in the registry's order),
    ///         the Poseidon hashes its Groth16 proof is about, the proof, and the node's output with its trace proof.
    ///         Reverts unless every proof verifies and every output is its trace leaf (IPrivateNodeJudge errors).
    function proposePrivate(
        uint256 modelId,
        bytes32 inputRoot,
        bytes32 outputRoot,
        bytes32 traceRoot,
        bytes32[] calldata outputProof,
        address submitter,
        PrivateIO[] calldata ios
    ) external payable returns (uint256 claimId);

    /// @notice The submitter's move when the game landed on a private node: the node's input and output, which the
    ///         judge checks against the trace, the disputed leaf and the proven Poseidon hashes. The submitter wins if
    ///         they match; otherwise this reverts (naming the mismatch) and its clock keeps running.
    function revealPrivate(uint256 gameId, PrivateReveal calldata r) external;

    /// @notice Opens a game against a pending claim, with the challenger's bond (exactly `challengerBond()`).
    function challenge(uint256 claimId) external payable returns (uint256 gameId);

    /// @notice Submitter: reveals the 2^j descendants of the disputed node (fewer near the leaves).
    function reveal(uint256 gameId, bytes32[] calldata children) external;

    /// @notice Challenger: re-sends the revealed children and picks the one it disputes.
    function pick(uint256 gameId, bytes32[] calldata children, uint256 childIndex) external;

    /// @notice Challenger: opens the disputed graph node's descriptor with its proof against the graph root.
    function openNode(uint256 gameId, bytes calldata descriptor, bytes32[] calldata proof) external;

    /// @notice Submitter: reveals the bytes of the disputed chunk.
    function revealChunk(uint256 gameId, bytes calldata chunk) external;

    /// @notice Challenger: names one element of the revealed chunk and proves its true value.
    function step(uint256 gameId, bytes calldata chunk, uint256 element, bytes calldata descriptor, bytes calldata proof)
        external;

    /// @notice Anyone: ends a game of a pending claim whose side to move has exceeded its clock; the other side
    ///         wins. Reverts ClaimNotPending once the claim is void (its games are settled with `settleMoot`).
    function timeout(uint256 gameId) external;

    /// @notice Anyone: settles a game of a voided claim. A game still in progress turns moot: its challenger gets
    ///         its bond back plus min(base + moves x per-move compensation, the claim's `mootCap` = pot / (2 x games
    ///         open at the void)), the winner the rest of the cap. Reverts ClaimNotVoid unless the claim is void. A game the submitter had won (bond in the claim's escrow)
    ///         is refunded to its challenger, once.
    function settleMoot(uint256 gameId) external;

    /// @notice Anyone: finalizes a claim whose window has passed with no game open or lost.
    function finalize(uint256 claimId) external;

    /// @notice Sends the caller everything credited to it.
    function withdraw() external;

    /// @notice Seconds after a claim's creation during which it may be challenged.
    function challengeWindow() external view returns (uint64);

    /// @notice Seconds of thinking time each side has in one game.
    function clockBudget() external view returns (uint64);

    function getClaim(uint256 claimId) external view returns (Claim memory);
    function getGame(uint256 gameId) external view returns (Game memory);
    function claimStatus(uint256 claimId) external view returns (ClaimStatus);

    /// @notice True when `finalize(claimId)` would succeed now.
    function canFinalize(uint256 claimId) external view returns (bool);
}

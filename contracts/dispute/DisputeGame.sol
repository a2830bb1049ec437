// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {IModelRegistry} from "../oracle/interfaces/IModelRegistry.sol";
import {IDisputeGame} from "./interfaces/IDisputeGame.sol";
import {IOneStepProver} from "./interfaces/IOneStepProver.sol";
import {IStepErrors} from "./interfaces/IStepErrors.sol";
import {LibMerkle} from "./lib/LibMerkle.sol";
import {IPrivateNodeJudge, PrivateIO, PrivateReveal, RevealContext} from "../zk/interfaces/IPrivateNodeJudge.sol";
import {Claim, ClaimStatus, Game, GameStatus, Phase, StepContext, Turn} from "./lib/Types.sol";

/// @title DisputeGame
/// @notice Claims of inference results and the bisection games that dispute them (see IDisputeGame).
/// @dev Inherits IStepErrors so that errors bubbling up from a failed `step` are in this contract's ABI.
///      One contract holds every claim and game so that all bonds sit in one balance:
///      address(this).balance == openBonds + totalCredit at all times (tests check it).
contract DisputeGame is IDisputeGame, IStepErrors, AccessControl, ReentrancyGuard {
    /// @notice May create claims on behalf of a submitter (the oracle).
    bytes32 public constant PROPOSER_ROLE = keccak256("PROPOSER_ROLE");
    uint256 internal constant BPS = 10_000;

    IModelRegistry public immutable registry;
    IOneStepProver public immutable prover;
    uint256 public immutable submitterBond;
    uint256 public immutable challengerBond;
    /// @notice Seconds after a claim's creation during which it may be challenged.
    uint64 public immutable challengeWindow;
    /// @notice Seconds of thinking time each side has in one game.
    uint64 public immutable clockBudget;
    /// @notice j: each reveal shows 2^j descendants, so a descent takes ceil(depth / j) rounds.
    uint8 public immutable revealDepth;
    /// @notice Share of a loser's bond that is burned, in basis points.
    uint16 public immutable burnBps;
    /// @notice What a game that turns moot (its claim voided by another game) receives from the voided claim's
    ///         bond besides its own bond: `mootBaseCompensation` (challenge + settleMoot) plus
    ///         `mootMoveCompensation` per move its challenger made, i.e. its gas at a stated gas price, capped at
    ///         pot / (2 x games open at the void) so the winner keeps at least half the pot. The winner gets the rest.
    uint256 public immutable mootBaseCompensation;
    uint256 public immutable mootMoveCompensation;

    mapping(uint256 claimId => Claim) internal _claims;
    mapping(uint256 gameId => Game) internal _games;
    uint256 public claimCount;
    uint256 public gameCount;

    mapping(address account => uint256) public credit;
    /// @notice Bonds of pending claims and of games in progress.
    uint256 public openBonds;
    uint256 public totalCredit;
    uint256 public totalBurned;
    /// @notice Checks proofs and reveals of private nodes (set once by the admin; models without private nodes
    ///         never use it).
    IPrivateNodeJudge public privateJudge;
    /// @notice keccak256 of the (inHash, outHash) pairs proven with a private model's claim; 0 for public models.
    mapping(uint256 claimId => bytes32) public privateIOHash;

    struct Config {
        IModelRegistry registry;
        IOneStepProver prover;
        uint256 submitterBond;
        uint256 challengerBond;
        uint64 challengeWindow;
        uint64 clockBudget;
        uint8 revealDepth;
        uint16 burnBps;
        uint256 mootBaseCompensation;
        uint256 mootMoveCompensation;
    }

    constructor(Config memory config, address admin) {
        // INVARIANT: The game needs a registry and a prover to check anything.
        if (address(config.registry) == address(0)) revert BadConfig("registry");
        if (address(config.prover) == address(0)) revert BadConfig("prover");
        // INVARIANT: Bonds must be positive, or losing costs nothing.
        if (config.submitterBond == 0) revert BadConfig("submitterBond");
        if (config.challengerBond == 0) revert BadConfig("challengerBond");
        if (config.challengeWindow == 0) revert BadConfig("challengeWindow");
        if (config.clockBudget == 0) revert BadConfig("clockBudget");
        // INVARIANT: A reveal shows between 2 and 256 children (j in 1..8) so one transaction stays cheap.
        if (config.revealDepth == 0 || config.revealDepth > 8) revert BadConfig("revealDepth");
        // INVARIANT: Some of a loser's bond must be burned (self-challenges never profit), never all of it.
        if (config.burnBps == 0 || config.burnBps >= BPS) revert BadConfig("burnBps");
        // INVARIANT: A moot game's compensation (base + per move x at most 65,535 moves) cannot overflow, so a
        //            void claim's games can always be settled.
        if (config.mootBaseCompensation > config.submitterBond) revert BadConfig("mootBaseCompensation");
        if (config.mootMoveCompensation > config.submitterBond) revert BadConfig("mootMoveCompensation");
        if (admin == address(0)) revert BadConfig("admin");
        registry = config.registry;
        prover = config.prover;
        submitterBond = config.submitterBond;
        challengerBond = config.challengerBond;
        challengeWindow = config.challengeWindow;
        clockBudget = config.clockBudget;
        revealDepth = config.revealDepth;
        burnBps = config.burnBps;
        mootBaseCompensation = config.mootBaseCompensation;
        mootMoveCompensation = config.mootMoveCompensation;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    // ------------------------------------------------------------------ claims

    /// @inheritdoc IDisputeGame
    function propose(
        uint256 modelId,
        bytes32 inputRoot,
        bytes32 outputRoot,
        bytes32 traceRoot,
        bytes32[] calldata outputProof,
        address submitter
    ) external payable returns (uint256 claimId) {
        // INVARIANT: A result of a model with private nodes never stands without their proofs.
        if (registry.privateNodes(modelId).length != 0) revert PrivateProofsRequired(modelId);
        return _propose(modelId, inputRoot, outputRoot, traceRoot, outputProof, submitter);
    }

    /// @inheritdoc IDisputeGame
    function proposePrivate(
        uint256 modelId,
        bytes32 inputRoot,
        bytes32 outputRoot,
        bytes32 traceRoot,
        bytes32[] calldata outputProof,
        address submitter,
        PrivateIO[] calldata ios
    ) external payable returns (uint256 claimId) {
        if (address(privateJudge) == address(0)) revert PrivateJudgeUnavailable();
        (bytes32 ioHash, uint32[] memory nodes, uint256[] memory pairs) =
            privateJudge.checkProposal(modelId, traceRoot, ios);
        claimId = _propose(modelId, inputRoot, outputRoot, traceRoot, outputProof, submitter);
        privateIOHash[claimId] = ioHash;
        bytes[] memory outputs = new bytes[](ios.length);
        for (uint256 k; k < ios.length; ++k) {
            outputs[k] = ios[k].output;
        }
        emit PrivateOutputsPublished(claimId, nodes, outputs, pairs);
    }

    /// @notice Sets the private-node judge, once. Only the admin.
    function setPrivateJudge(IPrivateNodeJudge judge) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (address(privateJudge) != address(0) || address(judge) == address(0)) revert PrivateJudgeUnavailable();
        privateJudge = judge;
    }

    function _propose(
        uint256 modelId,
        bytes32 inputRoot,
        bytes32 outputRoot,
        bytes32 traceRoot,
        bytes32[] calldata outputProof,
        address submitter
    ) internal returns (uint256 claimId) {
        // INVARIANT: Only the submitter, or a trusted proposer acting for it, can put its name on a claim.
        if (submitter != msg.sender && !hasRole(PROPOSER_ROLE, msg.sender)) revert NotProposer(msg.sender, submitter);
        if (msg.value != submitterBond) revert WrongBond(msg.value, submitterBond);
        if (inputRoot == 0 || outputRoot == 0 || traceRoot == 0) revert ZeroClaimRoot();
        IModelRegistry.Model memory model = registry.getModel(modelId);
        // INVARIANT: The posted output is the output of the trace's last node.
        if (!LibMerkle.verifyLeaf(traceRoot, model.nodeCount, model.nodeCount - 1, outputRoot, outputProof)) {
            revert OutputNotInTrace(outputRoot);
        }

        claimId = ++claimCount;
        Claim storage c = _claims[claimId];
        c.modelId = modelId;
        c.inputRoot = inputRoot;
        c.outputRoot = outputRoot;
        c.traceRoot = traceRoot;
        c.submitter = submitter;
        c.proposer = msg.sender;
        c.bond = uint128(msg.value);
        c.createdAt = uint64(block.timestamp);
        c.status = ClaimStatus.Pending;
        openBonds += msg.value;
        emit ClaimProposed(claimId, modelId, submitter, inputRoot, outputRoot, traceRoot);
    }

    /// @inheritdoc IDisputeGame
    function challenge(uint256 claimId) external payable returns (uint256 gameId) {
        Claim storage c = _pendingClaim(claimId);
        uint256 closesAt = uint256(c.createdAt) + challengeWindow;
        // INVARIANT: Challenges are accepted only inside the window.
        if (block.timestamp >= closesAt) revert ChallengeWindowClosed(claimId, closesAt);
        if (msg.sender == c.submitter) revert SelfChallenge(claimId);
        if (msg.value != challengerBond) revert WrongBond(msg.value, challengerBond);

        uint256 nodeCount = registry.getModel(c.modelId).nodeCount;
        gameId = ++gameCount;
        Game storage g = _games[gameId];
        g.claimId = claimId;
        g.challenger = msg.sender;
        g.bond = uint128(msg.value);
        g.status = GameStatus.InProgress;
        g.phase = Phase.TraceDescent;
        g.turn = Turn.Submitter;
        g.treeDepth = uint8(LibMerkle.depth(nodeCount));
        g.leafCount = uint64(nodeCount);
        g.node = c.traceRoot;
        g.turnStartedAt = uint64(block.timestamp);
        c.openGames += 1;
        openBonds += msg.value;
        emit GameStarted(gameId, claimId, msg.sender);
        // A one-node model has nothing to descend: the trace root is the disputed leaf.
        if (g.treeDepth == 0) {
            g.phase = Phase.OpenNode;
            g.turn = Turn.Challenger;
        }
    }

    /// @inheritdoc IDisputeGame
    function finalize(uint256 claimId) external {
        Claim storage c = _pendingClaim(claimId);
        uint256 windowEndsAt = uint256(c.createdAt) + challengeWindow;
        // INVARIANT: A claim stands only after its window, with every game against it resolved in its favour.
        if (block.timestamp < windowEndsAt || c.openGames != 0) {
            revert ClaimNotFinalizable(claimId, windowEndsAt, c.openGames);
        }
        c.status = ClaimStatus.Finalized;
        // The bonds of the games the submitter won, held until now, are paid with its own bond (less the burn).
        uint256 escrow = c.escrow;
        uint256 burned = (escrow * burnBps) / BPS;
        openBonds -= uint256(c.bond) + escrow;
        _burn(burned);
        _credit(c.submitter, uint256(c.bond) + escrow - burned);
        emit ClaimFinalized(claimId);
    }

    // ------------------------------------------------------------------ moves

    /// @inheritdoc IDisputeGame
    function reveal(uint256 gameId, bytes32[] calldata children) external {
        Game storage g = _move(gameId, Turn.Submitter);
        if (g.phase != Phase.TraceDescent && g.phase != Phase.TensorDescent) revert WrongPhase(Phase.TraceDescent, g.phase);
        uint256 expected = 1 << _revealLevels(g);
        if (children.length != expected) revert WrongChildCount(children.length, expected);
        bytes32[] memory nodes = children;
        (bytes32 computed,) = LibMerkle.hashUp(nodes);
        // INVARIANT: Revealed children must hash up to the node being disputed (k-ary dissection).
        if (computed != g.node) revert ChildrenDoNotHashToParent(computed, g.node);
        g.revealed = keccak256(abi.encodePacked(children));
        g.turn = Turn.Challenger;
        emit Revealed(gameId, g.level, g.index, children);
    }

    /// @inheritdoc IDisputeGame
    function pick(uint256 gameId, bytes32[] calldata children, uint256 childIndex) external {
        Game storage g = _move(gameId, Turn.Challenger);
        if (g.phase != Phase.TraceDescent && g.phase != Phase.TensorDescent) revert WrongPhase(Phase.TraceDescent, g.phase);
        if (keccak256(abi.encodePacked(children)) != g.revealed) revert NotTheRevealedChildren();
        if (childIndex >= children.length) revert PickOutOfRange(childIndex, children.length);

        uint8 levels = _revealLevels(g);
        g.level += levels;
        g.index = uint64((uint256(g.index) << levels) + childIndex);
        g.node = children[childIndex];
        g.revealed = 0;
        emit Picked(gameId, g.level, g.index, g.node);

        uint256 height = g.treeDepth - g.level;
        // A subtree that starts at or after the last leaf is all padding, whose hash is fixed.
        if ((uint256(g.index) << height) >= g.leafCount) {
            // INVARIANT: Padding can only be disputed if the submitter committed to a wrong empty hash.
            if (g.node == LibMerkle.zeroHash(height)) revert PaddingAgrees(g.level, g.index);
            _challengerWins(gameId, g, "padding is not empty");
            return;
        }
        if (g.level < g.treeDepth) {
            g.turn = Turn.Submitter;
        } else if (g.phase == Phase.TraceDescent) {
            g.phase = Phase.OpenNode; // the challenger moves again: open the disputed node
        } else {
            g.phase = Phase.ChunkReveal;
            g.turn = Turn.Submitter;
        }
    }

    /// @inheritdoc IDisputeGame
    function openNode(uint256 gameId, bytes calldata descriptor, bytes32[] calldata proof) external {
        Game storage g = _move(gameId, Turn.Challenger);
        if (g.phase != Phase.OpenNode) revert WrongPhase(Phase.OpenNode, g.phase);
        uint256 nodeIndex = g.index;
        {
            uint256 modelId = _claims[g.claimId].modelId;
            IModelRegistry.Model memory model = registry.getModel(modelId);
            bytes32 descriptorHash = keccak256(descriptor);
            // INVARIANT: The disputed node's descriptor is the one the model registered.
            if (!LibMerkle.verifyLeaf(model.graphRoot, model.nodeCount, nodeIndex, descriptorHash, proof)) {
                revert DescriptorNotInGraph(nodeIndex);
            }
            g.nodeIndex = uint32(nodeIndex);
            g.descriptorHash = descriptorHash;
            if (privateIOHash[g.claimId] != 0 && _isPrivate(modelId, nodeIndex)) {
                // A private node cannot be recomputed on-chain: the submitter must reveal what its proof is about.
                g.phase = Phase.PrivateReveal;
                g.turn = Turn.Submitter;
                emit NodeOpened(gameId, uint32(nodeIndex), 0, descriptor);
                return;
            }
        }
        (uint256 numel, uint256 width, uint256 chunkLog2) = prover.outputLayout(descriptor);
        uint256 chunkCount = (numel * width + (1 << chunkLog2) - 1) >> chunkLog2;
        g.chunkLog2 = uint8(chunkLog2);
        emit NodeOpened(gameId, uint32(nodeIndex), uint64(chunkCount), descriptor);
        if (chunkCount == 0) {
            // INVARIANT: An empty tensor has the fixed root keccak256(""); any other claim is wrong.
            if (g.node == keccak256("")) revert PaddingAgrees(g.level, g.index);
            _challengerWins(gameId, g, "empty tensor root");
            return;
        }
        g.phase = chunkCount == 1 ? Phase.ChunkReveal : Phase.TensorDescent;
        g.treeDepth = uint8(LibMerkle.depth(chunkCount));
        g.leafCount = uint64(chunkCount);
        g.level = 0;
        g.index = 0;
        g.turn = Turn.Submitter;
    }

    /// @inheritdoc IDisputeGame
    function revealPrivate(uint256 gameId, PrivateReveal calldata r) external {
        Game storage g = _move(gameId, Turn.Submitter);
        if (g.phase != Phase.PrivateReveal) revert WrongPhase(Phase.PrivateReveal, g.phase);
        if (keccak256(r.descriptor) != g.descriptorHash) revert DescriptorNotInGraph(g.nodeIndex);
        Claim storage c = _claims[g.claimId];
        RevealContext memory ctx = RevealContext({
            modelId: c.modelId,
            inputRoot: c.inputRoot,
            traceRoot: c.traceRoot,
            nodeIndex: g.nodeIndex,
            outputRoot: g.node,
            ioHash: privateIOHash[g.claimId]
        });
        privateJudge.checkReveal(ctx, r);
        emit PrivateRevealed(gameId, g.nodeIndex);
        _submitterWins(gameId, g, "private node matches its proof");
    }

    /// @inheritdoc IDisputeGame
    function revealChunk(uint256 gameId, bytes calldata chunk) external {
        Game storage g = _move(gameId, Turn.Submitter);
        if (g.phase != Phase.ChunkReveal) revert WrongPhase(Phase.ChunkReveal, g.phase);
        _checkChunk(g, chunk);
        g.phase = Phase.Step;
        g.turn = Turn.Challenger;
        emit ChunkRevealed(gameId, g.index, chunk);
    }

    /// @inheritdoc IDisputeGame
    function step(uint256 gameId, bytes calldata chunk, uint256 element, bytes calldata descriptor, bytes calldata proof)
        external
    {
        Game storage g = _move(gameId, Turn.Challenger);
        if (g.phase != Phase.Step) revert WrongPhase(Phase.Step, g.phase);
        _checkChunk(g, chunk);
        if (keccak256(descriptor) != g.descriptorHash) revert DescriptorNotInGraph(g.nodeIndex);
        (uint256 numel, uint256 width,) = prover.outputLayout(descriptor);
        uint256 perChunk = chunk.length / width;
        if (element >= perChunk) revert ElementOutOfChunk(element, perChunk);

        uint256 flat = uint256(g.index) * perChunk + element;
        int256 claimed = _readSigned(chunk, element * width, width);
        if (flat >= numel) {
            // INVARIANT: Bytes past the tensor's end must be zero padding.
            if (claimed == 0) revert PaddingAgrees(g.level, g.index);
            _challengerWins(gameId, g, "chunk padding is not zero");
            return;
        }
        int256 value = prover.recompute(_stepContext(g, flat), descriptor, proof);
        // INVARIANT: The challenger wins only by proving the submitter's element wrong.
        if (value == claimed) revert StepAgreesWithClaim(value);
        _challengerWins(gameId, g, "one-step proof");
    }

    /// @inheritdoc IDisputeGame
    function timeout(uint256 gameId) external {
        // INVARIANT: Nobody wins on time against a claim that is already void: its games can only be settled moot
        //            (moves there revert, so a clock running out says nothing about the side to move).
        (Game storage g,) = _pendingGame(gameId);
        uint256 used = _usedWithCurrentTurn(g);
        if (used <= clockBudget) revert ClockNotExpired(used, clockBudget);
        if (g.turn == Turn.Submitter) {
            _challengerWins(gameId, g, "submitter clock expired");
        } else {
            _submitterWins(gameId, g, "challenger clock expired");
        }
    }

    /// @inheritdoc IDisputeGame
    function settleMoot(uint256 gameId) external {
        Game storage g = _games[gameId];
        if (g.status == GameStatus.None) revert UnknownGame(gameId);
        Claim storage c = _claims[g.claimId];
        // INVARIANT: Only the games of a voided claim are settled here; a pending claim's games are played out.
        if (c.status != ClaimStatus.Void) revert ClaimNotVoid(g.claimId, c.status);
        if (g.status == GameStatus.InProgress) {
            g.status = GameStatus.Moot;
            c.openGames -= 1;
            // The cap was reserved at the void; the challenger's gas comes out of it, the winner gets what is left.
            uint256 cap = c.mootCap;
            uint256 share = mootBaseCompensation + mootMoveCompensation * g.challengerMoves;
            if (share > cap) share = cap;
            openBonds -= uint256(g.bond) + cap;
            _credit(g.challenger, uint256(g.bond) + share);
            _credit(c.voidedBy, cap - share);
            emit GameResolved(gameId, g.claimId, false, "claim already void");
            return;
        }
        // INVARIANT: A claim proven false keeps nothing it won: a challenger that lost to it while it was pending
        //            (on time, or to a private reveal; its bond held in the claim's escrow) gets its bond back, once.
        if (g.status == GameStatus.SubmitterWon && !g.refunded) {
            g.refunded = true;
            c.escrow -= g.bond;
            openBonds -= g.bond;
            _credit(g.challenger, g.bond);
            emit GameRefunded(gameId, g.claimId, g.bond);
            return;
        }
        revert GameNotInProgress(gameId, g.status);
    }

    /// @inheritdoc IDisputeGame
    function withdraw() external nonReentrant {
        uint256 amount = credit[msg.sender];
        if (amount == 0) revert NothingToWithdraw(msg.sender);
        credit[msg.sender] = 0;
        totalCredit -= amount;
        (bool ok,) = msg.sender.call{value: amount}("");
        if (!ok) revert PayoutFailed(msg.sender, amount);
    }

    // ------------------------------------------------------------------ views

    /// @inheritdoc IDisputeGame
    function getClaim(uint256 claimId) external view returns (Claim memory) {
        if (_claims[claimId].status == ClaimStatus.None) revert UnknownClaim(claimId);
        return _claims[claimId];
    }

    /// @inheritdoc IDisputeGame
    function getGame(uint256 gameId) external view returns (Game memory) {
        if (_games[gameId].status == GameStatus.None) revert UnknownGame(gameId);
        return _games[gameId];
    }

    /// @inheritdoc IDisputeGame
    function claimStatus(uint256 claimId) external view returns (ClaimStatus) {
        return _claims[claimId].status;
    }

    /// @inheritdoc IDisputeGame
    function canFinalize(uint256 claimId) external view returns (bool) {
        Claim storage c = _claims[claimId];
        return c.status == ClaimStatus.Pending && block.timestamp >= uint256(c.createdAt) + challengeWindow
            && c.openGames == 0;
    }

    /// @notice Seconds the side to move has used so far, this turn included.
    function clockUsed(uint256 gameId) external view returns (uint256) {
        return _usedWithCurrentTurn(_games[gameId]);
    }

    // ------------------------------------------------------------------ internal

    function _pendingClaim(uint256 claimId) internal view returns (Claim storage c) {
        c = _claims[claimId];
        if (c.status == ClaimStatus.None) revert UnknownClaim(claimId);
        if (c.status != ClaimStatus.Pending) revert ClaimNotPending(claimId, c.status);
    }

    function _inProgress(uint256 gameId) internal view returns (Game storage g) {
        g = _games[gameId];
        if (g.status == GameStatus.None) revert UnknownGame(gameId);
        // INVARIANT: Moves cannot be made unless the game is in progress.
        if (g.status != GameStatus.InProgress) revert GameNotInProgress(gameId, g.status);
    }

    /// @dev A game in progress whose claim is still pending, and that claim.
    function _pendingGame(uint256 gameId) internal view returns (Game storage g, Claim storage c) {
        g = _inProgress(gameId);
        c = _claims[g.claimId];
        // INVARIANT: A game whose claim was voided elsewhere is moot; it cannot be played on or won.
        if (c.status != ClaimStatus.Pending) revert ClaimNotPending(g.claimId, c.status);
    }

    /// @dev Checks that `side` may move now and charges its clock for the time since the turn began.
    function _move(uint256 gameId, Turn side) internal returns (Game storage g) {
        Claim storage c;
        (g, c) = _pendingGame(gameId);
        if (g.turn != side) revert NotYourTurn(g.turn);
        address expected = side == Turn.Submitter ? c.submitter : g.challenger;
        if (msg.sender != expected) revert WrongCaller(msg.sender, expected);
        uint256 used = _usedWithCurrentTurn(g);
        // INVARIANT: A side that has run out of clock can no longer move; it can only lose by timeout.
        if (used > clockBudget) revert ClockExpired(used, clockBudget);
        if (side == Turn.Submitter) {
            g.submitterUsed = uint64(used);
        } else {
            g.challengerUsed = uint64(used);
            // Counted for the moot compensation; no game has 65,535 challenger moves (depth <= 2 x 64 levels).
            g.challengerMoves += 1;
        }
        g.turnStartedAt = uint64(block.timestamp);
    }

    function _stepContext(Game storage g, uint256 flat) internal view returns (StepContext memory ctx) {
        Claim storage c = _claims[g.claimId];
        IModelRegistry.Model memory model = registry.getModel(c.modelId);
        ctx = StepContext({
            graphRoot: model.graphRoot,
            nodeCount: model.nodeCount,
            weightsRoot: model.weightsRoot,
            weightCount: model.weightCount,
            inputRoot: c.inputRoot,
            traceRoot: c.traceRoot,
            nodeIndex: g.nodeIndex,
            elementIndex: flat
        });
    }

    function _isPrivate(uint256 modelId, uint256 nodeIndex) internal view returns (bool) {
        IModelRegistry.PrivateNode[] memory priv = registry.privateNodes(modelId);
        for (uint256 k; k < priv.length; ++k) {
            if (priv[k].node == nodeIndex) return true;
        }
        return false;
    }

    function _usedWithCurrentTurn(Game storage g) internal view returns (uint256) {
        uint256 elapsed = block.timestamp - g.turnStartedAt;
        return (g.turn == Turn.Submitter ? g.submitterUsed : g.challengerUsed) + elapsed;
    }

    /// @dev Levels the next reveal spans: j, or what is left above the leaves.
    function _revealLevels(Game storage g) internal view returns (uint8) {
        uint8 left = g.treeDepth - g.level;
        return left < revealDepth ? left : revealDepth;
    }

    function _checkChunk(Game storage g, bytes calldata chunk) internal view {
        bytes32 computed = keccak256(chunk);
        // INVARIANT: The chunk has the descriptor's chunk size, so element k of chunk c is flat element
        // c * perChunk + k; a submitter that committed to a chunk of another size cannot reveal it.
        if (computed != g.node || chunk.length != (uint256(1) << g.chunkLog2)) revert ChunkMismatch(computed, g.node);
    }

    /// @dev Big-endian two's complement integer of `width` bytes at `offset`.
    function _readSigned(bytes calldata data, uint256 offset, uint256 width) internal pure returns (int256 v) {
        uint256 raw;
        for (uint256 k; k < width; ++k) {
            raw = (raw << 8) | uint8(data[offset + k]);
        }
        uint256 bits = width * 8;
        v = raw >= (1 << (bits - 1)) ? int256(raw) - int256(1 << bits) : int256(raw);
    }

    function _challengerWins(uint256 gameId, Game storage g, string memory reason) internal {
        Claim storage c = _claims[g.claimId];
        g.status = GameStatus.ChallengerWon;
        c.openGames -= 1;
        c.status = ClaimStatus.Void;
        // Every path here starts from a pending claim (moves and timeouts require one), so the submitter's bond is
        // still held: the pot is that bond less the burn. For each of the n games still open a cap of pot / (2n) is
        // reserved: its challenger's gas (at the stated price) when settled moot, the rest to the winner then. So
        // the winner keeps at least half the pot however many games the submitter's own accounts opened.
        uint256 burned = (uint256(c.bond) * burnBps) / BPS;
        uint256 pot = c.bond - burned;
        uint256 cap = c.openGames == 0 ? 0 : pot / (2 * uint256(c.openGames));
        uint256 reserved = cap * c.openGames;
        c.mootCap = uint128(cap);
        c.voidedBy = g.challenger;
        openBonds -= uint256(g.bond) + c.bond - reserved;
        _burn(burned);
        _credit(g.challenger, uint256(g.bond) + pot - reserved);
        emit GameResolved(gameId, g.claimId, true, reason);
        emit ClaimVoided(g.claimId, gameId);
    }

    function _submitterWins(uint256 gameId, Game storage g, string memory reason) internal {
        Claim storage c = _claims[g.claimId];
        g.status = GameStatus.SubmitterWon;
        c.openGames -= 1;
        // INVARIANT: A game won against a pending claim pays the submitter only if the claim stands: the bond is
        //            held in the claim's escrow (still in openBonds) until `finalize`, or refunded if it is voided.
        c.escrow += g.bond;
        emit GameResolved(gameId, g.claimId, false, reason);
    }

    function _credit(address account, uint256 amount) internal {
        credit[account] += amount;
        totalCredit += amount;
        emit Credited(account, amount);
    }

    function _burn(uint256 amount) internal {
        if (amount == 0) return;
        totalBurned += amount;
        emit Burned(amount);
        // Sent to the zero address: nobody holds its key. A plain value transfer there cannot fail.
        (bool ok,) = address(0).call{value: amount}("");
        if (!ok) revert PayoutFailed(address(0), amount);
    }
}

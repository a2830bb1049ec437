// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.24;

import {DisputeGame} from "../../contracts/dispute/DisputeGame.sol";
import {IOneStepProver} from "../../contracts/dispute/interfaces/IOneStepProver.sol";
import {Claim, Game, GameStatus, Phase, Turn, ClaimStatus} from "../../contracts/dispute/lib/Types.sol";
import {LibMerkle} from "../../contracts/dispute/lib/LibMerkle.sol";
import {AIOracle} from "../../contracts/oracle/AIOracle.sol";
import {ModelRegistry} from "../../contracts/oracle/ModelRegistry.sol";
import {IModelRegistry} from "../../contracts/oracle/interfaces/IModelRegistry.sol";
import {VM} from "./Cheats.sol";
import {TableProver, TruthTable} from "./TableProver.sol";
import {Fault, Shape, TraceBook} from "./TraceBook.sol";

/// @notice Drives the real DisputeGame and AIOracle for forge's invariant engine. Every public function is one
///         action of a random actor; the engine calls them in random order with random seeds.
///
/// Actors (fixed roles): honest submitters (post only true traces, defend them at once), dishonest submitters
/// (post faulty or true traces, defend them only when the engine says so), honest challengers (challenge only
/// claims whose trace root differs from the truth, play the winning move at once, settle their moot games),
/// dishonest challengers (challenge anything, play the winning strategy or a random move, stall), users
/// (request inferences from the oracle). "At once" means: before any time passes (`warp` runs the honest actors
/// first), so honest clocks never run; every other ordering is the engine's.
///
/// Ghost variables record what each claim's submitter and each game's challenger were credited, call by call
/// (each call credits only the accounts of the claim or game it touches), and every wei paid in and out.
contract DisputeOracleHandler {
    uint256 public constant SUBMITTER_BOND = 1 ether;
    uint256 public constant CHALLENGER_BOND = 0.4 ether;
    uint64 public constant WINDOW = 1 hours;
    uint64 public constant CLOCK = 30 minutes;
    uint8 public constant REVEAL_DEPTH = 2;
    uint16 public constant BURN_BPS = 1000;
    /// Moot compensation: base + per challenger move; big enough that the cap pot / (open games + 1) binds from
    /// 2 open games on (pot = 0.9 ether) or after a few moves, so both branches are played.
    uint256 public constant MOOT_BASE = 0.1 ether;
    uint256 public constant MOOT_MOVE = 0.05 ether;
    uint256 public constant NODE_REWARD = 0.01 ether;
    uint256 public constant MODEL_FEE = 0.02 ether;
    uint64 public constant REQUEST_TIMEOUT = 3 hours;
    uint32 public constant INPUT_LENGTH = 8;
    uint256 public constant START_BALANCE = 1_000 ether;
    address public constant REVENUE = address(0xFEE0);

    ModelRegistry public immutable registry;
    TableProver public immutable prover;
    DisputeGame public immutable game;
    AIOracle public immutable oracle;
    TraceBook public immutable book;

    struct ClaimInfo {
        uint256 shape;
        bytes32 inputRoot;
        Fault fault;
        bytes32 traceRoot;
        address submitter;
        bool honestSubmitter;
        uint64 createdAt;
        /// 0 for a claim proposed to the game directly.
        uint256 requestId;
        uint256 honestGames;
        ClaimStatus lastStatus;
        /// Game credit to the submitter from calls on this claim (finalize).
        uint256 submitterGot;
        /// Oracle node reward credited to the submitter for this claim.
        uint256 nodeRewardGot;
    }

    struct GameInfo {
        uint256 claimId;
        address challenger;
        bool honest;
        /// A dishonest challenger that plays the winning strategy (when the engine lets it move).
        bool playsToWin;
        /// Game credit to the challenger from calls on this game.
        uint256 got;
    }

    struct RequestInfo {
        uint256 shape;
        bytes32 inputRoot;
        uint256 fee;
        uint64 createdAt;
        bytes output;
        uint256 claimId;
    }

    struct Commitment {
        bytes32 traceRoot;
        bytes32 outputRoot;
        bytes32[] outputProof;
    }

    Shape[] internal _shapes;
    address[] public honestSubmitters;
    address[] public dishonestSubmitters;
    address[] public honestChallengers;
    address[] public dishonestChallengers;
    address[] public users;
    address[] internal _everyone;
    mapping(address account => bool) public isHonest;

    ClaimInfo[] internal _claims; // claim id k at k - 1: the handler makes every claim
    GameInfo[] internal _games; // game id k at k - 1
    RequestInfo[] internal _requests; // request id k at k - 1
    mapping(uint256 gameId => bytes32[]) internal _revealed;
    mapping(uint256 gameId => bytes) internal _chunk;
    uint256[] internal _active;
    /// Live sets, so that per-call work and checks scale with what is still open, not with the run's length.
    uint256[] internal _pending; // claims still pending
    uint256[] internal _holding; // games whose bond may still be in openBonds
    uint256[] internal _unsettled; // requests open or submitted
    uint256[] internal _honestGameIds;
    /// Sum of every credit the handler attributed to a claim's submitter or a game's challenger.
    uint256 public attributed;

    uint256 public now_;
    uint256 public calls;
    uint256 public gamePaidIn;
    uint256 public gamePaidOut;
    uint256 public oraclePaidIn;
    uint256 public oraclePaidOut;
    uint256 public revenueReceived;
    uint256 public immutable burnAddressStart;
    /// Rule breaks seen while acting (each also records its reason): a failed honest move, a claim status that
    /// went backwards.
    uint256 public violations;
    string public lastViolation;
    uint256 public gamesVoidedByHonest;
    uint256 public honestGames;
    uint256 public gamesMooted;
    uint256 public gamesRefunded;
    uint256 public gamesWonByChallengers;
    uint256 public falseClaims;
    uint256 public gamesWonOnTime;
    uint256 public claimsFinalized;
    uint256 public claimsVoided;

    constructor() {
        registry = new ModelRegistry(address(this));
        prover = new TableProver();
        book = new TraceBook();
        game = new DisputeGame(
            DisputeGame.Config({
                registry: registry,
                prover: IOneStepProver(address(prover)),
                submitterBond: SUBMITTER_BOND,
                challengerBond: CHALLENGER_BOND,
                challengeWindow: WINDOW,
                clockBudget: CLOCK,
                revealDepth: REVEAL_DEPTH,
                burnBps: BURN_BPS,
                mootBaseCompensation: MOOT_BASE,
                mootMoveCompensation: MOOT_MOVE
            }),
            address(this)
        );
        oracle = new AIOracle(
            AIOracle.Config({
                registry: registry,
                game: game,
                nodeReward: NODE_REWARD,
                callbackGasPrice: 0,
                maxCallbackGasLimit: 0,
                requestTimeout: REQUEST_TIMEOUT
            }),
            address(this)
        );
        game.grantRole(game.PROPOSER_ROLE(), address(oracle));
        burnAddressStart = address(0).balance;

        // Three toy models: 5 nodes (trace padding, a 3-chunk tensor with chunk-tree padding, a 64-byte-chunk
        // node), 1 node (the game starts at OpenNode), 8 nodes with an empty tensor (chunk count 0).
        _addShape(1, _list5(40, 48, 5, 64, 10), _list5(1, 2, 4, 2, 1), _list5(5, 5, 5, 6, 5));
        _addShape(2, _list1(40), _list1(2), _list1(5));
        _addShape(3, _list8(16, 0, 24, 9, 33, 8, 70, 12), _list8(2, 4, 1, 4, 1, 2, 1, 4), _list8(5, 5, 5, 5, 6, 5, 5, 5));

        for (uint256 i; i < 2; ++i) {
            honestSubmitters.push(_actor(0xA100 + i, true));
            dishonestSubmitters.push(_actor(0xB100 + i, false));
            honestChallengers.push(_actor(0xA200 + i, true));
            users.push(_actor(0xC100 + i, false));
        }
        for (uint256 i; i < 3; ++i) {
            dishonestChallengers.push(_actor(0xB200 + i, false));
        }
        now_ = block.timestamp;
    }

    // ------------------------------------------------------------------ actions

    /// @notice A submitter proposes a claim to the game directly (honest: the true trace; dishonest: a fault
    ///         drawn from `faultSeed`, sometimes none).
    function propose(uint256 actorSeed, uint256 shapeSeed, uint256 inputSeed, uint256 faultSeed) external {
        _begin();
        (address submitter, bool honest) = _submitter(actorSeed);
        uint256 s = _mix(shapeSeed) % _shapes.length;
        bytes32 inputRoot = keccak256(abi.encode("input", inputSeed % 8));
        Fault memory f = honest ? _noFault() : _fault(s, faultSeed, false);
        Commitment memory m = _commit(s, inputRoot, f);
        uint256 modelId = _shapes[s].modelId;
        VM.prank(submitter);
        uint256 claimId =
            game.propose{value: SUBMITTER_BOND}(modelId, inputRoot, m.outputRoot, m.traceRoot, m.outputProof, submitter);
        gamePaidIn += SUBMITTER_BOND;
        _addClaim(claimId, s, inputRoot, f, m.traceRoot, submitter, 0);
        _end();
    }

    /// @notice A user requests an inference from the oracle, sometimes paying more than the fee.
    function request(uint256 actorSeed, uint256 shapeSeed, uint256 inputSeed, uint256 overpay) external {
        _begin();
        address user = users[actorSeed % users.length];
        uint256 s = _mix(shapeSeed) % _shapes.length;
        bytes memory input = new bytes(1 + inputSeed % INPUT_LENGTH);
        bytes32 noise = keccak256(abi.encode(inputSeed));
        for (uint256 i; i < input.length; ++i) {
            input[i] = noise[i];
        }
        uint256 modelId = _shapes[s].modelId;
        uint256 fee = oracle.estimateFee(modelId, 0);
        uint256 value = fee + overpay % 0.01 ether;
        VM.prank(user);
        uint256 requestId = oracle.requestCallback{value: value}(modelId, input, address(0), 0, "");
        oraclePaidIn += value;
        require(requestId == _requests.length + 1, "request ids are not sequential");
        AIOracle.Request memory r = oracle.getRequest(requestId);
        _requests.push(RequestInfo(s, r.inputRoot, fee, uint64(block.timestamp), "", 0));
        _unsettled.push(requestId);
        _end();
    }

    /// @notice A submitter answers a request through the oracle (taken if the request is open or its result was
    ///         voided, refused while its result is pending).
    function submit(uint256 actorSeed, uint256 requestSeed, uint256 faultSeed) external {
        _begin();
        (uint256 requestId, bool found) = _pickSubmittable(requestSeed);
        if (!found) return _end();
        (address submitter, bool honest) = _submitter(actorSeed);
        Fault memory f = honest ? _noFault() : _fault(_requests[requestId - 1].shape, faultSeed, true);
        _submit(requestId, submitter, f);
        _end();
    }

    function _submit(uint256 requestId, address submitter, Fault memory f) internal {
        RequestInfo storage r = _requests[requestId - 1];
        // Open, or reopened by a voided claim: the submission must be taken. A pending claim must not be replaced.
        bool reopened = r.claimId == 0 || game.claimStatus(r.claimId) == ClaimStatus.Void;
        Commitment memory m = _commit(r.shape, r.inputRoot, f);
        bytes memory output = book.output(_shapes[r.shape], r.inputRoot, f);
        VM.prank(submitter);
        uint256 claimId;
        try oracle.submit{value: SUBMITTER_BOND}(requestId, output, m.traceRoot, m.outputProof) returns (uint256 id) {
            claimId = id;
        } catch (bytes memory err) {
            if (reopened) _violationBytes("a submission to a reopened request reverted", err);
            return;
        }
        if (!reopened) _violation("a pending result was replaced");
        gamePaidIn += SUBMITTER_BOND;
        r.output = output;
        r.claimId = claimId;
        _addClaim(claimId, r.shape, r.inputRoot, f, m.traceRoot, submitter, requestId);
    }

    /// @notice One to three challengers open games on a claim still in its window. An honest one challenges only a
    ///         false claim (judged by recomputing the true trace root); a dishonest one anything, and decides now
    ///         whether it will play the winning strategy (a sybil of the submitter voiding its own claim) or
    ///         random moves.
    function challenge(uint256 actorSeed, uint256 claimSeed, uint256 count) external {
        _begin();
        (uint256 claimId, bool found) = _pickChallengeable(claimSeed);
        if (!found) return _end();
        ClaimInfo storage c = _claims[claimId - 1];
        bool falseClaim = _falseByTruth(c);
        actorSeed = _mix(actorSeed);
        for (uint256 i; i < 1 + count % 3; ++i) {
            uint256 seed = actorSeed >> (16 * i);
            bool honest = seed % 2 == 0 && falseClaim;
            address challenger = honest
                ? honestChallengers[(seed >> 1) % honestChallengers.length]
                : dishonestChallengers[(seed >> 1) % dishonestChallengers.length];
            VM.prank(challenger);
            uint256 gameId = game.challenge{value: CHALLENGER_BOND}(claimId);
            gamePaidIn += CHALLENGER_BOND;
            _addGame(gameId, GameInfo(claimId, challenger, honest, !honest && (seed >> 8) % 2 == 0, 0));
        }
        _end();
    }

    /// @notice The submitter of a game in progress makes its move (from its own claimed trace), if it can.
    function submitterMove(uint256 gameSeed) external {
        _begin();
        uint256 gameId = _pickActive(gameSeed);
        if (gameId != 0) _submitterMove(gameId, _claims[_games[gameId - 1].claimId - 1].honestSubmitter);
        _end();
    }

    /// @notice The challenger of a game in progress moves: honest ones (and dishonest ones that chose to) play the
    ///         winning strategy, other dishonest ones a random pick, node or element.
    function challengerMove(uint256 gameSeed, uint256 moveSeed) external {
        _begin();
        uint256 gameId = _pickActive(gameSeed);
        if (gameId != 0) {
            GameInfo storage gi = _games[gameId - 1];
            moveSeed = _mix(moveSeed);
            if (gi.honest || gi.playsToWin) _honestChallengerMove(gameId, gi.honest);
            else _randomChallengerMove(gameId, moveSeed / 2);
        }
        _end();
    }

    /// @notice Up to 8 moves of one game in a row, both sides: the submitter from its claimed trace (it may
    ///         stall), the challenger as in `challengerMove`. Stops when the game ends or nobody moved.
    function play(uint256 gameSeed, uint256 moves, uint256 moveSeed) external {
        _begin();
        uint256 gameId = _pickActive(gameSeed);
        if (gameId != 0) {
            GameInfo storage gi = _games[gameId - 1];
            bool honestSubmitter = _claims[gi.claimId - 1].honestSubmitter;
            moveSeed = _mix(moveSeed);
            for (uint256 i; i < 1 + moves % 8; ++i) {
                Game memory g = game.getGame(gameId);
                if (g.status != GameStatus.InProgress) break;
                if (g.turn == Turn.Submitter) {
                    _submitterMove(gameId, honestSubmitter);
                } else if (gi.honest || gi.playsToWin) {
                    _honestChallengerMove(gameId, gi.honest);
                } else {
                    _randomChallengerMove(gameId, moveSeed >> (8 + i));
                }
                Game memory moved = game.getGame(gameId);
                if (moved.status == g.status && moved.turn == g.turn && moved.phase == g.phase) break;
            }
        }
        _end();
    }

    /// @notice Time passes. The honest actors act first, so their clocks never run.
    function warp(uint256 seconds_) external {
        _begin();
        _keep();
        uint256 r = _mix(seconds_);
        // Mostly short steps (claims stay challengeable a while), sometimes past a clock or a window.
        now_ += 1 + (r % 4 == 0 ? (r >> 2) % (WINDOW + CLOCK) : (r >> 2) % (CLOCK / 3));
        VM.warp(now_);
        _end();
    }

    /// @notice Anyone claims a timeout in a game in progress.
    function timeout(uint256 gameSeed, uint256 callerSeed) external {
        _begin();
        uint256 gameId = _pickActive(gameSeed);
        if (gameId != 0) _timeout(gameId, users[callerSeed % users.length], false);
        _end();
    }

    /// @notice Anyone settles a game of a voided claim (moot, or a refund of a game the submitter had won).
    function settleMoot(uint256 gameSeed, uint256 callerSeed) external {
        _begin();
        // Mostly games that may still hold a bond; a quarter of the time any game (settled ones must revert).
        uint256 gameId = _pickLive(_holding, _games.length, gameSeed);
        if (gameId != 0) _settle(gameId, users[callerSeed % users.length], false);
        _end();
    }

    /// @notice Anyone finalizes a claim in the game directly.
    function finalizeClaim(uint256 claimSeed) external {
        _begin();
        uint256 claimId = _pickLive(_pending, _claims.length, claimSeed);
        if (claimId != 0) _finalizeClaim(claimId, false);
        _end();
    }

    /// @notice Anyone finalizes a submitted request in the oracle.
    function finalizeRequest(uint256 requestSeed, uint256 callerSeed) external {
        _begin();
        uint256 requestId = _pickLive(_unsettled, _requests.length, requestSeed);
        if (requestId != 0) _finalizeRequest(requestId, users[callerSeed % users.length], false);
        _end();
    }

    /// @notice Anyone asks for a request's refund.
    function refund(uint256 requestSeed) external {
        _begin();
        uint256 requestId = _pickLive(_unsettled, _requests.length, requestSeed);
        if (requestId != 0) _refund(requestId, false);
        _end();
    }

    /// @notice An actor withdraws its credit from the game or from the oracle.
    function withdraw(uint256 actorSeed, bool fromOracle) external {
        _begin();
        _withdraw(_everyone[actorSeed % _everyone.length], fromOracle);
        _end();
    }

    // ------------------------------------------------------------------ scripted entry points (unit tests)

    /// @notice `propose` with everything chosen (not a fuzz target): returns the claim id.
    function proposeExact(address submitter, uint256 s, bytes32 inputRoot, Fault memory f) external returns (uint256) {
        Commitment memory m = _commit(s, inputRoot, f);
        uint256 modelId = _shapes[s].modelId;
        VM.prank(submitter);
        uint256 claimId =
            game.propose{value: SUBMITTER_BOND}(modelId, inputRoot, m.outputRoot, m.traceRoot, m.outputProof, submitter);
        gamePaidIn += SUBMITTER_BOND;
        _addClaim(claimId, s, inputRoot, f, m.traceRoot, submitter, 0);
        _observe();
        return claimId;
    }

    /// @notice `challenge` by one chosen account (honest if it is an honest challenger): returns the game id.
    function challengeExact(uint256 claimId, address challenger, bool playsToWin) external returns (uint256 gameId) {
        bool honest = isHonest[challenger];
        VM.prank(challenger);
        gameId = game.challenge{value: CHALLENGER_BOND}(claimId);
        gamePaidIn += CHALLENGER_BOND;
        _addGame(gameId, GameInfo(claimId, challenger, honest, playsToWin && !honest, 0));
    }

    /// @notice Both sides of game `gameId` move until nobody can (the challenger by its strategy).
    function playOut(uint256 gameId) external {
        GameInfo storage gi = _games[gameId - 1];
        bool honestSubmitter = _claims[gi.claimId - 1].honestSubmitter;
        for (uint256 i; i < 64; ++i) {
            Game memory g = game.getGame(gameId);
            if (g.status != GameStatus.InProgress) break;
            if (g.turn == Turn.Submitter) _submitterMove(gameId, honestSubmitter);
            else if (gi.honest || gi.playsToWin) _honestChallengerMove(gameId, gi.honest);
            else _randomChallengerMove(gameId, uint256(keccak256(abi.encode(gameId, i))));
            Game memory moved = game.getGame(gameId);
            if (moved.status == g.status && moved.turn == g.turn && moved.phase == g.phase) break;
        }
        _prune();
        _observe();
    }

    /// @notice Honest actors act, then exactly `dt` seconds pass.
    function advance(uint256 dt) external {
        _keep();
        now_ += dt;
        VM.warp(now_);
        _observe();
    }

    /// @notice Anyone claims a timeout in game `gameId`; a revert is reported to the caller.
    function timeoutExact(uint256 gameId) external {
        uint256 claimId = _games[gameId - 1].claimId;
        (uint256 sub0, uint256 chal0) = _credits(claimId, gameId);
        game.timeout(gameId);
        _record(claimId, gameId, sub0, chal0);
        _prune();
        _observe();
    }

    // ------------------------------------------------------------------ ending

    /// @notice The ending phase: time runs past every clock, window and deadline; honest actors play on, every
    ///         other game is timed out or settled, every claim finalized, every request finalized or refunded,
    ///         every credit withdrawn. A step that must succeed and reverts counts as a violation.
    function settleEverything() external {
        for (uint256 round; round < 8 && _active.length != 0; ++round) {
            _keep();
            if (_active.length == 0) break;
            now_ += CLOCK + 1;
            VM.warp(now_);
            uint256[] memory open = _active;
            for (uint256 i; i < open.length; ++i) {
                if (game.claimStatus(_games[open[i] - 1].claimId) == ClaimStatus.Void) {
                    _settle(open[i], users[0], true);
                } else {
                    _timeout(open[i], users[0], true);
                }
            }
            _prune();
        }
        if (_active.length != 0) _violation("games still in progress after the ending phase");
        now_ += WINDOW + REQUEST_TIMEOUT + 1;
        VM.warp(now_);
        for (uint256 g = 1; g <= _games.length; ++g) {
            Game memory gm = game.getGame(g);
            if (
                gm.status == GameStatus.SubmitterWon && !gm.refunded
                    && game.claimStatus(gm.claimId) == ClaimStatus.Void
            ) _settle(g, users[0], true);
        }
        for (uint256 c = 1; c <= _claims.length; ++c) {
            if (game.claimStatus(c) == ClaimStatus.Pending) _finalizeClaim(c, true);
        }
        for (uint256 r = 1; r <= _requests.length; ++r) {
            AIOracle.RequestStatus status = oracle.getRequest(r).status;
            if (status == AIOracle.RequestStatus.Submitted && game.claimStatus(_requests[r - 1].claimId) != ClaimStatus.Void)
            {
                _finalizeRequest(r, users[0], true);
            } else if (status == AIOracle.RequestStatus.Open || status == AIOracle.RequestStatus.Submitted) {
                _refund(r, true);
            }
        }
        for (uint256 i; i < _everyone.length; ++i) {
            _withdraw(_everyone[i], false);
            _withdraw(_everyone[i], true);
        }
        if (oracle.credit(REVENUE) != 0) {
            uint256 amount = oracle.credit(REVENUE);
            oracle.pushCredit(REVENUE);
            oraclePaidOut += amount;
        }
        _observe();
    }

    // ------------------------------------------------------------------ checks (the test's invariants)

    /// @notice The game's ETH is exactly its open bonds plus its credit, and every wei paid in is held, paid out
    ///         or burned (the burn address received exactly what the game counts as burned).
    function checkGameSolvency() external view {
        uint256 balance = address(game).balance;
        require(balance == game.openBonds() + game.totalCredit(), "game balance != openBonds + totalCredit");
        require(gamePaidIn == balance + gamePaidOut + game.totalBurned(), "game: paid in != held + paid out + burned");
        require(address(0).balance - burnAddressStart == game.totalBurned(), "burn address != totalBurned");
    }

    /// @notice The oracle's ETH is its held fees plus its credit; fees held are exactly those of the requests still
    ///         open or submitted; every wei paid in is held or paid out.
    function checkOracleSolvency() external view {
        uint256 balance = address(oracle).balance;
        require(balance == oracle.heldFees() + oracle.totalCredit(), "oracle balance != heldFees + totalCredit");
        require(oraclePaidIn == balance + oraclePaidOut + revenueReceived, "oracle: paid in != held + paid out");
        uint256 held;
        for (uint256 k; k < _unsettled.length; ++k) {
            uint256 r = _unsettled[k];
            AIOracle.RequestStatus status = oracle.getRequest(r).status;
            if (status == AIOracle.RequestStatus.Open || status == AIOracle.RequestStatus.Submitted) {
                held += _requests[r - 1].fee;
            }
        }
        require(held == oracle.heldFees(), "heldFees != fees of open and submitted requests");
    }

    /// @notice openBonds recomputed claim by claim: a pending claim holds its bond, its escrow and its games' bonds;
    ///         a voided one each game still open (bond + moot share) and each won game not yet refunded. (Over the
    ///         live sets: a claim or game leaves them only once it holds nothing, for good.)
    function checkOpenBonds() external view {
        uint256 expected;
        for (uint256 k; k < _pending.length; ++k) {
            if (game.claimStatus(_pending[k]) == ClaimStatus.Pending) {
                Claim memory c = game.getClaim(_pending[k]);
                expected += uint256(c.bond) + c.escrow;
            }
        }
        for (uint256 k; k < _holding.length; ++k) {
            Game memory gm = game.getGame(_holding[k]);
            ClaimStatus status = game.claimStatus(gm.claimId);
            if (gm.status == GameStatus.InProgress) {
                expected += gm.bond;
                if (status == ClaimStatus.Void) expected += game.getClaim(gm.claimId).mootCap;
            } else if (gm.status == GameStatus.SubmitterWon && status == ClaimStatus.Void && !gm.refunded) {
                expected += gm.bond;
            }
            if (gm.status == GameStatus.InProgress) {
                require(status != ClaimStatus.Finalized, "a finalized claim has a game in progress");
            }
        }
        require(expected == game.openBonds(), "openBonds != bonds of pending claims and open games");
    }

    /// @notice Every wei the game credited went to a claim's submitter (finalize) or a game's challenger, as the
    ///         handler attributed it call by call: nobody else is ever paid.
    function checkCreditsAttributed() external view {
        require(attributed == game.totalCredit() + gamePaidOut, "credit went to an account outside claims/games");
    }

    /// @notice A claim proven false never pays its submitter (neither the game nor the oracle's node reward); a
    ///         finalized claim pays back at least its bond; a false claim an honest challenger disputes never
    ///         stands; a true claim its honest submitter defends is never voided.
    function checkSoundness() external view {
        for (uint256 k; k < _claims.length; ++k) {
            ClaimInfo storage c = _claims[k];
            ClaimStatus status = c.lastStatus; // refreshed after every action
            if (status == ClaimStatus.Void) {
                require(c.submitterGot == 0 && c.nodeRewardGot == 0, "a voided claim credited its submitter");
            }
            if (status == ClaimStatus.Finalized) {
                require(c.submitterGot >= SUBMITTER_BOND, "a finalized claim paid its submitter less than its bond");
            }
            if (c.honestGames != 0) require(status != ClaimStatus.Finalized, "a disputed false claim finalized");
            if (c.honestSubmitter) require(status != ClaimStatus.Void, "an honest claim was voided");
        }
        require(violations == 0, lastViolation);
    }

    /// @notice No game of an honest challenger is lost, and each one resolved paid back at least its bond.
    function checkHonestChallengers() external view {
        for (uint256 k; k < _honestGameIds.length; ++k) {
            uint256 g = _honestGameIds[k];
            GameInfo storage gi = _games[g - 1];
            GameStatus status = game.getGame(g).status;
            require(status != GameStatus.SubmitterWon, "an honest challenger lost its game");
            if (status != GameStatus.InProgress) require(gi.got >= CHALLENGER_BOND, "an honest challenger got < bond");
        }
    }

    /// @notice After `settleEverything`: nothing is stuck anywhere and the honest end with at least what they had.
    function checkNothingStuck() external view {
        require(_active.length == 0, "a game is still in progress");
        require(game.openBonds() == 0, "openBonds != 0 at the end");
        require(game.totalCredit() == 0 && address(game).balance == 0, "ETH left in the game");
        require(oracle.heldFees() == 0, "heldFees != 0 at the end");
        require(oracle.totalCredit() == 0 && address(oracle).balance == 0, "ETH left in the oracle");
        for (uint256 c = 1; c <= _claims.length; ++c) {
            require(game.claimStatus(c) != ClaimStatus.Pending, "a claim is still pending");
            require(game.claimStatus(c) == _claims[c - 1].lastStatus, "a decided claim changed status");
        }
        require(_holding.length == 0 && _unsettled.length == 0, "something still holds funds");
        // A result that stood is the one its request delivered (with the node reward); a request refunded or
        // answered by another claim never had a standing result.
        for (uint256 c = 1; c <= _claims.length; ++c) {
            ClaimInfo storage ci = _claims[c - 1];
            if (ci.requestId == 0 || ci.lastStatus != ClaimStatus.Finalized) continue;
            RequestInfo storage r = _requests[ci.requestId - 1];
            require(
                oracle.getRequest(ci.requestId).status == AIOracle.RequestStatus.Finalized && r.claimId == c,
                "a finalized claim's request was not finalized with it"
            );
            require(ci.nodeRewardGot == NODE_REWARD, "a finalized result's submitter missed its node reward");
        }
        for (uint256 g = 1; g <= _games.length; ++g) {
            Game memory gm = game.getGame(g);
            if (gm.status == GameStatus.SubmitterWon && game.claimStatus(gm.claimId) == ClaimStatus.Void) {
                require(gm.refunded, "a game won by a voided claim was not refunded");
            }
        }
        for (uint256 r = 1; r <= _requests.length; ++r) {
            AIOracle.RequestStatus status = oracle.getRequest(r).status;
            require(
                status == AIOracle.RequestStatus.Finalized || status == AIOracle.RequestStatus.Refunded,
                "a request is neither finalized nor refunded"
            );
        }
        uint256 total = REVENUE.balance + address(0).balance - burnAddressStart;
        for (uint256 i; i < _everyone.length; ++i) {
            address a = _everyone[i];
            total += a.balance;
            if (isHonest[a]) require(a.balance >= START_BALANCE, "an honest actor ended with less than it had");
        }
        require(total == START_BALANCE * _everyone.length, "ETH created or lost");
        require(violations == 0, lastViolation);
    }

    function shapeAt(uint256 s) external view returns (Shape memory) {
        return _shapes[s];
    }

    function shapeCount() external view returns (uint256) {
        return _shapes.length;
    }

    function claimCount() external view returns (uint256) {
        return _claims.length;
    }

    function gameCount() external view returns (uint256) {
        return _games.length;
    }

    function requestCount() external view returns (uint256) {
        return _requests.length;
    }

    // ------------------------------------------------------------------ moves

    /// @dev The submitter's move from its claimed trace: reveal children or a chunk. A faulty trace with no
    ///      preimage below some node cannot move there (it stalls and loses on time). `mustMove`: an honest
    ///      submitter, whose failure is a violation.
    function _submitterMove(uint256 gameId, bool mustMove) internal {
        Game memory g = game.getGame(gameId);
        if (g.status != GameStatus.InProgress || g.turn != Turn.Submitter) return;
        if (game.claimStatus(g.claimId) != ClaimStatus.Pending || game.clockUsed(gameId) > CLOCK) return;
        ClaimInfo storage c = _claims[g.claimId - 1];
        Shape storage s = _shapes[c.shape];
        if (g.phase == Phase.TraceDescent || g.phase == Phase.TensorDescent) {
            bytes32[] memory leaves = g.phase == Phase.TraceDescent
                ? book.traceLeaves(s, c.inputRoot, c.fault)
                : book.tensorLeaves(s, c.inputRoot, c.fault, g.nodeIndex);
            uint256 left = g.treeDepth - g.level;
            bytes32[] memory kids =
                book.children(leaves, g.level, g.index, left < REVEAL_DEPTH ? left : REVEAL_DEPTH);
            bytes32[] memory copy = _copy(kids);
            (bytes32 up,) = LibMerkle.hashUp(copy);
            if (up != g.node) {
                if (mustMove) _violation("honest submitter cannot reveal its own trace");
                return;
            }
            VM.prank(c.submitter);
            try game.reveal(gameId, kids) {
                _revealed[gameId] = kids;
            } catch (bytes memory err) {
                if (mustMove) _violationBytes("honest reveal reverted", err);
            }
        } else if (g.phase == Phase.ChunkReveal) {
            bytes memory chunk = book.chunk(s, c.inputRoot, c.fault, g.nodeIndex, g.index);
            if (keccak256(chunk) != g.node) {
                if (mustMove) _violation("honest submitter has no chunk for its root");
                return;
            }
            VM.prank(c.submitter);
            try game.revealChunk(gameId, chunk) {
                _chunk[gameId] = chunk;
            } catch (bytes memory err) {
                if (mustMove) _violationBytes("honest revealChunk reverted", err);
            }
        }
    }

    /// @dev The winning strategy against a false claim: pick the first child that differs from the truth, open
    ///      the node, step on the first element (or padding byte) that differs. `honest`: the move must succeed.
    function _honestChallengerMove(uint256 gameId, bool honest) internal {
        Game memory g = game.getGame(gameId);
        if (g.status != GameStatus.InProgress) return;
        GameInfo storage gi = _games[gameId - 1];
        if (game.claimStatus(g.claimId) == ClaimStatus.Void) {
            if (honest) _settle(gameId, gi.challenger, true);
            return;
        }
        if (g.turn != Turn.Challenger) return;
        if (game.clockUsed(gameId) > CLOCK) {
            if (honest) _violation("honest challenger's clock ran out");
            return;
        }
        ClaimInfo storage c = _claims[g.claimId - 1];
        Shape storage s = _shapes[c.shape];
        (uint256 sub0, uint256 chal0) = _credits(g.claimId, gameId);
        if (g.phase == Phase.TraceDescent || g.phase == Phase.TensorDescent) {
            bytes32[] memory kids = _revealed[gameId];
            bytes32[] memory truth = book.children(
                g.phase == Phase.TraceDescent
                    ? book.traceLeaves(s, c.inputRoot, _noFault())
                    : book.tensorLeaves(s, c.inputRoot, _noFault(), g.nodeIndex),
                g.level,
                g.index,
                LibMerkle.depth(kids.length)
            );
            uint256 pick = kids.length;
            for (uint256 k; k < kids.length; ++k) {
                if (kids[k] != truth[k]) {
                    pick = k;
                    break;
                }
            }
            if (pick == kids.length) {
                if (honest) _violation("no revealed child differs from the truth");
                return;
            }
            VM.prank(gi.challenger);
            try game.pick(gameId, kids, pick) {}
            catch (bytes memory err) {
                if (honest) _violationBytes("honest pick reverted", err);
            }
        } else if (g.phase == Phase.OpenNode) {
            bytes memory descriptor = book.descriptor(s, g.index);
            bytes32[] memory proof = book.proof(book.graphLeaves(s), g.index);
            VM.prank(gi.challenger);
            try game.openNode(gameId, descriptor, proof) {}
            catch (bytes memory err) {
                if (honest) _violationBytes("honest openNode reverted", err);
            }
        } else if (g.phase == Phase.Step) {
            bytes memory chunk = _chunk[gameId];
            uint256 width = s.width[g.nodeIndex];
            uint256 perChunk = chunk.length / width;
            uint256 element = perChunk;
            for (uint256 k; k < perChunk; ++k) {
                uint256 flat = uint256(g.index) * perChunk + k;
                uint256 claimed = _readRaw(chunk, k * width, width);
                uint256 truth = flat >= s.numel[g.nodeIndex] ? 0 : TruthTable.raw(c.inputRoot, g.nodeIndex, flat, width);
                if (claimed != truth) {
                    element = k;
                    break;
                }
            }
            if (element == perChunk) {
                if (honest) _violation("the revealed chunk agrees with the truth");
                return;
            }
            bytes memory descriptor = book.descriptor(s, g.nodeIndex);
            VM.prank(gi.challenger);
            try game.step(gameId, chunk, element, descriptor, "") {}
            catch (bytes memory err) {
                if (honest) _violationBytes("honest step reverted", err);
            }
        }
        _record(g.claimId, gameId, sub0, chal0);
        _afterResolution(gameId, honest);
    }

    /// @dev A dishonest challenger's random move (usually reverts, or leads to a stall and a loss on time).
    function _randomChallengerMove(uint256 gameId, uint256 seed) internal {
        Game memory g = game.getGame(gameId);
        if (g.status != GameStatus.InProgress || g.turn != Turn.Challenger) return;
        if (game.claimStatus(g.claimId) != ClaimStatus.Pending) return;
        GameInfo storage gi = _games[gameId - 1];
        Shape storage s = _shapes[_claims[g.claimId - 1].shape];
        (uint256 sub0, uint256 chal0) = _credits(g.claimId, gameId);
        if (g.phase == Phase.TraceDescent || g.phase == Phase.TensorDescent) {
            bytes32[] memory kids = _revealed[gameId];
            VM.prank(gi.challenger);
            try game.pick(gameId, kids, seed % kids.length) {} catch {}
        } else if (g.phase == Phase.OpenNode) {
            bytes memory descriptor = book.descriptor(s, g.index);
            bytes32[] memory proof = book.proof(book.graphLeaves(s), g.index);
            VM.prank(gi.challenger);
            try game.openNode(gameId, descriptor, proof) {} catch {}
        } else if (g.phase == Phase.Step) {
            bytes memory chunk = _chunk[gameId];
            bytes memory descriptor = book.descriptor(s, g.nodeIndex);
            VM.prank(gi.challenger);
            try game.step(gameId, chunk, seed % (chunk.length / s.width[g.nodeIndex]), descriptor, "") {} catch {}
        }
        _record(g.claimId, gameId, sub0, chal0);
        _afterResolution(gameId, false);
    }

    /// @dev Honest actors act on every game where it is their turn, and settle their games of voided claims.
    function _keep() internal {
        for (uint256 pass; pass < 2; ++pass) {
            uint256[] memory open = _active;
            for (uint256 i; i < open.length; ++i) {
                uint256 gameId = open[i];
                GameInfo storage gi = _games[gameId - 1];
                Game memory g = game.getGame(gameId);
                if (g.status != GameStatus.InProgress) continue;
                if (gi.honest) {
                    _honestChallengerMove(gameId, true);
                } else if (g.turn == Turn.Submitter && _claims[gi.claimId - 1].honestSubmitter) {
                    _submitterMove(gameId, true);
                }
            }
            _prune();
        }
    }

    function _timeout(uint256 gameId, address caller, bool mustSucceed) internal {
        uint256 claimId = _games[gameId - 1].claimId;
        (uint256 sub0, uint256 chal0) = _credits(claimId, gameId);
        VM.prank(caller);
        try game.timeout(gameId) {
            _record(claimId, gameId, sub0, chal0);
            GameStatus status = game.getGame(gameId).status;
            if (status == GameStatus.SubmitterWon) gamesWonOnTime += 1;
            _afterResolution(gameId, false);
        } catch (bytes memory err) {
            if (mustSucceed) _violationBytes("timeout after every clock ran out reverted", err);
        }
    }

    function _settle(uint256 gameId, address caller, bool mustSucceed) internal {
        uint256 claimId = _games[gameId - 1].claimId;
        (uint256 sub0, uint256 chal0) = _credits(claimId, gameId);
        // A moot game's unused compensation cap goes to the challenger that voided the claim.
        address voidedBy = game.getClaim(claimId).voidedBy;
        bool separate = voidedBy != address(0) && voidedBy != _games[gameId - 1].challenger;
        uint256 winner0 = separate ? game.credit(voidedBy) : 0;
        VM.prank(caller);
        bool refunding = game.getGame(gameId).status == GameStatus.SubmitterWon;
        try game.settleMoot(gameId) {
            _record(claimId, gameId, sub0, chal0);
            if (separate) attributed += game.credit(voidedBy) - winner0;
            if (refunding) gamesRefunded += 1;
            else gamesMooted += 1;
        } catch (bytes memory err) {
            if (mustSucceed) _violationBytes("settleMoot reverted", err);
        }
    }

    function _finalizeClaim(uint256 claimId, bool mustSucceed) internal {
        (uint256 sub0,) = _credits(claimId, 0);
        try game.finalize(claimId) {
            _record(claimId, 0, sub0, 0);
        } catch (bytes memory err) {
            if (mustSucceed) _violationBytes("finalize of a claim past its window reverted", err);
        }
    }

    function _finalizeRequest(uint256 requestId, address caller, bool mustSucceed) internal {
        RequestInfo storage r = _requests[requestId - 1];
        if (r.claimId == 0) return;
        ClaimInfo storage c = _claims[r.claimId - 1];
        (uint256 sub0,) = _credits(r.claimId, 0);
        uint256 reward0 = oracle.credit(c.submitter);
        uint256 revenue0 = REVENUE.balance;
        VM.prank(caller);
        try oracle.finalize(requestId, r.output, "") {
            _record(r.claimId, 0, sub0, 0);
            c.nodeRewardGot += oracle.credit(c.submitter) - reward0;
            revenueReceived += REVENUE.balance - revenue0;
        } catch (bytes memory err) {
            if (mustSucceed) _violationBytes("oracle finalize of a standing claim reverted", err);
        }
    }

    function _refund(uint256 requestId, bool mustSucceed) internal {
        try oracle.refund(requestId) {}
        catch (bytes memory err) {
            if (mustSucceed) _violationBytes("refund of an expired request reverted", err);
        }
    }

    function _withdraw(address account, bool fromOracle) internal {
        uint256 amount = fromOracle ? oracle.credit(account) : game.credit(account);
        if (amount == 0) return;
        uint256 before = account.balance;
        VM.prank(account);
        if (fromOracle) {
            oracle.withdraw();
            oraclePaidOut += amount;
        } else {
            game.withdraw();
            gamePaidOut += amount;
        }
        require(account.balance == before + amount, "withdraw paid a different amount");
    }

    // ------------------------------------------------------------------ bookkeeping

    function _begin() internal {
        calls += 1;
        VM.warp(now_);
    }

    /// @dev After every action: claim statuses only move forward (Pending -> Void | Finalized), and counts.
    function _end() internal {
        _observe();
    }

    /// @dev Records claims that were decided (their status is final; `checkNothingStuck` checks it stayed so)
    ///      and drops what no longer holds anything from the live sets.
    function _observe() internal {
        uint256 k;
        while (k < _pending.length) {
            uint256 id = _pending[k];
            ClaimStatus current = game.claimStatus(id);
            if (current == ClaimStatus.Pending) {
                ++k;
                continue;
            }
            if (current == ClaimStatus.Void) claimsVoided += 1;
            else claimsFinalized += 1;
            _claims[id - 1].lastStatus = current;
            _pending[k] = _pending[_pending.length - 1];
            _pending.pop();
        }
        k = 0;
        while (k < _holding.length) {
            Game memory g = game.getGame(_holding[k]);
            ClaimStatus claim = game.claimStatus(g.claimId);
            bool done = g.status == GameStatus.ChallengerWon || g.status == GameStatus.Moot
                || (g.status == GameStatus.SubmitterWon && (g.refunded || claim == ClaimStatus.Finalized));
            if (!done) {
                ++k;
                continue;
            }
            _holding[k] = _holding[_holding.length - 1];
            _holding.pop();
        }
        k = 0;
        while (k < _unsettled.length) {
            AIOracle.RequestStatus status = oracle.getRequest(_unsettled[k]).status;
            if (status == AIOracle.RequestStatus.Open || status == AIOracle.RequestStatus.Submitted) {
                ++k;
                continue;
            }
            _unsettled[k] = _unsettled[_unsettled.length - 1];
            _unsettled.pop();
        }
    }

    function _afterResolution(uint256 gameId, bool honest) internal {
        if (game.getGame(gameId).status != GameStatus.ChallengerWon) return;
        gamesWonByChallengers += 1;
        if (honest) gamesVoidedByHonest += 1;
    }

    function _credits(uint256 claimId, uint256 gameId) internal view returns (uint256 sub, uint256 chal) {
        sub = game.credit(_claims[claimId - 1].submitter);
        if (gameId != 0) chal = game.credit(_games[gameId - 1].challenger);
    }

    /// @dev Attributes the credit a call on claim `claimId` (game `gameId`) gave: the claim's submitter and the
    ///      game's challenger are distinct accounts, and the game credits no one else in one call.
    function _record(uint256 claimId, uint256 gameId, uint256 sub0, uint256 chal0) internal {
        (uint256 sub1, uint256 chal1) = _credits(claimId, gameId);
        _claims[claimId - 1].submitterGot += sub1 - sub0;
        attributed += sub1 - sub0;
        if (gameId != 0) {
            _games[gameId - 1].got += chal1 - chal0;
            attributed += chal1 - chal0;
        }
    }

    function _addClaim(
        uint256 claimId,
        uint256 s,
        bytes32 inputRoot,
        Fault memory f,
        bytes32 traceRoot,
        address submitter,
        uint256 requestId
    ) internal {
        require(claimId == _claims.length + 1, "claim ids are not sequential");
        if (traceRoot != book.root(book.traceLeaves(_shapes[s], inputRoot, _noFault()))) falseClaims += 1;
        _pending.push(claimId);
        _claims.push(
            ClaimInfo({
                shape: s,
                inputRoot: inputRoot,
                fault: f,
                traceRoot: traceRoot,
                submitter: submitter,
                honestSubmitter: isHonest[submitter],
                createdAt: uint64(block.timestamp),
                requestId: requestId,
                honestGames: 0,
                lastStatus: ClaimStatus.Pending,
                submitterGot: 0,
                nodeRewardGot: 0
            })
        );
    }

    function _addGame(uint256 gameId, GameInfo memory gi) internal {
        require(gameId == _games.length + 1, "game ids are not sequential");
        _games.push(gi);
        _active.push(gameId);
        _holding.push(gameId);
        if (gi.honest) {
            _claims[gi.claimId - 1].honestGames += 1;
            _honestGameIds.push(gameId);
            honestGames += 1;
        }
    }

    function _violation(string memory reason) internal {
        violations += 1;
        lastViolation = reason;
    }

    function _violationBytes(string memory reason, bytes memory err) internal {
        violations += 1;
        lastViolation = string(abi.encodePacked(reason, ": 0x", _hex(err)));
    }

    function _prune() internal {
        uint256 k;
        while (k < _active.length) {
            if (game.getGame(_active[k]).status != GameStatus.InProgress) {
                _active[k] = _active[_active.length - 1];
                _active.pop();
            } else {
                ++k;
            }
        }
    }

    // ------------------------------------------------------------------ picking

    function _submitter(uint256 seed) internal view returns (address, bool) {
        uint256 k = _mix(seed) % (honestSubmitters.length + dishonestSubmitters.length);
        if (k < honestSubmitters.length) return (honestSubmitters[k], true);
        return (dishonestSubmitters[k - honestSubmitters.length], false);
    }

    function _pickActive(uint256 seed) internal returns (uint256) {
        _prune();
        if (_active.length == 0) return 0;
        return _active[seed % _active.length];
    }

    /// @dev An id from `live` three times in four, else any id in 1..total; 0 when there is none.
    function _pickLive(uint256[] storage live, uint256 total, uint256 seed) internal view returns (uint256) {
        if (total == 0) return 0;
        if (seed % 4 == 0 || live.length == 0) return 1 + (seed >> 2) % total;
        return live[(seed >> 2) % live.length];
    }

    function _pickChallengeable(uint256 seed) internal view returns (uint256 claimId, bool found) {
        uint256 n = _pending.length;
        for (uint256 k; k < n; ++k) {
            uint256 id = _pending[(seed % n + k) % n];
            if (
                game.claimStatus(id) == ClaimStatus.Pending
                    && block.timestamp < uint256(_claims[id - 1].createdAt) + WINDOW
            ) return (id, true);
        }
    }

    function _pickSubmittable(uint256 seed) internal view returns (uint256 requestId, bool found) {
        uint256 n = _unsettled.length;
        for (uint256 k; k < n; ++k) {
            uint256 id = _unsettled[(seed % n + k) % n];
            RequestInfo storage r = _requests[id - 1];
            if (block.timestamp >= uint256(r.createdAt) + REQUEST_TIMEOUT) continue;
            AIOracle.RequestStatus status = oracle.getRequest(id).status;
            if (status == AIOracle.RequestStatus.Open || status == AIOracle.RequestStatus.Submitted) return (id, true);
        }
    }

    /// @dev A fault for a dishonest claim: kind NONE a sixth of the time. Through the oracle the output root is
    ///      computed from the posted bytes, so the last node can only carry an element fault.
    function _fault(uint256 s, uint256 seed, bool viaOracle) internal view returns (Fault memory f) {
        Shape storage shape = _shapes[s];
        uint256 count = shape.numel.length;
        seed = _mix(seed);
        f.kind = seed % book.KINDS();
        f.node = (seed >> 8) % count;
        f.pos = seed >> 16;
        f.salt = keccak256(abi.encode("fault", seed));
        if (f.kind == book.NONE()) return f;
        if (viaOracle && f.node == count - 1 && f.kind != book.TRACE_PADDING()) f.kind = book.ELEMENT();
        if (!book.applies(shape, f)) f.kind = shape.numel[f.node] != 0 ? book.ELEMENT() : book.UNREVEALABLE();
    }

    /// @dev A claimed trace's root, its output root (the last leaf) and that leaf's proof.
    function _commit(uint256 s, bytes32 inputRoot, Fault memory f) internal view returns (Commitment memory m) {
        bytes32[] memory leaves = book.traceLeaves(_shapes[s], inputRoot, f);
        uint256 last = _shapes[s].numel.length - 1;
        m.traceRoot = book.root(leaves);
        m.outputRoot = leaves[last];
        m.outputProof = book.proof(leaves, last);
    }

    /// @dev Spreads a seed uniformly (forge's fuzzer favours small and repeated values, which would make most
    ///      choices the same).
    function _mix(uint256 seed) internal view returns (uint256) {
        return uint256(keccak256(abi.encode(seed, calls)));
    }

    function _noFault() internal pure returns (Fault memory f) {}

    /// @dev The honest challenger's test: does the claimed trace root differ from the true one?
    function _falseByTruth(ClaimInfo storage c) internal view returns (bool) {
        return book.root(book.traceLeaves(_shapes[c.shape], c.inputRoot, _noFault())) != c.traceRoot;
    }

    // ------------------------------------------------------------------ setup helpers

    function _actor(uint256 seed, bool honest) internal returns (address a) {
        a = address(uint160(seed));
        VM.deal(a, START_BALANCE);
        isHonest[a] = honest;
        _everyone.push(a);
    }

    function _addShape(uint256 tag, uint256[] memory numel, uint256[] memory width, uint256[] memory chunkLog2)
        internal
    {
        Shape memory s = Shape(0, tag, numel, width, chunkLog2);
        bytes32[] memory graph = book.graphLeaves(s);
        uint256 last = numel.length - 1;
        s.modelId = registry.registerModel(
            IModelRegistry.Model({
                graphRoot: book.root(graph),
                weightsRoot: keccak256(abi.encode("weights", tag)),
                nodeCount: uint32(numel.length),
                weightCount: 1,
                inputLength: INPUT_LENGTH,
                inputChunkLog2: 5,
                inputWidth: 1,
                inputMin: type(int8).min,
                inputMax: type(int8).max,
                outputLength: uint32(numel[last] * width[last]),
                outputChunkLog2: uint8(chunkLog2[last]),
                fee: MODEL_FEE,
                owner: address(this),
                revenueReceiver: REVENUE,
                textOutput: false
            })
        );
        _shapes.push(s);
    }

    function _list1(uint256 a) internal pure returns (uint256[] memory l) {
        l = new uint256[](1);
        l[0] = a;
    }

    function _list5(uint256 a, uint256 b, uint256 c, uint256 d, uint256 e) internal pure returns (uint256[] memory l) {
        l = new uint256[](5);
        (l[0], l[1], l[2], l[3], l[4]) = (a, b, c, d, e);
    }

    function _list8(uint256 a, uint256 b, uint256 c, uint256 d, uint256 e, uint256 f, uint256 g, uint256 h)
        internal
        pure
        returns (uint256[] memory l)
    {
        l = new uint256[](8);
        (l[0], l[1], l[2], l[3], l[4], l[5], l[6], l[7]) = (a, b, c, d, e, f, g, h);
    }

    function _copy(bytes32[] memory a) internal pure returns (bytes32[] memory b) {
        b = new bytes32[](a.length);
        for (uint256 i; i < a.length; ++i) {
            b[i] = a[i];
        }
    }

    function _readRaw(bytes memory data, uint256 offset, uint256 width) internal pure returns (uint256 v) {
        for (uint256 k; k < width; ++k) {
            v = (v << 8) | uint8(data[offset + k]);
        }
    }

    function _hex(bytes memory data) internal pure returns (bytes memory out) {
        bytes16 digits = "0123456789abcdef";
        out = new bytes(2 * data.length);
        for (uint256 i; i < data.length; ++i) {
            out[2 * i] = digits[uint8(data[i]) >> 4];
            out[2 * i + 1] = digits[uint8(data[i]) & 15];
        }
    }
}

// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.24;

import {DisputeGame} from "../contracts/dispute/DisputeGame.sol";
import {ClaimStatus, GameStatus} from "../contracts/dispute/lib/Types.sol";
import {DisputeOracleHandler} from "./invariant/DisputeOracleHandler.sol";
import {Fault, Shape, TraceBook} from "./invariant/TraceBook.sol";

/// @notice Scripted games through the invariant suite's handler: they check that its honest and dishonest
///         strategies do what the invariants assume (an honest challenger voids every kind of faulty trace; a true
///         claim survives any challenger; moot shares and refunds as the README states).
contract DisputeGameScenariosTest {
    DisputeOracleHandler internal h;
    DisputeGame internal game;
    TraceBook internal book;
    uint256 internal bond;
    uint256 internal cbond;
    uint256 internal pot;

    function setUp() public {
        h = new DisputeOracleHandler();
        game = h.game();
        book = h.book();
        bond = h.SUBMITTER_BOND();
        cbond = h.CHALLENGER_BOND();
        pot = bond - (bond * h.BURN_BPS()) / 10_000;
    }

    /// Every fault kind at every node where it applies, on every toy model: the honest challenger alone wins the
    /// game (by a step, a padding pick, an empty-tensor open, or the submitter's timeout) and takes bond + pot.
    function test_honestChallengerVoidsEveryFaultKind() public {
        address liar = h.dishonestSubmitters(0);
        address honest = h.honestChallengers(0);
        uint256 cases;
        for (uint256 s; s < h.shapeCount(); ++s) {
            Shape memory shape = h.shapeAt(s);
            for (uint256 kind = 1; kind < book.KINDS(); ++kind) {
                for (uint256 node; node < shape.numel.length; ++node) {
                    Fault memory f = Fault(kind, node, 7 + 3 * node, keccak256(abi.encode(s, kind, node)));
                    if (!book.applies(shape, f) || (kind == book.TRACE_PADDING() && node != 0)) continue;
                    uint256 credit0 = game.credit(honest);
                    uint256 claimId = h.proposeExact(liar, s, keccak256(abi.encode("input", s)), f);
                    uint256 gameId = h.challengeExact(claimId, honest, false);
                    for (uint256 round; round < 4 && game.getGame(gameId).status == GameStatus.InProgress; ++round) {
                        h.playOut(gameId);
                        if (game.getGame(gameId).status != GameStatus.InProgress) break;
                        h.advance(h.CLOCK() + 1); // the honest challenger moves first, the liar's clock runs out
                        if (game.getGame(gameId).status == GameStatus.InProgress) h.timeoutExact(gameId);
                    }
                    require(game.getGame(gameId).status == GameStatus.ChallengerWon, "honest challenger did not win");
                    require(game.claimStatus(claimId) == ClaimStatus.Void, "faulty claim not voided");
                    require(game.credit(honest) - credit0 == cbond + pot, "winner is not paid bond + pot");
                    require(game.credit(liar) == 0, "the liar was credited");
                    ++cases;
                }
            }
        }
        require(h.violations() == 0, h.lastViolation());
        // Element, chunk padding, tensor padding, trace padding, unrevealable root: 5-node model 5 + 3 + 1 + 1 + 5;
        // 1-node model 1 + 1 + 1 + 0 + 1; 8-node model (node 1 empty) 7 + 6 + 1 + 0 + 8.
        require(cases == 15 + 4 + 22, "not every fault kind was played");
    }

    /// A true claim against a random challenger and a "winning strategy" challenger: neither can move past the
    /// truth; both lose on time; their bonds wait in escrow and are paid (less the burn) when the claim finalizes.
    function test_trueClaimSurvivesDishonestChallengers() public {
        address submitter = h.honestSubmitters(0);
        uint256 claimId = h.proposeExact(submitter, 2, keccak256("true input"), Fault(0, 0, 0, 0));
        uint256 randomGame = h.challengeExact(claimId, h.dishonestChallengers(0), false);
        uint256 stubbornGame = h.challengeExact(claimId, h.dishonestChallengers(1), true);
        h.playOut(randomGame);
        h.playOut(stubbornGame);
        h.advance(h.CLOCK() + 1);
        h.timeoutExact(randomGame);
        h.timeoutExact(stubbornGame);
        require(game.getGame(randomGame).status == GameStatus.SubmitterWon, "random challenger did not lose");
        require(game.getGame(stubbornGame).status == GameStatus.SubmitterWon, "stubborn challenger did not lose");
        require(game.credit(submitter) == 0, "escrow paid before the claim is decided");
        require(game.getClaim(claimId).escrow == 2 * cbond, "bonds not escrowed");
        h.advance(h.WINDOW());
        h.finalizeClaim(claimId - 1); // through the handler, so its ghosts see the payout
        require(game.claimStatus(claimId) == ClaimStatus.Finalized, "true claim did not finalize");
        require(game.credit(submitter) == bond + 2 * cbond - (2 * cbond * h.BURN_BPS()) / 10_000, "finalize pay");
        require(game.openBonds() == 0, "bonds left open");
        require(h.violations() == 0, h.lastViolation());
        h.checkGameSolvency();
        h.checkOpenBonds();
        h.checkSoundness();
    }

    /// Four games on one false claim: D loses on time first (escrowed), sybil B voids the claim while honest A and
    /// random C are open. A and C get bond + min(base + moves x per-move, pot / 4), B the rest of the pot, D its bond
    /// back, the liar nothing.
    function test_mootSharesAndRefundAfterAVoid() public {
        address liar = h.dishonestSubmitters(0);
        Fault memory f = Fault(book.ELEMENT(), 2, 3, keccak256("fault"));
        uint256 claimId = h.proposeExact(liar, 0, keccak256("input"), f);
        uint256 d = h.challengeExact(claimId, h.dishonestChallengers(2), false);
        h.advance(1);
        h.playOut(d);
        h.advance(h.CLOCK() + 1);
        if (game.getGame(d).status == GameStatus.InProgress) h.timeoutExact(d);
        require(game.getGame(d).status == GameStatus.SubmitterWon, "D did not lose on time");
        uint256 a = h.challengeExact(claimId, h.honestChallengers(0), false);
        uint256 b = h.challengeExact(claimId, h.dishonestChallengers(0), true);
        uint256 c = h.challengeExact(claimId, h.dishonestChallengers(1), false);
        h.playOut(b);
        require(game.getGame(b).status == GameStatus.ChallengerWon, "sybil did not void the claim");
        uint256 cap = pot / 4; // two games open at the void: pot / (2 x 2)
        require(game.getClaim(claimId).mootCap == cap, "moot cap");
        require(game.getClaim(claimId).voidedBy == h.dishonestChallengers(0), "voidedBy");
        uint256 shareA = _share(a, cap);
        uint256 shareC = _share(c, cap);
        h.advance(1); // the honest challenger settles its moot game
        game.settleMoot(c);
        game.settleMoot(d);
        require(game.getGame(a).status == GameStatus.Moot, "A not settled by the keeper");
        require(game.credit(h.honestChallengers(0)) == cbond + shareA, "A");
        require(game.credit(h.dishonestChallengers(1)) == cbond + shareC, "C");
        require(game.credit(h.dishonestChallengers(0)) == cbond + pot - shareA - shareC, "B");
        require(game.credit(h.dishonestChallengers(2)) == cbond, "D not refunded");
        require(game.credit(liar) == 0, "the liar was credited");
        require(game.openBonds() == 0, "bonds left open");
        h.checkGameSolvency();
        h.checkOpenBonds();
        h.checkSoundness();
        h.checkHonestChallengers();
    }

    /// What moot game `gameId` receives: base + per-move compensation for its challenger's moves, capped.
    function _share(uint256 gameId, uint256 cap) internal view returns (uint256 share) {
        share = h.MOOT_BASE() + h.MOOT_MOVE() * game.getGame(gameId).challengerMoves;
        if (share > cap) share = cap;
    }
}

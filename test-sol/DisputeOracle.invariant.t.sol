// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.24;

import {Console, FuzzSelector} from "./invariant/Cheats.sol";
import {DisputeOracleHandler} from "./invariant/DisputeOracleHandler.sol";

/// @notice Invariant tests over the real DisputeGame and AIOracle: forge calls the handler's actions in random
///         order (propose, request, submit, challenge, moves, warp, timeout, settleMoot, finalize, refund,
///         withdraw) and checks every `invariant_*` after each call; `afterInvariant` then runs the clock past
///         every deadline, settles everything and checks that nothing is stuck.
contract DisputeOracleInvariantTest {
    DisputeOracleHandler internal handler;

    function setUp() public {
        handler = new DisputeOracleHandler();
    }

    /// @dev forge's invariant engine calls only these (the game and oracle are reached through the handler).
    function targetContracts() public view returns (address[] memory targets) {
        targets = new address[](1);
        targets[0] = address(handler);
    }

    function targetSelectors() public view returns (FuzzSelector[] memory selectors) {
        bytes4[] memory s = new bytes4[](14);
        s[0] = handler.propose.selector;
        s[1] = handler.request.selector;
        s[2] = handler.submit.selector;
        s[3] = handler.challenge.selector;
        s[4] = handler.submitterMove.selector;
        s[5] = handler.challengerMove.selector;
        s[6] = handler.warp.selector;
        s[7] = handler.timeout.selector;
        s[8] = handler.settleMoot.selector;
        s[9] = handler.finalizeClaim.selector;
        s[10] = handler.finalizeRequest.selector;
        s[11] = handler.refund.selector;
        s[12] = handler.withdraw.selector;
        s[13] = handler.play.selector;
        selectors = new FuzzSelector[](1);
        selectors[0] = FuzzSelector(address(handler), s);
    }

    /// @notice Checked after every handler call (one campaign: forge runs each invariant_* function as its own).
    /// INVARIANT: the game holds exactly openBonds + totalCredit; paid in == held + paid out + burned.
    /// INVARIANT: the oracle holds exactly heldFees + totalCredit; heldFees are the fees of unsettled requests.
    /// INVARIANT: openBonds is the sum of what pending claims and unsettled games still hold.
    /// INVARIANT: the game credits only claims' submitters and games' challengers.
    /// INVARIANT: a claim proven false never credits its submitter; disputed false claims never stand; honest
    ///            claims are never voided; honest actors' moves never fail; claim statuses never go back.
    /// INVARIANT: an honest challenger never loses a game and every game of its that is over paid >= its bond.
    function invariant_protocol() public view {
        handler.checkGameSolvency();
        handler.checkOracleSolvency();
        handler.checkOpenBonds();
        handler.checkCreditsAttributed();
        handler.checkSoundness();
        handler.checkHonestChallengers();
    }

    /// INVARIANT (ending): after every deadline, everything settles, nothing stays stuck, the honest are whole.
    function afterInvariant() public {
        handler.settleEverything();
        handler.checkGameSolvency();
        handler.checkOracleSolvency();
        handler.checkSoundness();
        handler.checkHonestChallengers();
        handler.checkNothingStuck();
        Console.log("handler calls (this run)", handler.calls());
        Console.log("claims", handler.claimCount());
        Console.log("games", handler.gameCount());
        Console.log("requests", handler.requestCount());
        Console.log("false claims", handler.falseClaims());
        Console.log("games of honest challengers", handler.honestGames());
        Console.log("claims voided", handler.claimsVoided());
        Console.log("claims finalized", handler.claimsFinalized());
        Console.log("games won by challengers", handler.gamesWonByChallengers());
        Console.log("games won by honest challengers", handler.gamesVoidedByHonest());
        Console.log("games settled moot", handler.gamesMooted());
        Console.log("games refunded after a void", handler.gamesRefunded());
        Console.log("games won on time by submitters", handler.gamesWonOnTime());
    }
}

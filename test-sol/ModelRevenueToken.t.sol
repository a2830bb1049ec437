// SPDX-License-Identifier: GPL-3.0-or-later
pragma solidity ^0.8.24;

import {ModelRevenueToken} from "../contracts/token/ModelRevenueToken.sol";
import {IModelRevenueToken} from "../contracts/token/interfaces/IModelRevenueToken.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {FlashLender, FlashSnapshotAttacker} from "../contracts/test/FlashSnapshot.sol";
import {VM} from "./invariant/Cheats.sol";

/// Drives one ModelRevenueToken through random deposits, transfers, snapshots, claims, burns, new blocks and
/// flash-loan attacks (borrow, snapshot, claim, repay in one call), and keeps its own record of the balances at the
/// end of every block, so that every payout is checked against a figure the token did not compute.
contract RevenueTokenHandler {
    uint256 private constant BPS = 10_000;
    uint256 private constant INTERVAL = 3600;
    uint256 private constant ACTORS = 4; // three EOAs and the attacker contract; the lender never acts

    ModelRevenueToken public immutable token;
    FlashLender public immutable lender;
    FlashSnapshotAttacker public immutable attacker;
    address[ACTORS + 1] private _holders; // actors, then the lender

    /// Balances and supply at the end of the previous block, recorded when the handler moves to a new block.
    mapping(address holder => uint256) private _endBalance;
    uint256 private _endSupply;
    /// The same, frozen per snapshot: what each claim on it must be computed from.
    mapping(uint256 snapshotId => mapping(address holder => uint256)) private _snapBalance;
    mapping(uint256 snapshotId => uint256) private _snapSupply;

    mapping(uint256 snapshotId => uint256) public claimedOf;
    uint256 public deposited;
    uint256 public flashAttacks;
    uint256 public flashClaimed;
    /// Set when a flash borrower got more than its end-of-previous-block balance entitled it to.
    bool public flashOverclaimed;
    /// Set when any payout differed from the handler's own figure.
    bool public payoutMismatch;

    constructor() {
        lender = new FlashLender();
        attacker = new FlashSnapshotAttacker();
        address[] memory initial = new address[](5);
        uint256[] memory amounts = new uint256[](5);
        for (uint256 i; i < 3; ++i) {
            _holders[i] = address(uint160(0x1001 + i));
        }
        _holders[3] = address(attacker);
        _holders[4] = address(lender);
        // Odd amounts so that shares round; the lender pool holds 90 %, the attacker starts with 1 %.
        uint256[5] memory split = [uint256(5e18 + 1), 3e18, 1e18 - 7, 1e18, 90e18];
        for (uint256 i; i < 5; ++i) {
            initial[i] = _holders[i];
            amounts[i] = split[i];
        }
        token = new ModelRevenueToken("Model Revenue", "MREV", initial, amounts, 6000, INTERVAL, 2);
        _nextBlock();
    }

    // ------------------------------------------------------------------ actions

    function deposit(uint256 amount) external {
        amount = _bound(amount, 1, 100 ether);
        VM.deal(address(this), amount);
        token.depositRevenue{value: amount}();
        deposited += amount;
    }

    function transfer(uint256 fromSeed, uint256 toSeed, uint256 amount) external {
        address from = _actor(fromSeed);
        amount = _bound(amount, 0, token.balanceOf(from));
        VM.prank(from);
        token.transfer(_actor(toSeed), amount);
    }

    function nextBlock(uint256 blocks) external {
        blocks = _bound(blocks, 1, 3);
        for (uint256 i; i < blocks; ++i) {
            _nextBlock();
        }
    }

    function snapshot() external {
        VM.warp(token.nextSnapshotAt());
        _recordSnapshot(token.snapshot());
    }

    function claim(uint256 actorSeed, uint256 snapshotSeed) external {
        uint256 current = token.currentSnapshotId();
        if (current == 0) return;
        address actor = _actor(actorSeed);
        uint256 snapshotId = _bound(snapshotSeed, 1, current);
        uint256 expected = _entitlement(actor, snapshotId);
        if (token.claimableRevenue(actor, snapshotId) != expected) payoutMismatch = true;
        if (expected == 0) return;
        uint256 before = actor.balance;
        VM.prank(actor);
        token.claim(snapshotId);
        if (actor.balance - before != expected) payoutMismatch = true;
        claimedOf[snapshotId] += expected;
    }

    function burn(uint256 actorSeed, uint256 amount) external {
        address actor = _actor(actorSeed);
        amount = _bound(amount, 0, token.balanceOf(actor));
        if (amount == 0) return;
        uint256 expected = token.redemptionPool() * amount / token.totalSupply();
        uint256 before = actor.balance;
        VM.prank(actor);
        token.burn(amount);
        if (actor.balance - before != expected) payoutMismatch = true;
    }

    /// The attack: borrow up to the lender's whole balance, snapshot, claim, repay, in one call, either in a fresh
    /// block or in the block of the actions just before it (transfers to the attacker among them).
    function flashSnapshot(uint256 amount, bool freshBlock) external {
        if (freshBlock) _nextBlock();
        amount = _bound(amount, 1, token.balanceOf(address(lender)));
        VM.warp(token.nextSnapshotAt());
        attacker.attack(lender, IERC20(address(token)), amount);
        uint256 snapshotId = attacker.lastSnapshotId();
        _recordSnapshot(snapshotId);
        // Within the attack the snapshot was fresh and unclaimed, so this is all the attacker may get from it.
        IModelRevenueToken.SnapshotInfo memory info = token.snapshotInfo(snapshotId);
        uint256 entitled = _snapSupply[snapshotId] == 0
            ? 0
            : info.claimable * _snapBalance[snapshotId][address(attacker)] / _snapSupply[snapshotId];
        uint256 got = attacker.lastClaimed();
        if (got > entitled) flashOverclaimed = true;
        if (got != entitled) payoutMismatch = true;
        claimedOf[snapshotId] += got;
        flashAttacks += 1;
        flashClaimed += got;
    }

    // ------------------------------------------------------------------ bookkeeping

    function _nextBlock() private {
        VM.roll(block.number + 1);
        for (uint256 i; i < _holders.length; ++i) {
            _endBalance[_holders[i]] = token.balanceOf(_holders[i]);
        }
        _endSupply = token.totalSupply();
    }

    function _recordSnapshot(uint256 snapshotId) private {
        for (uint256 i; i < _holders.length; ++i) {
            _snapBalance[snapshotId][_holders[i]] = _endBalance[_holders[i]];
        }
        _snapSupply[snapshotId] = _endSupply;
        if (token.snapshotInfo(snapshotId).totalSupply != _endSupply) payoutMismatch = true;
    }

    /// What `actor` may claim at `snapshotId` now, from the handler's own record of the balances.
    function _entitlement(address actor, uint256 snapshotId) private view returns (uint256) {
        if (token.isExpired(snapshotId) || token.hasClaimed(actor, snapshotId) || _snapSupply[snapshotId] == 0) {
            return 0;
        }
        return token.snapshotInfo(snapshotId).claimable * _snapBalance[snapshotId][actor] / _snapSupply[snapshotId];
    }

    function _actor(uint256 seed) private view returns (address) {
        return _holders[seed % ACTORS];
    }

    function _bound(uint256 x, uint256 lo, uint256 hi) private pure returns (uint256) {
        return hi <= lo ? lo : lo + x % (hi - lo + 1);
    }

    receive() external payable {}
}

/// Invariants of the revenue token under the handler's random sequences (forge runs every `invariant_*` after
/// each call; runs and depth are in foundry.toml's [invariant]).
contract ModelRevenueTokenInvariantTest {
    RevenueTokenHandler internal handler;
    ModelRevenueToken internal token;

    function setUp() public {
        handler = new RevenueTokenHandler();
        token = handler.token();
    }

    /// Only the handler is called; it reaches the token, lender and attacker.
    function targetContracts() public view returns (address[] memory targets) {
        targets = new address[](1);
        targets[0] = address(handler);
    }

    /// The handler's attack path, fixed: the attacker (1 % of the supply) gets another 5 % by a transfer in the
    /// snapshot's block, borrows the lender's 90 % and claims: it is paid for its 1 % only. In the next block the
    /// 6 % counts.
    function test_flashAttackEarnsOnlyThePriorBlocksShare() public {
        handler.deposit(10 ether);
        handler.transfer(0, 3, 5e18); // actor 0 -> attacker, same block as the attack
        handler.flashSnapshot(type(uint256).max, false);
        // 6 ETH claimable (60 %) over a supply of 100 tokens; the attacker held 1 token at the end of the last block.
        require(handler.flashClaimed() == 6 ether / 100, "not the prior 1 % share");
        handler.deposit(10 ether);
        handler.nextBlock(0);
        handler.flashSnapshot(type(uint256).max, true);
        require(handler.flashClaimed() == 6 ether / 100 + 6 ether * 6 / 100, "the 6 % held before the block");
        require(!handler.flashOverclaimed() && !handler.payoutMismatch(), "handler flagged a payout");
    }

    /// The token's ETH covers the burn pool plus every live snapshot's unclaimed revenue.
    function invariant_ethCoversPoolAndOutstanding() public view {
        require(address(token).balance >= token.redemptionPool() + token.outstandingClaims(), "ETH short");
    }

    /// Every wei that came in is held or was paid out exactly once.
    function invariant_ethIsConserved() public view {
        require(token.totalRevenueReceived() == handler.deposited(), "revenue miscounted");
        require(
            address(token).balance + token.totalClaimed() + token.totalRedeemed() == token.totalRevenueReceived(),
            "ETH created or lost"
        );
    }

    /// The claims on a snapshot sum to what the handler saw paid, and never to more than its claimable revenue.
    function invariant_claimsOfASnapshotWithinItsClaimable() public view {
        uint256 current = token.currentSnapshotId();
        for (uint256 id = 1; id <= current; ++id) {
            IModelRevenueToken.SnapshotInfo memory info = token.snapshotInfo(id);
            require(info.claimed == handler.claimedOf(id), "claims miscounted");
            require(info.claimed <= info.claimable, "snapshot over-paid");
        }
    }

    /// A flash borrower gets at most the share of the balance it held at the end of the block before the snapshot.
    function invariant_flashBorrowerNeverOverclaims() public view {
        require(!handler.flashOverclaimed(), "flash borrower over-claimed");
    }

    /// Every claim and redemption paid exactly the handler's independent figure.
    function invariant_payoutsMatchTheRecordedBalances() public view {
        require(!handler.payoutMismatch(), "payout differs from the recorded balances");
    }
}

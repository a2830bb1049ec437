"""ModelRevenueToken on anvil: exact pro-rata claims, snapshots of balances, expiry and roll-forward, burn
redemption, and a named revert for every rule."""

import ape
import pytest
from eth_utils import keccak

from revenue_setup import AMOUNTS, INTERVAL, LIFETIME, PERCENT_CLAIMABLE, paid_to, take_snapshot

SUPPLY = sum(AMOUNTS)


def claim_share(claimable, balance, supply=SUPPLY):
    return claimable * balance // supply


def test_claims_are_pro_rata_exact_to_the_wei_and_the_dust_stays_owed(chain, token, holders, owner):
    # 0.6 * (1e18 + 3) = 6e17 + 1.8: the holders' share is 6e17 + 1 wei, split 5 : 3 : 2 with 1 wei of dust.
    revenue = 10**18 + 3
    token.depositRevenue(value=revenue, sender=owner)
    assert token.pendingRevenue() == revenue
    snapshot_id = take_snapshot(chain, token, owner)
    assert snapshot_id == 1
    claimable = revenue * PERCENT_CLAIMABLE // 10_000
    assert claimable == 6 * 10**17 + 1
    info = token.snapshotInfo(1)
    assert (info.totalSupply, info.claimable, info.claimed) == (SUPPLY, claimable, 0)
    assert token.redemptionPool() == revenue - claimable
    assert token.outstandingClaims() == claimable
    assert token.pendingRevenue() == 0

    paid = []
    for holder, amount in zip(holders, AMOUNTS):
        expected = claim_share(claimable, amount)
        assert token.claimableRevenue(holder, 1) == expected
        before = holder.balance
        receipt = token.claim(1, sender=holder)
        assert paid_to(holder, receipt, before) == expected
        assert receipt.events[0].amount == expected
        assert token.claimableRevenue(holder, 1) == 0
        paid.append(expected)
    assert paid == [3 * 10**17, 18 * 10**16, 12 * 10**16]
    dust = claimable - sum(paid)
    assert dust == 1, "rounding leaves less than one wei per holder, never a negative amount"
    assert token.outstandingClaims() == dust
    assert token.totalClaimed() == sum(paid)
    assert token.balance == token.redemptionPool() + token.outstandingClaims()


def test_transfers_between_snapshots_change_only_later_snapshots(chain, token, holders, owner):
    first, second, third = holders
    token.depositRevenue(value=10**18, sender=owner)
    take_snapshot(chain, token, owner)
    # After snapshot 1: `first` gives all its tokens to `third`.
    token.transfer(third, AMOUNTS[0], sender=first)
    token.depositRevenue(value=2 * 10**18, sender=owner)
    take_snapshot(chain, token, owner)

    assert token.balanceOfAt(first, 1) == AMOUNTS[0]
    assert token.balanceOfAt(third, 1) == AMOUNTS[2]
    assert token.balanceOfAt(first, 2) == 0
    assert token.balanceOfAt(third, 2) == AMOUNTS[0] + AMOUNTS[2]
    claimable_1 = token.snapshotInfo(1).claimable
    claimable_2 = token.snapshotInfo(2).claimable
    assert claimable_2 == 2 * claimable_1
    assert token.claimableRevenue(first, 1) == claim_share(claimable_1, AMOUNTS[0])
    assert token.claimableRevenue(third, 1) == claim_share(claimable_1, AMOUNTS[2])
    assert token.claimableRevenue(first, 2) == 0
    assert token.claimableRevenue(third, 2) == claim_share(claimable_2, AMOUNTS[0] + AMOUNTS[2])
    assert token.claimableRevenue(second, 2) == claim_share(claimable_2, AMOUNTS[1])

    # A transfer after the latest snapshot does not touch it either.
    token.transfer(first, AMOUNTS[1], sender=second)
    assert token.balanceOfAt(second, 2) == AMOUNTS[1]
    with ape.reverts(token.NothingToClaim, account=first.address, snapshotId=2):
        token.claim(2, sender=first)


def test_second_claim_of_a_snapshot_reverts(chain, token, holders, owner):
    token.depositRevenue(value=10**18, sender=owner)
    take_snapshot(chain, token, owner)
    token.claim(1, sender=holders[0])
    with ape.reverts(token.AlreadyClaimed, account=holders[0].address, snapshotId=1):
        token.claim(1, sender=holders[0])


def test_claims_of_snapshots_not_taken_revert(chain, token, holders, owner):
    with ape.reverts(token.UnknownSnapshot, snapshotId=1, currentSnapshotId=0):
        token.claim(1, sender=holders[0])
    token.depositRevenue(value=10**18, sender=owner)
    take_snapshot(chain, token, owner)
    with ape.reverts(token.UnknownSnapshot, snapshotId=0, currentSnapshotId=1):
        token.claim(0, sender=holders[0])
    with ape.reverts(token.UnknownSnapshot, snapshotId=2, currentSnapshotId=1):
        token.claim(2, sender=holders[0])
    with ape.reverts(token.UnknownSnapshot, snapshotId=2, currentSnapshotId=1):
        token.claimableRevenue(holders[0], 2)


def test_a_snapshot_expires_after_its_lifetime(chain, token, holders, owner):
    assert LIFETIME == 2
    token.depositRevenue(value=10**18, sender=owner)
    take_snapshot(chain, token, owner)
    take_snapshot(chain, token, owner)
    assert not token.isExpired(1)
    assert token.claimableRevenue(holders[0], 1) > 0
    take_snapshot(chain, token, owner)
    assert token.isExpired(1) and not token.isExpired(2)
    assert token.claimableRevenue(holders[0], 1) == 0
    with ape.reverts(token.SnapshotExpired, snapshotId=1, expiredAt=3):
        token.claim(1, sender=holders[0])


def test_unclaimed_revenue_of_an_expired_snapshot_rolls_forward_whole(chain, token, holders, owner):
    first, second, third = holders
    token.depositRevenue(value=10**18 + 3, sender=owner)
    take_snapshot(chain, token, owner)
    claimable_1 = token.snapshotInfo(1).claimable
    token.claim(1, sender=first)
    take_snapshot(chain, token, owner)  # snapshot 2: no new revenue
    assert token.snapshotInfo(2).claimable == 0
    revenue_3 = 5 * 10**17
    token.depositRevenue(value=revenue_3, sender=owner)
    pool_before = token.redemptionPool()

    chain.pending_timestamp += INTERVAL
    receipt = token.snapshot(sender=owner)
    unclaimed = claimable_1 - claim_share(claimable_1, AMOUNTS[0])
    new_share = revenue_3 * PERCENT_CLAIMABLE // 10_000
    event = receipt.events[0]
    assert (event.snapshotId, event.newRevenue, event.rolledForward) == (3, revenue_3, unclaimed)
    assert event.claimable == new_share + unclaimed
    assert token.snapshotInfo(3).claimable == new_share + unclaimed
    # The pool gets only its share of the new revenue; rolled-forward revenue stays with the holders.
    assert token.redemptionPool() == pool_before + revenue_3 - new_share
    assert token.outstandingClaims() == new_share + unclaimed
    for holder, amount in zip(holders, AMOUNTS):
        assert token.claimableRevenue(holder, 3) == claim_share(new_share + unclaimed, amount)
    assert token.balance == token.redemptionPool() + token.outstandingClaims()


def test_snapshots_are_rate_limited(chain, token, owner, stranger):
    next_at = token.nextSnapshotAt()
    with ape.reverts(token.SnapshotTooEarly, nextAllowedAt=next_at):
        token.snapshot(sender=stranger)
    take_snapshot(chain, token, stranger)
    next_at = token.nextSnapshotAt()
    chain.pending_timestamp += INTERVAL // 2
    with ape.reverts(token.SnapshotTooEarly, nextAllowedAt=next_at):
        token.snapshot(sender=stranger)
    chain.pending_timestamp += INTERVAL // 2
    assert token.snapshot(sender=stranger).return_value == 2


def test_burn_redeems_a_pro_rata_share_of_the_pool(chain, token, holders, owner):
    first, second, third = holders
    revenue = 10**18 + 7
    token.depositRevenue(value=revenue, sender=owner)
    assert token.redeemableOnBurn(AMOUNTS[1]) == 0, "revenue joins the pool only at a snapshot"
    take_snapshot(chain, token, owner)
    pool = token.redemptionPool()
    assert pool == revenue - revenue * PERCENT_CLAIMABLE // 10_000

    burn = 10**18 + 1
    expected = pool * burn // SUPPLY
    assert token.redeemableOnBurn(burn) == expected
    before = second.balance
    receipt = token.burn(burn, sender=second)
    assert paid_to(second, receipt, before) == expected
    assert token.balanceOf(second) == AMOUNTS[1] - burn
    assert token.totalSupply() == SUPPLY - burn
    assert token.redemptionPool() == pool - expected
    assert token.totalRedeemed() == expected
    # The burn does not reduce the burner's claim on the snapshot taken before it.
    assert token.claimableRevenue(second, 1) == claim_share(token.snapshotInfo(1).claimable, AMOUNTS[1])

    # Whoever burns the last tokens gets the whole remaining pool, dust included.
    token.burn(AMOUNTS[0], sender=first)
    token.burn(AMOUNTS[1] - burn, sender=second)
    last_pool = token.redemptionPool()
    before = third.balance
    receipt = token.burn(AMOUNTS[2], sender=third)
    assert paid_to(third, receipt, before) == last_pool
    assert token.redemptionPool() == 0
    assert token.totalSupply() == 0


def test_burn_rules(token, holders):
    holder = holders[2]
    with ape.reverts(token.BurnExceedsBalance, account=holder.address, balance=AMOUNTS[2], amount=AMOUNTS[2] + 1):
        token.burn(AMOUNTS[2] + 1, sender=holder)
    with ape.reverts(token.ZeroAmount):
        token.burn(0, sender=holder)
    with ape.reverts(token.BurnExceedsSupply, supply=SUPPLY, amount=SUPPLY + 1):
        token.redeemableOnBurn(SUPPLY + 1)


def test_revenue_arrives_by_deposit_or_plain_transfer_never_zero(token, owner, stranger):
    receipt = stranger.transfer(token, 12345)
    assert token.totalRevenueReceived() == 12345
    event = token.RevenueReceived.from_receipt(receipt)[0]
    assert (event["from"], event.amount) == (stranger.address, 12345)
    token.depositRevenue(value=5, sender=owner)
    assert token.totalRevenueReceived() == 12350
    assert token.pendingRevenue() == 12350
    with ape.reverts(token.ZeroAmount):
        token.depositRevenue(value=0, sender=owner)


def test_receiving_revenue_fits_a_small_gas_stipend(token, owner, stranger):
    # The oracle pushes model fees with a fixed gas budget (100k); receive() must need far less, cold or warm.
    for _ in range(2):
        receipt = stranger.transfer(token, 10**15, gas_limit=21_000 + 40_000)
        assert receipt.gas_used - 21_000 < 40_000
    assert token.totalRevenueReceived() == 2 * 10**15


def test_claim_batch_pays_the_sum_in_one_transfer(chain, token, holders, owner):
    holder = holders[1]
    token.depositRevenue(value=10**18, sender=owner)
    take_snapshot(chain, token, owner)
    token.depositRevenue(value=3 * 10**18 + 1, sender=owner)
    take_snapshot(chain, token, owner)
    expected = token.claimableRevenue(holder, 1) + token.claimableRevenue(holder, 2)
    before = holder.balance
    receipt = token.claimBatch([1, 2], sender=holder)
    assert receipt.return_value == expected
    assert paid_to(holder, receipt, before) == expected
    assert token.hasClaimed(holder, 1) and token.hasClaimed(holder, 2)
    # The whole batch reverts at its first bad claim.
    with ape.reverts(token.AlreadyClaimed, account=holder.address, snapshotId=1):
        token.claimBatch([1, 2], sender=holder)


def test_erc165_ids(token):
    selectors = [
        "claimableRevenue(address,uint256)", "claim(uint256)", "snapshot()", "redeemableOnBurn(uint256)",
        "burn(uint256)",
    ]
    erc7641 = 0
    for signature in selectors:
        erc7641 ^= int.from_bytes(keccak(text=signature)[:4], "big")
    assert erc7641 == 0xED7B2E4E
    assert token.supportsInterface(erc7641.to_bytes(4, "big"))
    assert token.supportsInterface(bytes.fromhex("01ffc9a7"))  # ERC-165
    assert not token.supportsInterface(bytes.fromhex("ffffffff"))
    assert not token.supportsInterface(bytes.fromhex("702c55a6"))


@pytest.mark.parametrize(
    "kwargs, error, inputs",
    [
        ({"percent": 10_001}, "InvalidPercentClaimable", {"basisPoints": 10_001}),
        ({"interval": 0}, "ZeroSnapshotInterval", {}),
        ({"lifetime": 0}, "ZeroSnapshotLifetime", {}),
        ({"amounts": AMOUNTS[:2]}, "HolderAmountLengthMismatch", {"holders": 3, "amounts": 2}),
        ({"amounts": (1, 0, 1)}, "ZeroAmount", {}),
    ],
)
def test_constructor_rejects_bad_configuration(project, deploy_token, holders, kwargs, error, inputs):
    with ape.reverts(getattr(project.ModelRevenueToken, error), **inputs):
        deploy_token(holders, **kwargs)


def test_the_worked_example_of_the_readme(chain, deploy_token, owner, model_owner, user, stranger, challenger):
    """The README's token-economics example, number for number."""
    e18 = 10**18
    token = deploy_token([model_owner, user, stranger], amounts=(600_000 * e18, 300_000 * e18, 100_000 * e18),
                         percent=6000, lifetime=3)
    # Day 1: 250 requests at 0.001 ETH and one 0.01 ETH NFT mint.
    token.depositRevenue(value=250 * 10**15 + 10**16, sender=owner)
    take_snapshot(chain, token, owner)
    assert (token.snapshotInfo(1).claimable, token.redemptionPool()) == (156 * 10**15, 104 * 10**15)
    assert token.claim(1, sender=model_owner).events[0].amount == 936 * 10**14
    assert token.claim(1, sender=user).events[0].amount == 468 * 10**14
    assert token.claimableRevenue(stranger, 1) == 156 * 10**14  # left unclaimed
    token.transfer(challenger, 50_000 * e18, sender=stranger)
    # Day 2: 0.1 ETH + 1 wei; 60 % of it is 0.06 ETH + 0.6 wei, rounded down, the 1 wei goes to the pool.
    token.depositRevenue(value=10**17 + 1, sender=owner)
    take_snapshot(chain, token, owner)
    assert (token.snapshotInfo(2).claimable, token.redemptionPool()) == (6 * 10**16, 144 * 10**15 + 1)
    assert [token.claimableRevenue(a, 2) for a in (model_owner, user, stranger, challenger)] == [
        36 * 10**15, 18 * 10**15, 3 * 10**15, 3 * 10**15
    ]
    assert token.burn(100_000 * e18, sender=user).events[-1].redeemed == 144 * 10**14
    assert token.redemptionPool() == 1296 * 10**14 + 1
    take_snapshot(chain, token, owner)  # day 3: no revenue
    token.depositRevenue(value=5 * 10**16, sender=owner)
    chain.pending_timestamp += INTERVAL
    receipt = token.snapshot(sender=owner)
    event = receipt.events[0]
    assert (event.snapshotId, event.rolledForward, event.claimable) == (4, 156 * 10**14, 456 * 10**14)
    assert token.redemptionPool() == 1496 * 10**14 + 1
    shares = [token.claimableRevenue(a, 4) for a in (model_owner, user, stranger, challenger)]
    assert shares == [304 * 10**14, 10133333333333333, 2533333333333333, 2533333333333333]
    assert 456 * 10**14 - sum(shares) == 1, "one wei of dust stays owed and rolls forward at snapshot 7"
    assert token.balance == 2552 * 10**14 + 1

"""Flash-loan snapshot capture: borrowing tokens, snapshotting, claiming and repaying in one transaction must earn
the borrower nothing beyond the share of the balance it held before the snapshot's block."""

import ape
from revenue_setup import INTERVAL, paid_to

E18 = 10**18
LENT = 99 * E18  # the lender pool holds 99 % of the supply
OWN = 1 * E18  # the attacker's own 1 %
REVENUE = 10 * E18
PERCENT = 6000  # 6 ETH of the 10 are claimable


def test_a_flash_borrower_captures_only_its_own_prior_share(project, chain, deploy_token, owner, stranger):
    lender = owner.deploy(project.FlashLender)
    attacker = stranger.deploy(project.FlashSnapshotAttacker)
    token = deploy_token([lender, attacker], amounts=(LENT, OWN), percent=PERCENT)
    supply = LENT + OWN
    token.depositRevenue(value=REVENUE, sender=owner)
    claimable = REVENUE * PERCENT // 10_000
    chain.pending_timestamp += INTERVAL

    receipt = attacker.attack(lender, token, LENT, sender=stranger)

    snapshot_id = attacker.lastSnapshotId()
    assert snapshot_id == 1
    info = token.snapshotInfo(1)
    assert (info.totalSupply, info.claimable) == (supply, claimable)
    # Before the fix the snapshot saw the borrowed 99 % and the attacker took all 6 ETH.
    assert attacker.lastClaimed() == claimable * OWN // supply == 6 * 10**16
    assert info.balanceBlock == receipt.block_number - 1
    assert token.balanceOfAt(attacker, 1) == OWN
    assert token.balanceOfAt(lender, 1) == LENT
    assert token.balanceOf(lender) == LENT, "the loan was repaid"
    # The rest stays owed to the lender pool's share, and the books still balance.
    assert token.claimableRevenue(lender, 1) == claimable * LENT // supply
    assert token.outstandingClaims() == claimable - attacker.lastClaimed()
    assert token.balance == token.redemptionPool() + token.outstandingClaims()


def test_a_flash_loan_without_a_prior_balance_claims_nothing(project, chain, deploy_token, owner, stranger, user):
    lender = owner.deploy(project.FlashLender)
    attacker = stranger.deploy(project.FlashSnapshotAttacker)
    token = deploy_token([lender, user], amounts=(LENT, OWN), percent=PERCENT)
    token.depositRevenue(value=REVENUE, sender=owner)
    chain.pending_timestamp += INTERVAL

    attacker.attack(lender, token, LENT, sender=stranger)

    assert attacker.lastClaimed() == 0
    assert attacker.balance == 0
    assert token.claimableRevenue(attacker, 1) == 0
    with ape.reverts(token.NothingToClaim, account=stranger.address, snapshotId=1):
        token.claim(1, sender=stranger)  # nor can its deployer, which never held tokens
    before = user.balance
    receipt = token.claim(1, sender=user)
    assert paid_to(user, receipt, before) == REVENUE * PERCENT // 10_000 * OWN // (LENT + OWN)


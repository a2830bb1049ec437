"""offchain.chain.revenue (behind `ape run claim` and the demo): a holder's report, snapshot-if-due, claiming."""

import pytest
from eth_utils import keccak
from revenue_setup import AMOUNTS, INTERVAL, LIFETIME, PERCENT_CLAIMABLE
from rich.console import Console

from offchain.chain.revenue import (
    RevenueError,
    claim,
    claim_all,
    holder_report,
    live_snapshot_ids,
    report_table,
    resolve_token,
    snapshot_if_due,
)

SUPPLY = sum(AMOUNTS)


def test_report_snapshot_and_claim_all(chain, token, holders, owner):
    holder = holders[1]
    assert snapshot_if_due(token, owner, chain.pending_timestamp) is None, "the first interval has not passed"
    token.depositRevenue(value=10**18, sender=owner)
    chain.pending_timestamp += INTERVAL
    assert snapshot_if_due(token, owner, chain.pending_timestamp) == 1
    token.depositRevenue(value=2 * 10**18 + 1, sender=owner)
    chain.pending_timestamp += INTERVAL
    assert snapshot_if_due(token, owner, chain.pending_timestamp) == 2
    token.depositRevenue(value=7, sender=owner)

    report = holder_report(token, holder)
    assert (report.balance, report.total_supply, report.current_snapshot) == (AMOUNTS[1], SUPPLY, 2)
    assert report.pending_revenue == 7
    allocated = [10**18 * PERCENT_CLAIMABLE // 10_000, (2 * 10**18 + 1) * PERCENT_CLAIMABLE // 10_000]
    assert [s.allocated for s in report.shares] == allocated
    expected = [a * AMOUNTS[1] // SUPPLY for a in allocated]
    assert [s.claimable for s in report.shares] == expected
    assert report.claimable_ids == [1, 2]
    assert report.redeemable_on_burn == token.redemptionPool() * AMOUNTS[1] // SUPPLY

    text = Console(record=True, width=200)
    text.print(report_table(report))
    assert "MREV" in text.export_text()

    result = claim_all(token, holder)
    assert result.paid == {1: expected[0], 2: expected[1]}
    assert result.total == sum(expected)
    assert claim_all(token, holder) is None, "nothing is left to claim"
    assert holder_report(token, holder).total_claimable == 0
    with pytest.raises(RevenueError, match="no snapshot"):
        claim(token, holder, [])


def test_live_snapshots_are_the_last_lifetime_ones(chain, token, owner):
    assert list(live_snapshot_ids(token)) == []
    for _ in range(LIFETIME + 1):
        chain.pending_timestamp += INTERVAL
        token.snapshot(sender=owner)
    assert list(live_snapshot_ids(token)) == list(range(2, LIFETIME + 2))


def test_resolve_token_by_address_or_by_model(project, owner, model_owner, token):
    factory = owner.deploy(project.ModelTokenFactory, owner)
    factory.grantRole(keccak(text="REGISTRAR_ROLE"), owner, sender=owner)
    offering = ("M", "M", [model_owner.address], [AMOUNTS[0]], PERCENT_CLAIMABLE, INTERVAL, LIFETIME)
    created = factory.createToken(5, offering, sender=owner).return_value
    assert resolve_token(project, token=token.address).address == token.address
    assert resolve_token(project, model_id=5, factory=factory.address).address == created
    with pytest.raises(RevenueError, match="no revenue token for model 6"):
        resolve_token(project, model_id=6, factory=factory.address)
    with pytest.raises(RevenueError, match="not both or neither"):
        resolve_token(project)
    with pytest.raises(RevenueError, match="needs the ModelTokenFactory"):
        resolve_token(project, model_id=5)

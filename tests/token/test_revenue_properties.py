"""Property test: random sequences of deposits, transfers, snapshots, claims and burns against a Python model of
the token's accounting. Every payout must equal the model's to the wei, every refused action must revert with the
model's error, and after every step: claimed + redeemed <= revenue received, and the contract's ETH covers the
burn pool plus what live snapshots still owe."""

from dataclasses import dataclass, field

import ape
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from revenue_setup import INTERVAL

BPS = 10_000
# Odd amounts so that shares do not divide evenly and rounding dust appears.
INITIAL = (5 * 10**18 + 1, 3 * 10**18, 2 * 10**18 - 7)


@dataclass
class Snap:
    supply: int
    claimable: int
    balances: dict[int, int]
    claimed: int = 0


@dataclass
class RevenueModel:
    """The token's accounting in plain integers: the specification the contract is checked against."""

    percent: int
    lifetime: int
    balances: dict[int, int]
    eth: int = 0
    pool: int = 0
    outstanding: int = 0
    received: int = 0
    total_claimed: int = 0
    total_redeemed: int = 0
    snaps: list[Snap] = field(default_factory=list)
    claimed: set[tuple[int, int]] = field(default_factory=set)

    @property
    def current(self) -> int:
        return len(self.snaps)

    def deposit(self, amount: int) -> None:
        self.eth += amount
        self.received += amount

    def snapshot(self) -> None:
        snapshot_id = self.current + 1
        rolled = 0
        if snapshot_id > self.lifetime:
            expiring = self.snaps[snapshot_id - self.lifetime - 1]
            rolled = expiring.claimable - expiring.claimed
            self.outstanding -= rolled
        new_revenue = self.eth - self.pool - self.outstanding - rolled
        supply = sum(self.balances.values())
        claimable = 0
        if supply:
            to_holders = new_revenue * self.percent // BPS
            self.pool += new_revenue - to_holders
            claimable = to_holders + rolled
        self.outstanding += claimable
        self.snaps.append(Snap(supply, claimable, dict(self.balances)))

    def expired(self, snapshot_id: int) -> bool:
        return snapshot_id <= self.current - self.lifetime

    def claim_outcome(self, holder: int, snapshot_id: int) -> tuple[str, int]:
        """("ok", wei) or (error name, 0) for `holder` claiming `snapshot_id`."""
        if not 1 <= snapshot_id <= self.current:
            return "UnknownSnapshot", 0
        if self.expired(snapshot_id):
            return "SnapshotExpired", 0
        if (holder, snapshot_id) in self.claimed:
            return "AlreadyClaimed", 0
        snap = self.snaps[snapshot_id - 1]
        balance = snap.balances.get(holder, 0)
        amount = snap.claimable * balance // snap.supply if balance else 0
        return ("ok", amount) if amount else ("NothingToClaim", 0)

    def claim(self, holder: int, snapshot_id: int, amount: int) -> None:
        self.claimed.add((holder, snapshot_id))
        self.snaps[snapshot_id - 1].claimed += amount
        self.outstanding -= amount
        self.total_claimed += amount
        self.eth -= amount

    def burn(self, holder: int, amount: int) -> int:
        redeemed = self.pool * amount // sum(self.balances.values())
        self.pool -= redeemed
        self.balances[holder] -= amount
        self.total_redeemed += redeemed
        self.eth -= redeemed
        return redeemed


holder_index = st.integers(0, 3)  # three initial holders and one account that starts empty
fraction = st.integers(0, 4)  # quarters of a balance
# 0..2: that many snapshots back from the latest (wrapping); 3: the snapshot not taken yet.
claim = st.tuples(st.just("claim"), holder_index, st.integers(0, 3))
operations = st.lists(
    st.one_of(
        st.tuples(st.just("deposit"), st.integers(1, 10**18)),
        st.tuples(st.just("transfer"), holder_index, holder_index, fraction),
        st.tuples(st.just("snapshot")),
        claim,
        claim,  # twice: claims are the payouts most worth checking
        st.tuples(st.just("burn"), holder_index, fraction),
    ),
    min_size=3,
    max_size=12,
)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=operations, percent=st.sampled_from([6000, 3333, 10_000, 0]), lifetime=st.integers(1, 3))
def test_payouts_match_the_model_and_never_exceed_revenue(
    chain, deploy_token, owner, model_owner, user, stranger, challenger, ops, percent, lifetime
):
    accounts = [model_owner, user, stranger, challenger]
    token = deploy_token(accounts[:3], amounts=INITIAL, percent=percent, lifetime=lifetime)
    model = RevenueModel(percent, lifetime, {0: INITIAL[0], 1: INITIAL[1], 2: INITIAL[2], 3: 0})

    # Every run starts with revenue in a snapshot, so that claims and burns have something to pay.
    for op in [("deposit", 10**18 + 3), ("snapshot",), *ops]:
        kind = op[0]
        if kind == "deposit":
            token.depositRevenue(value=op[1], sender=owner)
            model.deposit(op[1])
        elif kind == "transfer":
            _, src, dst, quarters = op
            amount = model.balances[src] * quarters // 4
            token.transfer(accounts[dst], amount, sender=accounts[src])
            model.balances[src] -= amount
            model.balances[dst] += amount
        elif kind == "snapshot":
            chain.pending_timestamp += INTERVAL
            token.snapshot(sender=owner)
            model.snapshot()
        elif kind == "claim":
            _, holder, back = op
            snapshot_id = model.current + 1 if back == 3 else model.current - back % model.current
            outcome, amount = model.claim_outcome(holder, snapshot_id)
            event(f"claim: {outcome}")
            if outcome == "ok":
                receipt = token.claim(snapshot_id, sender=accounts[holder])
                assert token.RevenueClaimed.from_receipt(receipt)[0].amount == amount
                model.claim(holder, snapshot_id, amount)
            else:
                with ape.reverts(getattr(token, outcome)):
                    token.claim(snapshot_id, sender=accounts[holder])
        else:
            _, holder, quarters = op
            amount = model.balances[holder] * quarters // 4
            if amount == 0:
                with ape.reverts(token.ZeroAmount):
                    token.burn(0, sender=accounts[holder])
            else:
                receipt = token.burn(amount, sender=accounts[holder])
                assert token.Redeemed.from_receipt(receipt)[0].redeemed == model.burn(holder, amount)

        # Exact state after every step: the ETH held and its split into pool and live claims.
        assert (token.balance, token.redemptionPool(), token.outstandingClaims()) == (
            model.eth, model.pool, model.outstanding
        ), op
        assert model.eth >= model.pool + model.outstanding
        assert model.total_claimed + model.total_redeemed <= model.received
    claimed, redeemed, received = token.totalClaimed(), token.totalRedeemed(), token.totalRevenueReceived()
    assert (claimed, redeemed, received) == (model.total_claimed, model.total_redeemed, model.received)
    assert claimed + redeemed <= received
    for snapshot_id, snap in enumerate(model.snaps, start=1):
        assert snap.claimed <= snap.claimable, f"snapshot {snapshot_id} over-paid"

"""A holder's revenue from a model's ERC-7641 token (ModelRevenueToken): what it can claim per snapshot, and
claiming it.

`ape run claim` is a thin CLI over these functions; the demo calls them directly. Every amount is in wei and
every token amount in the token's smallest unit (18 decimals). Functions take ape contract instances and
accounts, so they work on any network ape is connected to.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from rich.table import Table

ZERO_ADDRESS = "0x" + "00" * 20


class RevenueError(Exception):
    """A revenue token could not be found, or a snapshot or claim cannot be made."""


@dataclass(frozen=True)
class SnapshotShare:
    """One live snapshot as seen by one holder."""

    snapshot_id: int
    timestamp: int  # seconds, when the snapshot was taken
    balance: int  # holder's tokens at the snapshot
    total_supply: int  # all tokens at the snapshot
    allocated: int  # wei the snapshot gives all its holders (share of new revenue + rolled-forward)
    claimable: int  # wei this holder can claim now: 0 once claimed or when its share rounds to 0
    claimed: bool  # whether this holder has claimed it


@dataclass(frozen=True)
class HolderReport:
    """A holder's position in a revenue token, read in one go."""

    token: str
    name: str
    symbol: str
    holder: str
    balance: int  # holder's tokens now
    total_supply: int  # all tokens now
    current_snapshot: int  # latest snapshot id, 0 before the first
    next_snapshot_at: int  # seconds: earliest timestamp of the next snapshot
    pending_revenue: int  # wei received since the last snapshot, not allocated yet
    redemption_pool: int  # wei in the burn-redemption pool
    redeemable_on_burn: int  # wei that burning the holder's whole balance would redeem now
    shares: tuple[SnapshotShare, ...]  # live snapshots, oldest first

    @property
    def total_claimable(self) -> int:
        """Wei the holder can claim now over all live snapshots."""
        return sum(share.claimable for share in self.shares)

    @property
    def claimable_ids(self) -> list[int]:
        """Ids of the live snapshots with something to claim."""
        return [share.snapshot_id for share in self.shares if share.claimable > 0]


@dataclass(frozen=True)
class ClaimResult:
    """What one claim transaction paid."""

    paid: dict[int, int]  # snapshot id -> wei
    txn_hash: str

    @property
    def total(self) -> int:
        return sum(self.paid.values())


def resolve_token(project: Any, token: str | None = None, model_id: int | None = None, factory: str | None = None):
    """The ModelRevenueToken at `token`, or the one `factory` created for `model_id` (exactly one way).

    Raises RevenueError when both or neither are given, or when the factory has no token for the model.
    """
    if (token is None) == (model_id is None):
        raise RevenueError("give either a token address or a model id (with its factory), not both or neither")
    if token is not None:
        return project.ModelRevenueToken.at(token)
    if factory is None:
        raise RevenueError(f"model id {model_id} needs the ModelTokenFactory address to look its token up")
    address = project.ModelTokenFactory.at(factory).tokenOf(model_id)
    if address == ZERO_ADDRESS:
        raise RevenueError(f"factory {factory} has no revenue token for model {model_id}")
    return project.ModelRevenueToken.at(address)


def live_snapshot_ids(token: Any) -> range:
    """Ids of the snapshots that can still be claimed, oldest first (empty before the first snapshot)."""
    current = token.currentSnapshotId()
    lifetime = token.snapshotLifetime()
    return range(max(1, current - lifetime + 1), current + 1)


def holder_report(token: Any, holder: Any) -> HolderReport:
    """Reads `holder`'s balance and per-snapshot claimable revenue from `token` (views only, no transaction)."""
    address = getattr(holder, "address", holder)
    shares = []
    for snapshot_id in live_snapshot_ids(token):
        info = token.snapshotInfo(snapshot_id)
        shares.append(
            SnapshotShare(
                snapshot_id=snapshot_id,
                timestamp=info.timestamp,
                balance=token.balanceOfAt(address, snapshot_id),
                total_supply=info.totalSupply,
                allocated=info.claimable,
                claimable=token.claimableRevenue(address, snapshot_id),
                claimed=token.hasClaimed(address, snapshot_id),
            )
        )
    balance = token.balanceOf(address)
    return HolderReport(
        token=token.address,
        name=token.name(),
        symbol=token.symbol(),
        holder=address,
        balance=balance,
        total_supply=token.totalSupply(),
        current_snapshot=token.currentSnapshotId(),
        next_snapshot_at=token.nextSnapshotAt(),
        pending_revenue=token.pendingRevenue(),
        redemption_pool=token.redemptionPool(),
        redeemable_on_burn=token.redeemableOnBurn(balance),
        shares=tuple(shares),
    )


def snapshot_if_due(token: Any, sender: Any, now: int) -> int | None:
    """Takes a snapshot when the interval has passed at `now` (seconds). Anyone may snapshot.

    Pass the latest block's timestamp: nodes (anvil included) estimate gas against the latest block, so a
    snapshot that is due only by the wall clock would fail estimation until a new block is mined.
    Returns the new snapshot id, or None when it is too early.
    """
    if now < token.nextSnapshotAt():
        return None
    receipt = token.snapshot(sender=sender)
    return token.SnapshotTaken.from_receipt(receipt)[0].snapshotId


def claim(token: Any, sender: Any, snapshot_ids: Sequence[int]) -> ClaimResult:
    """Claims `snapshot_ids` for `sender` in one `claimBatch` transaction.

    Raises RevenueError for an empty list; the contract reverts with its named error if any single claim is
    invalid (unknown, expired, already claimed or nothing to claim), and nothing is paid then.
    """
    if not snapshot_ids:
        raise RevenueError("no snapshot to claim")
    receipt = token.claimBatch(list(snapshot_ids), sender=sender)
    paid = {event.snapshotId: event.amount for event in token.RevenueClaimed.from_receipt(receipt)}
    return ClaimResult(paid=paid, txn_hash=receipt.txn_hash)


def claim_all(token: Any, sender: Any) -> ClaimResult | None:
    """Claims every live snapshot with something for `sender`; None when there is nothing to claim."""
    ids = holder_report(token, sender).claimable_ids
    return claim(token, sender, ids) if ids else None


def ether(wei: int) -> str:
    """`wei` as an exact decimal amount of ETH."""
    return f"{Decimal(wei) / Decimal(10**18):f} ETH"


def report_table(report: HolderReport) -> Table:
    """A rich table of the holder's live snapshots (for the CLI and the demo)."""
    table = Table(title=f"{report.name} ({report.symbol}) at {report.token}: holder {report.holder}")
    for column in ("snapshot", "balance then", "share", "allocated", "claimable", "claimed"):
        table.add_column(column, justify="right")
    for share in report.shares:
        fraction = Decimal(share.balance) / Decimal(share.total_supply) if share.total_supply else Decimal(0)
        table.add_row(
            str(share.snapshot_id),
            str(Decimal(share.balance) / Decimal(10**18)),
            f"{fraction * 100:.4f} %",
            ether(share.allocated),
            ether(share.claimable),
            "yes" if share.claimed else "no",
        )
    table.caption = (
        f"balance {Decimal(report.balance) / Decimal(10**18)} of {Decimal(report.total_supply) / Decimal(10**18)}"
        f" {report.symbol}; claimable now {ether(report.total_claimable)}; burn all redeems"
        f" {ether(report.redeemable_on_burn)}; pending (next snapshot) {ether(report.pending_revenue)}"
    )
    return table

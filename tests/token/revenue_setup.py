"""Constants and helpers shared by the revenue tests (imported by basename: tests/token is not a package,
because a package named `token` would shadow Python's standard `token` module)."""

INTERVAL = 3600  # seconds between snapshots
LIFETIME = 2  # a snapshot expires when the second later snapshot is taken
PERCENT_CLAIMABLE = 6000  # basis points of new revenue claimable; the other 40 % funds the burn pool
# 10 tokens in all, split 5 / 3 / 2 (18 decimals).
AMOUNTS = (5 * 10**18, 3 * 10**18, 2 * 10**18)


def take_snapshot(chain, token, sender, wait=INTERVAL):
    """Moves time past the interval and snapshots; returns the new id."""
    chain.pending_timestamp += wait
    return token.snapshot(sender=sender).return_value


def paid_to(account, receipt, before):
    """Wei that `receipt` paid `account`, net of the gas it paid for the transaction."""
    return account.balance - before + receipt.total_fees_paid

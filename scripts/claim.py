"""`ape run claim --network ... --account ...`: show a holder's revenue from a model's ERC-7641 token, and claim it.

    ape run claim --account ALIAS --token 0x...                       # show only
    ape run claim --account ALIAS --model-id 1 --factory 0x... --all  # claim every claimable snapshot
    ape run claim --account ALIAS --token 0x... --snapshot --all      # snapshot first if the interval has passed
    ape run claim --account ALIAS --token 0x... --id 3 --id 4         # claim chosen snapshots

Without --factory, --model-id looks the ModelTokenFactory up in deployments/<chain-id>.json.
"""

import click
from ape import chain, project
from ape.cli import ConnectedProviderCommand, account_option
from rich.console import Console

from offchain.chain.deployments import load_record
from offchain.chain.revenue import (
    RevenueError,
    claim,
    ether,
    holder_report,
    report_table,
    resolve_token,
    snapshot_if_due,
)


@click.command(cls=ConnectedProviderCommand)
@account_option()
@click.option("--token", "token_address", help="Address of the ModelRevenueToken.")
@click.option("--model-id", type=click.IntRange(min=1), help="Model id whose token the factory created.")
@click.option("--factory", help="ModelTokenFactory address (default: the one recorded for this chain).")
@click.option("--snapshot", "take_snapshot", is_flag=True, help="Take a snapshot first if the interval has passed.")
@click.option("--all", "claim_every", is_flag=True, help="Claim every live snapshot with something to claim.")
@click.option("--id", "snapshot_ids", type=int, multiple=True, help="Claim this snapshot (repeatable).")
def cli(provider, account, token_address, model_id, factory, take_snapshot, claim_every, snapshot_ids):
    # Wide enough for 18-decimal ETH amounts when stdout is not a terminal (rich falls back to 80 columns).
    console = Console(width=max(Console().width, 140))
    if claim_every and snapshot_ids:
        raise click.UsageError("--all and --id exclude each other")
    if model_id is not None and factory is None:
        recorded = load_record(provider.chain_id)["contracts"].get("ModelTokenFactory")
        if recorded is None:
            raise click.UsageError(f"no ModelTokenFactory recorded for chain {provider.chain_id}: pass --factory")
        factory = recorded["address"]
    try:
        token = resolve_token(project, token=token_address, model_id=model_id, factory=factory)
    except RevenueError as exc:
        raise click.UsageError(str(exc)) from exc

    if take_snapshot:
        snapshot_id = snapshot_if_due(token, account, chain.blocks.head.timestamp)
        if snapshot_id is None:
            console.print(f"too early for a snapshot: the next one is allowed at t={token.nextSnapshotAt()}")
        else:
            console.print(f"took snapshot {snapshot_id}")

    report = holder_report(token, account)
    console.print(report_table(report))
    ids = report.claimable_ids if claim_every else list(snapshot_ids)
    if not ids:
        if claim_every:
            console.print("nothing to claim")
        return
    result = claim(token, account, ids)
    for snapshot_id, amount in sorted(result.paid.items()):
        console.print(f"claimed snapshot {snapshot_id}: {ether(amount)}")
    console.print(f"[bold]paid {ether(result.total)}[/bold] in {result.txn_hash}")

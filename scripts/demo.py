"""`make demo` / `ape run demo`: the whole story on a local anvil chain that ape-foundry starts and stops.

Each act prints what happened; the run ends with a summary table.
"""

import click
from ape import accounts, chain, project
from ape.cli import ConnectedProviderCommand
from rich.console import Console
from rich.table import Table

from offchain.chain.deployments import deploy_protocol

console = Console()


def act(title: str) -> None:
    console.rule(f"[bold cyan]{title}")


@click.command(cls=ConnectedProviderCommand)
def cli(provider):
    deployer = accounts.test_accounts[0]
    act("1. Deploy the protocol")
    console.print(f"chain at {provider.uri}, chain id {provider.chain_id}, block {chain.blocks.head.number}")
    addresses = deploy_protocol(project, provider, deployer, log=console.print)

    table = Table(title="Deployed contracts")
    table.add_column("contract")
    table.add_column("address")
    table.add_column("code bytes", justify="right")
    for name, address in addresses.items():
        table.add_row(name, address, str(len(provider.get_code(address))))
    console.print(table)

"""`ape run deploy --network ... --account ...`: deploy (or reuse) the protocol and record it.

Writes deployments/<chain-id>.json; running it again against the same chain reuses what is there.
"""

import click
from ape import project
from ape.cli import ConnectedProviderCommand, account_option

from offchain.chain.deployments import deploy_protocol, record_path


@click.command(cls=ConnectedProviderCommand)
@account_option()
def cli(provider, account):
    addresses = deploy_protocol(project, provider, account, log=click.echo)
    click.echo(f"chain {provider.chain_id}: {len(addresses)} contracts recorded in {record_path(provider.chain_id)}")

"""`ape run challenger --network ... --account ... --model FILE`: dispute every wrong result of the served models.

Recomputes each posted result; if its output or trace root differs, challenges it, plays the game to the
one-step proof, and (unless --no-correct) posts the correct result itself and finalizes it.
"""

import click
from ape.cli import ConnectedProviderCommand, account_option

from offchain.nodes.node import Roles
from scripts._node import node_options, run_node


@click.command(cls=ConnectedProviderCommand)
@account_option()
@node_options
@click.option("--correct/--no-correct", default=True, show_default=True,
              help="After winning a dispute, post the correct result.")
def cli(provider, account, models, state, interval, from_block, deployments, correct):
    run_node("challenger", provider, account, models, state, interval, from_block, deployments,
             Roles(challenge=True, correct=correct))

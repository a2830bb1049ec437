"""`ape run submitter --network ... --account ... --model FILE`: answer every request of the served models.

Posts each result with the game's bond, plays the games against it, and finalizes it after the window.
`--fault NODE:ELEMENT[:DELTA]` corrupts one element of one node's output (to demonstrate disputes).
`--keys DIR` proves private models with the keys in DIR (a ceremony's, registered with `ape run register --keys
DIR`) instead of dev keys.
"""

import click
from ape.cli import ConnectedProviderCommand, account_option

from offchain.nodes.node import Fault, Roles
from scripts._node import node_options, run_node


@click.command(cls=ConnectedProviderCommand)
@account_option()
@node_options
@click.option("--fault", default=None, help="Corrupt NODE:ELEMENT[:DELTA] of every result (demos only).")
@click.option("--keys", "keys_dir", default=None, type=click.Path(exists=True, file_okay=False),
              help="Private models' Groth16 keys from a ceremony (DIR/<descriptor hash>/vk.bin, pk.bin) instead of "
                   "dev keys; the ones the model was registered with.")
def cli(provider, account, models, state, interval, from_block, deployments, fault, keys_dir):
    run_node("submitter", provider, account, models, state, interval, from_block, deployments,
             Roles(submit=True), Fault.parse(fault) if fault else None, keys_dir=keys_dir)

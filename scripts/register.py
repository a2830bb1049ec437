"""`ape run register --network ... --account ... --model FILE [--fee WEI] [--token SYMBOL] [--private NODES]
[--consumer]`: register a model file's commitments in the deployed ModelRegistry (idempotent: an already registered
model keeps its id). `--token SYMBOL` launches it through ModelLauncher with an ERC-7641 revenue token (whole supply
to the owner) as its revenue receiver; `--private 30,60` makes those nodes private (opp/ai): their Groth16 dev keys
are set up and registered with the Poseidon commitments of their weights (give challengers the public view from
`python -m offchain public-view`). `--consumer` also deploys a consumer bound to the model (a SentenceSimilarity for
a text model, whose input is UTF-8; a DigitsClassifier otherwise). Prints the model id, its revenue receiver and the
consumer address.
"""

from pathlib import Path

import click
from ape import project
from ape.cli import ConnectedProviderCommand, account_option

from offchain.chain.deployments import load_record
from offchain.chain.registration import Offering, register
from offchain.engine.move_gas import MoveGasError
from offchain.engine.modelfile import load_model
from offchain.zk.private import PrivateNodeError

CONTRACTS = ("ModelRegistry", "ModelLauncher", "Groth16Registry")


@click.command(cls=ConnectedProviderCommand)
@account_option()
@click.option("--model", "model_file", required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--fee", type=int, default=10**15, show_default=True, help="Model fee in wei per request.")
@click.option("--owner", default=None, help="Model owner (and revenue receiver without --token; default: the account).")
@click.option("--token", default=None, metavar="SYMBOL",
              help="Launch with an ERC-7641 revenue token of this symbol (1,000,000 tokens to the owner).")
@click.option("--private", "private_nodes", default="", metavar="NODES",
              help="Comma-separated node indices whose weights stay private (LINEAR or LOREFT nodes).")
@click.option("--consumer/--no-consumer", default=False,
              help="Also deploy a consumer: SentenceSimilarity for a text model, DigitsClassifier otherwise.")
@click.option("--deployments", type=click.Path(file_okay=False), default="deployments", show_default=True)
def cli(provider, account, model_file, fee, owner, token, private_nodes, consumer, deployments):
    record = load_record(provider.chain_id, Path(deployments))
    if "ModelRegistry" not in record["contracts"]:
        raise click.ClickException(f"no ModelRegistry in {deployments}/{provider.chain_id}.json: run `ape run deploy`")
    contracts = {name: getattr(project, name).at(record["contracts"][name]["address"])
                 for name in CONTRACTS if name in record["contracts"]}
    try:
        private = tuple(int(i) for i in private_nodes.split(",") if i.strip())
    except ValueError:
        raise click.BadParameter(f"{private_nodes!r} is not a comma-separated list of node indices",
                                 param_hint="--private") from None
    model = load_model(model_file)
    name = model.meta.get("name", Path(model_file).stem)
    owner = owner or account.address
    offering = Offering(f"{name} revenue share", token, [owner], [1_000_000 * 10**18]) if token else None
    try:
        done = register(contracts, model, fee, owner, account, private=private, offering=offering)
    except PrivateNodeError as exc:   # e.g. a node that is not a LINEAR/LOREFT with weights
        raise click.BadParameter(str(exc), param_hint="--private") from None
    except MoveGasError as exc:       # an honest dispute move at some node would not fit a block
        raise click.ClickException(f"{name}: {exc}") from None
    if done.new:
        click.echo(f"registered {name} as model {done.model_id}; revenue receiver {done.revenue_receiver}"
                   + (f"; private nodes {list(done.private_nodes)}" if done.private_nodes else ""))
    else:
        click.echo(f"model already registered as {done.model_id}")
    if consumer:
        oracle = record["contracts"]["AIOracle"]["address"]
        if model.meta.get("input_encoding") == "utf-8":
            contract = account.deploy(project.SentenceSimilarity, oracle, done.model_id, model.graph.output.size)
            click.echo(f"consumer SentenceSimilarity at {contract.address}")
        else:
            contract = account.deploy(project.DigitsClassifier, oracle, done.model_id)
            click.echo(f"consumer DigitsClassifier at {contract.address}")

"""`ape run register --network ... --account ... --model FILE [--fee WEI] [--consumer]`: register a model file's
commitments in the deployed ModelRegistry (idempotent: an already registered model keeps its id) and optionally
deploy a consumer bound to it (a SentenceSimilarity for a text model, whose input is UTF-8; a DigitsClassifier
otherwise). Prints the model id and the consumer address.
"""

from pathlib import Path

import click
from ape import project
from ape.cli import ConnectedProviderCommand, account_option

from offchain.chain.deployments import load_record
from offchain.chain.registration import model_spec
from offchain.engine.modelfile import load_model
from offchain.engine.roots import graph_root, weights_root


@click.command(cls=ConnectedProviderCommand)
@account_option()
@click.option("--model", "model_file", required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--fee", type=int, default=10**15, show_default=True, help="Model fee in wei per request.")
@click.option("--owner", default=None, help="Model owner and revenue receiver (default: the account).")
@click.option("--consumer/--no-consumer", default=False,
              help="Also deploy a consumer: SentenceSimilarity for a text model, DigitsClassifier otherwise.")
@click.option("--deployments", type=click.Path(file_okay=False), default="deployments", show_default=True)
def cli(provider, account, model_file, fee, owner, consumer, deployments):
    record = load_record(provider.chain_id, Path(deployments))
    if "ModelRegistry" not in record["contracts"]:
        raise click.ClickException(f"no ModelRegistry in {deployments}/{provider.chain_id}.json: run `ape run deploy`")
    registry = project.ModelRegistry.at(record["contracts"]["ModelRegistry"]["address"])
    model = load_model(model_file)
    graph = model.graph
    roots = (graph_root(graph), weights_root(model))
    existing = [i for i in range(1, registry.modelCount() + 1)
                if (bytes(registry.getModel(i).graphRoot), bytes(registry.getModel(i).weightsRoot)) == roots]
    if existing:
        model_id = existing[0]
        click.echo(f"model already registered as {model_id}")
    else:
        model_id = registry.registerModel(model_spec(model, fee, owner or account.address), sender=account).return_value
        click.echo(f"registered {model.meta.get('name', model_file)} as model {model_id}")
    if consumer:
        oracle = record["contracts"]["AIOracle"]["address"]
        if model.meta.get("input_encoding") == "utf-8":
            contract = account.deploy(project.SentenceSimilarity, oracle, model_id, graph.output.size)
            click.echo(f"consumer SentenceSimilarity at {contract.address}")
        else:
            contract = account.deploy(project.DigitsClassifier, oracle, model_id)
            click.echo(f"consumer DigitsClassifier at {contract.address}")

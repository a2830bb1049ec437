"""`ape run register --network ... --account ... --model FILE [--fee WEI] [--token SYMBOL] [--private NODES]
[--consumer]`: register a model file's commitments in the deployed ModelRegistry (idempotent: an already registered
model keeps its id). `--token SYMBOL` launches it through ModelLauncher with an ERC-7641 revenue token (whole supply
to the owner) as its revenue receiver; `--private 30,60` makes those nodes private (opp/ai): their Groth16 keys
are registered with the Poseidon commitments of their weights (give challengers the public view from
`python -m offchain public-view`). The keys come from `--keys DIR` (a ceremony's, DIR/<descriptor hash>/vk.bin and
pk.bin as under build/zk); without it they are dev keys from a seed, set up unasked only on a local dev chain
(chain id 31337 or 1337): on any other chain anyone could forge proofs with them, so the command refuses (exit
code 1) unless `--unsafe-dev-keys` is given. `--consumer` also deploys a consumer bound to the model (an
ImageGeneration for a text-to-image model, meta "image"; a TextGeneration for a text-generating model, meta
"generation"; a SentenceSimilarity for a text model, whose input is UTF-8; a DigitsClassifier otherwise). A model whose meta says output_encoding "utf-8" is registered as a text model: callbacks
get its output without the zero padding. Prints the model id, its revenue receiver and the consumer address.
"""

from pathlib import Path

import click
from ape import project
from ape.cli import ConnectedProviderCommand, account_option

from offchain.chain.deployments import load_record
from offchain.chain.encoding import GENERATION_PARAM_BYTES, text_output
from offchain.chain.registration import DevKeysRefused, Offering, register
from offchain.engine.move_gas import MoveGasError
from offchain.engine.modelfile import load_model
from offchain.zk.private import PrivateNodeError
from offchain.zk.prover import ProofError

CONTRACTS = ("ModelRegistry", "ModelLauncher", "Groth16Registry", "AIOracle")


@click.command(cls=ConnectedProviderCommand)
@account_option()
@click.option("--model", "model_file", required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--fee", type=int, default=10**15, show_default=True, help="Model fee in wei per request.")
@click.option("--owner", default=None, help="Model owner (and revenue receiver without --token; default: the account).")
@click.option("--token", default=None, metavar="SYMBOL",
              help="Launch with an ERC-7641 revenue token of this symbol (1,000,000 tokens to the owner).")
@click.option("--private", "private_nodes", default="", metavar="NODES",
              help="Comma-separated node indices whose weights stay private (LINEAR or LOREFT nodes).")
@click.option("--keys", "keys_dir", default=None, type=click.Path(exists=True, file_okay=False),
              help="With --private: the private nodes' Groth16 keys from a ceremony (DIR/<descriptor hash>/vk.bin, "
                   "pk.bin, the layout of build/zk) instead of dev keys.")
@click.option("--unsafe-dev-keys", is_flag=True, default=False,
              help="With --private on a chain that is not a local dev chain (31337, 1337): register dev keys from "
                   "a seed anyway. Anyone who knows the seed (the default is public) can forge proofs with them.")
@click.option("--consumer/--no-consumer", default=False,
              help="Also deploy a consumer: ImageGeneration for a text-to-image model, TextGeneration for a "
              "text generator, SentenceSimilarity for a text model, DigitsClassifier otherwise.")
@click.option("--batch-of", "batch_of", type=int, default=None, metavar="MODEL_ID",
              help="Register the model (compiled with a leading batch dimension B) as MODEL_ID's batch-B variant, "
                   "with B x MODEL_ID's fee and its owner and revenue receiver; the account must own MODEL_ID.")
@click.option("--deployments", type=click.Path(file_okay=False), default="deployments", show_default=True)
def cli(provider, account, model_file, fee, owner, token, private_nodes, keys_dir, unsafe_dev_keys, consumer,
        deployments, batch_of):
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
    if (keys_dir or unsafe_dev_keys) and not private:
        raise click.UsageError("--keys and --unsafe-dev-keys only apply with --private")
    model = load_model(model_file)
    name = model.meta.get("name", Path(model_file).stem)
    if batch_of is not None:
        if private or token or consumer:
            raise click.UsageError("--batch-of takes the base model's payees: no --private, --token or --consumer")
        from offchain.chain.batch import register_batch_variant
        try:
            size, variant_id = register_batch_variant(contracts["ModelRegistry"], contracts["AIOracle"], batch_of,
                                                      model, account)
        except (ValueError, MoveGasError) as exc:
            raise click.ClickException(f"{name}: {exc}") from None
        click.echo(f"registered {name} as model {variant_id}, the batch-{size} variant of model {batch_of}")
        return
    owner = owner or account.address
    offering = Offering(f"{name} revenue share", token, [owner], [1_000_000 * 10**18]) if token else None
    try:
        done = register(contracts, model, fee, owner, account, private=private, offering=offering,
                        keys_dir=Path(keys_dir) if keys_dir else None, unsafe_dev_keys=unsafe_dev_keys)
    except PrivateNodeError as exc:   # e.g. a node that is not a LINEAR/LOREFT with weights
        raise click.BadParameter(str(exc), param_hint="--private") from None
    except DevKeysRefused as exc:     # a real chain, no --keys, no --unsafe-dev-keys: nothing was sent
        raise click.ClickException(str(exc)) from None
    except ProofError as exc:         # --keys DIR lacks a circuit's keys or holds dev keys; or a dev setup failed
        if keys_dir:
            raise click.BadParameter(str(exc), param_hint="--keys") from None
        raise click.ClickException(str(exc)) from None
    except MoveGasError as exc:       # an honest dispute move at some node would not fit a block
        raise click.ClickException(f"{name}: {exc}") from None
    if done.new:
        click.echo(f"registered {name} as model {done.model_id}; revenue receiver {done.revenue_receiver}"
                   + ("; text output" if text_output(model) else "")
                   + (f"; private nodes {list(done.private_nodes)}" if done.private_nodes else ""))
    else:
        click.echo(f"model already registered as {done.model_id}")
    if consumer:
        oracle = record["contracts"]["AIOracle"]["address"]
        if model.meta.get("image"):
            prompt_bytes = int(model.meta["image"]["prompt_bytes"])
            gas = image_callback_gas(model.graph.output.nbytes)
            contract = account.deploy(project.ImageGeneration, oracle, done.model_id, prompt_bytes, gas)
            click.echo(f"consumer ImageGeneration at {contract.address} (prompts of at most {prompt_bytes} bytes, "
                       f"callback gas {gas})")
        elif model.meta.get("generation"):
            prompt_bytes = model.graph.inputs[0].nbytes - GENERATION_PARAM_BYTES
            gas = answer_callback_gas(prompt_bytes, model.graph.output.nbytes)
            contract = account.deploy(project.TextGeneration, oracle, done.model_id, prompt_bytes, gas)
            click.echo(f"consumer TextGeneration at {contract.address} (prompts of at most {prompt_bytes} bytes, "
                       f"callback gas {gas})")
        elif model.meta.get("input_encoding") == "utf-8":
            contract = account.deploy(project.SentenceSimilarity, oracle, done.model_id, model.graph.output.size)
            click.echo(f"consumer SentenceSimilarity at {contract.address}")
        else:
            contract = account.deploy(project.DigitsClassifier, oracle, done.model_id)
            click.echo(f"consumer DigitsClassifier at {contract.address}")


def answer_callback_gas(prompt_bytes: int, answer_bytes: int) -> int:
    """Callback gas for a TextGeneration consumer whose answers have at most ``answer_bytes`` bytes: a new storage
    slot (22,100 gas) per 32 answer bytes and its length, a cold read (2,100) per 32 bytes of the stored prompt
    and 16 gas per byte of both in the Answered event, with 40,000 for the call (tests/oracle/test_text_generation.py
    runs a full-length answer within it)."""
    words = -(-answer_bytes // 32) + 1
    return 40_000 + 22_100 * words + 2_100 * (-(-prompt_bytes // 32) + 1) + 16 * (answer_bytes + prompt_bytes)


def image_callback_gas(pixel_bytes: int) -> int:
    """Callback gas for an ImageGeneration consumer whose images have ``pixel_bytes`` bytes: a new storage slot
    (22,100 gas) per 32 pixel bytes and the length, 16 gas per byte in the ImageDelivered event, with 40,000 for the
    call and the request's cold reads (tests/oracle/test_image_generation.py delivers a full image within it)."""
    return 40_000 + 22_100 * (-(-pixel_bytes // 32) + 1) + 16 * pixel_bytes

"""`ape run request --network ... --account ... --consumer ADDRESS --image-index N` (or `--input-hex`):
ask a DigitsClassifier consumer for an inference and wait for its callback, with a progress display.

Works against any network the protocol is deployed on; the nodes (submitter, challenger) must be running.
"""

import time

import click
import numpy as np
from ape import project
from ape.cli import ConnectedProviderCommand, account_option
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

STAGES = ["requested", "result submitted", "finalized", "callback delivered"]


@click.command(cls=ConnectedProviderCommand)
@account_option()
@click.option("--consumer", required=True, help="Address of a DigitsClassifier consumer contract.")
@click.option("--image-index", type=int, default=None, help="Use scikit-learn digits test image N as the input.")
@click.option("--input-hex", default=None, help="The input bytes as hex (64 pixel bytes 0..16 for digits).")
@click.option("--timeout", type=float, default=600, show_default=True, help="Seconds to wait for the callback.")
def cli(provider, account, consumer, image_index, input_hex, timeout):
    console = Console()
    if (image_index is None) == (input_hex is None):
        raise click.UsageError("give exactly one of --image-index or --input-hex")
    if image_index is not None:
        from offchain.models.digits import load_split

        data = load_split()
        if not 0 <= image_index < len(data.test_pixels):
            raise click.BadParameter(f"image index must be in [0, {len(data.test_pixels)})", param_hint="--image-index")
        image = data.test_pixels[image_index].astype(np.int8).tobytes()
        console.print(f"image #{image_index}: true digit {data.test_labels[image_index]}")
    else:
        image = bytes.fromhex(input_hex.removeprefix("0x"))
    classifier = project.DigitsClassifier.at(consumer)
    oracle = project.AIOracle.at(classifier.aiOracle())
    fee = classifier.fee()
    receipt = classifier.classify(image, sender=account, value=fee)
    request_id = receipt.decode_logs(oracle.AICallbackRequest)[0].requestId
    console.print(f"request {request_id}: paid {fee} wei, {receipt.gas_used} gas")

    def stage() -> int:
        if classifier.classifications(request_id).done:
            return 4
        r = oracle.getRequest(request_id)
        return {1: 1, 2: 2, 3: 3}.get(r.status, 1)

    start = time.time()
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console) as progress:
        task = progress.add_task(STAGES[0], total=4)
        while (s := stage()) < 4:
            progress.update(task, completed=s, description=STAGES[s - 1])
            if time.time() - start > timeout:
                raise click.ClickException(f"no callback within {timeout} s (last stage: {STAGES[s - 1]})")
            time.sleep(0.5)
        progress.update(task, completed=4, description=STAGES[3])
    console.print(f"[green]label {classifier.classifications(request_id).label}[/] "
                  f"delivered for request {request_id} after {time.time() - start:.1f} s")

"""`ape run request --network ... --account ... --consumer ADDRESS --image-index N` (or `--input-hex`), or
`--text "a sentence"` for a SentenceSimilarity consumer of a text model: ask the consumer for an inference and
wait for its callback, with a progress display.

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
@click.option("--text", default=None, help="A sentence for a SentenceSimilarity consumer (sent as UTF-8).")
@click.option("--timeout", type=float, default=600, show_default=True, help="Seconds to wait for the callback.")
def cli(provider, account, consumer, image_index, input_hex, text, timeout):
    console = Console()
    if sum(x is not None for x in (image_index, input_hex, text)) != 1:
        raise click.UsageError("give exactly one of --image-index, --input-hex or --text")
    if text is not None:
        _embed(console, project.SentenceSimilarity.at(consumer), text, account, timeout)
        return
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

    start = time.time()
    _wait(console, oracle, request_id, lambda: classifier.classifications(request_id).done, timeout)
    console.print(f"[green]label {classifier.classifications(request_id).label}[/] "
                  f"delivered for request {request_id} after {time.time() - start:.1f} s")


def _embed(console, similarity, text, account, timeout):
    oracle = project.AIOracle.at(similarity.aiOracle())
    fee = similarity.fee()
    receipt = similarity.embed(text, sender=account, value=fee)
    request_id = receipt.decode_logs(oracle.AICallbackRequest)[0].requestId
    console.print(f"request {request_id}: {len(text.encode('utf-8'))} UTF-8 bytes, paid {fee} wei, "
                  f"{receipt.gas_used} gas")
    start = time.time()
    _wait(console, oracle, request_id, lambda: similarity.embedding(request_id).done, timeout)
    first = [similarity.valueAt(request_id, i) for i in range(4)]
    console.print(f"[green]embedding stored[/] for request {request_id} after {time.time() - start:.1f} s "
                  f"({similarity.dims()} int16 values, first {first}); compare two with "
                  f"similarity(requestA, requestB)")


def _wait(console, oracle, request_id, delivered, timeout):
    """Progress display until `delivered()`; raises after `timeout` seconds."""

    def stage() -> int:
        if delivered():
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

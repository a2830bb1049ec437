"""`ape run request --network ... --account ... --consumer ADDRESS --image-index N` (or `--input-hex`), or
`--text "a sentence"` for a SentenceSimilarity consumer of a text model, or `--ask "a question" [--max-new N
--temperature T --top-k K --seed S]` for a TextGeneration consumer of a text-generating model, or `--prompt "a
handwritten seven" [--seed S] [--png FILE]` for an ImageGeneration consumer of a text-to-image model: ask the
consumer for an inference and wait for its callback, with a progress display (`--ask` prints the prompt and the
answer; `--prompt` shows the image in the terminal and writes it as a PNG).

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
@click.option("--text", default=None, help="A prompt for a TextGeneration consumer (prints the generated answer, as "
              "--ask) or a sentence for a SentenceSimilarity consumer (sent as UTF-8).")
@click.option("--ask", default=None, help="A prompt for a TextGeneration consumer; prints the generated answer.")
@click.option("--max-new", type=int, default=None, help="With --ask: at most N new tokens (1..255; default: the "
              "model's).")
@click.option("--temperature", type=float, default=None, help="With --ask: sampling temperature, in steps of 0.01 "
              "(0: greedy, the default).")
@click.option("--top-k", type=int, default=None, help="With --ask: sample among the K likeliest tokens (default: "
              "the model's K).")
@click.option("--prompt", default=None, help="A prompt for an ImageGeneration consumer; shows the image and writes a "
              "PNG (--png).")
@click.option("--seed", type=int, default=None, help="With --ask: the sampler's seed (uint32; default 0); with --prompt: "
              "the image's noise seed (uint64; default 0, as ORA's bytes(prompt) request).")
@click.option("--png", "png_path", default=None, help="With --prompt: where to write the PNG (default "
              "art/request-<id>.png).")
@click.option("--timeout", type=float, default=600, show_default=True, help="Seconds to wait for the callback.")
def cli(provider, account, consumer, image_index, input_hex, text, ask, max_new, temperature, top_k, prompt, seed,
        png_path, timeout):
    console = Console()
    if sum(x is not None for x in (image_index, input_hex, text, ask, prompt)) != 1:
        raise click.UsageError("give exactly one of --image-index, --input-hex, --text, --ask or --prompt")
    if prompt is not None:
        if any(p is not None for p in (max_new, temperature, top_k)):
            raise click.UsageError("--max-new, --temperature and --top-k only apply to a TextGeneration consumer")
        _image(console, project.ImageGeneration.at(consumer), prompt, seed, account, timeout, png_path)
        return
    if png_path is not None:
        raise click.UsageError("--png only applies to --prompt")
    params = (max_new, temperature, top_k, seed)
    if text is not None and _is_text_generation(consumer):
        ask, text = text, None
    if ask is None and any(p is not None for p in params):
        raise click.UsageError("--max-new, --temperature, --top-k and --seed only apply to a TextGeneration consumer")
    if ask is not None:
        _ask(console, project.TextGeneration.at(consumer), ask, params, account, timeout)
        return
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


def _is_text_generation(address: str) -> bool:
    """True when ``address`` answers TextGeneration's ``promptBytes()`` (a SentenceSimilarity has no such function)."""
    try:
        return int(project.TextGeneration.at(address).promptBytes()) > 0
    except Exception:  # noqa: BLE001 - any revert / decoding failure means another consumer kind
        return False


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


def _ask(console, generation, prompt, params, account, timeout):
    """Asks a TextGeneration consumer: `ask` (ORA's bytes(prompt), the model's defaults) without parameters,
    `askWith` with them (unset ones 0: the model's default); waits for the answer and prints it."""
    from offchain.chain.encoding import EncodingError, generation_request

    max_new, temperature, top_k, seed = params
    centi = None if temperature is None else round(temperature * 100)
    fields = tuple(0 if v is None else v for v in (max_new, centi, top_k, seed))
    try:   # the consumer's own checks, before paying for a transaction that would revert
        generation_request(prompt, generation.promptBytes(), *fields)
    except EncodingError as exc:
        raise click.BadParameter(str(exc), param_hint="--ask / --max-new / --temperature / --top-k / --seed") from None
    oracle = project.AIOracle.at(generation.aiOracle())
    fee = generation.fee()
    if any(p is not None for p in params):
        receipt = generation.askWith(prompt, *fields, sender=account, value=fee)
    else:
        receipt = generation.ask(prompt, sender=account, value=fee)
    request_id = receipt.decode_logs(oracle.AICallbackRequest)[0].requestId
    console.print(f"request {request_id}: paid {fee} wei, {receipt.gas_used} gas")
    start = time.time()
    _wait(console, oracle, request_id, lambda: generation.answer(request_id).delivered, timeout)
    for label, value in (("prompt", prompt), ("answer", generation.answers(request_id))):
        console.print(f"[bold]{label}:[/]", end=" ")
        console.print(value, markup=False, highlight=False)   # user text: brackets are not markup
    console.print(f"[green]delivered[/] for request {request_id} after {time.time() - start:.1f} s")


def _image(console, generator, prompt, seed, account, timeout, png_path=None):
    """Asks an ImageGeneration consumer for an image of ``prompt`` (`generate(prompt)`, ORA's bytes(prompt), without
    a seed; `generate(prompt, seed)` with one), waits for it, shows it in the terminal and writes it as a PNG."""
    from pathlib import Path

    from offchain.chain.encoding import EncodingError, image_request
    from offchain.image import terminal_image, write_png

    prompt_bytes = int(generator.promptBytes())
    try:   # the consumer's own checks, before paying for a transaction that would revert
        image_request(prompt, prompt_bytes, 0 if seed is None else seed)
    except EncodingError as exc:
        raise click.BadParameter(str(exc), param_hint="--prompt / --seed") from None
    oracle = project.AIOracle.at(generator.aiOracle())
    fee = generator.fee()
    if seed is None:
        receipt = generator.generate(prompt, sender=account, value=fee)
    else:
        receipt = generator.generate(prompt, seed, sender=account, value=fee)
    request_id = receipt.decode_logs(oracle.AICallbackRequest)[0].requestId
    console.print(f"request {request_id}: paid {fee} wei, {receipt.gas_used} gas")
    start = time.time()
    _wait(console, oracle, request_id, lambda: generator.request(request_id).delivered, timeout)
    pixels = bytes(generator.images(request_id))
    side = int(round(len(pixels) ** 0.5))
    width, height = (side, side) if side * side == len(pixels) else (len(pixels), 1)
    console.print("[bold]prompt:[/]", end=" ")
    console.print(prompt, markup=False, highlight=False)   # user text: brackets are not markup
    console.print(f"[bold]seed:[/] {0 if seed is None else seed}")
    console.print(terminal_image(pixels, width, height))
    path = write_png(Path(png_path) if png_path else Path("art") / f"request-{request_id}.png", pixels, width, height,
                     scale=32)
    console.print(f"[green]delivered[/] {width}x{height} image for request {request_id} after "
                  f"{time.time() - start:.1f} s; PNG written to {path}")
    return request_id, pixels


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

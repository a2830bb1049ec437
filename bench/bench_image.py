"""Text-to-image (issue 16): the digits-diffusion integer graph beside its float model.

Run: ``python -m bench.bench_image`` (or ``make bench-image``); writes bench/results/image.json.

Case ``digits-diffusion`` (offchain/models/diffusion.py, the committed weights, int16 weights in the graph):

* ``prompt_accuracy``: per digit d, ``PER_DIGIT`` seeded images (seeds 0..99), the prompt cycling over four
  phrasings ("7", "seven", "the digit seven", "a handwritten 7"), each made by running the WHOLE graph (request
  bytes in, pixel bytes out); the share the project's digits-cnn (the integer model, input = the pixel byte scaled
  back to 0..16 and rounded) reads as d. Beside it (``baseline``) the float model on the same prompts and seeds
  with the same initial noise (float MiniLM, float conditioning, float64 DDIM); target >= 0.9.
* ``prompt_accuracy_float``, ``prompt_accuracy_worst_digit`` (integer), ``digit_agreement_int_vs_float`` (the
  share of images whose integer and float versions digits-cnn reads as the same digit);
* ``pixel_mae_int_vs_float``: mean |integer pixel byte - float pixel byte| (0..255; the float image rounded by
  PIXELS' rule), and ``pixel_max_int_vs_float``;
* ``graph_nodes``, ``weight_mb``, ``image_wall_s`` (one whole-graph run, median over the 1,000 runs),
  ``build_s`` (compiling the text front, the conditioning head and the denoiser and assembling; one cold build,
  the cache off) and ``build_cached_s`` (the same from the on-disk cache).

With the anvil parts (``--skip-oracle`` leaves them out): ``request_to_submission_s`` / ``request_to_delivery_s``
through a real submitter node, ``generate_gas`` / ``mint_gas`` / ``token_uri_gas``, and a full game over a fault in
the middle DDIM step (``moves_per_side``, ``max_tx_gas``, ``dispute_wall_s``): bench/_image_oracle.py.

Case ``sd-unet-block`` (``--skip-sd`` leaves it out): bench/_sd_unet_block.py in a child process.

``--int8`` adds the same accuracy figures for the graph compiled with per-tensor int8 weights (the compiler has
no per-channel int8 weights), the measurement behind the int16 choice.
Threads: the engine's own; torch one thread. One process, one run of each image.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
from rich.console import Console

from bench._results import Result, write_results
from offchain.engine.executor import run
from offchain.models import diffusion as D

PER_DIGIT = 100
TARGET = 0.9
CASE = "digits-diffusion"


def phrasings(d: int) -> list[str]:
    return [str(d), D.DIGIT_WORDS[d], f"the digit {D.DIGIT_WORDS[d]}", f"a handwritten {d}"]


def digits_cnn():
    from offchain.models import digits

    data = digits.load_split()
    return digits.compile_digits(digits.train("digits-cnn", data), data, "digits-cnn")


def read_digit(cnn, pixel_bytes: np.ndarray) -> int:
    """digits-cnn's digit for an 8x8 image of pixel bytes 0..255 (scaled back to the digits' 0..16)."""
    p16 = np.floor(np.asarray(pixel_bytes, dtype=np.float64).reshape(1, 64) * 16 / 255 + 0.5).astype(np.int8)
    return int(run(cnn, [p16]).output.argmax())


def measure(im: D.ImageModel, cnn, console: Console, with_float: bool = True) -> dict:
    ints, floats, walls, maes, maxes, agree = {}, {}, [], [], [], 0
    for d in range(10):
        ok_i = ok_f = 0
        for seed in range(PER_DIGIT):
            prompt = phrasings(d)[seed % 4]
            start = time.perf_counter()
            out = run(im.model, [D.request_tensor(D.image_request(prompt, seed))]).output
            walls.append(time.perf_counter() - start)
            img = D.image_pixels(out).astype(np.float64)
            di = read_digit(cnn, img)
            ok_i += di == d
            if with_float:
                fimg = D.float_pixels(D.float_sample(prompt, seed))
                df = read_digit(cnn, fimg)
                ok_f += df == d
                agree += di == df
                maes.append(float(np.abs(img - fimg).mean()))
                maxes.append(float(np.abs(img - fimg).max()))
        ints[d] = ok_i / PER_DIGIT
        floats[d] = ok_f / PER_DIGIT
        console.print(f"digit {d}: integer {ints[d]:.2f}" + (f"  float {floats[d]:.2f}" if with_float else ""))
    n = 10 * PER_DIGIT
    return {"int": float(np.mean(list(ints.values()))), "float": float(np.mean(list(floats.values()))),
            "worst": min(ints.values()), "agree": agree / n, "mae": float(np.mean(maes)) if maes else None,
            "max": max(maxes) if maxes else None, "wall": statistics.median(walls)}


def diffusion_model(console: Console, int8: bool = False) -> list[Result]:
    torch.set_num_threads(1)
    start = time.perf_counter()
    D.build_image_model(cache=False)
    build_s = time.perf_counter() - start
    D.build_image_model()  # fills the cache when it is missing
    start = time.perf_counter()
    im = D.build_image_model()
    cached_s = time.perf_counter() - start
    cnn = digits_cnn()
    m = measure(im, cnn, console)
    float_note = "float model, same prompts / seeds / initial noise (float MiniLM, float64 DDIM)"
    results = [
        Result(CASE, "prompt_accuracy", m["int"], "share", float_note, m["float"],
               note=f"{PER_DIGIT} images per digit, judge digits-cnn (integer); target >= {TARGET}"),
        Result(CASE, "prompt_accuracy_float", m["float"], "share"),
        Result(CASE, "prompt_accuracy_worst_digit", m["worst"], "share"),
        Result(CASE, "digit_agreement_int_vs_float", m["agree"], "share"),
        Result(CASE, "pixel_mae_int_vs_float", m["mae"], "pixel levels (0..255)"),
        Result(CASE, "pixel_max_int_vs_float", m["max"], "pixel levels (0..255)"),
        Result(CASE, "graph_nodes", len(im.model.graph.nodes), "nodes"),
        Result(CASE, "weight_mb", sum(w.nbytes for w in im.model.weights) / 2**20, "MiB",
               note="mostly MiniLM's word embeddings"),
        Result(CASE, "image_wall_s", m["wall"], "s", note=f"median of {10 * PER_DIGIT} whole-graph runs"),
        Result(CASE, "build_s", build_s, "s", note="cold: compile text front, conditioning, denoiser; assemble"),
        Result(CASE, "build_cached_s", cached_s, "s"),
    ]
    if int8:
        im8 = D.build_image_model(weight_dtype="int8")
        m8 = measure(im8, cnn, console, with_float=False)
        results.append(Result(CASE, "prompt_accuracy_int8_weights", m8["int"], "share",
                              "int16 weights (the graph's)", m["int"], note="per-tensor int8"))
    return results


def sd_unet_block(console: Console) -> list[Result]:
    """bench/_sd_unet_block.py's figures (SD 1.5's ResBlock + SpatialTransformer at 320 channels, 64x64), run in
    a child process so its ~7 GB of trace leave with it."""
    import json
    import subprocess
    import sys

    console.print("sd-unet-block: compile, run, commit and dispute (minutes; ~7 GB peak)")
    done = subprocess.run([sys.executable, "-m", "bench._sd_unet_block"], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"bench._sd_unet_block failed:\n{done.stderr[-3000:]}")
    f, _ = json.JSONDecoder().raw_decode(done.stdout[done.stdout.index("{"):])   # ape's log lines may follow
    case = "sd-unet-block"
    opml = f["opml_stable_diffusion"]
    return [
        Result(case, "moves_per_side", f["moves_per_side"], "moves", "opML (ORA)", None,
               note=f"fault: {f['fault']}; opML: {opml}"),
        Result(case, "max_tx_gas", f["max_tx_gas"], "gas", "target (issue 16)", 2_000_000,
               note="the game's costliest transaction"),
        Result(case, "max_step_gas_estimate", f["max_step_gas_estimate"], "gas", "target (issue 16)", 2_000_000,
               note=f"the costliest one-step proof of ANY node (move_gas estimate): {f['max_step_gas_estimate_node']}"),
        Result(case, "nodes", f["nodes"], "nodes"),
        Result(case, "trace_bytes", f["trace_bytes"], "B"),
        Result(case, "run_s", f["run_s"], "s"),
        Result(case, "dispute_wall_s", f["dispute_wall_s"], "s"),
        Result(case, "peak_rss_gb", f["peak_rss_gb"], "GB"),
        Result(case, "rel_rms_error_vs_float", f["rel_rms_error_vs_float"], "share", note="random weights, torch float"),
    ]


def grid_png(path: str, seeds: tuple[int, ...] = (0, 1, 2)) -> None:
    """A PNG of the whole graph's images for the prompts "the digit zero" .. "the digit nine" (columns) and
    ``seeds`` (rows), 8x8 each with a 1-pixel gap, 16 px per pixel: the picture in the README."""
    from offchain.image import write_png

    im = D.build_image_model()
    cols, rows, gap = 10, len(seeds), 1
    width, height = cols * (8 + gap) - gap, rows * (8 + gap) - gap
    canvas = np.full((height, width), 40, dtype=np.uint8)
    for r, seed in enumerate(seeds):
        for d in range(cols):
            img = D.generate(im, f"the digit {D.DIGIT_WORDS[d]}", seed)
            canvas[r * 9:r * 9 + 8, d * 9:d * 9 + 8] = img
    write_png(path, canvas.tobytes(), width, height, scale=16)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--int8", action="store_true", help="also measure the per-tensor int8-weight graph")
    ap.add_argument("--grid", metavar="PNG", help="only write the README's picture (ten digit prompts x 3 seeds)")
    ap.add_argument("--skip-oracle", action="store_true", help="skip the anvil request/mint and dispute figures")
    ap.add_argument("--skip-sd", action="store_true", help="skip the sd-unet-block game (minutes, GBs of memory)")
    args = ap.parse_args(argv)
    console = Console()
    if args.grid:
        grid_png(args.grid)
        console.print(f"wrote {args.grid}")
        return
    results = diffusion_model(console, args.int8)
    if not args.skip_oracle:
        from bench._image_oracle import dispute_figures, oracle_figures

        im = D.build_image_model()
        console.rule("digits-diffusion: request -> delivery -> ERC-7007 mint on anvil")
        results += oracle_figures(console, im)
        console.rule("digits-diffusion: a fault in the middle DDIM step, disputed")
        results += dispute_figures(console, im)
    if not args.skip_sd:
        console.rule("sd-unet-block: one Stable Diffusion 1.5 UNet block (320 channels, 64x64 latent)")
        results += sd_unet_block(console)
    write_results("image", results, console)


if __name__ == "__main__":
    main()

"""Commitment speed: Merkle commitment throughput against raw keccak, per chunk size, and Llama-2-7B weights.

Run: ``python -m bench.bench_commit`` (writes ``bench/results/commit.json``).
``--quick`` shrinks every case (a smoke run, minutes -> seconds; its 7B
figure is then a fraction of the model and marked so).

What is compared, side by side in one run on the same bytes:
* ``raw keccak``: one keccak256 call over the whole buffer (or tensor), one
  thread: the backend's speed with no per-call overhead and no tree.
* ``commit``: :func:`offchain.commit.tensor_root` on the same bytes (chunk
  leaves on as many threads as ``leaf_hashes`` picks + the inner tree).
The ratio ``raw_s / commit_s`` is the figure the design targets (>= 0.5).

Llama-2-7B-shaped weights are int8, generated per tensor with numpy PCG64
(seed ``(SEED, tensor index)``) so memory stays at one tensor (largest 125 MiB).
"""

from __future__ import annotations

import os
import resource
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import click
import numpy as np
from rich.console import Console

from bench._results import RESULTS_DIR, Result, write_results
from offchain.commit import (
    ACTIVATION_CHUNK_BYTES,
    WEIGHT_CHUNK_BYTES,
    element_chunk_span,
    keccak256,
    leaf_hashes,
    merkle_root,
    tensor_root,
)

SEED = 7_000_000_007
CHUNK_SIZES = [1 << k for k in range(5, 17)]  # 32 B .. 64 KiB


@dataclass(frozen=True)
class WeightSpec:
    """One weight tensor of the benchmark model: name and [out, in] shape (torch Linear layout)."""

    name: str
    shape: tuple[int, ...]


def llama2_7b_weights(layers: int = 32) -> list[WeightSpec]:
    """Llama-2-7B's weight tensors in checkpoint order (6.74e9 elements for 32 layers)."""
    d, ff, vocab = 4096, 11008, 32000
    specs = [WeightSpec("embed_tokens", (vocab, d))]
    for i in range(layers):
        p = f"layers.{i}."
        specs += [WeightSpec(p + n, (d, d)) for n in ("q_proj", "k_proj", "v_proj", "o_proj")]
        specs += [WeightSpec(p + "gate_proj", (ff, d)), WeightSpec(p + "up_proj", (ff, d)),
                  WeightSpec(p + "down_proj", (d, ff))]
        specs += [WeightSpec(p + "input_layernorm", (d,)), WeightSpec(p + "post_attention_layernorm", (d,))]
    specs += [WeightSpec("norm", (d,)), WeightSpec("lm_head", (vocab, d))]
    return specs


def generate_weight(index: int, spec: WeightSpec) -> np.ndarray:
    """Deterministic int8 tensor for ``spec``: uniform bytes from PCG64 seeded by (SEED, index)."""
    rng = np.random.Generator(np.random.PCG64([SEED, index]))
    count = int(np.prod(spec.shape))
    return np.frombuffer(rng.bytes(count), dtype=np.int8).reshape(spec.shape)


def timed(fn, runs: int) -> tuple[float, object]:
    """Median wall seconds of ``runs`` calls after one warm-up call, and the last result."""
    out = fn()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def interleaved(fns: dict[str, object], runs: int) -> dict[str, list[float]]:
    """Wall seconds of each function, run back to back in every round (after one warm-up round).

    The machine is shared, so load drifts; timing the raw baseline and the
    commitment in the same round keeps their ratio honest.
    """
    for fn in fns.values():
        fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(runs):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return times


def bench_chunk_sizes(runs: int, big_bytes: int, small_bytes: int) -> list[Result]:
    """Leaf-only and full-commit throughput per chunk size against raw keccak of the same buffer."""
    results = []
    rng = np.random.Generator(np.random.PCG64(SEED))
    data_big = np.frombuffer(rng.bytes(big_bytes), dtype=np.int8)
    data_small = data_big[:small_bytes]
    for c in CHUNK_SIZES:
        data = data_big if c >= 2048 else data_small
        n = data.size
        t = interleaved({
            "raw": lambda d=data: keccak256(memoryview(d)),
            "leaf": lambda d=data, c=c: leaf_hashes(memoryview(d), c),
            "commit": lambda d=data, c=c: tensor_root(d, c),
        }, runs)
        raw_s, leaf_s, commit_s = (statistics.median(t[k]) for k in ("raw", "leaf", "commit"))
        ratio = statistics.median(r / c_ for r, c_ in zip(t["raw"], t["commit"]))
        case = f"chunk-{c}B"
        results += [
            Result(case, "leaf_hash_mb_s", n / leaf_s / 1e6, "MB/s", "raw keccak, same bytes", n / raw_s / 1e6),
            Result(case, "commit_mb_s", n / commit_s / 1e6, "MB/s", "raw keccak, same bytes", n / raw_s / 1e6),
            Result(case, "commit_throughput_ratio_vs_keccak", ratio, "x", "target", 0.5,
                   note=f"{n >> 20} MiB, median of {runs} interleaved rounds"),
        ]
    return results


def plot_chunk_sizes(results: list[Result], path: Path) -> None:
    """PNG of leaf and commit throughput against chunk size, with raw keccak of the same bytes."""
    import matplotlib

    matplotlib.use("Agg")  # headless: no display on benchmark machines
    import matplotlib.pyplot as plt

    series: dict[str, dict[int, float]] = {"leaf_hash_mb_s": {}, "commit_mb_s": {}}
    raw: dict[int, float] = {}
    for r in results:
        if r.case.startswith("chunk-") and r.metric in series:
            size = int(r.case[len("chunk-"):-1])
            series[r.metric][size] = r.value
            raw[size] = r.baseline
    fig, ax = plt.subplots(figsize=(7, 4))
    for metric, label in (("leaf_hash_mb_s", "leaf hashing"), ("commit_mb_s", "commit (leaves + tree)")):
        sizes = sorted(series[metric])
        ax.plot(sizes, [series[metric][c] for c in sizes], marker="o", label=label)
    sizes = sorted(raw)
    ax.plot(sizes, [raw[c] for c in sizes], linestyle="--", color="grey", label="raw keccak, same bytes (1 call)")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("chunk size (bytes)")
    ax.set_ylabel("MB/s")
    ax.set_title("keccak Merkle commitment throughput")
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def bench_reveal_sizes() -> list[Result]:
    """Worst-case bytes a one-step proof reveals for one Llama weight row, per chunk size (exact, not timed)."""
    results = []
    for row_len, rows in ((4096, 4096), (11008, 4096)):
        for c in (256, 1024, WEIGHT_CHUNK_BYTES, 16384, 65536):
            worst = max(
                (lambda s: (s[1] - s[0]) * c)(element_chunk_span(r * row_len, row_len, 1, c))
                for r in range(rows)
            )
            results.append(Result(f"row-{row_len}-int8/chunk-{c}B", "onestep_reveal_bytes", worst, "B",
                                  "row bytes", row_len))
    return results


def bench_backends(runs: int) -> list[Result]:
    """Per-call cost of a 64-byte keccak (one inner Merkle node) in each available library."""
    from Crypto.Hash import keccak as pycryptodome_keccak
    from eth_hash.auto import keccak as eth_hash_keccak

    pair = bytes(range(64))
    calls = 100_000

    def per_call(fn) -> float:
        def loop():
            for _ in range(calls):
                fn(pair)
        seconds, _ = timed(loop, runs)
        return seconds / calls * 1e6

    ours = per_call(keccak256)
    return [
        Result("keccak-64B", "keccak_call_us", ours, "us", "pycryptodome Crypto.Hash.keccak",
               per_call(lambda b: pycryptodome_keccak.new(data=b, digest_bits=256).digest()),
               note="offchain.commit.keccak256 (safe-pysha3)"),
        Result("keccak-64B", "keccak_call_us", ours, "us", "eth_hash.auto.keccak", per_call(eth_hash_keccak),
               note="offchain.commit.keccak256 (safe-pysha3)"),
    ]


def bench_threads(runs: int, data_bytes: int) -> list[Result]:
    """Leaf hashing on one thread against the default (one per core), same bytes."""
    data = np.frombuffer(np.random.Generator(np.random.PCG64(SEED + 2)).bytes(data_bytes), dtype=np.int8)
    results = []
    for c in (4096, 65536):
        t = interleaved({
            "one": lambda c=c: leaf_hashes(memoryview(data), c, workers=1),
            "default": lambda c=c: leaf_hashes(memoryview(data), c),
        }, runs)
        speedup = statistics.median(a / b for a, b in zip(t["one"], t["default"]))
        results.append(Result(f"chunk-{c}B", "leaf_hash_speedup_threads", speedup, "x", "1 thread", 1.0,
                              note=f"{os.cpu_count()} threads, {data_bytes >> 20} MiB, "
                                   f"median of {runs} interleaved rounds"))
    return results


def bench_activation(runs: int) -> list[Result]:
    """Commit and proof-side cost of one activation vector (4096 int16, the Llama hidden size)."""
    act = np.random.Generator(np.random.PCG64(SEED + 1)).integers(-(2**15), 2**15, 4096, dtype=np.int16)
    t32, _ = timed(lambda: tensor_root(act, ACTIVATION_CHUNK_BYTES), runs)
    tw, _ = timed(lambda: tensor_root(act, WEIGHT_CHUNK_BYTES), runs)
    return [Result("activation-4096xint16", "commit_us", t32 * 1e6, "us",
                   f"same tensor with {WEIGHT_CHUNK_BYTES} B chunks", tw * 1e6,
                   note=f"{ACTIVATION_CHUNK_BYTES} B chunks, median of {runs}")]


def bench_llama7b(layers: int, runs_note: str, console: Console) -> list[Result]:
    """Time the weights root of Llama-2-7B-shaped int8 weights, with raw keccak of each tensor beside it."""
    specs = llama2_7b_weights(layers)
    gen_s = commit_s = raw_s = 0.0
    total = 0
    roots = []
    for index, spec in enumerate(specs):
        t0 = time.perf_counter()
        weight = generate_weight(index, spec)
        t1 = time.perf_counter()
        roots.append(tensor_root(weight, WEIGHT_CHUNK_BYTES))
        t2 = time.perf_counter()
        keccak256(memoryview(weight).cast("B"))
        t3 = time.perf_counter()
        gen_s, commit_s, raw_s = gen_s + t1 - t0, commit_s + t2 - t1, raw_s + t3 - t2
        total += weight.size
        del weight
    t0 = time.perf_counter()
    weights_root = merkle_root(roots)
    commit_s += time.perf_counter() - t0
    console.print(f"weights root over {len(specs)} tensors ({total / 1e9:.3f} GB): 0x{weights_root.hex()}")
    case = "llama2-7b-int8" if layers == 32 else f"llama2-7b-int8-{layers}-layers"
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return [
        Result(case, "weights_commit_s_7b", commit_s, "s", "raw keccak of the same bytes (1 thread)", raw_s,
               note=f"{total} int8 weights, {WEIGHT_CHUNK_BYTES} B chunks, single run; {runs_note}"),
        Result(case, "commit_throughput_ratio_vs_keccak", raw_s / commit_s, "x", "target", 0.5),
        Result(case, "commit_mb_s", total / commit_s / 1e6, "MB/s", "raw keccak, same bytes", total / raw_s / 1e6),
        Result(case, "weight_generation_s", gen_s, "s", note="PCG64 bytes, excluded from commit time"),
        Result(case, "peak_rss_mb", peak_rss_mb, "MiB", note="whole benchmark process"),
    ]


@click.command()
@click.option("--runs", default=3, show_default=True, help="timed runs per figure (after one warm-up)")
@click.option("--quick", is_flag=True, help="small buffers and 2 of 32 layers: a smoke run")
def cli(runs: int, quick: bool) -> None:
    """Measure commitment throughput and write bench/results/commit.json."""
    console = Console(width=150)  # the table has six columns; 80-column default truncates names
    big, small = ((16 << 20), (1 << 20)) if quick else ((128 << 20), (8 << 20))
    layers = 2 if quick else 32
    results = bench_backends(runs)
    results += bench_chunk_sizes(runs, big, small)
    results += bench_threads(runs, big // 2)
    results += bench_activation(runs)
    results += bench_reveal_sizes()
    results += bench_llama7b(layers, "quick run" if quick else "full model", console)
    path = write_results("commit", results, console)
    plot_path = RESULTS_DIR / "commit_chunk_sizes.png"
    plot_chunk_sizes(results, plot_path)
    console.print(f"wrote {path} and {plot_path}")


if __name__ == "__main__":
    cli()

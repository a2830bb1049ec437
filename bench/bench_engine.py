"""Engine benchmarks: integer vs float accuracy, executor speed vs torch, exact matmul paths, commitments.

Run: ``python -m bench.bench_engine`` (or ``make bench-engine``); writes bench/results/engine.json.
Times are medians of RUNS runs after one warm-up; ratios come from the same run.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from bench._results import Result, write_results
from offchain.engine import roots
from offchain.engine.compiler import CompileConfig, compile_module
from offchain.engine.dtypes import DType
from offchain.engine.executor import run
from offchain.engine.modelfile import load_model, save_model
from offchain.engine.ops.fixed import exact_matmul

RUNS = 5


def median_time(fn: Callable[[], object], runs: int = RUNS) -> float:
    fn()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def bench_digits() -> list[Result]:
    from offchain.models import digits

    out = []
    data = digits.load_split()
    for name in ("digits-mlp", "digits-cnn"):
        t = time.perf_counter()
        module = digits.train(name, data)
        train_s = time.perf_counter() - t
        t = time.perf_counter()
        model = digits.compile_digits(module, data, name)
        compile_s = time.perf_counter() - t
        fa = digits.float_accuracy(module, data.test_pixels, data.test_labels)
        ia = digits.integer_accuracy(model, data.test_pixels, data.test_labels)
        px = data.test_pixels[:1]
        x = digits.to_real(px)
        with torch.no_grad():
            torch_s = median_time(lambda: module(x), 50)
        engine_s = median_time(lambda: run(model, [px]), 50)
        trace = run(model, [px])
        commit_s = median_time(lambda: roots.trace_root(model.graph, trace), 20)
        with tempfile.TemporaryDirectory() as tmp:
            path = save_model(model, Path(tmp) / "m.model")
            size = path.stat().st_size
            load_s = median_time(lambda: load_model(path), 10)
        out += [
            Result(name, "integer_test_accuracy", ia, "fraction", "float model, same test split", fa),
            Result(name, "train_s", train_s, "s"),
            Result(name, "compile_s", compile_s, "s", note="torch.export + 256-sample calibration"),
            Result(name, "inference_ms", engine_s * 1e3, "ms", "torch float32 forward, batch 1", torch_s * 1e3),
            Result(name, "trace_root_ms", commit_s * 1e3, "ms"),
            Result(name, "model_file_bytes", size, "B"),
            Result(name, "load_ms", load_s * 1e3, "ms"),
            Result(name, "nodes", len(model.graph.nodes), "nodes"),
        ]
    return out


def bench_matmul() -> list[Result]:
    """The float64 fast path against int64 matmul on a 7B-sized projection row block."""
    rng = np.random.default_rng(0)
    a = rng.integers(-32768, 32768, size=(16, 4096)).astype(np.int16)
    w = rng.integers(-128, 128, size=(4096, 4096)).astype(np.int8)
    fast = median_time(lambda: exact_matmul(a, w, DType.INT16, DType.INT8), 3)
    slow = median_time(lambda: a.astype(np.int64) @ w.astype(np.int64).T, 3)
    at, wt = torch.from_numpy(a.astype(np.float64)), torch.from_numpy(w.astype(np.float64))
    torch_f64 = median_time(lambda: at @ wt.T, 3)
    assert np.array_equal(exact_matmul(a, w, DType.INT16, DType.INT8), a.astype(np.int64) @ w.astype(np.int64).T)
    return [
        Result("linear-16x4096x4096", "float64_path_ms", fast * 1e3, "ms", "numpy int64 matmul", slow * 1e3),
        Result("linear-16x4096x4096", "torch_float64_ms", torch_f64 * 1e3, "ms", "numpy float64 path", fast * 1e3),
    ]


def bench_llama_7b_layer() -> list[Result]:
    """One Llama-7B-sized decoder block (dim 4096, ffn 11008, 16 positions) with int8-exact weights."""
    from offchain.models import llama

    cfg7 = llama.preset("7b")
    block = llama.SingleLayer(cfg7, llama.build_layer(cfg7, seed=1, index=0)).eval()
    gen = torch.Generator().manual_seed(0)
    hidden = [(torch.randn(1, cfg7.max_seq, cfg7.dim, generator=gen),) for _ in range(2)]
    t = time.perf_counter()
    model = compile_module(block, hidden[0], hidden)
    compile_s = time.perf_counter() - t
    x = hidden[0][0].numpy()
    engine_s = median_time(lambda: run(model, [x]), 3)
    with torch.no_grad():
        torch_s = median_time(lambda: block(hidden[0][0]), 3)
        want = block(hidden[0][0]).numpy()
    trace = run(model, [x])
    got = trace.output / 2 ** model.graph.output.frac
    t = time.perf_counter()
    roots.weights_root(model)
    wroot_s = time.perf_counter() - t
    case = f"llama-7b-layer-seq{cfg7.max_seq}"
    return [
        Result(case, "relative_rms_error", float(np.sqrt(((got - want) ** 2).mean() / (want ** 2).mean())),
               "fraction", "float block output"),
        Result(case, "inference_ms", engine_s * 1e3, "ms", "torch float32 forward", torch_s * 1e3),
        Result(case, "compile_s", compile_s, "s"),
        Result(case, "weights_root_s", wroot_s, "s", note=f"{sum(w.nbytes for w in model.weights)} weight bytes"),
        Result(case, "trace_root_ms", median_time(lambda: roots.trace_root(model.graph, trace), 3) * 1e3, "ms"),
    ]


def bench_transformers() -> list[Result]:
    from offchain.models import llama, minilm

    out = []
    cfg = llama.preset("tiny")
    module = llama.build_llama(cfg, seed=1)
    prompts = [llama.random_prompt(cfg, s) for s in range(4)]
    t = time.perf_counter()
    model = compile_module(module, (prompts[0],), [(p,) for p in prompts])
    compile_s = time.perf_counter() - t
    tokens = prompts[0].numpy()
    engine_s = median_time(lambda: run(model, [tokens]))
    with torch.no_grad():
        torch_s = median_time(lambda: module(prompts[0]))
        want = module(prompts[0]).numpy()
    got = run(model, [tokens]).output / 2 ** model.graph.output.frac
    out += [
        Result("llama-tiny", "argmax_agreement", float((got.argmax(-1) == want.argmax(-1)).mean()), "fraction",
               "float model", 1.0),
        Result("llama-tiny", "max_abs_logit_error", float(np.abs(got - want).max()), "logit",
               "max |float logit|", float(np.abs(want).max())),
        Result("llama-tiny", "inference_ms", engine_s * 1e3, "ms", "torch float32 forward", torch_s * 1e3),
        Result("llama-tiny", "compile_s", compile_s, "s"),
    ]
    seq = 128
    enc = minilm.load_minilm(seq_len=seq)
    tok = minilm.load_tokenizer()
    sentences = ["The cat sits on the mat.", "A quick brown fox jumps over the lazy dog.",
                 "Verifiable inference runs on chain.", "Integer arithmetic is deterministic."]
    samples = [minilm.encode_batch(tok, [s], seq) for s in sentences]
    for wdt in (DType.INT16, DType.INT8):  # INT8 widens low-SNR tensors to int16 (min_weight_snr_db)
        t = time.perf_counter()
        model = compile_module(enc, samples[0], samples, CompileConfig(weight_dtype=wdt))
        compile_s = time.perf_counter() - t
        ids, mask = (a.numpy() for a in samples[0])
        engine_s = median_time(lambda: run(model, [ids, mask]), 3)
        with torch.no_grad():
            torch_s = median_time(lambda: enc(*samples[0]), 3)
        cos = []
        for s in samples:
            got = run(model, [a.numpy() for a in s]).output[0] / 2 ** model.graph.output.frac
            with torch.no_grad():
                want = enc(*s)[0].numpy()
            cos.append(float(got @ want / np.linalg.norm(got) / np.linalg.norm(want)))
        case = f"minilm-l6-seq{seq}-w{wdt.name.lower()}"
        out += [
            Result(case, "min_cosine_to_float", min(cos), "cosine", "float embedding", 1.0),
            Result(case, "inference_ms", engine_s * 1e3, "ms", "torch float32 forward", torch_s * 1e3),
            Result(case, "compile_s", compile_s, "s"),
            Result(case, "weight_bytes", sum(w.nbytes for w in model.weights), "B"),
            Result(case, "weights_widened_to_int16", len(model.meta["widened_to_int16"]), "tensors",
                   note="int8 SNR below CompileConfig.min_weight_snr_db"),
        ]
    return out


def main() -> None:
    torch.set_num_threads(2)
    results = bench_matmul() + bench_digits() + bench_transformers() + bench_llama_7b_layer()
    write_results("engine", results)


if __name__ == "__main__":
    main()

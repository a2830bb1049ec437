"""The C row kernels (offchain/engine/_rowops.c) against the numpy definitions of SOFTMAX, LAYERNORM and RMSNORM
(intmath_softmax.softmax, intmath_norm.layernorm / rmsnorm run under kernels.forced_fallback()), bit for bit.

Inputs cover random rows, rows at the int32 extremes (all minimum, all maximum, mixed: the largest m - x, the
largest |c| and the top exp clamp), constant and all-zero rows (U = 0 with eps 0: z = 0), odd row lengths (vector
remainders), causal and valid-length masks, every f_in (the C polynomial, and the exp table path called directly),
f_out at both ends, every output dtype, int8 / int16 / int32 / int64 inputs and leading dims; each on every
instruction set this CPU runs (generic C, AVX2, AVX-512).
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from offchain.engine import intmath_act, intmath_norm, intmath_softmax, kernels
from offchain.engine.intmath import IntMathError

RK = kernels._r
pytestmark = pytest.mark.skipif(kernels.rowops() is None, reason="row kernels not built (or OFFCHAIN_KERNEL=numpy)")

I32 = (-(2**31), 2**31 - 1)
IN_DTYPES = ["int8", "int16", "int32", "int64"]
OUT_DTYPES = ["int8", "int16", "int32"]
ROW_LENGTHS = [1, 2, 3, 7, 8, 9, 17, 64, 383]
LEADS = [(), (1,), (3,), (2, 3)]
KINDS = ["random", "scaled", "min", "max", "extremes", "constant", "zero"]
FAST = settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(autouse=True, params=RK.isas() if RK is not None else ["none"])
def isa(request):
    """Every test runs on each instruction set this CPU has."""
    if RK is None:
        yield request.param
        return
    before = RK.isa()
    RK.set_isa(request.param)
    try:
        yield request.param
    finally:
        RK.set_isa(before)


def rows(rng: np.random.Generator, shape: tuple[int, ...], kind: str, dtype: str) -> np.ndarray:
    """Values of one class, clipped into int32 and into the input dtype."""
    lo, hi = I32
    if kind == "random":
        x = rng.integers(lo, hi, shape, endpoint=True)
    elif kind == "scaled":  # a random magnitude per row: small differences, where exp is not clamped
        x = rng.integers(lo, hi, shape, endpoint=True) >> rng.integers(0, 32, shape[:-1] + (1,))
    elif kind == "min":
        x = np.full(shape, lo)
    elif kind == "max":
        x = np.full(shape, hi)
    elif kind == "extremes":
        x = np.where(rng.integers(0, 2, shape) == 1, hi, lo)
    elif kind == "constant":
        x = np.broadcast_to(rng.integers(lo, hi, shape[:-1] + (1,), endpoint=True), shape)
    else:
        x = np.zeros(shape, np.int64)
    info = np.iinfo(dtype)
    return np.clip(x, info.min, info.max).astype(dtype)


def same(fn, *args, **kwargs) -> np.ndarray:
    """fn on the C path equals fn on the numpy path: values, dtype and shape; returns the C result."""
    with kernels.forced_fallback():
        want = fn(*args, **kwargs)
    got = fn(*args, **kwargs)
    assert got.dtype == want.dtype and got.shape == want.shape
    assert np.array_equal(got, want), np.argwhere(got != want)[:5]
    return got


# ---------------------------------------------------------------------------------------------
# softmax
# ---------------------------------------------------------------------------------------------


@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.sampled_from(ROW_LENGTHS),
    lead=st.sampled_from(LEADS),
    kind=st.sampled_from(KINDS),
    in_dtype=st.sampled_from(IN_DTYPES),
    f_in=st.integers(0, 24),
    f_out=st.sampled_from([0, 1, 7, 14, 15, 29, 30]),
    out_dtype=st.sampled_from(OUT_DTYPES),
    mask=st.sampled_from(["none", "causal", "len", "lens", "both"]),
)
@FAST
def test_softmax_equals_numpy(isa, seed, n, lead, kind, in_dtype, f_in, f_out, out_dtype, mask):
    rng = np.random.default_rng(seed)
    if mask in ("causal", "both") and not lead:
        lead = (2,)
    x = rows(rng, lead + (n,), kind, in_dtype)
    valid_len = None
    if mask == "len":
        valid_len = int(rng.integers(1, n, endpoint=True))
    elif mask in ("lens", "both"):
        valid_len = rng.integers(1, n, lead, endpoint=True)
    same(intmath_softmax.softmax, x, f_in, f_out, out_dtype, causal=mask in ("causal", "both"), valid_len=valid_len)


@pytest.mark.parametrize("n", [1, 2, 3, 383, 4097])
@pytest.mark.parametrize("kind", KINDS)
def test_softmax_extreme_rows(isa, n, kind):
    """Each value class at the row lengths of the brief, at the f_in / f_out ends and in between."""
    rng = np.random.default_rng(n)
    x = rows(rng, (3, n), kind, "int32")
    for f_in, f_out, dtype in [(0, 30, "int32"), (24, 0, "int8"), (16, 14, "int16"), (24, 30, "int32")]:
        same(intmath_softmax.softmax, x, f_in, f_out, dtype)
        same(intmath_softmax.softmax, x, f_in, f_out, dtype, causal=True, valid_len=max(1, n // 2))


def test_softmax_minilm_shape(isa):
    """MiniLM's attention rows: [1, 12, 128, 128] int32 (f_in 16) -> int16 (f_out 14), pads masked additively."""
    rng = np.random.default_rng(7)
    x = (rng.standard_normal((1, 12, 128, 128)) * (3 << 16)).astype(np.int32)
    x[..., 100:] -= np.int32(1 << 30)
    same(intmath_softmax.softmax, x, 16, 14, "int16")
    same(intmath_softmax.softmax, x, 16, 14, "int16", valid_len=100)


@pytest.mark.parametrize("f_in", [0, 1, 5, 12, 16])
def test_softmax_table_path(isa, f_in):
    """softmax_rows with the exp table (exp_neg_q30 over [0, 64 << f_in]) gives the definition's integers too."""
    table = intmath_act.exp_neg_q30(np.arange((intmath_act.EXP_CLAMP << f_in) + 1, dtype=np.int64), f_in)
    rng = np.random.default_rng(f_in)
    x = np.concatenate([rows(rng, (8, 131), k, "int64") for k in KINDS])
    lens = rng.integers(1, 131, x.shape[0], endpoint=True)
    for f_out, dtype in [(30, "int32"), (14, "int16"), (0, "int8")]:
        with kernels.forced_fallback():
            want = intmath_softmax.softmax(x, f_in, f_out, dtype, valid_len=lens)
        lo, hi = np.iinfo(dtype).min, np.iinfo(dtype).max
        for tab in (table, None):
            got = np.empty(x.shape, dtype)
            RK.softmax_rows(x, lens.astype(np.int64), tab, f_in, f_out, lo, hi, got)
            assert np.array_equal(got, want)


# ---------------------------------------------------------------------------------------------
# LayerNorm / RMSNorm
# ---------------------------------------------------------------------------------------------


@st.composite
def norm_case(draw):
    f_gamma = draw(st.integers(0, 30))
    f_beta = draw(st.integers(0, min(30, 20 + f_gamma)))
    f_out = draw(st.sampled_from(sorted({0, 1, min(30, 20 + f_gamma), draw(st.integers(0, min(30, 20 + f_gamma)))})))
    return f_gamma, f_beta, f_out


def norm_params(rng: np.random.Generator, n: int, f_gamma: int, f_beta: int, pkind: str):
    """gamma (int32 range) and beta (|beta << sb| < 2^60) of one class."""
    blim = min(I32[1], ((1 << 60) >> (20 + f_gamma - f_beta)) - 1)
    if pkind == "extremes":
        gamma = np.where(rng.integers(0, 2, n) == 1, I32[1], I32[0])
        beta = np.where(rng.integers(0, 2, n) == 1, blim, -blim)
    else:
        gamma = rng.integers(I32[0], I32[1], n, endpoint=True)
        beta = rng.integers(-blim, blim, n, endpoint=True)
    return gamma, beta


@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.sampled_from(ROW_LENGTHS),
    lead=st.sampled_from(LEADS),
    kind=st.sampled_from(KINDS),
    in_dtype=st.sampled_from(IN_DTYPES),
    fracs=norm_case(),
    out_dtype=st.sampled_from(OUT_DTYPES),
    eps=st.sampled_from(["zero", "one", "random", "max"]),
    pkind=st.sampled_from(["random", "extremes"]),
    pdtype=st.sampled_from(["int16", "int64"]),
)
@FAST
def test_norms_equal_numpy(isa, seed, n, lead, kind, in_dtype, fracs, out_dtype, eps, pkind, pdtype):
    rng = np.random.default_rng(seed)
    f_gamma, f_beta, f_out = fracs
    x = rows(rng, lead + (n,), kind, in_dtype)
    gamma, beta = norm_params(rng, n, f_gamma, f_beta, pkind)
    if pdtype == "int16":
        gamma, beta = np.clip(gamma, -32768, 32767).astype(np.int16), np.clip(beta, -32768, 32767).astype(np.int16)
    f_in = int(rng.integers(0, 31))
    for mult, fn, args in [
        (n**3, intmath_norm.layernorm, (x, gamma, beta, f_in, f_gamma, f_beta, f_out)),
        (n, intmath_norm.rmsnorm, (x, gamma, f_in, f_gamma, f_out)),
    ]:
        lim = ((1 << 61) - 1) // mult
        e = {"zero": 0, "one": 1, "random": int(rng.integers(0, lim, endpoint=True)), "max": lim}[eps]
        same(fn, *args, e, out_dtype)


@pytest.mark.parametrize("n", [1, 2, 3, 383, 4097])
@pytest.mark.parametrize("kind", KINDS)
def test_norm_extreme_rows(isa, n, kind):
    """Each value class at the row lengths of the brief; eps 0 makes constant (LayerNorm) and zero rows U = 0."""
    rng = np.random.default_rng(n + 1)
    x = rows(rng, (2, n), kind, "int32")
    for f_gamma, f_beta, f_out, dtype in [(0, 0, 0, "int8"), (30, 30, 30, "int32"), (14, 14, 10, "int16"),
                                          (0, 20, 20, "int32")]:
        gamma, beta = norm_params(rng, n, f_gamma, f_beta, "extremes")
        for eps in (0, 1):
            same(intmath_norm.layernorm, x, gamma, beta, 16, f_gamma, f_beta, f_out, eps, dtype)
            same(intmath_norm.rmsnorm, x, gamma, 16, f_gamma, f_out, eps, dtype)


@pytest.mark.parametrize("kind", ["random", "scaled"])
def test_norm_z_exposed(isa, kind):
    """gamma 1, beta 0, f_out = 20 + f_gamma: the output is z itself (Q20), so an off-by-one anywhere in k, c',
    U, s or r shows up as a different integer on many rows."""
    rng = np.random.default_rng(11)
    x = rows(rng, (256, 383), kind, "int32")
    ones, zeros = np.ones(383, np.int64), np.zeros(383, np.int64)
    for eps in (0, 12345, ((1 << 61) - 1) // 383**3):
        same(intmath_norm.layernorm, x, ones, zeros, 16, 0, 0, 20, eps, "int32")
        same(intmath_norm.rmsnorm, x, ones, 16, 0, 20, eps * 383 * 383, "int32")


def test_norm_minilm_shapes(isa):
    """MiniLM's LayerNorm [1, 128, 384] int16 (eps 0) and LLaMA-sized RMSNorm rows [1, 1, 4096], [1, 128, 4096]."""
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((1, 128, 384)) * 3000).astype(np.int16)
    g, b = rng.integers(5000, 20000, 384).astype(np.int16), rng.integers(-3000, 3000, 384).astype(np.int16)
    same(intmath_norm.layernorm, x, g, b, 11, 14, 14, 9, 0, "int16")
    g4 = rng.integers(5000, 20000, 4096).astype(np.int16)
    for shape in [(1, 1, 4096), (1, 128, 4096)]:
        xr = (rng.standard_normal(shape) * 3000).astype(np.int16)
        same(intmath_norm.rmsnorm, xr, g4, 10, 14, 12, 16, "int16")


# ---------------------------------------------------------------------------------------------
# the C path runs, errors stay the same, constants match
# ---------------------------------------------------------------------------------------------


class Counting:
    """Stands in for the _rowops module and counts the calls."""

    def __init__(self, module):
        self.module, self.calls = module, []

    def __getattr__(self, name):
        fn = getattr(self.module, name)

        def call(*args):
            self.calls.append(name)
            return fn(*args)

        return call


def test_c_path_runs(monkeypatch):
    counting = Counting(RK)
    monkeypatch.setattr(kernels, "_r", counting)
    x = np.arange(12, dtype=np.int16).reshape(3, 4)
    g = np.ones(4, np.int16)
    intmath_softmax.softmax(x, 4, 14, "int16", causal=True)
    intmath_norm.layernorm(x, g, g, 4, 14, 14, 10, 0, "int16")
    intmath_norm.rmsnorm(x, g, 4, 14, 10, 0, "int16")
    assert counting.calls == ["softmax_rows", "norm_rows", "norm_rows"]
    with kernels.forced_fallback():
        assert kernels.rowops() is None
        intmath_softmax.softmax(x, 4, 14, "int16")
        intmath_norm.rmsnorm(x, g, 4, 14, 10, 0, "int16")
    assert len(counting.calls) == 3
    # empty tensors stay on the numpy path (no rows to run)
    assert intmath_softmax.softmax(np.zeros((0, 4), np.int32), 4, 14, "int16").shape == (0, 4)
    assert len(counting.calls) == 3


def error_of(fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except IntMathError as exc:
        return type(exc), str(exc)
    return None


@pytest.mark.parametrize("case", range(9))
def test_errors_unchanged(case):
    """Bad input raises the same named error with the same message on both paths."""
    x = np.zeros((2, 5), np.int64)
    g = np.zeros(5, np.int64)
    calls = [
        (intmath_softmax.softmax, (x + 2**31, 4, 14, "int16"), {}),
        (intmath_softmax.softmax, (x.astype(np.float32), 4, 14, "int16"), {}),
        (intmath_softmax.softmax, (x, 25, 14, "int16"), {}),
        (intmath_softmax.softmax, (x, 4, 14, "int16"), {"valid_len": 0}),
        (intmath_softmax.softmax, (np.zeros((2, 0), np.int32), 4, 14, "int16"), {}),
        (intmath_norm.layernorm, (x - 2**31 - 1, g, g, 4, 14, 14, 10, 0, "int16"), {}),
        (intmath_norm.layernorm, (x, g, g + 2**40, 4, 14, 14, 10, 0, "int16"), {}),
        (intmath_norm.rmsnorm, (x, g[:4], 4, 14, 10, 0, "int16"), {}),
        (intmath_norm.rmsnorm, (x, g, 4, 14, 10, 2**61, "int16"), {}),
    ]
    fn, args, kwargs = calls[case]
    with kernels.forced_fallback():
        want = error_of(fn, *args, **kwargs)
    assert want is not None
    assert error_of(fn, *args, **kwargs) == want


def test_constants_match_python():
    c = RK.constants()
    assert c["ONE_Q30"] == intmath_act.ONE_Q30 and c["LOG2E_Q30"] == intmath_act.LOG2E_Q30
    assert c["EXP_CLAMP"] == intmath_act.EXP_CLAMP and tuple(c["EXP2_POLY_Q30"]) == intmath_act.EXP2_POLY_Q30
    assert c["Z_FRAC"] == intmath_norm.Z_FRAC and c["NORM_BITS"] == intmath_norm.NORM_BITS


def test_direct_call_checks():
    """The C functions refuse what would leave their bounds (the Python wrappers never pass it)."""
    x = np.zeros((2, 4), np.int32)
    out = np.empty((2, 4), np.int16)
    with pytest.raises(TypeError):
        RK.softmax_rows(x.astype(np.uint32), np.ones(2, np.int64), None, 0, 0, -1, 1, out)
    with pytest.raises(ValueError):
        RK.softmax_rows(x, np.zeros(2, np.int64), None, 0, 0, -1, 1, out)
    with pytest.raises(ValueError):
        RK.softmax_rows(x, np.ones(2, np.int64), None, 0, 0, -(2**20), 1, out)
    with pytest.raises(ValueError):
        RK.softmax_rows(x, np.ones(2, np.int64), np.zeros(3, np.int64), 0, 0, -1, 1, out)
    with pytest.raises(ValueError):
        RK.softmax_rows(x.astype(np.int64) + 2**31, np.ones(2, np.int64), None, 0, 0, -1, 1, out)
    with pytest.raises(ValueError):
        RK.norm_rows(x.astype(np.int64) - 2**31 - 1, np.ones(4, np.int64), None, False, 0, 20, -1, 1, out)
    with pytest.raises(ValueError):
        RK.norm_rows(x, np.ones(4, np.int64) << 40, None, False, 0, 20, -1, 1, out)
    with pytest.raises(ValueError):
        RK.norm_rows(x, np.ones(4, np.int64), None, False, 2**61, 20, -1, 1, out)


def test_env_turns_rows_off(isa):
    """OFFCHAIN_KERNEL=numpy turns the row kernels off with the matmul kernel."""
    if isa != RK.isas()[0]:
        pytest.skip("once is enough")
    code = "from offchain.engine import kernels; print(kernels.rowops() is None, kernels.enabled())"
    env = dict(os.environ, OFFCHAIN_KERNEL="numpy")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True,
                         cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    assert out.stdout.split() == ["True", "False"]


@pytest.mark.parametrize("threads", [1, 2, 3, 7])
def test_rows_split_between_threads(isa, threads):
    """Enough rows for several threads (contiguous row ranges, uneven last one): values never change."""
    rng = np.random.default_rng(threads)
    before = kernels.threads()
    kernels.set_threads(threads)
    try:
        x = (rng.standard_normal((3, 7, 101, 257)) * (3 << 16)).astype(np.int32)
        same(intmath_softmax.softmax, x, 16, 14, "int16", causal=True)
        h = rng.integers(-32768, 32768, size=(2, 301, 384)).astype(np.int16)
        g, b = rng.integers(-2**14, 2**14, size=384), rng.integers(-2**14, 2**14, size=384)
        same(intmath_norm.layernorm, h, g, b, 10, 14, 14, 10, 1, "int16")
        same(intmath_norm.rmsnorm, h, g, 10, 14, 10, 1, "int16")
    finally:
        kernels.set_threads(before)

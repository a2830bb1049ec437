"""rsqrt, layernorm, rmsnorm: vectorised == scalar reference, accuracy vs float64, named errors."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from offchain.engine import intmath_norm as norm
from offchain.engine.intmath import (
    DomainError,
    FracBitsError,
    OperandRangeError,
    RowShapeError,
    layernorm,
    layernorm_element,
    rmsnorm,
    rmsnorm_element,
    rsqrt,
    rsqrt_element,
)

I32 = (-(2**31), 2**31 - 1)
DTYPES = ["int8", "int16", "int32"]

# ---------------------------------------------------------------------------------------------
# rsqrt
# ---------------------------------------------------------------------------------------------


@given(
    st.lists(st.integers(0, I32[1]), min_size=1, max_size=20),
    st.integers(0, 30),
    st.integers(0, 30),
    st.sampled_from(DTYPES),
)
@settings(max_examples=150, deadline=None)
def test_rsqrt_vectorised_equals_scalar(xs, f_in, f_out, dtype):
    xs = xs + [0, 1, 2, 3, I32[1], 1 << 30]
    got = rsqrt(np.array(xs, dtype=np.int64), f_in, f_out, dtype)
    assert got.dtype == np.dtype(dtype)
    assert [int(v) for v in got] == [rsqrt_element(x, f_in, f_out, dtype) for x in xs]


@pytest.mark.parametrize("f_in", [0, 7, 16, 29, 30])
@pytest.mark.parametrize("f_out,dtype", [(8, "int16"), (14, "int32"), (30, "int32")])
def test_rsqrt_accuracy(f_in, f_out, dtype):
    """|out - 2^f_out / sqrt(x)| <= 0.5 LSB + 2^-28 relative (after saturation)."""
    rng = np.random.default_rng(f_in)
    x = np.unique(np.concatenate([rng.integers(1, 2**31, 50_000), np.arange(1, 5000), [I32[1]]]))
    got = rsqrt(x, f_in, f_out, dtype).astype(np.float64)
    want = np.minimum(2.0**f_out / np.sqrt(x / 2.0**f_in), np.iinfo(dtype).max)
    assert (np.abs(got - want) <= 0.5 + want * 2.0**-28).all()


def test_rsqrt_exact_points_and_errors():
    assert rsqrt_element(1 << 16, 16, 16, "int32") == 1 << 16  # 1 / sqrt(1)
    assert rsqrt_element(4 << 16, 16, 16, "int32") == 1 << 15  # 1 / sqrt(4)
    assert rsqrt_element(1 << 3, 5, 10, "int32") == 2048  # 1 / sqrt(1/4), odd f_in
    assert rsqrt_element(0, 8, 8, "int16") == 32767
    with pytest.raises(DomainError):
        rsqrt(np.array([4, -1]), 8, 8, "int16")
    with pytest.raises(DomainError):
        rsqrt_element(-1, 8, 8, "int16")
    with pytest.raises(FracBitsError, match="f_out"):
        rsqrt_element(1, 8, 31, "int32")


# ---------------------------------------------------------------------------------------------
# layernorm / rmsnorm: vectorised == scalar
# ---------------------------------------------------------------------------------------------


def ln_both(x, gamma, beta, f_in, f_g, f_b, f_out, eps, dtype):
    """Vectorised output and the scalar reference for every element of every row."""
    got = layernorm(np.array(x, dtype=np.int64), np.array(gamma), np.array(beta), f_in, f_g, f_b, f_out, eps, dtype)
    want = [
        [layernorm_element(list(row), j, gamma[j], beta[j], f_in, f_g, f_b, f_out, eps, dtype) for j in range(len(row))]
        for row in x
    ]
    return got, want


def rms_both(x, gamma, f_in, f_g, f_out, eps, dtype):
    got = rmsnorm(np.array(x, dtype=np.int64), np.array(gamma), f_in, f_g, f_out, eps, dtype)
    want = [[rmsnorm_element(list(row), j, gamma[j], f_in, f_g, f_out, eps, dtype) for j in range(len(row))] for row in x]
    return got, want


@st.composite
def norm_case(draw):
    n = draw(st.integers(1, 12))
    span = draw(st.sampled_from([I32[1], 1 << 20, 1 << 8, 2]))
    rows = draw(st.lists(st.lists(st.integers(max(-span, I32[0]), span), min_size=n, max_size=n), min_size=1, max_size=3))
    gamma = draw(st.lists(st.integers(I32[0], I32[1]) | st.integers(-(1 << 15), 1 << 15), min_size=n, max_size=n))
    f_g = draw(st.integers(0, 30))
    f_b = draw(st.integers(0, min(30, 20 + f_g)))
    blim = ((1 << 60) >> (20 + f_g - f_b)) - 1
    beta = draw(st.lists(st.integers(max(I32[0], -blim), min(I32[1], blim)), min_size=n, max_size=n))
    f_in = draw(st.integers(0, 30))
    f_out = draw(st.integers(0, min(30, 20 + f_g)))
    eps = draw(st.sampled_from([0, 1, 1000, (1 << 61) // (n**3) - 1]))
    dtype = draw(st.sampled_from(DTYPES))
    return rows, gamma, beta, f_in, f_g, f_b, f_out, eps, dtype


@given(norm_case())
@settings(max_examples=150, deadline=None)
def test_layernorm_vectorised_equals_scalar(case):
    got, want = ln_both(*case)
    assert got.dtype == np.dtype(case[-1])
    assert got.tolist() == want


@given(norm_case())
@settings(max_examples=150, deadline=None)
def test_rmsnorm_vectorised_equals_scalar(case):
    rows, gamma, _, f_in, f_g, _, f_out, eps, dtype = case
    eps = min(eps, (1 << 61) // len(gamma) - 1)
    got, want = rms_both(rows, gamma, f_in, f_g, f_out, eps, dtype)
    assert got.tolist() == want


EDGE_ROWS = [
    [7],  # one element
    [0, 0, 0],  # constant (U = 0 when eps = 0)
    [-1, -1, -1, -1],
    [I32[0], I32[1]],  # extremes, k > 0
    [I32[0]] * 3 + [I32[1]],
    [-1, 0, 1, -1],  # tiny values, k = 0
    [I32[1], I32[1] - 1, I32[1]],
]


@pytest.mark.parametrize("row", EDGE_ROWS)
@pytest.mark.parametrize("eps", [0, 1, 5000])
@pytest.mark.parametrize("f_in,f_g,f_b,f_out,dtype", [(8, 14, 14, 12, "int16"), (16, 12, 12, 16, "int32"), (0, 0, 0, 0, "int8")])
def test_norms_vectorised_equals_scalar_edges(row, eps, f_in, f_g, f_b, f_out, dtype):
    n = len(row)
    gamma = [(1 << f_g) + i for i in range(n)]
    beta = [-(1 << f_b) + 3 * i for i in range(n)]
    got, want = ln_both([row], gamma, beta, f_in, f_g, f_b, f_out, eps, dtype)
    assert got.tolist() == want
    got, want = rms_both([row], gamma, f_in, f_g, f_out, eps, dtype)
    assert got.tolist() == want


def test_degenerate_rows():
    # constant row: z = 0 whatever eps, so LayerNorm returns beta rescaled (torch: NaN for eps = 0)
    got = layernorm(np.full((1, 4), 123), np.full(4, 1 << 14), np.array([5, -6, 7, -8]) << 10, 8, 14, 14, 4, 0, "int16")
    assert got.tolist() == [[5, -6, 7, -8]]
    assert rmsnorm(np.zeros((2, 3), np.int64), np.ones(3, np.int64), 8, 0, 0, 0, "int16").tolist() == [[0] * 3] * 2
    # one element: LayerNorm -> beta; RMSNorm -> sign(x) * gamma
    assert layernorm_element([99], 0, 1 << 14, 1 << 14, 8, 14, 14, 12, 0, "int16") == 1 << 12
    assert rmsnorm_element([-99], 0, 1 << 14, 8, 14, 12, 0, "int16") == -(1 << 12)


# ---------------------------------------------------------------------------------------------
# accuracy vs float64
# ---------------------------------------------------------------------------------------------


def ln_bound(z: np.ndarray, gamma: np.ndarray, f_out: int, n: int) -> np.ndarray:
    """0.5 LSB for the final rounding + the Q20 normalised value's error (2^-20 (1 + |z|) +
    sqrt(n) 2^-21 from keeping 22 bits of the centred row) scaled by |gamma| into output LSBs."""
    return 0.5 + np.abs(gamma) * 2.0**f_out * (2.0**-20 * (1 + np.abs(z)) + np.sqrt(n) * 2.0**-21)


@pytest.mark.parametrize("n", [2, 384, 4096])
@pytest.mark.parametrize("f_in,f_out,dtype", [(8, 12, "int16"), (16, 16, "int32"), (24, 24, "int32")])
@pytest.mark.parametrize("eps", [1e-12, 1e-5])
def test_layernorm_rmsnorm_accuracy(n, f_in, f_out, dtype, eps):
    rng = np.random.default_rng(n + f_in)
    real = rng.standard_normal((8, n)) * rng.choice([0.05, 1.0, 20.0], (8, 1)) + rng.standard_normal((8, 1))
    if f_in == 24:
        real = np.clip(real, -120, 120)  # int32 at f = 24 holds |x| < 128
    x = np.round(real * 2**f_in).astype(np.int64)
    f_g = f_b = 14
    gq = np.round((rng.standard_normal(n) * 0.3 + 1) * 2**f_g).astype(np.int64)
    bq = np.round(rng.standard_normal(n) * 0.2 * 2**f_b).astype(np.int64)
    eps_lsb2 = round(eps * 4.0**f_in)
    if eps_lsb2 * n**3 >= 1 << 61:  # eps in LSB^2 times n^3 is past int64's room: a named error
        with pytest.raises(OperandRangeError, match="eps_lsb2"):
            layernorm(x, gq, bq, f_in, f_g, f_b, f_out, eps_lsb2, dtype)
        return
    xr, g, b = x / 2.0**f_in, gq / 2.0**f_g, bq / 2.0**f_b
    e = eps_lsb2 / 4.0**f_in
    info = np.iinfo(dtype)

    z = (xr - xr.mean(-1, keepdims=True)) / np.sqrt(xr.var(-1, keepdims=True) + e)
    want = np.clip((z * g + b) * 2.0**f_out, info.min, info.max)
    got = layernorm(x, gq, bq, f_in, f_g, f_b, f_out, eps_lsb2, dtype).astype(np.float64)
    assert (np.abs(got - want) <= ln_bound(z, g, f_out, n)).all(), np.abs(got - want).max()

    z = xr / np.sqrt((xr**2).mean(-1, keepdims=True) + e)
    want = np.clip(z * g * 2.0**f_out, info.min, info.max)
    got = rmsnorm(x, gq, f_in, f_g, f_out, eps_lsb2, dtype).astype(np.float64)
    assert (np.abs(got - want) <= ln_bound(z, g, f_out, n)).all(), np.abs(got - want).max()


def test_eps_dominates_small_variance():
    """A row with variance far below eps is scaled by 1/sqrt(eps), as in float."""
    f_in, eps = 16, 1e-2
    eps_lsb2 = round(eps * 4.0**f_in)
    x = np.array([[0, 1, 0, -1]]) * 2**6  # values +-2^-10, var ~ 5e-7 << eps
    got = layernorm(x, np.full(4, 1 << 14), np.zeros(4, np.int64), f_in, 14, 14, 20, eps_lsb2, "int32")
    xr = x / 2.0**f_in
    want = (xr - xr.mean()) / np.sqrt(xr.var() + eps_lsb2 / 4.0**f_in) * 2**20
    assert np.abs(got - want).max() <= 0.5 + 2**-20 * 2**20 * 0.01


# ---------------------------------------------------------------------------------------------
# errors
# ---------------------------------------------------------------------------------------------


def test_named_errors():
    x = np.zeros((2, 4), np.int64)
    g = np.ones(4, np.int64)
    with pytest.raises(RowShapeError, match="gamma"):
        layernorm(x, np.ones(3, np.int64), g, 8, 14, 14, 12, 0, "int16")
    with pytest.raises(RowShapeError, match="beta"):
        layernorm(x, g, np.ones(5, np.int64), 8, 14, 14, 12, 0, "int16")
    with pytest.raises(RowShapeError, match="row length"):
        rmsnorm(np.zeros((1, 0), np.int64), np.ones(0, np.int64), 8, 14, 12, 0, "int16")
    with pytest.raises(RowShapeError, match="row length"):
        rmsnorm(np.zeros((1, norm.MAX_ROW + 1), np.int64), np.ones(norm.MAX_ROW + 1, np.int64), 8, 14, 12, 0, "int16")
    with pytest.raises(FracBitsError, match="f_out"):
        layernorm(x, g, g, 8, 0, 0, 21, 0, "int32")  # f_out > 20 + f_gamma
    with pytest.raises(FracBitsError, match="f_beta"):
        layernorm_element([1, 2], 0, 1, 1, 8, 0, 21, 4, 0, "int32")
    with pytest.raises(OperandRangeError, match="eps_lsb2"):
        layernorm(x, g, g, 8, 14, 14, 12, (1 << 61) // 64, "int16")  # times n^3 = 64
    with pytest.raises(OperandRangeError, match="eps_lsb2"):
        rmsnorm_element([1, 2], 0, 1, 8, 14, 12, -1, "int16")
    with pytest.raises(OperandRangeError, match="beta"):
        layernorm(x, g, np.full(4, 1 << 30), 8, 30, 0, 12, 0, "int16")  # beta * 2^50 >= 2^60
    with pytest.raises(OperandRangeError, match="x"):
        layernorm(np.array([[2**31, 0]]), np.ones(2, np.int64), np.ones(2, np.int64), 8, 14, 14, 12, 0, "int16")
    with pytest.raises(OperandRangeError, match="row"):
        rmsnorm_element([2**31, 0], 0, 1, 8, 14, 12, 0, "int16")
    with pytest.raises(RowShapeError, match="j="):
        rmsnorm_element([1, 0], 2, 1, 8, 14, 12, 0, "int16")

"""exp_neg, sigmoid, silu, gelu, gelu_tanh: vectorised == scalar reference, accuracy vs float64, errors."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import erf

from offchain.engine import intmath_act as act
from offchain.engine.intmath import (
    DomainError,
    DTypeError,
    FracBitsError,
    OperandRangeError,
    exp_neg,
    exp_neg_element,
    gelu,
    gelu_element,
    gelu_tanh,
    gelu_tanh_element,
    sigmoid,
    sigmoid_element,
    silu,
    silu_element,
)

I32 = (-(2**31), 2**31 - 1)
DTYPES = ["int8", "int16", "int32"]
# (vectorised, scalar, float reference of the real function, needs x <= 0)
FUNCS = {
    "exp_neg": (exp_neg, exp_neg_element, np.exp, True),
    "sigmoid": (sigmoid, sigmoid_element, lambda v: 1 / (1 + np.exp(-v)), False),
    "silu": (silu, silu_element, lambda v: v / (1 + np.exp(-v)), False),
    "gelu": (gelu, gelu_element, lambda v: 0.5 * v * (1 + erf(v / math.sqrt(2))), False),
    "gelu_tanh": (
        gelu_tanh,
        gelu_tanh_element,
        lambda v: 0.5 * v * (1 + np.tanh(math.sqrt(2 / math.pi) * (v + 0.044715 * v**3))),
        False,
    ),
}


def edge_inputs(f_in: int, nonpositive: bool) -> list[int]:
    """dtype extremes, zero, +-1, and the clamp points of exp (64) and gelu (8), each +-1."""
    xs = {0, 1, -1, 2, -2, -128, 127, -32768, 32767, I32[0], I32[1], I32[0] + 1}
    for c in (act.EXP_CLAMP, act.GELU_CLAMP, 1):
        for d in (-1, 0, 1):
            v = (c << f_in) + d
            xs.update({v, -v})
    xs = {x for x in xs if I32[0] <= x <= I32[1]}
    return sorted(x for x in xs if x <= 0) if nonpositive else sorted(xs)


def assert_matches_reference(name: str, xs: list[int], f_in: int, f_out: int, dtype: str) -> None:
    vec, ref, _, _ = FUNCS[name]
    got = vec(np.array(xs, dtype=np.int64), f_in, f_out, dtype)
    assert got.dtype == np.dtype(dtype)
    want = [ref(x, f_in, f_out, dtype) for x in xs]
    assert [int(g) for g in got] == want, (name, f_in, f_out, dtype)


@pytest.mark.parametrize("name", FUNCS)
@given(data=st.data())
@settings(max_examples=60, deadline=None)
def test_vectorised_equals_scalar_random(name, data):
    nonpos = FUNCS[name][3]
    f_in = data.draw(st.integers(0, act.FRAC_IN_MAX), label="f_in")
    f_out = data.draw(st.integers(0, act.FRAC_OUT_MAX), label="f_out")
    dtype = data.draw(st.sampled_from(DTYPES), label="dtype")
    span = data.draw(st.sampled_from([I32[1], 16 << f_in, 1 << f_in]), label="span")
    hi = 0 if nonpos else span
    xs = data.draw(st.lists(st.integers(-span, hi), min_size=1, max_size=12), label="xs")
    assert_matches_reference(name, xs, f_in, f_out, dtype)


@pytest.mark.parametrize("name", FUNCS)
@pytest.mark.parametrize("f_in,f_out", [(0, 0), (0, 30), (8, 7), (12, 14), (16, 16), (24, 30), (24, 0)])
@pytest.mark.parametrize("dtype", DTYPES)
def test_vectorised_equals_scalar_edges(name, f_in, f_out, dtype):
    assert_matches_reference(name, edge_inputs(f_in, FUNCS[name][3]), f_in, f_out, dtype)


def test_exact_points():
    for f_out, dtype in ((14, "int16"), (30, "int32"), (7, "int8")):
        hi = np.iinfo(dtype).max
        assert exp_neg_element(0, 12, f_out, dtype) == min(1 << f_out, hi)
        assert sigmoid_element(0, 12, f_out, dtype) == min(1 << (f_out - 1), hi)
        assert int(exp_neg(np.array([-(2**31)]), 0, f_out, dtype)[0]) == 0
    for fn in (silu_element, gelu_element, gelu_tanh_element):
        assert fn(0, 16, 16, "int32") == 0
    # far from 0 GELU is the identity (Phi = 1 exactly) or 0, SiLU close to it
    assert gelu_element(100 << 16, 16, 16, "int32") == 100 << 16
    assert gelu_element(-(100 << 16), 16, 16, "int32") == 0
    assert gelu_tanh_element(100 << 16, 16, 16, "int32") == 100 << 16
    assert gelu_element(I32[1], 8, 8, "int32") == I32[1]
    assert gelu_element(I32[1], 8, 8, "int16") == 32767


def error_bound(name: str, x: np.ndarray, f_out: int) -> np.ndarray:
    """Stated bound in output LSBs for each input (real x)."""
    rel = {"exp_neg": 2.0**-27, "sigmoid": 2.0**-27}
    if name in rel:
        return np.full(x.shape, 0.5 + rel[name] * 2.0**f_out)
    if name == "silu":
        return 0.5 + (np.abs(x) + 1) * 2.0 ** (f_out - 27)
    if name == "gelu":  # A&S: |erf error| <= 1.5e-7 -> Phi error 7.5e-8 < 2^-23.6; exact for |x| >= 8
        return 0.5 + np.minimum(np.abs(x), 8) * 2.0 ** (f_out - 23.5) + 2.0 ** (f_out - 27)
    return 0.5 + (np.abs(x) + 1) * 2.0 ** (f_out - 26)  # gelu_tanh: Q24 argument


@pytest.mark.parametrize("name", FUNCS)
@pytest.mark.parametrize(
    "f_in,f_out,dtype", [(8, 7, "int8"), (8, 8, "int16"), (12, 14, "int16"), (16, 16, "int32"), (24, 30, "int32")]
)
def test_accuracy_vs_float(name, f_in, f_out, dtype):
    vec, _, fref, nonpos = FUNCS[name]
    rng = np.random.default_rng(f_in * 100 + f_out)
    span = min(I32[1], 20 << f_in)
    xs = np.concatenate([rng.integers(-span, span, 50_000), np.arange(-(4 << f_in), 4 << f_in, max(1, 1 << f_in >> 8))])
    xs = np.unique(-np.abs(xs) if nonpos else xs)
    got = vec(xs, f_in, f_out, dtype).astype(np.float64)
    info = np.iinfo(dtype)
    real = xs / 2.0**f_in
    want = np.clip(fref(real) * 2.0**f_out, info.min, info.max)
    err = np.abs(got - want)
    bound = error_bound(name, real, f_out)
    worst = int(np.argmax(err - bound))
    assert (err <= bound).all(), f"{name}: error {err[worst]:.4f} LSB > {bound[worst]:.4f} at x={real[worst]}"


def test_exp2_polynomial_accuracy():
    """2^-r in Q30 on every 2^10-th r in [0, 2^30): |error| <= 4.2 Q30 units (3.9e-9), p(0) = 2^30."""
    r = np.arange(0, 1 << 30, 1 << 10, dtype=np.int64)
    got = act.exp2_frac_q30(r)
    want = 2.0 ** (30 - r / 2.0**30)
    assert np.max(np.abs(got - want)) <= 4.2
    assert int(got[0]) == 1 << 30
    assert (got > 1 << 29).all() and (got <= 1 << 30).all()
    assert [act.exp2_frac_q30_element(int(v)) for v in r[::4099]] == [int(v) for v in got[::4099]]


def test_constants_derive_from_their_definitions():
    q30 = lambda v: round(v * 2**30)  # noqa: E731
    assert act.LOG2E_Q30 == q30(math.log2(math.e))
    assert act.INV_SQRT2_Q30 == q30(1 / math.sqrt(2))
    assert act.ERF_P_Q30 == q30(0.3275911)
    assert act.ERF_A_Q30 == tuple(q30(a) for a in (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429))
    assert act.TANH_C_Q30 == q30(0.044715)
    assert act.TANH_K_Q30 == q30(2 * math.sqrt(2 / math.pi))
    assert math.exp(-act.EXP_CLAMP) < 2.0**-92
    assert 1 - math.erf(act.GELU_CLAMP / math.sqrt(2)) < 2.0**-45


@pytest.mark.parametrize("name", FUNCS)
def test_named_errors(name):
    vec, ref, _, nonpos = FUNCS[name]
    with pytest.raises(FracBitsError, match="f_in"):
        vec(np.array([-1]), 25, 8, "int16")
    with pytest.raises(FracBitsError, match="f_out"):
        ref(-1, 8, 31, "int32")
    with pytest.raises(DTypeError):
        vec(np.array([-1]), 8, 8, "int64")
    with pytest.raises(OperandRangeError, match="x"):
        vec(np.array([-(2**31) - 1]), 8, 8, "int16")
    with pytest.raises(OperandRangeError):
        vec(np.array([-0.5]), 8, 8, "int16")
    with pytest.raises(OperandRangeError):
        ref(-(2**31) - 1, 8, 8, "int16")
    if nonpos:
        with pytest.raises(DomainError):
            vec(np.array([-3, 1]), 8, 8, "int16")
        with pytest.raises(DomainError):
            ref(1, 8, 8, "int16")


def test_large_tensor_shape_preserved():
    x = -np.abs(np.random.default_rng(0).integers(-(2**20), 2**20, (3, 5, 7)))
    assert exp_neg(x, 12, 14, "int16").shape == (3, 5, 7)
    assert gelu(x.astype(np.int32), 12, 12, "int16").shape == (3, 5, 7)

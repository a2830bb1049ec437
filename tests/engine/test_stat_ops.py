"""RSQRT (64) and EXP (65), the sd-unet-block scalar functions: forward == element on random and edge inputs,
closeness to the real functions, the two-pass softmax's equality with SOFTMAX's integers, and the graph checks
that close their refusals."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from offchain.engine import intmath_softmax
from offchain.engine.dtypes import DType
from offchain.engine.errors import DtypeMismatchError, ParamError, ShapeMismatchError
from offchain.engine.ops import OpCode, get_op

from .op_harness import check_elements, exp_node as _exp, make_node, random_tensor, rsqrt_node as _rsqrt, spec
from .test_ops_intmath import SETTINGS, _indices, _rng

DTYPES = [DType.INT8, DType.INT16, DType.INT32]


@SETTINGS
@given(st.data())
def test_rsqrt_forward_equals_element(data):
    shape = tuple(data.draw(st.lists(st.integers(1, 5), min_size=1, max_size=3)))
    node = _rsqrt(shape, data.draw(st.sampled_from(DTYPES)), data.draw(st.integers(0, 30)),
                  data.draw(st.sampled_from(DTYPES)), data.draw(st.integers(0, 30)),
                  data.draw(st.sampled_from([0, 1, 7, 1 << 20, (1 << 31) - 1])))
    x = random_tensor(_rng(data), node.in_specs[0], True)
    check_elements(node, [x], _indices(data, node.output.size))


@SETTINGS
@given(st.data())
def test_exp_forward_equals_element(data):
    shape = tuple(data.draw(st.lists(st.integers(1, 5), min_size=1, max_size=3)))
    form = data.draw(st.sampled_from(["exp", "max", "divided"]))
    node = _exp(shape, data.draw(st.sampled_from(DTYPES)), data.draw(st.integers(0, 24)),
                data.draw(st.sampled_from(DTYPES)), data.draw(st.integers(0, 30)),
                data.draw(st.integers(0, 30)) if form == "divided" else None,
                data.draw(st.sampled_from(DTYPES)) if form != "exp" else None)
    rng = _rng(data)
    inputs = [random_tensor(rng, s, True) for s in node.in_specs]
    check_elements(node, inputs, _indices(data, node.output.size))


@pytest.mark.parametrize("x_dt", DTYPES)
def test_dtype_extremes_and_frac_ends(x_dt):
    """Every value at the dtype's ends, 0 and +-1, at both ends of every frac, into int8 (saturating) and int32;
    eps 0 and its largest value; a row sum at its ends (negative and 0 read as 1)."""
    x = np.array([x_dt.qmin, x_dt.qmin + 1, -1, 0, 1, x_dt.qmax - 1, x_dt.qmax], dtype=x_dt.numpy)
    for out_dt in (DType.INT8, DType.INT32):
        for fi in (0, 30):
            for fo in (0, 30):
                for eps in (0, 1, (1 << 31) - 1):
                    check_elements(_rsqrt(x.shape, x_dt, fi, out_dt, fo, eps), [x], range(x.size))
        for fi in (0, 24):
            for fo in (0, 30):
                check_elements(_exp(x.shape, x_dt, fi, out_dt, fo), [x], range(x.size))
                d = np.tile(x, (7, 1))
                m = np.array([[v] for v in (DType.INT32.qmin, -1, 0, 1, 2, 1 << 30, DType.INT32.qmax)], np.int32)
                s = m[::-1].copy()
                check_elements(_exp(d.shape, x_dt, fi, out_dt, fo, None, DType.INT32), [d, m], range(d.size))
                for fs in (0, 30):
                    check_elements(_exp(d.shape, x_dt, fi, out_dt, fo, fs), [d, m, s], range(d.size))


def test_rsqrt_close_to_real():
    x = np.arange(1, 1 << 16, 37, dtype=np.int32)
    node = _rsqrt(x.shape, DType.INT32, 10, DType.INT32, 20, 0)
    got = get_op(OpCode.RSQRT).forward([x], node) / 2.0 ** 20
    want = 1 / np.sqrt(x / 2.0 ** 10)
    assert np.max(np.abs(got - want) * 2 ** 20) <= 0.5 + want.max() * 2 ** 20 * 2 ** -29
    # zero, and a negative x + eps, are +inf: the dtype's max
    z = np.array([0, -4, -5, -(1 << 31)], np.int32)
    out = get_op(OpCode.RSQRT).forward([z], _rsqrt(z.shape, DType.INT32, 4, DType.INT16, 8, 4))
    assert out.tolist() == [512, 32767, 32767, 32767]   # 1 / sqrt(4 / 16) = 2 at frac 8


def test_exp_close_to_real():
    d = np.arange(-(20 << 12), 1 << 12, 97, dtype=np.int32)
    node = _exp(d.shape, DType.INT32, 12, DType.INT32, 24)
    got = get_op(OpCode.EXP).forward([d], node) / 2.0 ** 24
    want = np.exp(np.minimum(d / 2.0 ** 12, 0))
    assert np.max(np.abs(got - want)) * 2 ** 24 <= 0.5 + 2 ** (24 - 27) + 1e-9


@pytest.mark.parametrize("n", [1, 7, 64, 1000, 4096])
def test_two_pass_softmax_matches_softmax(n):
    """AMAX -> EXP(x, m) -> sum rounded to 30 - t frac bits -> EXP(x, m, S') is SOFTMAX's integers with the sum
    rounded: at most 1 LSB apart at f_out 14, and equal wherever the sum is exact (rows of one element)."""
    rng = np.random.default_rng(n)
    fi, fo = 10, 14
    x = rng.integers(-(8 << fi), 8 << fi, size=(3, n)).astype(np.int32)
    ref = intmath_softmax.softmax(x, fi, fo, np.int16)
    m = x.max(axis=-1, keepdims=True)
    e = get_op(OpCode.EXP).forward([x, m], _exp(x.shape, DType.INT32, fi, DType.INT32, 30, None, DType.INT32))
    assert (e.max(axis=-1) == 1 << 30).all()   # the row's max gives exactly 1.0 in Q30, as in SOFTMAX
    t = max(0, (n - 1).bit_length())
    s = e.astype(np.int64).sum(axis=-1, keepdims=True)
    s_r = ((s + ((1 << t) >> 1)) >> t).astype(np.int32) if t else s.astype(np.int32)
    out = get_op(OpCode.EXP).forward([x, m, s_r], _exp(x.shape, DType.INT32, fi, DType.INT16, fo, 30 - t))
    diff = np.abs(out.astype(np.int64) - ref)
    assert diff.max() <= 1
    if n == 1:
        assert (out == ref).all()
    real = np.exp(x / 2.0 ** fi - m / 2.0 ** fi)
    real /= real.sum(axis=-1, keepdims=True)
    assert np.abs(out / 2.0 ** fo - real).max() <= (0.5 + 2 ** (fo - 26) + 2 ** (fo - 19) + 0.5) / 2 ** fo


def test_refusals():
    ok = _rsqrt((2,), DType.INT32, 10, DType.INT32, 20, 0)
    get_op(OpCode.RSQRT).check(ok)
    for bad in (_rsqrt((2,), DType.INT32, 31, DType.INT32, 20, 0), _rsqrt((2,), DType.INT32, 10, DType.INT32, 31, 0),
                _rsqrt((2,), DType.INT32, 10, DType.INT32, 20, -1),
                _rsqrt((2,), DType.INT32, 10, DType.INT32, 20, 1 << 31)):
        with pytest.raises(ParamError):
            get_op(OpCode.RSQRT).check(bad)
    with pytest.raises(ShapeMismatchError):
        get_op(OpCode.RSQRT).check(make_node(OpCode.RSQRT, [spec((2,), DType.INT32, 0)], spec((3,), DType.INT32, 0),
                                             (0,)))
    for bad in (_exp((2, 3), DType.INT32, 25, DType.INT32, 30), _exp((2, 3), DType.INT32, 10, DType.INT32, 31),
                _exp((2, 3), DType.INT32, 10, DType.INT32, 14, 31)):
        with pytest.raises(ParamError):
            get_op(OpCode.EXP).check(bad)
    x, row = spec((2, 3), DType.INT32, 0), spec((2, 1), DType.INT32, 0)
    with pytest.raises(ShapeMismatchError):   # m and S must be one per row
        get_op(OpCode.EXP).check(make_node(OpCode.EXP, [x, x], x))
    with pytest.raises(ShapeMismatchError):
        get_op(OpCode.EXP).check(make_node(OpCode.EXP, [x, row, x], x))
    with pytest.raises(DtypeMismatchError):   # m on x's scale
        get_op(OpCode.EXP).check(make_node(OpCode.EXP, [x, spec((2, 1), DType.INT32, 1)], x))
    with pytest.raises(DtypeMismatchError):   # S is INT32
        get_op(OpCode.EXP).check(make_node(OpCode.EXP, [x, row, spec((2, 1), DType.INT16, 0)], x))
    with pytest.raises(ParamError):
        get_op(OpCode.EXP).check(make_node(OpCode.EXP, [spec((2, 3), DType.INT32, 0)], spec((2, 3), DType.INT32, 0),
                                           (1,)))

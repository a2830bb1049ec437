"""Primitives: rshift_round / saturate / requantize / div_round / isqrt, vectorised vs scalar reference."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from offchain.engine.intmath import (
    ACC_LIMIT,
    DivisionError,
    DomainError,
    DTypeError,
    OperandRangeError,
    ShiftRangeError,
    bit_length,
    bit_length_element,
    div_round,
    div_round_element,
    isqrt,
    isqrt_element,
    requantize,
    requantize_element,
    rshift_round,
    rshift_round_element,
    saturate,
    saturate_element,
)

ACC = st.integers(-ACC_LIMIT + 1, ACC_LIMIT - 1)
DTYPES = ["int8", "int16", "int32"]


@pytest.mark.parametrize(
    "acc,s,want",
    [
        (-3, 1, -1),  # (-3 + 1) >> 1
        (3, 1, 2),  # 1.5 rounds up
        (-1, 1, 0),  # -0.5 rounds up to 0
        (-5, 1, -2),  # -2.5 rounds up to -2
        (-6, 2, -1),  # -1.5 rounds up to -1
        (-7, 2, -2),  # -1.75 rounds to -2
        (5, 2, 1),  # 1.25
        (6, 2, 2),  # 1.5 rounds up
        (7, 0, 7),
        (-7, -3, -56),
        (-1, 62, 0),
        (ACC_LIMIT - 1, 62, 1),
    ],
)
def test_rshift_round_table(acc, s, want):
    assert rshift_round_element(acc, s) == want
    assert int(rshift_round(np.array([acc]), s)[0]) == want


@given(st.lists(ACC, min_size=1, max_size=20), st.integers(1, 62))
@settings(max_examples=200, deadline=None)
def test_rshift_round_is_round_half_up(accs, s):
    got = rshift_round(np.array(accs, dtype=np.int64), s)
    for a, g in zip(accs, got):
        # exact rational: floor(a / 2^s + 1/2)
        assert int(g) == math.floor(a / 2**s + 0.5) if abs(a) < 2**52 else True
        assert int(g) == (2 * a + 2**s) // 2 ** (s + 1)
        assert int(g) == rshift_round_element(a, s)


@given(st.integers(-(2**40), 2**40), st.integers(-20, 0))
@settings(max_examples=100, deadline=None)
def test_rshift_round_left_shift(a, s):
    assert rshift_round_element(a, s) == a * 2 ** (-s) == int(rshift_round(np.array([a]), s)[0])


def test_rshift_round_errors():
    with pytest.raises(ShiftRangeError):
        rshift_round(np.array([1]), 63)
    with pytest.raises(ShiftRangeError):
        rshift_round_element(1, -63)
    with pytest.raises(OperandRangeError):
        rshift_round(np.array([ACC_LIMIT], dtype=np.int64), 3)
    with pytest.raises(OperandRangeError):
        rshift_round_element(-ACC_LIMIT, 3)
    with pytest.raises(OperandRangeError, match="left shift"):
        rshift_round(np.array([1 << 40]), -30)
    with pytest.raises(OperandRangeError, match="left shift"):
        rshift_round_element(1 << 40, -30)
    with pytest.raises(OperandRangeError):
        rshift_round(np.array([1.5]), 1)


@given(st.lists(st.integers(-(2**70), 2**70), min_size=1, max_size=10), st.sampled_from(DTYPES))
@settings(max_examples=100, deadline=None)
def test_saturate_matches_reference(xs, dtype):
    small = [min(max(x, -(2**62)), 2**62) for x in xs]
    got = saturate(np.array(small, dtype=np.int64), dtype)
    assert got.dtype == np.dtype(dtype)
    info = np.iinfo(dtype)
    assert [int(v) for v in got] == [saturate_element(x, dtype) for x in small]
    assert all(info.min <= saturate_element(x, dtype) <= info.max for x in xs)


def test_saturate_edges():
    assert saturate_element(128, "int8") == 127
    assert saturate_element(-129, np.int8) == -128
    assert saturate_element(-128, "int8") == -128
    assert list(saturate(np.array([2**31, -(2**31) - 1, 0]), "int32")) == [2**31 - 1, -(2**31), 0]
    with pytest.raises(DTypeError):
        saturate(np.array([1]), "int64")
    with pytest.raises(DTypeError):
        saturate_element(1, "float32")


@given(st.lists(ACC, min_size=1, max_size=10), st.integers(-4, 62), st.sampled_from(DTYPES))
@settings(max_examples=150, deadline=None)
def test_requantize_matches_reference(accs, s, dtype):
    if s < 0:
        accs = [a >> 8 for a in accs]
    got = requantize(np.array(accs, dtype=np.int64), s, dtype)
    assert got.dtype == np.dtype(dtype)
    assert [int(v) for v in got] == [requantize_element(a, s, dtype) for a in accs]


@pytest.mark.parametrize(
    "a,b,want", [(-3, 2, -1), (3, 2, 2), (-5, 2, -2), (-7, 4, -2), (-6, 4, -1), (7, 3, 2), (-7, 3, -2), (0, 5, 0), (-1, 3, 0), (-2, 3, -1)]
)
def test_div_round_table(a, b, want):
    assert div_round_element(a, b) == want
    assert int(div_round(np.array([a]), np.array([b]))[0]) == want


@given(st.integers(-(2**61) + 1, 2**61 - 1), st.integers(1, 2**61 - 1))
@settings(max_examples=200, deadline=None)
def test_div_round_matches_reference_and_rshift(a, b):
    from fractions import Fraction

    want = math.floor(Fraction(a, b) + Fraction(1, 2))
    assert div_round_element(a, b) == want
    assert int(div_round(np.array([a]), np.array([b]))[0]) == want
    if b & (b - 1) == 0:
        assert want == rshift_round_element(a, b.bit_length() - 1)


def test_div_round_errors():
    with pytest.raises(DivisionError):
        div_round(np.array([1]), np.array([0]))
    with pytest.raises(DivisionError):
        div_round_element(1, -2)
    with pytest.raises(OperandRangeError):
        div_round_element(2**61, 3)


@given(st.lists(st.integers(0, ACC_LIMIT - 1), min_size=1, max_size=30))
@settings(max_examples=150, deadline=None)
def test_isqrt_is_floor_sqrt(xs):
    got = isqrt(np.array(xs, dtype=np.int64))
    for x, g in zip(xs, got):
        assert int(g) == math.isqrt(x) == isqrt_element(x)


def test_isqrt_edges():
    edges = [0, 1, 2, 3, 4, 15, 16, 17, ACC_LIMIT - 1, (1 << 31) ** 2 - 1, (1 << 30) ** 2]
    assert [int(v) for v in isqrt(np.array(edges, dtype=np.int64))] == [math.isqrt(e) for e in edges]
    assert [isqrt_element(e) for e in edges] == [math.isqrt(e) for e in edges]
    with pytest.raises(DomainError):
        isqrt(np.array([-1]))
    with pytest.raises(DomainError):
        isqrt_element(-1)
    with pytest.raises(OperandRangeError):
        isqrt(np.array([ACC_LIMIT], dtype=np.int64))


@given(st.lists(st.integers(0, 2**63 - 1), min_size=1, max_size=30))
@settings(max_examples=100, deadline=None)
def test_bit_length(xs):
    got = bit_length(np.array(xs, dtype=np.int64))
    assert [int(g) for g in got] == [x.bit_length() for x in xs] == [bit_length_element(x) for x in xs]


@given(st.lists(st.tuples(st.integers(-ACC_LIMIT + 1, ACC_LIMIT - 1), st.integers(0, 62)), min_size=1, max_size=30))
@settings(max_examples=150, deadline=None)
def test_rshift_round_var_equals_rshift_round(pairs):
    """The per-element-shift form used inside the operators gives rshift_round's result exactly."""
    from offchain.engine.intmath_core import rshift_round_var

    a = np.array([p[0] for p in pairs], dtype=np.int64)
    s = np.array([p[1] for p in pairs], dtype=np.int64)
    want = [rshift_round_element(x, k) for x, k in pairs]
    assert [int(v) for v in rshift_round_var(a, s)] == want
    k = pairs[0][1]
    assert [int(v) for v in rshift_round_var(a, k)] == [rshift_round_element(x, k) for x, _ in pairs]

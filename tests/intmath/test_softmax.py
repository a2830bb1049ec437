"""softmax: vectorised == scalar reference (random and edge rows, masks), accuracy vs float64, errors."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from offchain.engine.intmath import (
    FracBitsError,
    OperandRangeError,
    RowShapeError,
    softmax,
    softmax_element,
)

I32 = (-(2**31), 2**31 - 1)
DTYPES = ["int8", "int16", "int32"]


def assert_row_matches(row, f_in, f_out, dtype, valid_len=None):
    got = softmax(np.array([row], dtype=np.int64), f_in, f_out, dtype, valid_len=valid_len)[0]
    assert got.dtype == np.dtype(dtype)
    want = [softmax_element(list(row), j, f_in, f_out, dtype, valid_len) for j in range(len(row))]
    assert [int(v) for v in got] == want


@given(data=st.data())
@settings(max_examples=120, deadline=None)
def test_vectorised_equals_scalar_random(data):
    f_in = data.draw(st.integers(0, 24), label="f_in")
    f_out = data.draw(st.integers(0, 30), label="f_out")
    dtype = data.draw(st.sampled_from(DTYPES), label="dtype")
    span = data.draw(st.sampled_from([I32[1], 16 << f_in, 1 << f_in, 3]), label="span")
    row = data.draw(st.lists(st.integers(max(-span, I32[0]), span), min_size=1, max_size=16), label="row")
    valid_len = data.draw(st.one_of(st.none(), st.integers(1, len(row))), label="valid_len")
    assert_row_matches(row, f_in, f_out, dtype, valid_len)


@pytest.mark.parametrize(
    "row",
    [
        [5],  # one element: exactly 1.0
        [0, 0, 0, 0],  # all equal
        [I32[1]] * 3,
        [I32[0], I32[1]],  # extremes: 2^32 apart
        [I32[0], I32[0], 0, -1],
        [-1, -1, -2, 0],
        [I32[1], I32[1] - 1, I32[0]],
    ],
)
@pytest.mark.parametrize("f_in,f_out,dtype", [(0, 14, "int16"), (12, 14, "int16"), (24, 30, "int32"), (8, 7, "int8"), (8, 15, "int16")])
def test_vectorised_equals_scalar_edges(row, f_in, f_out, dtype):
    assert_row_matches(row, f_in, f_out, dtype)
    assert_row_matches(row, f_in, f_out, dtype, valid_len=1)


def test_exact_values():
    assert softmax_element([7], 0, 8, 14, "int16") == 1 << 14
    assert [int(v) for v in softmax(np.zeros((1, 4), np.int64), 8, 14, "int16")[0]] == [4096] * 4
    # 1.0 saturates in int16 with f_out = 15 and in int8 with f_out = 7
    assert softmax_element([3], 0, 8, 15, "int16") == 32767
    assert softmax_element([3, I32[0]], 0, 8, 7, "int8") == 127
    assert softmax_element([3, I32[0]], 1, 8, 7, "int8") == 0


def test_causal_equals_per_row_valid_len():
    rng = np.random.default_rng(3)
    x = rng.integers(-(8 << 12), 8 << 12, (2, 3, 5, 5))
    got = softmax(x, 12, 14, "int16", causal=True)
    for b in range(2):
        for h in range(3):
            for i in range(5):
                want = [softmax_element(list(x[b, h, i]), j, 12, 14, "int16", valid_len=i + 1) for j in range(5)]
                assert [int(v) for v in got[b, h, i]] == want
    # causal combined with key padding: the tighter of the two wins
    vl = np.array([[2], [5]])  # per batch row, broadcast over heads
    got = softmax(x[:, 0], 12, 14, "int16", causal=True, valid_len=vl)
    for b in range(2):
        for i in range(5):
            n_valid = min(i + 1, int(vl[b, 0]))
            want = [softmax_element(list(x[b, 0, i]), j, 12, 14, "int16", valid_len=n_valid) for j in range(5)]
            assert [int(v) for v in got[b, i]] == want


def float_softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


@pytest.mark.parametrize("f_in", [6, 12, 20])
@pytest.mark.parametrize("f_out,dtype", [(14, "int16"), (7, "int8"), (24, "int32")])
@pytest.mark.parametrize("n", [2, 64, 4096])
def test_accuracy_vs_float(f_in, f_out, dtype, n):
    """|out - softmax * 2^f_out| <= 0.5 LSB + 2^(f_out - 26) LSB (after saturation)."""
    rng = np.random.default_rng(n + f_in)
    real = rng.standard_normal((16, n)) * rng.choice([0.5, 3.0, 10.0], (16, 1))
    x = np.round(real * 2**f_in).astype(np.int64)
    got = softmax(x, f_in, f_out, dtype).astype(np.float64)
    info = np.iinfo(dtype)
    want = np.clip(float_softmax(x / 2.0**f_in) * 2.0**f_out, info.min, info.max)
    err = np.abs(got - want).max()
    assert err <= 0.5 + 2.0 ** (f_out - 26), err
    # rows sum to 1.0 within the per-element rounding
    sums = got.sum(axis=-1)
    assert np.all(np.abs(sums - 2.0**f_out) <= n * (0.5 + 2.0 ** (f_out - 26))) or dtype == "int8"


def test_named_errors():
    with pytest.raises(RowShapeError, match="valid_len"):
        softmax(np.zeros((2, 4), np.int64), 8, 14, "int16", valid_len=0)
    with pytest.raises(RowShapeError, match="valid_len"):
        softmax(np.zeros((2, 4), np.int64), 8, 14, "int16", valid_len=np.array([1, 5]))
    with pytest.raises(RowShapeError, match="broadcast"):
        softmax(np.zeros((2, 4), np.int64), 8, 14, "int16", valid_len=np.array([1, 2, 3]))
    with pytest.raises(RowShapeError, match="valid_len"):
        softmax_element([1, 2], 0, 8, 14, "int16", valid_len=3)
    with pytest.raises(RowShapeError, match="causal"):
        softmax(np.zeros(4, np.int64), 8, 14, "int16", causal=True)
    with pytest.raises(RowShapeError, match="j="):
        softmax_element([1, 2], 2, 8, 14, "int16")
    with pytest.raises(RowShapeError, match="row length"):
        softmax_element([], 0, 8, 14, "int16")
    with pytest.raises(RowShapeError, match="row length"):
        softmax(np.zeros((1, 0), np.int64), 8, 14, "int16")
    with pytest.raises(FracBitsError, match="f_in"):
        softmax(np.zeros((1, 4), np.int64), 25, 14, "int16")
    with pytest.raises(OperandRangeError, match="row"):
        softmax_element([2**31, 0], 0, 8, 14, "int16")
    with pytest.raises(OperandRangeError, match="x"):
        softmax(np.array([[2**31, 0]]), 8, 14, "int16")

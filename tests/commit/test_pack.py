"""Packing: the byte layout Solidity decodes (big-endian two's complement, row-major)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from offchain.commit import (
    PackedSizeError,
    UnsupportedDtypeError,
    dtype_width,
    pack_tensor,
    unpack_tensor,
)

INT_DTYPES = [np.int8, np.int16, np.int32]


def reference_pack(arr: np.ndarray) -> bytes:
    """Independent definition: each element via int.to_bytes, in row-major order."""
    width = arr.dtype.itemsize
    return b"".join(int(v).to_bytes(width, "big", signed=True) for v in arr.reshape(-1, order="C"))


@pytest.mark.parametrize(
    ("dtype", "values", "expected_hex"),
    [
        (np.int8, [-128, 127, 0, -1, 1], "807f00ff01"),
        (np.int16, [-32768, 32767, -1, 256], "80007fffffff0100"),
        (np.int32, [2**31 - 1, -(2**31), -1, 1], "7fffffff80000000ffffffff00000001"),
    ],
)
def test_pack_known_edges(dtype, values, expected_hex):
    arr = np.array(values, dtype=dtype)
    assert pack_tensor(arr).hex() == expected_hex
    assert unpack_tensor(bytes.fromhex(expected_hex), dtype, arr.shape).tolist() == values


def test_pack_is_row_major_for_non_contiguous_views():
    base = np.arange(-60, 60, dtype=np.int16).reshape(4, 5, 6)
    view = base[:, ::2, 1:].transpose(2, 0, 1)
    assert not view.flags.c_contiguous
    assert pack_tensor(view) == reference_pack(view)


def test_pack_accepts_big_endian_input_dtype():
    arr = np.array([1, -2, 300], dtype=">i2")
    assert pack_tensor(arr) == reference_pack(arr.astype(np.int16))


@pytest.mark.parametrize("dtype", INT_DTYPES)
@pytest.mark.parametrize("shape", [(0,), (3, 0), (0, 0, 5)])
def test_zero_size_round_trip(dtype, shape):
    arr = np.zeros(shape, dtype=dtype)
    assert pack_tensor(arr) == b""
    out = unpack_tensor(b"", dtype, shape)
    assert out.shape == shape and out.dtype == np.dtype(dtype)


def test_scalar_round_trip():
    arr = np.array(-5, dtype=np.int16)
    assert pack_tensor(arr) == b"\xff\xfb"
    assert unpack_tensor(b"\xff\xfb", np.int16, ()).item() == -5


@pytest.mark.parametrize("dtype", [np.uint8, np.int64, np.float32, np.float64, np.bool_, np.uint16])
def test_unsupported_dtype_rejected(dtype):
    with pytest.raises(UnsupportedDtypeError, match="int8, int16 or int32"):
        pack_tensor(np.zeros(3, dtype=dtype))
    with pytest.raises(UnsupportedDtypeError):
        unpack_tensor(b"\x00" * 8, dtype, (1,))


def test_non_array_rejected():
    with pytest.raises(UnsupportedDtypeError, match="numpy.ndarray"):
        pack_tensor([1, 2, 3])


def test_unpack_length_mismatch_names_sizes():
    with pytest.raises(PackedSizeError, match="5 bytes.*needs exactly 6"):
        unpack_tensor(b"\x00" * 5, np.int16, (3,))
    with pytest.raises(PackedSizeError, match="negative"):
        unpack_tensor(b"", np.int8, (-1,))


def test_dtype_width():
    assert [dtype_width(d) for d in INT_DTYPES] == [1, 2, 4]
    assert dtype_width(">i4") == 4


@settings(max_examples=60, deadline=None)
@given(hnp.arrays(dtype=st.sampled_from(INT_DTYPES), shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=6)))
def test_round_trip_property(arr):
    packed = pack_tensor(arr)
    assert packed == reference_pack(arr)
    back = unpack_tensor(packed, arr.dtype, arr.shape)
    assert back.dtype == arr.dtype and np.array_equal(back, arr)

"""Packing of integer tensors into the byte layout that Solidity decodes.

Layout (the protocol's single definition, DESIGN.md section 3): elements in
row-major (C) order, each written big-endian two's complement in its dtype's
width: int8 -> 1 byte, int16 -> 2 bytes, int32 -> 4 bytes. No header: shape
and dtype come from the node descriptor, never from the bytes.

Anyone may call these functions; they are pure.
"""

from __future__ import annotations

import numpy as np

from offchain.commit.errors import PackedSizeError, UnsupportedDtypeError

#: Width in bytes of each supported dtype. Keys are native numpy dtypes.
DTYPE_WIDTH: dict[np.dtype, int] = {
    np.dtype(np.int8): 1,
    np.dtype(np.int16): 2,
    np.dtype(np.int32): 4,
}


def dtype_width(dtype: np.dtype | type | str) -> int:
    """Bytes per element of ``dtype`` (1, 2 or 4), ignoring byte order.

    Raises :class:`UnsupportedDtypeError` for anything but int8/int16/int32.
    """
    dt = np.dtype(dtype)
    if dt.kind != "i" or dt.itemsize not in (1, 2, 4):
        raise UnsupportedDtypeError(
            f"dtype {dt!r} is not supported: tensors must be int8, int16 or int32"
        )
    return dt.itemsize


def _big_endian(dtype: np.dtype | type | str) -> np.dtype:
    return np.dtype(f">i{dtype_width(dtype)}")


def packed_buffer(arr: np.ndarray) -> memoryview:
    """The packed bytes of ``arr`` as a read-only buffer, without copying when possible.

    Same bytes as :func:`pack_tensor`; int8 C-contiguous arrays (the bulk of
    model weights) are exposed in place, so committing to billions of weights
    needs no extra copy. Callers must not mutate ``arr`` while using the view.
    """
    if not isinstance(arr, np.ndarray):
        raise UnsupportedDtypeError(f"arr must be a numpy.ndarray, got {type(arr).__name__}")
    be = _big_endian(arr.dtype)
    packed = np.ascontiguousarray(arr.astype(be, copy=False)).reshape(-1)
    if packed.size == 0:
        return memoryview(b"")
    view = memoryview(packed).cast("B")
    return view.toreadonly()


def pack_tensor(arr: np.ndarray) -> bytes:
    """Pack an int8/int16/int32 array: row-major, big-endian two's complement.

    Returns ``arr.size * width`` bytes (``b""`` for a zero-size array).
    Raises :class:`UnsupportedDtypeError` for any other dtype (bool, uint8,
    int64, floats, ...): silently casting would change the committed values.
    """
    return packed_buffer(arr).tobytes()


def unpack_tensor(data: bytes | bytearray | memoryview, dtype: np.dtype | type | str,
                  shape: tuple[int, ...]) -> np.ndarray:
    """Inverse of :func:`pack_tensor`: decode ``data`` into a native-endian array of ``shape``.

    ``len(data)`` must equal ``prod(shape) * width(dtype)`` exactly; raises
    :class:`PackedSizeError` otherwise and :class:`UnsupportedDtypeError` for
    an unsupported dtype. The result is a fresh writable array.
    """
    width = dtype_width(dtype)
    shape = tuple(int(d) for d in shape)
    if any(d < 0 for d in shape):
        raise PackedSizeError(f"shape {shape} has a negative dimension")
    count = int(np.prod(shape, dtype=np.int64)) if shape else 1
    if len(data) != count * width:
        raise PackedSizeError(
            f"packed data has {len(data)} bytes but shape {shape} of int{8 * width} "
            f"needs exactly {count * width}"
        )
    flat = np.frombuffer(bytes(data), dtype=_big_endian(dtype), count=count)
    return flat.astype(np.dtype(f"i{width}")).reshape(shape)

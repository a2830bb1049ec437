"""Rescaling between fixed-point scales, vectorised and scalar, and the exact matmul.

``rescale(acc, s, dtype)`` is the protocol's one requantisation rule applied
to an exact accumulator: for ``s > 0`` the rounding shift
``(acc + (1 << (s-1))) >> s`` (arithmetic, i.e. floor), for ``s == 0`` the
value itself, for ``s < 0`` the exact left shift ``acc << -s``; then
saturation to ``dtype``'s range. Ops call only this, never their own rounding.
"""

from __future__ import annotations

import numpy as np

from offchain.engine.dtypes import DType
from offchain.engine.errors import ParamError
from offchain.engine.intmath import rshift_round, rshift_round_element
from offchain.engine.kernels import matmul_exact, matmul_requantised

#: Largest left shift a rescale may ask for; keeps every int64 intermediate exact.
MAX_LEFT_SHIFT = 31
#: Largest right shift; beyond it every int64 accumulator rounds to 0 or -0.
MAX_RIGHT_SHIFT = 62


def check_shift(s: int, what: str) -> None:
    """Raise ParamError if shift ``s`` is outside [-MAX_LEFT_SHIFT, MAX_RIGHT_SHIFT]."""
    if not -MAX_LEFT_SHIFT <= s <= MAX_RIGHT_SHIFT:
        raise ParamError(f"{what}: shift {s} outside [-{MAX_LEFT_SHIFT}, {MAX_RIGHT_SHIFT}]")


def rescale(acc: np.ndarray, s: int, dtype: DType) -> np.ndarray:
    """Requantise an int64 accumulator array by ``s`` bits and saturate to ``dtype``.

    Returns an array of ``dtype.numpy``. ``|acc|`` must stay below 2**62.
    """
    acc = np.asarray(acc, dtype=np.int64)
    if s > 0:
        acc = rshift_round(acc, s)
    elif s < 0:
        # Clip first so the shift cannot overflow int64; clipped values saturate either way.
        k = -s
        lo = -((-dtype.qmin) >> k) - 1
        hi = (dtype.qmax >> k) + 1
        acc = np.left_shift(np.clip(acc, lo, hi), k)
    return np.clip(acc, dtype.qmin, dtype.qmax).astype(dtype.numpy)


def rescale_int(acc: int, s: int, dtype: DType) -> int:
    """Scalar pure-int :func:`rescale` (what the one-step prover computes)."""
    if s > 0:
        acc = rshift_round_element(acc, s)
    elif s < 0:
        acc = acc << -s
    return min(max(acc, dtype.qmin), dtype.qmax)


def exact_matmul(a: np.ndarray, b_t: np.ndarray) -> np.ndarray:
    """``a @ b_t.swapaxes(-1, -2)`` exactly, as int64 (see :func:`offchain.engine.kernels.matmul_exact`).

    The C kernel for int8/int16 x int8 operands, the numpy path (float64 BLAS under its static exactness bound,
    int64 otherwise) for the rest; both give the same integers, so roots never depend on which ran.
    """
    return matmul_exact(a, b_t)


def exact_matmul_rescale(a: np.ndarray, b_t: np.ndarray, bias: np.ndarray | None, s: int,
                         dtype: DType) -> np.ndarray:
    """``rescale(exact_matmul(a, b_t) + bias, s, dtype)``: LINEAR's and MATMUL's whole forward.

    The C kernel applies the rescale in its epilogue (no int64 array of sums between the product and the
    requantisation); other operands take exact_matmul and rescale. Both give the same integers.
    """
    out = matmul_requantised(a, b_t, bias, s, dtype.numpy)
    if out is not None:
        return out
    acc = exact_matmul(a, b_t)
    if bias is not None:
        acc = acc + bias.astype(np.int64)
    return rescale(acc, s, dtype)


def accumulator_bits(a_dtype: DType, b_dtype: DType, k: int) -> int:
    """Bits needed by the worst-case |sum of k products| (used to reject int64 overflow)."""
    return (a_dtype.bits - 1) + (b_dtype.bits - 1) + max(k, 1).bit_length()

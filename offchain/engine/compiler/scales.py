"""Power-of-two scale selection and constant quantisation (compile time only)."""

from __future__ import annotations

import math

import numpy as np

from offchain.engine.dtypes import DType


def choose_frac(maxabs: float, dtype: DType, headroom: float, lo: int, hi: int) -> int:
    """Largest f in [lo, hi] with ``maxabs * headroom * 2^f <= dtype.qmax`` (hi when maxabs is 0)."""
    if maxabs <= 0 or not math.isfinite(maxabs):
        return hi
    f = math.floor(math.log2(dtype.qmax / (maxabs * headroom)))
    return max(lo, min(hi, f))


def quantise_array(values: np.ndarray, frac: int, dtype: DType) -> np.ndarray:
    """round-half-up(values * 2^frac), saturated to dtype (compile-time weights only)."""
    scaled = np.floor(np.asarray(values, dtype=np.float64) * 2.0 ** frac + 0.5)
    return np.clip(scaled, dtype.qmin, dtype.qmax).astype(dtype.numpy)


def quantise_const(values: np.ndarray, dtype: DType, lo: int = -16, hi: int = 40) -> tuple[np.ndarray, int]:
    """Quantise a constant with the finest power-of-two scale that holds its max exactly."""
    maxabs = float(np.abs(values).max()) if np.size(values) else 0.0
    frac = choose_frac(maxabs, dtype, 1.0, lo, hi)
    return quantise_array(values, frac, dtype), frac

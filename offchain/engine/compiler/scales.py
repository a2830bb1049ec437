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


def fitting_frac(values: np.ndarray, dtype: DType, lo: int, hi: int) -> int:
    """Largest f in [lo, hi] at which every value rounds into [qmin, qmax] (hi for all zeros).

    Bounds the positive and negative sides separately, so a weight tensor that
    is exactly int8 times 2^-e (including -128) is reproduced exactly.
    """
    f = hi
    top, bottom = float(np.max(values, initial=0.0)), float(-np.min(values, initial=0.0))
    for mag, limit in ((top, dtype.qmax), (bottom, -dtype.qmin)):
        if mag > 0:
            f = min(f, math.floor(math.log2(limit / mag)))
    return max(lo, f)


def quantise_const(values: np.ndarray, dtype: DType, lo: int = -16, hi: int = 40) -> tuple[np.ndarray, int]:
    """Quantise a constant with the finest power-of-two scale that holds its range."""
    frac = fitting_frac(np.asarray(values, dtype=np.float64), dtype, lo, hi)
    return quantise_array(values, frac, dtype), frac


def quantisation_snr_db(values: np.ndarray, dtype: DType) -> float:
    """Signal-to-noise ratio (dB) of quantising ``values`` with :func:`quantise_const` (inf if exact)."""
    arr = np.asarray(values, dtype=np.float64)
    q, frac = quantise_const(arr, dtype)
    noise = float(np.mean((arr - q.astype(np.float64) / 2.0 ** frac) ** 2))
    signal = float(np.mean(arr ** 2))
    if noise == 0.0:
        return math.inf
    return 10.0 * math.log10(signal / noise) if signal > 0 else -math.inf


def worst_channel_snr_db(values: np.ndarray, dtype: DType) -> float:
    """The lowest per-output-channel (axis 0) SNR (dB) of quantising ``values`` with one scale for the whole tensor,
    as :func:`quantise_const` does: a channel whose values are much smaller than the tensor's largest keeps few
    levels, which the whole-tensor SNR hides. Channels that are all zero are skipped (inf if none is left)."""
    arr = np.asarray(values, dtype=np.float64)
    q, frac = quantise_const(arr, dtype)
    rows = arr.reshape(arr.shape[0], -1) if arr.ndim > 1 else arr.reshape(-1, 1)
    err = rows - q.reshape(rows.shape).astype(np.float64) / 2.0 ** frac
    signal, noise = np.mean(rows ** 2, axis=1), np.mean(err ** 2, axis=1)
    live = signal > 0
    if not live.any():
        return math.inf
    with np.errstate(divide="ignore"):
        return float(np.min(10.0 * np.log10(signal[live] / noise[live])))

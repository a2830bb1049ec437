"""Turning request inputs into the integer tensors a graph declares.

Who calls: the executor (before any node runs), nodes and CLIs preparing a
request. Integer inputs are taken as already-quantised values; float inputs
are real values and are quantised with the input's frac bits using the
protocol's rounding (round half up: floor(x * 2^f + 1/2)). Nothing is
silently clipped: a value outside the dtype's range is an error.
"""

from __future__ import annotations

import numpy as np

from offchain.engine.errors import InputDtypeError, InputNaNError, InputRangeError, InputShapeError
from offchain.engine.graph import TensorSpec


def quantise_input(value: np.ndarray, spec: TensorSpec, name: str) -> np.ndarray:
    """Return ``value`` as an array of ``spec.dtype`` and ``spec.shape``; raise a named InputError otherwise.

    ``name`` identifies the input in error messages (e.g. "input[0] pixels").
    """
    arr = np.asarray(value)
    if tuple(arr.shape) != spec.shape:
        raise InputShapeError(f"{name}: shape {tuple(arr.shape)}, graph expects {spec.shape}")
    if arr.dtype.kind == "f":
        if arr.size and not np.isfinite(arr).all():
            raise InputNaNError(f"{name}: holds NaN or infinity; real inputs must be finite")
        scaled = np.floor(arr.astype(np.float64) * np.float64(2.0) ** spec.frac + 0.5)
        lo, hi = spec.dtype.qmin, spec.dtype.qmax
        if arr.size and (scaled.min() < lo or scaled.max() > hi):
            worst = float(arr.min() if scaled.min() < lo else arr.max())
            raise InputRangeError(f"{name}: real value {worst} is outside the range "
                                  f"[{lo / 2 ** spec.frac}, {hi / 2 ** spec.frac}] of "
                                  f"{spec.dtype.name} with {spec.frac} frac bits")
        return scaled.astype(spec.dtype.numpy)
    if arr.dtype.kind not in "iub":
        raise InputDtypeError(f"{name}: dtype {arr.dtype} is neither integer nor float")
    if arr.dtype.kind == "b":
        raise InputDtypeError(f"{name}: bool input; pass integers or reals")
    if arr.size and (int(arr.min()) < spec.dtype.qmin or int(arr.max()) > spec.dtype.qmax):
        raise InputRangeError(f"{name}: integer values [{int(arr.min())}, {int(arr.max())}] exceed "
                              f"{spec.dtype.name} range [{spec.dtype.qmin}, {spec.dtype.qmax}]")
    return arr.astype(spec.dtype.numpy)

"""LoReFT intervention ``h + R^T (W h + b - R h)``: its exact integer definition and numpy reference.

Integer semantics (one rounding rule, the engine's ``requantize``: round half up
by an arithmetic shift, then saturate), for ``h [..., d]`` of dtype D with frac
``fh``, ``R, W [r, d]`` int8 with the same frac ``fw``, ``b [r]`` int32 with frac
``fh + fw``::

    z[k]   = sum_j (W[k, j] - R[k, j]) * h[j] + b[k]          exact, frac fh + fw
    e[k]   = requantize(z[k], fw, D)                          frac fh
    out[j] = requantize(h[j] * 2**fw + sum_k R[k, j] * e[k], fw, D)   frac fh

So ``W h - R h`` is one exact accumulator (one rounding, not two), and the
residual ``h`` joins the second accumulator at full precision. It is the
engine's LOREFT op (inputs h, R, W, b; output dtype/frac = h's).
"""

from __future__ import annotations

import numpy as np

from offchain.engine.dtypes import DType
from offchain.engine.ops.intervention import loreft_forward


class LoreftShapeError(ValueError):
    """LoReFT operands disagree in shape or dtype."""


def check_loreft(h: np.ndarray, r_mat: np.ndarray, w_mat: np.ndarray, b: np.ndarray) -> None:
    """Raise LoreftShapeError naming the operand unless shapes and dtypes fit the definition above."""
    if r_mat.ndim != 2 or w_mat.shape != r_mat.shape:
        raise LoreftShapeError(f"R {r_mat.shape} and W {w_mat.shape} must both be [r, d]")
    r, d = r_mat.shape
    if h.shape[-1:] != (d,):
        raise LoreftShapeError(f"h {h.shape} must end in d = {d}")
    if b.shape != (r,):
        raise LoreftShapeError(f"b {b.shape} must be [r] = [{r}]")
    if r_mat.dtype != np.int8 or w_mat.dtype != np.int8 or b.dtype != np.int32:
        raise LoreftShapeError(f"R, W must be int8 and b int32, got {r_mat.dtype}, {w_mat.dtype}, {b.dtype}")


def loreft_int(h: np.ndarray, r_mat: np.ndarray, w_mat: np.ndarray, b: np.ndarray, fw: int,
               dtype: DType) -> np.ndarray:
    """The integer LoReFT of ``h [..., d]`` (values of ``dtype``); returns an array of ``dtype``, h's shape.
    The engine's LOREFT op (offchain/engine/ops/intervention.py) is the definition; this checks the operands."""
    check_loreft(h, r_mat, w_mat, b)
    return loreft_forward(h, r_mat, w_mat, b, fw, dtype)


def loreft_float(h: np.ndarray, r_mat: np.ndarray, w_mat: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Real-valued ``h + R^T (W h + b - R h)`` (for accuracy checks of the integer version)."""
    return h + (h @ w_mat.T + b - h @ r_mat.T) @ r_mat

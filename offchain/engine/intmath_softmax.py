"""Integer-only softmax over a row, with an optional causal / valid-length mask.

For a row x[0..n) (real x / 2^f_in) of which the first L elements are valid (L = valid_len):

1. ``m = max(x[0..L))``
2. ``e_i = exp_neg_q30(m - x_i)`` (Q30, e^(x_i - m), the max element gives exactly 2^30)
3. ``S = sum(e[0..L))``, with 2^30 <= S <= n * 2^30
4. ``out_j = div_round(e_j << f_out, S)`` for j < L, 0 for masked j >= L; saturated to dtype.

Bounds: m - x_i < 2^32 (int32 inputs), clamped inside exp; S <= 2^16 * 2^30 = 2^46 and
e_j << f_out <= 2^60, inside div_round's 2^61. Error per output <= 0.5 LSB + 2^(f_out - 26) LSB
(exp error <= 2^-27 relative on each term, in the numerator and in the sum).

Recommended: int16 with f_out = 14 (1.0 = 16384, resolution 6e-5), or int8 with f_out = 7
(1.0 saturates to 127/128). A one-step proof recomputes the whole row (L exps) for one element;
for long rows the compiler may split the op into max / exp / sum / divide nodes with the same
formulas (the sum then has its own partial-sum descent).

Where the C row kernels are built and on (offchain.engine.kernels.rowops()), softmax runs its rows in C
(offchain/engine/_rowops.c: the same integer steps, exp_neg_q30's polynomial included); the numpy code below is
the definition, and tests/engine/test_rowops.py checks the two bit for bit.
"""

from __future__ import annotations

import numpy as np

from offchain.engine import kernels
from offchain.engine.intmath_act import (
    EXP_CLAMP,
    FRAC_IN_MAX,
    FRAC_OUT_MAX,
    exp_neg_q30,
    exp_neg_q30_element,
)
from offchain.engine.intmath_core import (
    INT32_MAX,
    INT32_MIN,
    DTypeLike,
    RowShapeError,
    check_frac,
    check_int,
    check_int_array,
    div_round,
    div_round_element,
    dtype_name,
    dtype_range,
    saturate,
    saturate_element,
)

MAX_ROW = 1 << 16


def _check_params(n: int, f_in: int, f_out: int, dtype: DTypeLike) -> str:
    name = dtype_name(dtype)
    if not 1 <= n <= MAX_ROW:
        raise RowShapeError(f"softmax row length n={n} outside [1, {MAX_ROW}]")
    check_frac("f_in", f_in, 0, FRAC_IN_MAX)
    check_frac("f_out", f_out, 0, FRAC_OUT_MAX)
    return name


#: exp_neg_q30 on every magnitude it distinguishes, per f_in: exp_neg_q30 clamps w at EXP_CLAMP << f_in first, so
#: a table over [0, EXP_CLAMP << f_in] indexed by min(w, EXP_CLAMP << f_in) gives exactly its integers.
_EXP_TABLES: dict[int, np.ndarray] = {}
#: Largest table (entries, int64; 32 MiB): f_in up to 16; larger f_in computes directly.
_EXP_TABLE_MAX = (EXP_CLAMP << 16) + 1


def _exp_neg(d: np.ndarray, f_in: int) -> np.ndarray:
    """exp_neg_q30(d, f_in) for magnitudes d >= 0, through a cached table of exp_neg_q30 itself over its whole
    clamped domain when that is small enough and d large enough to pay for it (one gather per element instead of
    the polynomial's int64 passes); the same integers either way."""
    top = EXP_CLAMP << f_in
    if top + 1 > _EXP_TABLE_MAX or d.size < (1 << 14):
        return exp_neg_q30(d, f_in)
    table = _EXP_TABLES.get(f_in)
    if table is None:
        table = _EXP_TABLES.setdefault(f_in, exp_neg_q30(np.arange(top + 1, dtype=np.int64), f_in))
    return table[np.minimum(d, top)]


def softmax(
    x: np.ndarray,
    f_in: int,
    f_out: int,
    dtype: DTypeLike,
    causal: bool = False,
    valid_len: np.ndarray | int | None = None,
) -> np.ndarray:
    """Softmax over the last axis of x [..., n]; masked positions output 0.

    causal: row i of the second-to-last axis sees keys j <= i (torch's is_causal, top-left
    aligned); x needs ndim >= 2. valid_len: number of leading valid keys per row, an int or an
    int array broadcastable to x.shape[:-1], each in [1, n] (key padding). Both may be given:
    a key is valid when it passes both. Callers: engine (attention), one-step prover tests.
    """
    arr = check_int_array("x", x, INT32_MIN, INT32_MAX)
    if arr.ndim < 1:
        raise RowShapeError("softmax needs at least one axis")
    n = arr.shape[-1]
    name = _check_params(n, f_in, f_out, dtype)
    lens = _row_lengths(arr.shape, causal, valid_len)
    rk = kernels.rowops()
    if rk is not None and arr.size:
        out = np.empty(arr.shape, name)
        lo, hi = dtype_range(name)
        # table None: C evaluates exp_neg_q30's polynomial (AVX-512: ~0.33 ms for MiniLM's [1, 12, 128, 128] at
        # any f_in), faster than gathering from the f_in <= 16 table (0.54 ms at f_in 16, a 32 MiB table).
        rk.softmax_rows(_c_rows(arr, n), lens.reshape(-1), None, f_in, f_out, lo, hi, out.reshape(-1, n),
                        kernels.threads())
        return out
    xx = arr.astype(np.int64, copy=False)
    valid = np.arange(n, dtype=np.int64) < lens[..., None]
    m = np.max(np.where(valid, xx, INT32_MIN), axis=-1, keepdims=True)
    e = np.where(valid, _exp_neg(m - np.where(valid, xx, m), f_in), 0)
    s = np.sum(e, axis=-1, keepdims=True)
    return saturate(div_round(e << f_out, s), name)


def _c_rows(arr: np.ndarray, n: int) -> np.ndarray:
    """x as C-contiguous rows [R, n] of a signed native integer type the C row kernels read (int8..int64)."""
    if arr.dtype.kind != "i" or not arr.dtype.isnative:
        arr = arr.astype(np.int64)
    return np.ascontiguousarray(arr.reshape(-1, n))


def _row_lengths(shape: tuple[int, ...], causal: bool, valid_len: np.ndarray | int | None) -> np.ndarray:
    """Valid length of every row, shape = shape[:-1]."""
    n = shape[-1]
    lens = np.full(shape[:-1], n, dtype=np.int64)
    if valid_len is not None:
        vl = np.asarray(valid_len)
        if vl.dtype.kind not in "iu":
            raise RowShapeError(f"valid_len must be integers, got dtype {vl.dtype}")
        if vl.size and (int(vl.min()) < 1 or int(vl.max()) > n):
            raise RowShapeError(f"valid_len values in [{int(vl.min())}, {int(vl.max())}], allowed [1, {n}]")
        try:
            lens = np.broadcast_to(vl.astype(np.int64), shape[:-1]).copy()
        except ValueError as exc:
            raise RowShapeError(f"valid_len shape {vl.shape} does not broadcast to {shape[:-1]}") from exc
    if causal:
        if len(shape) < 2:
            raise RowShapeError("causal softmax needs x with ndim >= 2 (query axis, key axis)")
        lens = np.minimum(lens, np.arange(1, shape[-2] + 1, dtype=np.int64))
    return lens


def softmax_element(row: list[int], j: int, f_in: int, f_out: int, dtype: DTypeLike, valid_len: int | None = None) -> int:
    """Scalar reference of softmax: output element j of one row whose first valid_len keys are
    valid (default: all; causal row i means valid_len = i + 1)."""
    n = len(row)
    name = _check_params(n, f_in, f_out, dtype)
    if not 0 <= j < n:
        raise RowShapeError(f"element index j={j} outside [0, {n})")
    vlen = n if valid_len is None else valid_len
    if not isinstance(vlen, (int, np.integer)) or not 1 <= vlen <= n:
        raise RowShapeError(f"valid_len={valid_len!r} outside [1, {n}]")
    row = [check_int(f"row[{i}]", v, INT32_MIN, INT32_MAX) for i, v in enumerate(row)]
    if j >= vlen:
        return 0
    m = row[0]
    for i in range(1, vlen):
        if row[i] > m:
            m = row[i]
    s = 0
    for i in range(vlen):
        s += exp_neg_q30_element(m - row[i], f_in)
    e_j = exp_neg_q30_element(m - row[j], f_in)
    return saturate_element(div_round_element(e_j << f_out, s), name)

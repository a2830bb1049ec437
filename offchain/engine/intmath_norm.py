"""Integer-only reciprocal square root and the row normalisations built on it: LayerNorm, RMSNorm.

rsqrt uses one floor isqrt (integer Newton) of the argument pre-shifted by an even amount 2G so
that it has 61-62 bits, then one rounded division: 1/sqrt(v) = 2^G / isqrt(v * 4^G). The relative
error of isqrt at >= 30 result bits is < 2^-30, far below the ~1e-4 a transformer needs.

LayerNorm over a row x[0..n) (real x / 2^f_in), all integer:

1. ``c_i = n*x_i - sum(x)``: exactly n times the centred value (no rounding of the mean).
2. ``k = max(0, bit_length(max|c|) - 22)``, ``c'_i = rshift_round(c_i, k)``: keeps 22 significant
   bits so that sum(c'^2) <= n * 2^44 fits int64; normalisation is scale invariant.
3. ``U = sum(c'^2) + rshift_round(eps_lsb2 * n^3, 2k)``: n^3 * var(c') in c' units plus eps,
   where eps_lsb2 = round(eps * 2^(2 f_in)) (eps in input-LSB^2 units).
4. ``G = (62 - bit_length(U)) // 2``, ``s = isqrt((U << 2G) // n)`` (s = 2^G * std(c'), s >= 2^22),
   ``r = div_round(2^60, s)``, ``z_i = rshift_round(c'_i * r, 40 - G)``: z = (x - mean) / std in Q20.
5. ``out_i = rshift_round(z_i * gamma_i + beta_i << (20 + f_gamma - f_beta), 20 + f_gamma - f_out)``,
   saturated (one rounding).

RMSNorm is the same with c_i = x_i (no centring) and n in place of n^3 for the eps term, and no beta.
A row whose U is 0 (constant row for LayerNorm, all-zero row for RMSNorm, eps_lsb2 = 0) has z = 0.

Where the C row kernels are built and on (offchain.engine.kernels.rowops()), layernorm and rmsnorm run their rows
in C (offchain/engine/_rowops.c: the same integer steps); the numpy code below is the definition, and
tests/engine/test_rowops.py checks the two bit for bit.
"""

from __future__ import annotations

import numpy as np

from offchain.engine import kernels
from offchain.engine.intmath_core import (
    INT32_MAX,
    INT32_MIN,
    DomainError,
    DTypeLike,
    OperandRangeError,
    RowShapeError,
    as_int64,
    bit_length,
    bit_length_element,
    check_frac,
    check_int,
    check_int_array,
    div_round,
    div_round_element,
    dtype_name,
    dtype_range,
    isqrt,
    isqrt_element,
    rshift_round_var,
    saturate,
    saturate_element,
)

FRAC_MAX = 30
# Normalised values z = (x - mean) / std are held in Q20: |z| <= sqrt(n) <= 2^8, so |z| < 2^29
# and z * gamma < 2^60 for int32 gamma.
Z_FRAC = 20
# Significant bits kept of the centred row (step 2): 2^16 * (2^22)^2 = 2^60.
NORM_BITS = 22
MAX_ROW = 1 << 16
# U = sum(c'^2) + eps term stays below 2^62, the isqrt / shift limit: sum <= 2^60, eps term < 2^61.
EPS_TERM_LIMIT = 1 << 61


# ---------------------------------------------------------------------------------------------
# rsqrt
# ---------------------------------------------------------------------------------------------


def rsqrt(x: np.ndarray, f_in: int, f_out: int, dtype: DTypeLike) -> np.ndarray:
    """1 / sqrt(x / 2^f_in) as round(2^f_out / sqrt(x / 2^f_in)), saturated to dtype.

    x: int array in [0, 2^31); x = 0 gives the dtype's max (1/sqrt(0) = +inf), x < 0 raises
    DomainError. 0 <= f_in, f_out <= 30. Error <= 0.5 LSB + 2^-29 relative. Odd f_in doubles x
    so that the exponent 2^(f_in/2) is an integer power of two.
    """
    name = dtype_name(dtype)
    check_frac("f_in", f_in, 0, FRAC_MAX)
    check_frac("f_out", f_out, 0, FRAC_MAX)
    xx = as_int64("x", x, INT32_MIN, INT32_MAX)
    if xx.size and int(xx.min()) < 0:
        raise DomainError(f"rsqrt needs x >= 0, got min {int(xx.min())}")
    odd = f_in & 1
    v = xx << odd  # <= 2^32
    h = (f_in + odd) >> 1
    # G <= 60 - f_out - h keeps the numerator 2^(f_out + h + G) <= 2^60; it is >= 15 here.
    g = np.minimum((62 - bit_length(v)) >> 1, 60 - f_out - h)
    s = isqrt(v << (2 * g))
    pos = v > 0
    y = div_round(np.left_shift(np.int64(1), f_out + h + g), np.where(pos, s, 1))
    return saturate(np.where(pos, y, dtype_range(name)[1]), name)


def rsqrt_element(x: int, f_in: int, f_out: int, dtype: DTypeLike) -> int:
    """Scalar reference of rsqrt."""
    name = dtype_name(dtype)
    check_frac("f_in", f_in, 0, FRAC_MAX)
    check_frac("f_out", f_out, 0, FRAC_MAX)
    x = check_int("x", x, INT32_MIN, INT32_MAX)
    if x < 0:
        raise DomainError(f"rsqrt needs x >= 0, got {x}")
    if x == 0:
        return dtype_range(name)[1]
    odd = f_in & 1
    v = x << odd
    h = (f_in + odd) >> 1
    g = min((62 - bit_length_element(v)) >> 1, 60 - f_out - h)
    s = isqrt_element(v << (2 * g))
    return saturate_element(div_round_element(1 << (f_out + h + g), s), name)


# ---------------------------------------------------------------------------------------------
# shared normalisation core
# ---------------------------------------------------------------------------------------------


def _normalise_rows(c: np.ndarray, eps_num: int, n: int) -> np.ndarray:
    """Steps 2-4 for rows c [..., n] (|c| < 2^49): z in Q20, same shape.

    eps_num = eps_lsb2 * n^3 (LayerNorm) or eps_lsb2 * n (RMSNorm), < EPS_TERM_LIMIT.
    """
    m = np.max(np.abs(c), axis=-1, keepdims=True)
    k = np.maximum(bit_length(m) - NORM_BITS, 0)
    cp = rshift_round_var(c, k)  # |c'| <= 2^22
    u = np.sum(cp * cp, axis=-1, keepdims=True) + rshift_round_var(np.int64(eps_num), 2 * k)
    g = (62 - bit_length(u)) >> 1
    s = isqrt((u << (2 * g)) // n)
    pos = u > 0
    r = div_round(np.int64(1 << 60), np.where(pos, s, 1))
    z = rshift_round_var(cp * r, 60 - Z_FRAC - g)  # |c' * r| <= 2^22 * 2^38
    return np.where(pos, z, 0)


def _normalise_row_element(c: list[int], j: int, eps_num: int, n: int) -> int:
    """Scalar reference of _normalise_rows for element j of one row."""
    m = 0
    for ci in c:
        a = ci if ci >= 0 else -ci
        if a > m:
            m = a
    k = bit_length_element(m) - NORM_BITS
    if k < 0:
        k = 0
    u = 0
    for ci in c:
        cpi = (ci + (1 << (k - 1))) >> k if k > 0 else ci
        u += cpi * cpi
    u += (eps_num + (1 << (2 * k - 1))) >> (2 * k) if k > 0 else eps_num
    if u == 0:
        return 0
    g = (62 - bit_length_element(u)) >> 1
    s = isqrt_element((u << (2 * g)) // n)
    r = div_round_element(1 << 60, s)
    cpj = (c[j] + (1 << (k - 1))) >> k if k > 0 else c[j]
    shift = 60 - Z_FRAC - g
    return (cpj * r + (1 << (shift - 1))) >> shift


def _check_row_params(
    n: int, f_in: int, f_gamma: int, f_out: int, eps_lsb2: int, eps_mult: int, dtype: DTypeLike
) -> str:
    name = dtype_name(dtype)
    if not 1 <= n <= MAX_ROW:
        raise RowShapeError(f"row length n={n} outside [1, {MAX_ROW}]")
    check_frac("f_in", f_in, 0, FRAC_MAX)
    check_frac("f_gamma", f_gamma, 0, FRAC_MAX)
    check_frac("f_out", f_out, 0, min(FRAC_MAX, Z_FRAC + f_gamma))
    eps_lsb2 = check_int("eps_lsb2", eps_lsb2, 0, EPS_TERM_LIMIT - 1)
    if eps_lsb2 * eps_mult >= EPS_TERM_LIMIT:
        raise OperandRangeError(
            f"eps_lsb2={eps_lsb2} times {eps_mult} (from row length {n}) must be < 2^61; use a smaller f_in"
        )
    return name


def _param_vector(name: str, p: np.ndarray | list[int], n: int) -> np.ndarray:
    arr = np.asarray(p)
    if arr.shape != (n,):
        raise RowShapeError(f"{name} has shape {arr.shape}, expected ({n},)")
    return as_int64(name, arr, INT32_MIN, INT32_MAX)


# ---------------------------------------------------------------------------------------------
# LayerNorm
# ---------------------------------------------------------------------------------------------


def layernorm(
    x: np.ndarray,
    gamma: np.ndarray,
    beta: np.ndarray,
    f_in: int,
    f_gamma: int,
    f_beta: int,
    f_out: int,
    eps_lsb2: int,
    dtype: DTypeLike,
) -> np.ndarray:
    """LayerNorm over the last axis: (x - mean) / sqrt(var + eps) * gamma + beta, saturated.

    x [..., n] int32-range (real x / 2^f_in); gamma [n] (real / 2^f_gamma), beta [n]
    (real / 2^f_beta); eps_lsb2 = round(eps * 4^f_in) >= 0 (eps in input-LSB^2 units).
    Needs 1 <= n <= 2^16, f_out <= 20 + f_gamma, f_beta <= 20 + f_gamma, and
    |beta| * 2^(20 + f_gamma - f_beta) < 2^60. Recommended: int32 input f_in = 16; int16 out
    with f_out = 10 (|y| < 32: MiniLM reaches 31) or int32 f_out = 16; gamma/beta int16 f = 14.
    Error <= 0.5 LSB + |gamma_real| * 2^f_out * (2^-20 * (1 + |z|) + sqrt(n) * 2^-21) LSB, z the
    float normalised value (Q20 rounding of z, 22 kept bits of the centred row, isqrt floor).
    """
    arr = check_int_array("x", x, INT32_MIN, INT32_MAX)
    if arr.ndim < 1:
        raise RowShapeError("layernorm needs at least one axis")
    n = arr.shape[-1]
    name = _check_row_params(n, f_in, f_gamma, f_out, eps_lsb2, n * n * n, dtype)
    sb = _beta_shift(f_gamma, f_beta)
    gg = _param_vector("gamma", gamma, n)
    bb = _beta_vector(beta, n, sb)
    rk = kernels.rowops()
    if rk is not None and arr.size:
        return _c_norm(rk, arr, gg, bb << sb, int(eps_lsb2) * n * n * n, Z_FRAC + f_gamma - f_out, name)
    xx = arr.astype(np.int64, copy=False)
    c = n * xx - np.sum(xx, axis=-1, keepdims=True)  # |c| <= 2^16 * 2^32
    z = _normalise_rows(c, eps_lsb2 * n * n * n, n)
    acc = z * gg + (bb << sb)
    return saturate(rshift_round_var(acc, np.int64(Z_FRAC + f_gamma - f_out)), name)


def layernorm_element(
    row: list[int],
    j: int,
    gamma_j: int,
    beta_j: int,
    f_in: int,
    f_gamma: int,
    f_beta: int,
    f_out: int,
    eps_lsb2: int,
    dtype: DTypeLike,
) -> int:
    """Scalar reference of layernorm: output element j of one row (gamma_j, beta_j its parameters)."""
    n = len(row)
    name = _check_row_params(n, f_in, f_gamma, f_out, eps_lsb2, n * n * n, dtype)
    if not 0 <= j < n:
        raise RowShapeError(f"element index j={j} outside [0, {n})")
    row = [check_int(f"row[{i}]", v, INT32_MIN, INT32_MAX) for i, v in enumerate(row)]
    sb = _beta_shift(f_gamma, f_beta)
    gamma_j = check_int("gamma_j", gamma_j, INT32_MIN, INT32_MAX)
    beta_j = _beta_element(beta_j, sb)
    total = 0
    for v in row:
        total += v
    c = [n * v - total for v in row]
    z = _normalise_row_element(c, j, eps_lsb2 * n * n * n, n)
    acc = z * gamma_j + (beta_j << sb)
    shift = Z_FRAC + f_gamma - f_out
    return saturate_element((acc + (1 << (shift - 1))) >> shift if shift > 0 else acc, name)


def _c_norm(rk, arr: np.ndarray, gg: np.ndarray, bias: np.ndarray | None, eps_num: int, shift: int,
            name: str) -> np.ndarray:
    """Steps 1-5 in C over every row of arr (LayerNorm when bias = beta << sb is given, RMSNorm when None)."""
    n = arr.shape[-1]
    if arr.dtype.kind != "i" or not arr.dtype.isnative:
        arr = arr.astype(np.int64)
    out = np.empty(arr.shape, name)
    lo, hi = dtype_range(name)
    rk.norm_rows(np.ascontiguousarray(arr.reshape(-1, n)), np.ascontiguousarray(gg, dtype=np.int64),
                 None if bias is None else np.ascontiguousarray(bias, dtype=np.int64), bias is not None, eps_num,
                 shift, lo, hi, out.reshape(-1, n), kernels.threads())
    return out


def _beta_shift(f_gamma: int, f_beta: int) -> int:
    check_frac("f_beta", f_beta, 0, min(FRAC_MAX, Z_FRAC + f_gamma))
    return Z_FRAC + f_gamma - f_beta


def _beta_vector(beta: np.ndarray | list[int], n: int, sb: int) -> np.ndarray:
    bb = _param_vector("beta", beta, n)
    lim = (1 << 60) >> sb
    return as_int64(f"beta (scaled by 2^{sb})", bb, -lim + 1, lim - 1)


def _beta_element(beta_j: int, sb: int) -> int:
    beta_j = check_int("beta_j", beta_j, INT32_MIN, INT32_MAX)
    lim = (1 << 60) >> sb
    return check_int(f"beta_j (scaled by 2^{sb})", beta_j, -lim + 1, lim - 1)


# ---------------------------------------------------------------------------------------------
# RMSNorm
# ---------------------------------------------------------------------------------------------


def rmsnorm(
    x: np.ndarray, gamma: np.ndarray, f_in: int, f_gamma: int, f_out: int, eps_lsb2: int, dtype: DTypeLike
) -> np.ndarray:
    """RMSNorm over the last axis: x / sqrt(mean(x^2) + eps) * gamma, saturated.

    Same conventions, bounds and error as layernorm (eps term eps_lsb2 * n < 2^61).
    """
    arr = check_int_array("x", x, INT32_MIN, INT32_MAX)
    if arr.ndim < 1:
        raise RowShapeError("rmsnorm needs at least one axis")
    n = arr.shape[-1]
    name = _check_row_params(n, f_in, f_gamma, f_out, eps_lsb2, n, dtype)
    gg = _param_vector("gamma", gamma, n)
    rk = kernels.rowops()
    if rk is not None and arr.size:
        return _c_norm(rk, arr, gg, None, int(eps_lsb2) * n, Z_FRAC + f_gamma - f_out, name)
    xx = arr.astype(np.int64, copy=False)
    z = _normalise_rows(xx, eps_lsb2 * n, n)
    return saturate(rshift_round_var(z * gg, np.int64(Z_FRAC + f_gamma - f_out)), name)


def rmsnorm_element(
    row: list[int], j: int, gamma_j: int, f_in: int, f_gamma: int, f_out: int, eps_lsb2: int, dtype: DTypeLike
) -> int:
    """Scalar reference of rmsnorm: output element j of one row."""
    n = len(row)
    name = _check_row_params(n, f_in, f_gamma, f_out, eps_lsb2, n, dtype)
    if not 0 <= j < n:
        raise RowShapeError(f"element index j={j} outside [0, {n})")
    row = [check_int(f"row[{i}]", v, INT32_MIN, INT32_MAX) for i, v in enumerate(row)]
    gamma_j = check_int("gamma_j", gamma_j, INT32_MIN, INT32_MAX)
    z = _normalise_row_element(row, j, eps_lsb2 * n, n)
    shift = Z_FRAC + f_gamma - f_out
    acc = z * gamma_j
    return saturate_element((acc + (1 << (shift - 1))) >> shift if shift > 0 else acc, name)

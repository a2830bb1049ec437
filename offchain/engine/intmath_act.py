"""Integer-only elementwise non-linearities: exp (x <= 0), sigmoid, tanh, SiLU, GELU (erf and tanh forms),
softplus.

Inputs are int32-range integers q with real value q / 2^f_in, 0 <= f_in <= 24; outputs are
round(f(q / 2^f_in) * 2^f_out) up to the stated approximation error, saturated to ``dtype``
(0 <= f_out <= 30). All internal values are Q30 fixed point (real = v / 2^30).

exp: 2^-t with t = -x * log2(e) >= 0 split into an integer part z and a fraction r in [0, 1);
2^-r comes from a degree-6 polynomial (Horner, Q30, p(0) = 1 exactly) and 2^-z is a rounding right
shift. sigmoid and SiLU divide by 1 + e^-|x|. GELU(erf) uses Abramowitz & Stegun 7.1.26
(|erf error| <= 1.5e-7): 1 - erf(a) = t*(A1 + t*(A2 + ...)) * e^-a^2 with t = 1 / (1 + P*a).
tanh(x) = sign(x) (1 - e^-2|x|) / (1 + e^-2|x|), one division; softplus(x) = max(x, 0) + log1p(e^-|x|)
with log1p on [0, 1] a degree-10 polynomial (LOG1P_POLY_Q30).

Every ``*_element`` function is the scalar reference the Solidity one-step prover mirrors; the
vectorised function must agree with it bit for bit (tests/intmath).
"""

from __future__ import annotations

import numpy as np

from offchain.engine.intmath_core import (
    INT32_MAX,
    INT32_MIN,
    DomainError,
    DTypeLike,
    as_int64,
    check_frac,
    check_int,
    div_round,
    div_round_element,
    dtype_name,
    rshift_round_var,
    saturate,
    saturate_element,
)

ONE_Q30 = 1 << 30
FRAC_IN_MAX = 24
FRAC_OUT_MAX = 30

# round(log2(e) * 2^30); |x| <= 64 * 2^24 = 2^30 after clamping, so |x| * LOG2E_Q30 < 2^61.6.
LOG2E_Q30 = 1549082005
# exp(-64) < 2^-92: every x below -64 gives 0 at any f_out <= 30, so clamping there is exact.
EXP_CLAMP = 64
# 2^-r ~= 1 + r*(C1 + r*(C2 + ... + r*C6)) on r in [0, 1), Q30; near-minimax fit, max error
# 3.9e-9 (4.2 Q30 units) including the Horner roundings (tests/intmath/test_act.py measures it).
EXP2_POLY_Q30 = (-744261020, 257939319, -59584401, 10288824, -1371676, 118043)

# GELU (erf form): a = |x| / sqrt(2); |x| >= 8 gives 1 - erf(a) < 2^-45, which rounds to 0 in Q30,
# so clamping |x| at 8 changes no result.
GELU_CLAMP = 8
INV_SQRT2_Q30 = 759250125
# Abramowitz & Stegun 7.1.26 constants, Q30.
ERF_P_Q30 = 351748265
ERF_A_Q30 = (273621191, -305476044, 1526231383, -1560310108, 1139675401)
# GELU (tanh form): 0.5 * (1 + tanh(u)) = sigmoid(2u), 2u = 2*sqrt(2/pi) * (x + 0.044715 x^3).
TANH_C_Q30 = 48012366
TANH_K_Q30 = 1713444047
# log1p(t) ~= t*(L1 + t*(L2 + ... + t*L10)) on t in [0, 1], Q30; iteratively reweighted least-squares fit
# (near minimax), max error 7.7e-10 before the Horner roundings (0.82 Q30 units), p(0) = 0 exactly.
LOG1P_POLY_Q30 = (1073741689, -536863906, 357786731, -267277129, 208556835, -157747304, 104059111,
                  -52448800, 17057455, -2603565)


def _check_scales(f_in: int, f_out: int, dtype: DTypeLike) -> str:
    check_frac("f_in", f_in, 0, FRAC_IN_MAX)
    check_frac("f_out", f_out, 0, FRAC_OUT_MAX)
    return dtype_name(dtype)


def _rshift_round_int(v: int, s: int) -> int:
    """rshift_round for s >= 0 without the int64 guards (callers bound v; Solidity int256)."""
    return (v + (1 << (s - 1))) >> s if s > 0 else v


# ---------------------------------------------------------------------------------------------
# exp of non-positive inputs
# ---------------------------------------------------------------------------------------------


def _exp_neg_parts(w: np.ndarray, f_in: int) -> tuple[np.ndarray, np.ndarray]:
    """For magnitudes w >= 0 (real w / 2^f_in) return (p, z): e^-w ~= p / 2^30 * 2^-z.

    p in (2^29, 2^30], z >= 0. w is clamped at EXP_CLAMP (exact, see EXP_CLAMP).
    """
    w = np.minimum(w, EXP_CLAMP << f_in)
    u = rshift_round_var(w * LOG2E_Q30, np.int64(f_in))  # Q30, u / 2^30 = w * log2(e) >= 0
    z = u >> 30
    return exp2_frac_q30(u - (z << 30)), z


def exp2_frac_q30(r: np.ndarray) -> np.ndarray:
    """2^(-r / 2^30) in Q30 for 0 <= r < 2^30 (degree-6 Horner, EXP2_POLY_Q30); in (2^29, 2^30]."""
    c = EXP2_POLY_Q30
    acc = r * c[5]
    for k in (4, 3, 2, 1, 0):  # in place: acc = c[k] + round(acc * r / 2^30), then the final * r
        acc += 1 << 29
        acc >>= 30
        acc += c[k]
        acc *= r  # |acc| < 2^30 and r < 2^30: the product stays below 2^60
    acc += 1 << 29
    acc >>= 30
    acc += ONE_Q30
    return acc


def _exp_neg_parts_element(w: int, f_in: int) -> tuple[int, int]:
    """Scalar reference of _exp_neg_parts."""
    if w > EXP_CLAMP << f_in:
        w = EXP_CLAMP << f_in
    u = _rshift_round_int(w * LOG2E_Q30, f_in)
    z = u >> 30
    return exp2_frac_q30_element(u - (z << 30)), z


def exp2_frac_q30_element(r: int) -> int:
    """Scalar reference of exp2_frac_q30."""
    c = EXP2_POLY_Q30
    acc = c[5]
    for k in (4, 3, 2, 1, 0):
        acc = c[k] + ((acc * r + (1 << 29)) >> 30)
    return ONE_Q30 + ((acc * r + (1 << 29)) >> 30)


def _scale_exp(p: np.ndarray, z: np.ndarray, f_out: int) -> np.ndarray:
    """round(p / 2^30 * 2^-z * 2^f_out); shifts of 62 or more give 0 exactly since p <= 2^30."""
    return rshift_round_var(p, np.minimum(30 + z - f_out, 62))


def _scale_exp_element(p: int, z: int, f_out: int) -> int:
    return _rshift_round_int(p, 30 + z - f_out)


def exp_neg_q30(w: np.ndarray, f_in: int) -> np.ndarray:
    """e^(-w / 2^f_in) in Q30 for int64 magnitudes w >= 0; internal to this package (no checks)."""
    p, z = _exp_neg_parts(w, f_in)
    return _scale_exp(p, z, 30)


def exp_neg_q30_element(w: int, f_in: int) -> int:
    """Scalar reference of exp_neg_q30."""
    p, z = _exp_neg_parts_element(w, f_in)
    return _scale_exp_element(p, z, 30)


def exp_neg(x: np.ndarray, f_in: int, f_out: int, dtype: DTypeLike) -> np.ndarray:
    """e^x for x <= 0: round(exp(x / 2^f_in) * 2^f_out), saturated to dtype.

    x: int array in [-2^31, 0] (DomainError for x > 0). Error <= 0.5 LSB + 2^(f_out - 27) LSB.
    Recommended inside softmax: f_out = 30 (int32). Callers: engine, softmax.
    """
    name = _check_scales(f_in, f_out, dtype)
    xx = as_int64("x", x, INT32_MIN, INT32_MAX)
    if xx.size and int(xx.max()) > 0:
        raise DomainError(f"exp_neg needs x <= 0, got max {int(xx.max())}")
    p, z = _exp_neg_parts(-xx, f_in)
    return saturate(_scale_exp(p, z, f_out), name)


def exp_neg_element(x: int, f_in: int, f_out: int, dtype: DTypeLike) -> int:
    """Scalar reference of exp_neg for one element."""
    name = _check_scales(f_in, f_out, dtype)
    x = check_int("x", x, INT32_MIN, INT32_MAX)
    if x > 0:
        raise DomainError(f"exp_neg needs x <= 0, got {x}")
    p, z = _exp_neg_parts_element(-x, f_in)
    return saturate_element(_scale_exp_element(p, z, f_out), name)


# ---------------------------------------------------------------------------------------------
# sigmoid and SiLU
# ---------------------------------------------------------------------------------------------


def _sigmoid_num_den(x: np.ndarray, f_in: int) -> tuple[np.ndarray, np.ndarray]:
    """sigmoid(x) = num / den with den = 2^30 + e^-|x| (Q30): num = 2^30 for x >= 0, else e^-|x|."""
    e = exp_neg_q30(np.abs(x), f_in)
    return np.where(x >= 0, ONE_Q30, e), ONE_Q30 + e


def _sigmoid_num_den_element(x: int, f_in: int) -> tuple[int, int]:
    e = exp_neg_q30_element(x if x >= 0 else -x, f_in)
    return (ONE_Q30 if x >= 0 else e), ONE_Q30 + e


def sigmoid_q30(x: np.ndarray, f_in: int) -> np.ndarray:
    """sigmoid(x / 2^f_in) in Q30; internal (no checks), x int64 with |x| <= 2^31."""
    num, den = _sigmoid_num_den(x, f_in)
    return div_round(num << 30, den)


def sigmoid_q30_element(x: int, f_in: int) -> int:
    num, den = _sigmoid_num_den_element(x, f_in)
    return div_round_element(num << 30, den)


def sigmoid(x: np.ndarray, f_in: int, f_out: int, dtype: DTypeLike) -> np.ndarray:
    """Logistic sigmoid, round(1 / (1 + e^-x) * 2^f_out) saturated; x int32-range.

    One division: num * 2^f_out / (2^30 + e^-|x|) with num <= 2^30, so the numerator stays
    <= 2^60. Error <= 0.5 LSB + 2^(f_out - 27) LSB. Recommended f_out = 15 (int16) or 7 (int8).
    """
    name = _check_scales(f_in, f_out, dtype)
    xx = as_int64("x", x, INT32_MIN, INT32_MAX)
    num, den = _sigmoid_num_den(xx, f_in)
    return saturate(div_round(num << f_out, den), name)


def sigmoid_element(x: int, f_in: int, f_out: int, dtype: DTypeLike) -> int:
    """Scalar reference of sigmoid."""
    name = _check_scales(f_in, f_out, dtype)
    x = check_int("x", x, INT32_MIN, INT32_MAX)
    num, den = _sigmoid_num_den_element(x, f_in)
    return saturate_element(div_round_element(num << f_out, den), name)


def silu(x: np.ndarray, f_in: int, f_out: int, dtype: DTypeLike) -> np.ndarray:
    """SiLU x * sigmoid(x): rshift_round(x * sigmoid_q30(x), 30 + f_in - f_out), saturated.

    |x * sigmoid_q30| <= 2^31 * 2^30 = 2^61. Error <= 0.5 LSB + (|x / 2^f_in| + 1) * 2^(f_out - 27) LSB.
    """
    name = _check_scales(f_in, f_out, dtype)
    xx = as_int64("x", x, INT32_MIN, INT32_MAX)
    s = sigmoid_q30(xx, f_in)
    return saturate(rshift_round_var(xx * s, np.int64(30 + f_in - f_out)), name)


def silu_element(x: int, f_in: int, f_out: int, dtype: DTypeLike) -> int:
    """Scalar reference of silu."""
    name = _check_scales(f_in, f_out, dtype)
    x = check_int("x", x, INT32_MIN, INT32_MAX)
    s = sigmoid_q30_element(x, f_in)
    return saturate_element(_rshift_round_int(x * s, 30 + f_in - f_out), name)


# ---------------------------------------------------------------------------------------------
# GELU, erf form (BERT / MiniLM) and tanh form (GPT-2)
# ---------------------------------------------------------------------------------------------


def _gelu_phi_q31(x: np.ndarray, f_in: int) -> np.ndarray:
    """Phi(x) = P(N(0,1) <= x) in Q31 (real = v / 2^31), via A&S 7.1.26 on a = |x| / sqrt(2).

    1 - erf(a) = 2 * (1 - Phi(|x|)) is computed in Q30, which is the same integer as
    1 - Phi(|x|) in Q31: so Phi = 2^31 - q (x >= 0) or q (x < 0), with no extra rounding.
    """
    m = np.minimum(np.abs(x), GELU_CLAMP << f_in)  # <= 2^27
    a24 = rshift_round_var(m * INV_SQRT2_Q30, np.int64(f_in + 6))  # Q24, <= 5.66 * 2^24
    den = ONE_Q30 + ((ERF_P_Q30 * a24 + (1 << 23)) >> 24)  # Q30, 1 + P*a in [1, 2.86]
    t = div_round(np.int64(1 << 60), den)  # Q30, t in (0, 1]
    c = ERF_A_Q30
    acc = np.full(t.shape, c[4], dtype=np.int64)
    for k in (3, 2, 1, 0):
        acc = c[k] + ((acc * t + (1 << 29)) >> 30)  # |acc| < 2^31, t <= 2^30
    poly = (acc * t + (1 << 29)) >> 30
    sq24 = (a24 * a24 + (1 << 23)) >> 24  # a^2 in Q24, <= 32 * 2^24
    q = (poly * exp_neg_q30(sq24, 24) + (1 << 29)) >> 30  # 1 - erf(a), Q30
    return np.where(x >= 0, (1 << 31) - q, q)


def _gelu_phi_q31_element(x: int, f_in: int) -> int:
    """Scalar reference of _gelu_phi_q31."""
    m = x if x >= 0 else -x
    if m > GELU_CLAMP << f_in:
        m = GELU_CLAMP << f_in
    a24 = _rshift_round_int(m * INV_SQRT2_Q30, f_in + 6)
    den = ONE_Q30 + ((ERF_P_Q30 * a24 + (1 << 23)) >> 24)
    t = div_round_element(1 << 60, den)
    c = ERF_A_Q30
    acc = c[4]
    for k in (3, 2, 1, 0):
        acc = c[k] + ((acc * t + (1 << 29)) >> 30)
    poly = (acc * t + (1 << 29)) >> 30
    sq24 = (a24 * a24 + (1 << 23)) >> 24
    q = (poly * exp_neg_q30_element(sq24, 24) + (1 << 29)) >> 30
    return (1 << 31) - q if x >= 0 else q


def gelu(x: np.ndarray, f_in: int, f_out: int, dtype: DTypeLike) -> np.ndarray:
    """GELU, erf form (torch.nn.GELU() default): x * Phi(x), rshift_round(x * Phi_q31, 31 + f_in - f_out).

    |x * Phi_q31| < 2^62: for x >= 0 it is < 2^31 * 2^31; for x < 0 Phi_q31 <= 2^30.
    Error <= 0.5 LSB + min(|x / 2^f_in|, 8) * 2^(f_out - 23.5) LSB + 2^(f_out - 27) LSB
    (A&S bound 1.5e-7 on erf, halved for Phi; Phi is exactly 0 or 1 beyond |x| = 8).
    """
    name = _check_scales(f_in, f_out, dtype)
    xx = as_int64("x", x, INT32_MIN, INT32_MAX)
    phi = _gelu_phi_q31(xx, f_in)
    return saturate(rshift_round_var(xx * phi, np.int64(31 + f_in - f_out)), name)


def gelu_element(x: int, f_in: int, f_out: int, dtype: DTypeLike) -> int:
    """Scalar reference of gelu."""
    name = _check_scales(f_in, f_out, dtype)
    x = check_int("x", x, INT32_MIN, INT32_MAX)
    phi = _gelu_phi_q31_element(x, f_in)
    return saturate_element(_rshift_round_int(x * phi, 31 + f_in - f_out), name)


def _gelu_tanh_arg_q24(x: np.ndarray, f_in: int) -> np.ndarray:
    """2u = 2*sqrt(2/pi) * (x + 0.044715 x^3) in Q24, x clamped to +-8 (sigmoid(2u) is exactly
    0 or 1 in Q30 beyond, since 2u(8) > 49 and e^-49 < 2^-70)."""
    lim = GELU_CLAMP << f_in
    x24 = np.clip(x, -lim, lim) << (24 - f_in)  # exact, |x24| <= 2^27
    x2 = (x24 * x24 + (1 << 23)) >> 24  # <= 2^30
    x3 = (x2 * x24 + (1 << 23)) >> 24  # |x3| <= 2^33
    v = x24 + ((x3 * TANH_C_Q30 + (1 << 29)) >> 30)  # |v| < 2^30
    return (v * TANH_K_Q30 + (1 << 29)) >> 30  # |2u| < 2^31


def _gelu_tanh_arg_q24_element(x: int, f_in: int) -> int:
    lim = GELU_CLAMP << f_in
    x24 = (lim if x > lim else -lim if x < -lim else x) << (24 - f_in)
    x2 = (x24 * x24 + (1 << 23)) >> 24
    x3 = (x2 * x24 + (1 << 23)) >> 24
    v = x24 + ((x3 * TANH_C_Q30 + (1 << 29)) >> 30)
    return (v * TANH_K_Q30 + (1 << 29)) >> 30


def gelu_tanh(x: np.ndarray, f_in: int, f_out: int, dtype: DTypeLike) -> np.ndarray:
    """GELU, tanh form (GPT-2, torch GELU(approximate='tanh')): x * sigmoid(2u), saturated.

    Error vs the tanh formula <= 0.5 LSB + (|x / 2^f_in| + 1) * 2^(f_out - 26) LSB.
    """
    name = _check_scales(f_in, f_out, dtype)
    xx = as_int64("x", x, INT32_MIN, INT32_MAX)
    s = sigmoid_q30(_gelu_tanh_arg_q24(xx, f_in), 24)
    return saturate(rshift_round_var(xx * s, np.int64(30 + f_in - f_out)), name)


def gelu_tanh_element(x: int, f_in: int, f_out: int, dtype: DTypeLike) -> int:
    """Scalar reference of gelu_tanh."""
    name = _check_scales(f_in, f_out, dtype)
    x = check_int("x", x, INT32_MIN, INT32_MAX)
    s = sigmoid_q30_element(_gelu_tanh_arg_q24_element(x, f_in), 24)
    return saturate_element(_rshift_round_int(x * s, 30 + f_in - f_out), name)


# ---------------------------------------------------------------------------------------------
# tanh and softplus (issue 13)
# ---------------------------------------------------------------------------------------------


def tanh(x: np.ndarray, f_in: int, f_out: int, dtype: DTypeLike) -> np.ndarray:
    """tanh(x / 2^f_in) * 2^f_out: sign(x) * div_round((2^30 - e) * 2^f_out, 2^30 + e) with e =
    exp_neg_q30(2|x|) (Q30), saturated; exactly odd (the magnitude is rounded, then signed).

    |x| <= 2^31, so 2|x| <= 2^32 before exp's clamp at 64 (exact, see EXP_CLAMP); the numerator is
    <= 2^60. Error <= 0.5 LSB + 2^(f_out - 26) LSB (e's error, at most 4.2 Q30 units plus its rounding,
    enters the quotient with a factor <= 2). Recommended f_out = 15 (int16) or 7 (int8).
    """
    name = _check_scales(f_in, f_out, dtype)
    xx = as_int64("x", x, INT32_MIN, INT32_MAX)
    e = exp_neg_q30(2 * np.abs(xx), f_in)
    mag = div_round((ONE_Q30 - e) << f_out, ONE_Q30 + e)
    return saturate(np.where(xx < 0, -mag, mag), name)


def tanh_element(x: int, f_in: int, f_out: int, dtype: DTypeLike) -> int:
    """Scalar reference of tanh."""
    name = _check_scales(f_in, f_out, dtype)
    x = check_int("x", x, INT32_MIN, INT32_MAX)
    e = exp_neg_q30_element(2 * (x if x >= 0 else -x), f_in)
    mag = div_round_element((ONE_Q30 - e) << f_out, ONE_Q30 + e)
    return saturate_element(-mag if x < 0 else mag, name)


def log1p_q30(t: np.ndarray) -> np.ndarray:
    """log(1 + t / 2^30) in Q30 for 0 <= t <= 2^30 (degree-10 Horner, LOG1P_POLY_Q30); internal, no checks.

    Every Horner partial sum stays below 2^31 in magnitude and t <= 2^30, so each product is < 2^61."""
    c = LOG1P_POLY_Q30
    acc = np.full(np.shape(t), c[9], dtype=np.int64)
    for k in range(8, -1, -1):
        acc = c[k] + ((acc * t + (1 << 29)) >> 30)
    return (acc * t + (1 << 29)) >> 30


def log1p_q30_element(t: int) -> int:
    """Scalar reference of log1p_q30."""
    c = LOG1P_POLY_Q30
    acc = c[9]
    for k in range(8, -1, -1):
        acc = c[k] + ((acc * t + (1 << 29)) >> 30)
    return (acc * t + (1 << 29)) >> 30


def softplus(x: np.ndarray, f_in: int, f_out: int, dtype: DTypeLike) -> np.ndarray:
    """softplus log(1 + e^x) = max(x, 0) + log1p(e^-|x|): rshift_round(max(x, 0) * 2^(30 - f_in)
    + log1p_q30(exp_neg_q30(|x|)), 30 - f_out), saturated.

    The Q30 sum is < 2^61 + 2^30 (x < 2^31, f_in >= 0). Error <= 0.5 LSB + 2^(f_out - 27) LSB (exp's error
    passes through log1p with a factor <= 1, the polynomial adds <= 0.82 Q30 units and its roundings
    <= 5). torch's Softplus(beta=1, threshold=20) returns x itself past x = 20, where this definition
    differs from x by log1p(e^-20) < 2^-28.
    """
    name = _check_scales(f_in, f_out, dtype)
    xx = as_int64("x", x, INT32_MIN, INT32_MAX)
    lg = log1p_q30(exp_neg_q30(np.abs(xx), f_in))
    acc = (np.maximum(xx, 0) << (30 - f_in)) + lg
    return saturate(rshift_round_var(acc, np.int64(30 - f_out)), name)


def softplus_element(x: int, f_in: int, f_out: int, dtype: DTypeLike) -> int:
    """Scalar reference of softplus."""
    name = _check_scales(f_in, f_out, dtype)
    x = check_int("x", x, INT32_MIN, INT32_MAX)
    lg = log1p_q30_element(exp_neg_q30_element(x if x >= 0 else -x, f_in))
    acc = ((x if x > 0 else 0) << (30 - f_in)) + lg
    return saturate_element(_rshift_round_int(acc, 30 - f_out), name)

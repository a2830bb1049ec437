"""Integer primitives shared by every fixed-point operator: requantisation, saturation, division, isqrt.

Fixed-point convention (DESIGN.md section 2): a tensor holds signed ints q whose real value is
q / 2^f (f = frac bits, per tensor) with dtype int8 / int16 / int32.

Every function exists twice:

* a vectorised numpy version (int64 arithmetic) that the engine calls on whole tensors, and
* a scalar ``*_element`` version on Python ints that computes one output element; it is the
  reference the Solidity one-step prover mirrors line by line (only +, -, *, floor division by a
  positive int, arithmetic shifts and comparisons).

Both raise the same named errors on the same inputs. Bounds are stated so that no intermediate
leaves int64 in numpy (and therefore never leaves int256 in Solidity).
"""

from __future__ import annotations

from typing import Union

import numpy as np

DTypeLike = Union[str, np.dtype, type]

# |acc| < 2^62 leaves room for the rounding term 2^(s-1) <= 2^61 and for 2*a + b in div_round.
ACC_BITS = 62
ACC_LIMIT = 1 << ACC_BITS
# Shifts beyond 62 would need more than int64; every caller here stays within.
MAX_SHIFT = 62
# Activations and parameters are int8/int16/int32 tensors, so operands of the non-linear ops are
# bounded by int32's range.
INT32_MIN = -(1 << 31)
INT32_MAX = (1 << 31) - 1

DTYPE_RANGES: dict[str, tuple[int, int]] = {
    "int8": (-(1 << 7), (1 << 7) - 1),
    "int16": (-(1 << 15), (1 << 15) - 1),
    "int32": (-(1 << 31), (1 << 31) - 1),
}

# bit_length lookup for the vectorised path: POW2[t] = 2^t, t = 0..62.
_POW2 = np.array([1 << t for t in range(63)], dtype=np.int64)


class IntMathError(ValueError):
    """Base class: an integer-math operator got an input outside its defined domain."""


class DTypeError(IntMathError):
    """A dtype other than int8, int16 or int32 was requested."""


class ShiftRangeError(IntMathError):
    """A shift amount is outside [-MAX_SHIFT, MAX_SHIFT]."""


class FracBitsError(IntMathError):
    """A frac-bits (scale) parameter is outside the range an operator supports."""


class OperandRangeError(IntMathError):
    """An operand's magnitude would let an intermediate overflow int64; the message names the limit."""


class DomainError(IntMathError):
    """An operand is outside the mathematical domain (exp of a positive value, rsqrt of a negative)."""


class DivisionError(IntMathError):
    """A divisor is not strictly positive."""


class RowShapeError(IntMathError):
    """A row operation got an empty row, a bad valid length or a parameter of the wrong length."""


def dtype_name(dtype: DTypeLike) -> str:
    """Normalise a dtype spec ('int16', np.int16, np.dtype('int16')) to its name; raises DTypeError."""
    try:
        name = np.dtype(dtype).name
    except TypeError as exc:
        raise DTypeError(f"dtype {dtype!r} is not a numpy dtype; allowed: int8, int16, int32") from exc
    if name not in DTYPE_RANGES:
        raise DTypeError(f"dtype {name} is not supported; allowed: int8, int16, int32")
    return name


def dtype_range(dtype: DTypeLike) -> tuple[int, int]:
    """(min, max) representable by the dtype."""
    return DTYPE_RANGES[dtype_name(dtype)]


def check_frac(name: str, f: int, lo: int, hi: int) -> None:
    """Raise FracBitsError unless lo <= f <= hi (f is a static graph parameter)."""
    if not isinstance(f, (int, np.integer)) or not lo <= f <= hi:
        raise FracBitsError(f"{name}={f!r} outside the supported range [{lo}, {hi}]")


def check_shift(s: int) -> None:
    """Raise ShiftRangeError unless s is an int in [-MAX_SHIFT, MAX_SHIFT]."""
    if not isinstance(s, (int, np.integer)) or not -MAX_SHIFT <= s <= MAX_SHIFT:
        raise ShiftRangeError(f"shift s={s!r} outside [-{MAX_SHIFT}, {MAX_SHIFT}]")


def check_int_array(name: str, x: np.ndarray | int, lo: int, hi: int) -> np.ndarray:
    """as_int64's checks (same errors) without the conversion: the integer array itself, lo <= x <= hi.

    The elementwise check is skipped when the dtype cannot hold a value outside [lo, hi] (int16 for int32 bounds)."""
    arr = np.asarray(x)
    if arr.dtype.kind not in "iu" and not (arr.dtype == object and arr.size == 0):
        raise OperandRangeError(f"{name} must be an integer array, got dtype {arr.dtype}")
    if arr.size:
        info = np.iinfo(arr.dtype)
        if info.min >= lo and info.max <= hi:
            return arr
        amin, amax = int(arr.min()), int(arr.max())
        if amin < lo or amax > hi:
            raise OperandRangeError(f"{name} has values in [{amin}, {amax}], allowed [{lo}, {hi}]")
    return arr


def as_int64(name: str, x: np.ndarray | int, lo: int, hi: int) -> np.ndarray:
    """Convert an integer array (or int) to int64 after checking lo <= x <= hi elementwise."""
    return check_int_array(name, x, lo, hi).astype(np.int64, copy=False)


def check_int(name: str, x: int, lo: int, hi: int) -> int:
    """Scalar counterpart of as_int64: x must be a Python int in [lo, hi]."""
    if not isinstance(x, (int, np.integer)) or isinstance(x, bool):
        raise OperandRangeError(f"{name} must be an int, got {type(x).__name__}")
    x = int(x)
    if not lo <= x <= hi:
        raise OperandRangeError(f"{name}={x} outside [{lo}, {hi}]")
    return x


# ---------------------------------------------------------------------------------------------
# rshift_round: the one requantisation rule
# ---------------------------------------------------------------------------------------------


def rshift_round(acc: np.ndarray | int, s: int) -> np.ndarray:
    """Round-half-up right shift: (acc + 2^(s-1)) >> s with an arithmetic (floor) shift.

    s == 0 is the identity; s < 0 is an exact left shift by -s. Halves go up (towards +inf):
    -3 >> 1 gives -1, 3 >> 1 gives 2. acc: int array with |acc| < 2^62 (OperandRangeError
    otherwise); for s < 0 the result must stay below 2^62 too. Returns an int64 array (no
    saturation; see requantize). Callers: the engine and every operator in this package.
    """
    check_shift(s)
    a = as_int64("acc", acc, -ACC_LIMIT + 1, ACC_LIMIT - 1)
    if s > 0:
        return (a + (1 << (s - 1))) >> s
    if s == 0:
        return a.copy()
    lim = ACC_LIMIT >> -s
    return as_int64(f"acc (left shift by {-s})", a, -lim + 1, lim - 1) << -s


def rshift_round_element(acc: int, s: int) -> int:
    """Scalar reference of rshift_round for one Python int (same bounds, same errors)."""
    check_shift(s)
    acc = check_int("acc", acc, -ACC_LIMIT + 1, ACC_LIMIT - 1)
    if s > 0:
        return (acc + (1 << (s - 1))) >> s
    if s == 0:
        return acc
    lim = ACC_LIMIT >> -s
    check_int(f"acc (left shift by {-s})", acc, -lim + 1, lim - 1)
    return acc << -s


def rshift_round_var(a: np.ndarray, s: np.ndarray | int) -> np.ndarray:
    """rshift_round for shifts s >= 0 given per element (array) or once (int); internal, unchecked.

    Requires 0 <= s <= MAX_SHIFT and |a| < 2^62 (callers bound both). For an array s it uses
    floor((floor(2a / 2^s) + 1) / 2) == floor(a / 2^s + 1/2), which needs no per-element rounding
    term and is also right for s == 0; the result equals rshift_round exactly.
    """
    if np.ndim(s) == 0:
        si = int(s)
        return (a + (1 << (si - 1))) >> si if si > 0 else np.array(a, dtype=np.int64, copy=True)
    return (((a << 1) >> s) + 1) >> 1


# ---------------------------------------------------------------------------------------------
# saturate / requantize
# ---------------------------------------------------------------------------------------------


def saturate(x: np.ndarray | int, dtype: DTypeLike) -> np.ndarray:
    """Clamp integer values to the dtype's range and return an array of that dtype."""
    name = dtype_name(dtype)
    lo, hi = DTYPE_RANGES[name]
    arr = np.asarray(x)
    if arr.dtype.kind not in "iu":
        raise OperandRangeError(f"x must be an integer array, got dtype {arr.dtype}")
    return np.clip(arr, lo, hi).astype(name)


def saturate_element(x: int, dtype: DTypeLike) -> int:
    """Scalar reference of saturate."""
    lo, hi = dtype_range(dtype)
    x = check_int("x", x, -(1 << 255), (1 << 255) - 1)
    return lo if x < lo else hi if x > hi else x


def requantize(acc: np.ndarray | int, s: int, dtype: DTypeLike) -> np.ndarray:
    """saturate(rshift_round(acc, s), dtype): the one requantisation rule of DESIGN.md section 2."""
    return saturate(rshift_round(acc, s), dtype)


def requantize_element(acc: int, s: int, dtype: DTypeLike) -> int:
    """Scalar reference of requantize."""
    return saturate_element(rshift_round_element(acc, s), dtype)


# ---------------------------------------------------------------------------------------------
# div_round: integer division, rounding half up (consistent with rshift_round)
# ---------------------------------------------------------------------------------------------


def div_round(a: np.ndarray | int, b: np.ndarray | int) -> np.ndarray:
    """Integer a / b rounded to nearest, halves up (towards +inf): floor((2a + b) / (2b)).

    b must be > 0 (DivisionError), |a| < 2^61 and b < 2^61 (OperandRangeError) so 2a + b and 2b
    fit int64. div_round(a, 2^s) == rshift_round(a, s), so both roundings agree. Negative a:
    div_round(-3, 2) == -1, div_round(-5, 2) == -2, div_round(-7, 4) == -2. Solidity's `/`
    truncates toward zero, so the port must floor explicitly for a negative numerator.
    """
    aa = as_int64("a", a, -(1 << 61) + 1, (1 << 61) - 1)
    bb = np.asarray(b)
    if bb.dtype.kind not in "iu":
        raise OperandRangeError(f"b must be an integer array, got dtype {bb.dtype}")
    if bb.size and int(bb.min()) <= 0:
        raise DivisionError(f"divisor b has minimum {int(bb.min())}, must be > 0")
    bb = as_int64("b", bb, 1, (1 << 61) - 1)
    return np.floor_divide(2 * aa + bb, 2 * bb)


def div_round_element(a: int, b: int) -> int:
    """Scalar reference of div_round (Python // is floor division)."""
    a = check_int("a", a, -(1 << 61) + 1, (1 << 61) - 1)
    if not isinstance(b, (int, np.integer)) or int(b) <= 0:
        raise DivisionError(f"divisor b={b!r} must be > 0")
    b = check_int("b", b, 1, (1 << 61) - 1)
    return (2 * a + b) // (2 * b)


# ---------------------------------------------------------------------------------------------
# bit_length and isqrt
# ---------------------------------------------------------------------------------------------


def bit_length(x: np.ndarray) -> np.ndarray:
    """Number of bits of non-negative int64 values (0 for 0), without floats.

    Counts the powers 2^t (t = 0..62) that are <= x. Caller guarantees 0 <= x < 2^63.
    """
    return np.searchsorted(_POW2, x, side="right").astype(np.int64)


def bit_length_element(x: int) -> int:
    """Scalar reference of bit_length: smallest b with x < 2^b (loop form, as in Solidity)."""
    b = 0
    while x >= (1 << b):
        b += 1
    return b


def isqrt(x: np.ndarray | int) -> np.ndarray:
    """Floor square root of non-negative integers < 2^62, by integer Newton iteration.

    Starts at 2^ceil(bits/2) >= sqrt(x) and iterates y = (r + x // r) // 2 while it decreases;
    the first non-decreasing step leaves r = floor(sqrt(x)). Negative x raises DomainError.
    """
    xx = np.asarray(x)
    if xx.size and int(xx.min()) < 0:
        raise DomainError(f"isqrt of negative value {int(xx.min())}")
    xx = as_int64("x", xx, 0, ACC_LIMIT - 1)
    r = np.left_shift(np.int64(1), (bit_length(xx) + 1) >> 1)
    pos = xx > 0
    while True:
        y = (r + xx // r) >> 1
        smaller = (y < r) & pos
        if not smaller.any():
            break
        r = np.where(smaller, y, r)
    return np.where(pos, r, 0)


def isqrt_element(x: int) -> int:
    """Scalar reference of isqrt (same Newton iteration and start point)."""
    if isinstance(x, (int, np.integer)) and not isinstance(x, bool) and x < 0:
        raise DomainError(f"isqrt of negative value {x}")
    x = check_int("x", x, 0, ACC_LIMIT - 1)
    if x == 0:
        return 0
    r = 1 << ((bit_length_element(x) + 1) >> 1)
    while True:
        y = (r + x // r) >> 1
        if y >= r:
            return r
        r = y

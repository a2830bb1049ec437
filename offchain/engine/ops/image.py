"""Image ops (issue 16, docs: imgspec): seeded noise, one DDIM update, pixel bytes. Every int value each operand's
dtype allows has exactly one result (saturation below); none reverts on values, so none restricts the request input
(``input_domain`` is None for every slot).

NOISE (61)
    inputs: seed [8] INT8 frac 0 (any shape of 8 elements; p[i] = seed[i] & 0xFF; S = big-endian uint64 of p).
    params: (mul,), 1 <= mul < 2^40. output: INT16, any shape of n elements (1 <= n <= MAX_NOISE_ELEMENTS = 2^20),
    frac f = the output's frac, 0 <= f <= 13. Element i (flat):
      z = splitmix64(S + (i + 1) * 0x9E3779B97F4A7C15 mod 2^64)   (the i-th output of a splitmix64 stream at S)
      s = u_0 + u_1 + u_2 + u_3 - 131070, u_k = (z >> 16 k) & 0xFFFF       (s in [-131070, 131070])
      out[i] = clamp_int16((s * mul + 2^31) >> 32)                          (floor shift)
    The builder's mul: ``noise_mul(f)`` = round(2^(32 + f) / sqrt((2^32 - 1) / 3)), the std of s being
    sqrt((2^32 - 1) / 3) ~ 37837.2: out / 2^f has mean 0, std ~1, |out| <= 3.47 * 2^f (no clamp for f <= 13; a
    larger mul saturates). Element reads the seed (1 range of 8).

DDIM_STEP (62)
    inputs: x [n] INT16 frac f, eps [n] INT16 frac f (same shape and frac). params: (a, b, c1, c2, lim), |a|, |b|,
    |c1|, |c2| < 2^31, 0 <= lim <= 32767. output: INT16, x's shape, frac fo with 0 <= sh = 16 + f - fo <= 40.
      x0  = (a * x - b * eps + 2^15) >> 16;  x0c = min(max(x0, -lim), lim)
      out = clamp_int16((c1 * x + c2 * x0c + (2^(sh - 1) if sh > 0 else 0)) >> sh)
    Every intermediate stays below 2^48 in magnitude (int64-exact; int256 on chain). ``ddim_params(ab_t, ab_prev,
    f)`` gives the Q16 constants of a deterministic DDIM step (eta = 0) from alpha-bar ab_t to ab_prev with the
    clipped x0 and the eps re-derived from it: x_prev = sqrt(ab_prev) x0c + sqrt(1 - ab_prev) (x - sqrt(ab_t) x0c)
    / sqrt(1 - ab_t) = c1 x + c2 x0c; lim = 2^f (the clip to [-1, 1]). Element i reads x[i], eps[i] (2 ranges).

PIXELS (63)
    inputs: x INT16 frac f, 0 <= f <= 14, any shape. params: (). output: INT8 frac 0, x's shape, whose byte
    (q & 0xFF) is the pixel v = min(max(((x + 2^f) * 255 + 2^f) >> (f + 1), 0), 255), i.e. (x / 2^f + 1) * 127.5
    rounded half up and clamped to 0..255; q = v - 256 if v > 127 else v. ``pixel_values`` reads the bytes back.
    Element i reads x[i] (1 range).
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from offchain.engine.dtypes import DType
from offchain.engine.errors import DtypeMismatchError, ParamError, ShapeMismatchError
from offchain.engine.graph import Node, TensorSpec
from offchain.engine.ops.base import Op, Range, expect_inputs, expect_params, expect_shape, expect_same_scale
from offchain.engine.ops.codes import OpCode

MASK64 = (1 << 64) - 1
#: splitmix64's increment (the golden-ratio gamma) and its two multipliers.
GAMMA = 0x9E3779B97F4A7C15
MIX1 = 0xBF58476D1CE4E5B9
MIX2 = 0x94D049BB133111EB
#: Bytes of the seed operand.
SEED_BYTES = 8
#: Largest NOISE output (elements).
MAX_NOISE_ELEMENTS = 1 << 20
#: NOISE's mul bound (exclusive) and largest output frac.
MAX_NOISE_MUL = 1 << 40
MAX_NOISE_FRAC = 13
#: The offset making the sum of four 16-bit uniforms zero-mean: 2 * 65535.
NOISE_OFFSET = 131070
#: The std of that sum: sqrt(4 * (2^32 - 1) / 12).
NOISE_STD = math.sqrt((2**32 - 1) / 3)
#: DDIM_STEP's bound on |a|, |b|, |c1|, |c2| (exclusive), largest lim and largest total shift.
MAX_DDIM_CONST = 1 << 31
MAX_DDIM_LIM = 32767
MAX_DDIM_SHIFT = 40
#: Fraction bits of DDIM_STEP's constants.
DDIM_Q = 16
#: PIXELS' largest input frac.
MAX_PIXELS_FRAC = 14

INT16_MIN, INT16_MAX = -(1 << 15), (1 << 15) - 1


# ------------------------------------------------------------------------------------------------- helpers


def _round_half_up(v: float) -> int:
    return math.floor(v + 0.5)


def noise_mul(frac: int) -> int:
    """NOISE's mul for output frac ``frac`` (0..13): round(2^(32 + frac) / sqrt((2^32 - 1) / 3))."""
    if not isinstance(frac, int) or not 0 <= frac <= MAX_NOISE_FRAC:
        raise ParamError(f"noise frac {frac!r}: must be an int in 0 .. {MAX_NOISE_FRAC}")
    return _round_half_up(2.0 ** (32 + frac) / NOISE_STD)


def seed_bytes(seed: int) -> bytes:
    """The 8 big-endian bytes of a NOISE seed, 0 <= seed < 2^64 (the request carries them; NOISE reads S back)."""
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed <= MASK64:
        raise ValueError(f"seed = {seed!r}: must be an int in 0 .. 2^64 - 1")
    return seed.to_bytes(SEED_BYTES, "big")


def ddim_params(ab_t: float, ab_prev: float, frac: int) -> tuple[int, int, int, int, int]:
    """DDIM_STEP's params (a, b, c1, c2, lim) for a deterministic DDIM step from alpha-bar ``ab_t`` to ``ab_prev``
    (1.0 on the last step) on tensors of frac ``frac`` (lim = 2^frac: the clip of x0 to [-1, 1]).

    Raises ValueError unless 0 < ab_t < 1, 0 < ab_prev <= 1, 0 <= frac <= 14 and every constant is below 2^31.
    """
    if not (isinstance(ab_t, (int, float)) and 0.0 < ab_t < 1.0):
        raise ValueError(f"ab_t = {ab_t!r}: must lie in (0, 1)")
    if not (isinstance(ab_prev, (int, float)) and 0.0 < ab_prev <= 1.0):
        raise ValueError(f"ab_prev = {ab_prev!r}: must lie in (0, 1]")
    if not isinstance(frac, int) or not 0 <= frac <= 14:
        raise ValueError(f"frac = {frac!r}: must be an int in 0 .. 14 (lim = 2^frac <= {MAX_DDIM_LIM})")
    one = float(1 << DDIM_Q)
    sa, s1a = math.sqrt(ab_t), math.sqrt(1.0 - ab_t)
    sp, s1p = math.sqrt(ab_prev), math.sqrt(1.0 - ab_prev)
    consts = (_round_half_up(one / sa), _round_half_up(one * s1a / sa), _round_half_up(one * s1p / s1a),
              _round_half_up(one * (sp - s1p * sa / s1a)))
    for name, v in zip(("a", "b", "c1", "c2"), consts):
        if abs(v) >= MAX_DDIM_CONST:
            raise ValueError(f"{name} = {v} for ab_t = {ab_t}, ab_prev = {ab_prev}: |{name}| must be < 2^31")
    return (*consts, 1 << frac)


def pixel_values(out_int8) -> np.ndarray:
    """PIXELS' output (INT8 values q) as pixel bytes v = q & 0xFF, a np.uint8 array of the same shape."""
    return (np.asarray(out_int8, dtype=np.int64) & 0xFF).astype(np.uint8)


# ---------------------------------------------------------------------------------------------- element rules


def splitmix64(v: int) -> int:
    """splitmix64's output function of one 64-bit state (pure ints)."""
    v &= MASK64
    v = ((v ^ (v >> 30)) * MIX1) & MASK64
    v = ((v ^ (v >> 27)) * MIX2) & MASK64
    return v ^ (v >> 31)


def seed_of(seed: Sequence[int]) -> int:
    """S: the big-endian uint64 of the 8 seed values read as bytes (q & 0xFF)."""
    s = 0
    for q in seed:
        s = (s << 8) | (int(q) & 0xFF)
    return s


def noise_element(s_seed: int, i: int, mul: int) -> int:
    """NOISE's element i for seed S and multiplier mul."""
    z = splitmix64((s_seed + (i + 1) * GAMMA) & MASK64)
    s = (z & 0xFFFF) + ((z >> 16) & 0xFFFF) + ((z >> 32) & 0xFFFF) + (z >> 48) - NOISE_OFFSET
    return min(max((s * mul + (1 << 31)) >> 32, INT16_MIN), INT16_MAX)


def ddim_element(x: int, eps: int, params: Sequence[int], sh: int) -> int:
    """DDIM_STEP's element for x, eps at total shift sh = 16 + f - fo."""
    a, b, c1, c2, lim = params
    x0 = (a * x - b * eps + (1 << 15)) >> DDIM_Q
    x0c = min(max(x0, -lim), lim)
    acc = c1 * x + c2 * x0c + ((1 << (sh - 1)) if sh > 0 else 0)
    return min(max(acc >> sh, INT16_MIN), INT16_MAX)


def pixel_element(x: int, f: int) -> int:
    """PIXELS' element: the pixel v of x (frac f) as its int8 two's complement q."""
    v = min(max(((x + (1 << f)) * 255 + (1 << f)) >> (f + 1), 0), 255)
    return v - 256 if v > 127 else v


# --------------------------------------------------------------------------------------------------------- ops


def _expect(what: str, s: TensorSpec, dtype: DType, frac: int | None = None) -> None:
    if s.dtype != dtype or (frac is not None and s.frac != frac):
        want = f"{dtype.name}" + (f" with frac {frac}" if frac is not None else "")
        raise DtypeMismatchError(f"{what} must be {want}, got {s.dtype.name}/f{s.frac}")


class Noise(Op):
    """Seeded near-Gaussian INT16 noise: a splitmix64 stream, each word's four 16-bit halves summed."""

    code = OpCode.NOISE
    name = "NOISE"

    def check(self, node: Node) -> None:
        expect_inputs(node, (1,))
        if len(node.params) != 1:
            raise ParamError(f"NOISE takes params (mul,), got {node.params}")
        seed = node.in_specs[0]
        _expect("seed", seed, DType.INT8, 0)
        if seed.size != SEED_BYTES:
            raise ShapeMismatchError(f"seed has shape {seed.shape} ({seed.size} elements), expected {SEED_BYTES}")
        mul = node.params[0]
        if not 1 <= mul < MAX_NOISE_MUL:
            raise ParamError(f"NOISE mul = {mul}: must be 1 .. 2^40 - 1")
        out = node.output
        _expect("NOISE output", out, DType.INT16)
        if not 0 <= out.frac <= MAX_NOISE_FRAC:
            raise DtypeMismatchError(f"NOISE output frac {out.frac}: must be 0 .. {MAX_NOISE_FRAC}")
        if not 1 <= out.size <= MAX_NOISE_ELEMENTS:
            raise ShapeMismatchError(f"NOISE output has {out.size} elements: must be 1 .. {MAX_NOISE_ELEMENTS}")

    def forward(self, inputs: Sequence[np.ndarray], node: Node) -> np.ndarray:
        s_seed = seed_of(np.asarray(inputs[0]).reshape(-1))
        n = node.output.size
        with np.errstate(over="ignore"):
            v = np.uint64(s_seed) + np.arange(1, n + 1, dtype=np.uint64) * np.uint64(GAMMA)
            v = (v ^ (v >> np.uint64(30))) * np.uint64(MIX1)
            v = (v ^ (v >> np.uint64(27))) * np.uint64(MIX2)
            z = v ^ (v >> np.uint64(31))
        m16 = np.uint64(0xFFFF)
        s = sum(((z >> np.uint64(16 * k)) & m16).astype(np.int64) for k in range(4)) - NOISE_OFFSET
        out = (s * np.int64(node.params[0]) + np.int64(1 << 31)) >> np.int64(32)  # |s * mul| < 2^57
        return np.clip(out, INT16_MIN, INT16_MAX).astype(np.int16).reshape(node.output.shape)

    def operand_ranges(self, node: Node, out_index: int, inputs=None) -> list[Range]:
        return [(0, 0, SEED_BYTES)]

    def element(self, node: Node, operands: Sequence[Sequence[int]], out_index: int) -> int:
        return noise_element(seed_of(operands[0]), out_index, node.params[0])


class DdimStep(Op):
    """One deterministic DDIM update from (x_t, eps) with x0 clipped to [-lim, lim] (Q16 constants)."""

    code = OpCode.DDIM_STEP
    name = "DDIM_STEP"

    @staticmethod
    def _shift(node: Node) -> int:
        return DDIM_Q + node.in_specs[0].frac - node.output.frac

    def check(self, node: Node) -> None:
        expect_inputs(node, (2,))
        expect_params(node, 5)
        x, eps = node.in_specs
        _expect("x", x, DType.INT16)
        expect_same_scale("DDIM_STEP eps vs x", eps, x)
        expect_shape("eps", eps.shape, x.shape)
        _expect("DDIM_STEP output", node.output, DType.INT16)
        expect_shape("output", node.output.shape, x.shape)
        a, b, c1, c2, lim = node.params
        for name, v in (("a", a), ("b", b), ("c1", c1), ("c2", c2)):
            if not -MAX_DDIM_CONST < v < MAX_DDIM_CONST:
                raise ParamError(f"DDIM_STEP {name} = {v}: |{name}| must be < 2^31")
        if not 0 <= lim <= MAX_DDIM_LIM:
            raise ParamError(f"DDIM_STEP lim = {lim}: must be 0 .. {MAX_DDIM_LIM}")
        sh = self._shift(node)
        if not 0 <= sh <= MAX_DDIM_SHIFT:
            raise DtypeMismatchError(f"DDIM_STEP shift 16 + f - fo = 16 + {x.frac} - {node.output.frac} = {sh}: "
                                     f"must be 0 .. {MAX_DDIM_SHIFT}")

    def forward(self, inputs: Sequence[np.ndarray], node: Node) -> np.ndarray:
        a, b, c1, c2, lim = (np.int64(p) for p in node.params)
        x = np.asarray(inputs[0]).astype(np.int64)
        eps = np.asarray(inputs[1]).astype(np.int64).reshape(x.shape)
        x0 = (a * x - b * eps + np.int64(1 << 15)) >> np.int64(DDIM_Q)  # |.| < 2^47
        x0c = np.clip(x0, -lim, lim)
        sh = self._shift(node)
        acc = c1 * x + c2 * x0c + np.int64((1 << (sh - 1)) if sh > 0 else 0)  # |.| < 2^47
        return np.clip(acc >> np.int64(sh), INT16_MIN, INT16_MAX).astype(np.int16).reshape(node.output.shape)

    def operand_ranges(self, node: Node, out_index: int, inputs=None) -> list[Range]:
        return [(0, out_index, 1), (1, out_index, 1)]

    def element(self, node: Node, operands: Sequence[Sequence[int]], out_index: int) -> int:
        return ddim_element(int(operands[0][0]), int(operands[1][0]), node.params, self._shift(node))


class Pixels(Op):
    """x in [-1, 1] (INT16 frac f) -> 8-bit pixel bytes (INT8 frac 0, byte = q & 0xFF)."""

    code = OpCode.PIXELS
    name = "PIXELS"

    def check(self, node: Node) -> None:
        expect_inputs(node, (1,))
        expect_params(node, 0)
        x = node.in_specs[0]
        _expect("x", x, DType.INT16)
        if not 0 <= x.frac <= MAX_PIXELS_FRAC:
            raise DtypeMismatchError(f"PIXELS input frac {x.frac}: must be 0 .. {MAX_PIXELS_FRAC}")
        _expect("PIXELS output", node.output, DType.INT8, 0)
        expect_shape("output", node.output.shape, x.shape)

    def forward(self, inputs: Sequence[np.ndarray], node: Node) -> np.ndarray:
        f = node.in_specs[0].frac
        x = np.asarray(inputs[0]).astype(np.int64)
        v = np.clip(((x + (1 << f)) * 255 + (1 << f)) >> (f + 1), 0, 255)
        return np.where(v > 127, v - 256, v).astype(np.int8).reshape(node.output.shape)

    def operand_ranges(self, node: Node, out_index: int, inputs=None) -> list[Range]:
        return [(0, out_index, 1)]

    def element(self, node: Node, operands: Sequence[Sequence[int]], out_index: int) -> int:
        return pixel_element(int(operands[0][0]), node.in_specs[0].frac)

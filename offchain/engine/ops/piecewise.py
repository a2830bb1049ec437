"""CLAMP, LEAKY_RELU, HARDSWISH, HARDSIGMOID: piecewise-linear (and, for HARDSWISH, piecewise-quadratic)
activations with exact integer rules: each output is the round-half-up (the protocol's one rounding, see
``fixed.rescale`` and ``intmath.div_round``) of the exact real function of the input's integer value, so its
error is at most 0.5 output LSB besides the quantisation of the constants stated below.

All take x (frac fx) and produce out (frac fo, same shape); each output element reads one x element.

CLAMP        params (lo, hi), integers in x's LSBs with x dtype's qmin <= lo <= hi <= qmax (a one-sided clamp
             uses the dtype's extreme for the other side: clamp_min(x, a) is (round(a 2^fx), qmax)).
             out = rescale(min(max(x, lo), hi), fx - fo). Serves Hardtanh, ReLU6, clamp, clamp_min/max.
             The bounds are round(bound * 2^fx), so they are off by <= 0.5 input LSB; nothing else rounds.
LEAKY_RELU   params (m, k), 0 <= k <= 24, |m| <= 2^24: the negative slope is m / 2^k.
             out = rescale(x * (2^k if x >= 0 else m), fx + k - fo). The compiler picks the largest k <= 24
             with |round(slope 2^k)| <= 2^24, so the slope is off by <= 2^-25 (relative 3e-6 at torch's 0.01).
             |x * 2^24| < 2^55: the accumulator stays inside the rescale's 2^62.
HARDSIGMOID  relu6(x + 3) / 6, fx in [0, 24], fo in [0, 30], params none:
             out = saturate(div_round(t * 2^fo, 6 * 2^fx)), t = min(max(x + 3 * 2^fx, 0), 6 * 2^fx).
             The constants 3 and 6 are exact at every fx; the one division rounds half up. t * 2^fo < 2^57.
HARDSWISH    x * relu6(x + 3) / 6, fx in [0, 24], fo in [0, 30], params none:
             x <= -3 * 2^fx:          0
             x >= 3 * 2^fx:           rescale(x, fx - fo)       (= div_round(x * 6 2^fx * 2^fo, 6 * 2^(2 fx)))
             otherwise, a = x (x + 3 * 2^fx), |a| < 18 * 2^(2 fx) <= 2^53, g = 2 fx - fo:
                                      div_round(a, 6 * 2^g) if g >= 0 else div_round(a * 2^-g, 6)
             then saturate. All three branches are the round-half-up of the same exact rational (scaling the
             numerator and the divisor of div_round by the same power of two changes nothing), so the output
             is x relu6(x + 3) / 6 at the output scale, rounded half up: error <= 0.5 LSB.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from offchain.engine.errors import ParamError
from offchain.engine.graph import Node
from offchain.engine.intmath_core import div_round, div_round_element
from offchain.engine.ops.base import Op, Range, expect_inputs, expect_params, expect_shape
from offchain.engine.ops.codes import OpCode
from offchain.engine.ops.fixed import check_shift, rescale, rescale_int

#: LEAKY_RELU: largest slope shift k and slope multiplier magnitude.
LEAKY_SHIFT_MAX = 24
LEAKY_MULT_MAX = 1 << 24
#: HARDSWISH / HARDSIGMOID frac bits (as the intmath activations').
HARD_FRAC_IN_MAX = 24
HARD_FRAC_OUT_MAX = 30


class _Piecewise(Op):
    n_params: int = 0

    def check(self, node: Node) -> None:
        expect_inputs(node, (1,))
        expect_params(node, self.n_params)
        expect_shape("output", node.output.shape, node.in_specs[0].shape)
        self._check_params(node)

    def _check_params(self, node: Node) -> None:
        raise NotImplementedError

    def operand_ranges(self, node: Node, out_index: int,
                       inputs: Sequence[np.ndarray] | None = None) -> list[Range]:
        return [(0, out_index, 1)]


class Clamp(_Piecewise):
    """min(max(x, lo), hi), rescaled."""

    code = OpCode.CLAMP
    name = "CLAMP"
    n_params = 2

    def _check_params(self, node: Node) -> None:
        lo, hi = node.params
        d = node.in_specs[0].dtype
        if not d.qmin <= lo <= hi <= d.qmax:
            raise ParamError(f"clamp bounds ({lo}, {hi}) must satisfy {d.qmin} <= lo <= hi <= {d.qmax} "
                             f"({d.name} input)")
        check_shift(node.in_specs[0].frac - node.output.frac, "clamp requantisation")

    def forward(self, inputs: Sequence[np.ndarray], node: Node) -> np.ndarray:
        lo, hi = node.params
        x = np.clip(inputs[0].astype(np.int64), lo, hi)
        return rescale(x, node.in_specs[0].frac - node.output.frac, node.output.dtype)

    def element(self, node: Node, operands: Sequence[Sequence[int]], out_index: int) -> int:
        lo, hi = node.params
        x = min(max(int(operands[0][0]), lo), hi)
        return rescale_int(x, node.in_specs[0].frac - node.output.frac, node.output.dtype)


class LeakyRelu(_Piecewise):
    """x for x >= 0, x * m / 2^k below, rescaled."""

    code = OpCode.LEAKY_RELU
    name = "LEAKY_RELU"
    n_params = 2

    def _check_params(self, node: Node) -> None:
        m, k = node.params
        if not 0 <= k <= LEAKY_SHIFT_MAX or abs(m) > LEAKY_MULT_MAX:
            raise ParamError(f"leaky relu slope {m} / 2^{k} needs 0 <= k <= {LEAKY_SHIFT_MAX}, "
                             f"|m| <= {LEAKY_MULT_MAX}")
        check_shift(self._shift(node), "leaky relu requantisation")

    def _shift(self, node: Node) -> int:
        return node.in_specs[0].frac + node.params[1] - node.output.frac

    def forward(self, inputs: Sequence[np.ndarray], node: Node) -> np.ndarray:
        m, k = node.params
        x = inputs[0].astype(np.int64)
        return rescale(x * np.where(x >= 0, np.int64(1 << k), np.int64(m)), self._shift(node), node.output.dtype)

    def element(self, node: Node, operands: Sequence[Sequence[int]], out_index: int) -> int:
        m, k = node.params
        x = int(operands[0][0])
        return rescale_int(x * ((1 << k) if x >= 0 else m), self._shift(node), node.output.dtype)


class _Hard(_Piecewise):
    def _check_params(self, node: Node) -> None:
        fx, fo = node.in_specs[0].frac, node.output.frac
        if not 0 <= fx <= HARD_FRAC_IN_MAX or not 0 <= fo <= HARD_FRAC_OUT_MAX:
            raise ParamError(f"{self.name} needs input frac in [0, {HARD_FRAC_IN_MAX}] and output frac in "
                             f"[0, {HARD_FRAC_OUT_MAX}], got {fx} and {fo}")


class Hardsigmoid(_Hard):
    """relu6(x + 3) / 6."""

    code = OpCode.HARDSIGMOID
    name = "HARDSIGMOID"

    def forward(self, inputs: Sequence[np.ndarray], node: Node) -> np.ndarray:
        fx, fo = node.in_specs[0].frac, node.output.frac
        t = np.clip(inputs[0].astype(np.int64) + (3 << fx), 0, 6 << fx)
        q = div_round(t << fo, 6 << fx)
        d = node.output.dtype
        return np.clip(q, d.qmin, d.qmax).astype(d.numpy)

    def element(self, node: Node, operands: Sequence[Sequence[int]], out_index: int) -> int:
        fx, fo = node.in_specs[0].frac, node.output.frac
        t = min(max(int(operands[0][0]) + (3 << fx), 0), 6 << fx)
        d = node.output.dtype
        return min(max(div_round_element(t << fo, 6 << fx), d.qmin), d.qmax)


class Hardswish(_Hard):
    """x * relu6(x + 3) / 6."""

    code = OpCode.HARDSWISH
    name = "HARDSWISH"

    def forward(self, inputs: Sequence[np.ndarray], node: Node) -> np.ndarray:
        fx, fo = node.in_specs[0].frac, node.output.frac
        d = node.output.dtype
        x = inputs[0].astype(np.int64)
        three = 3 << fx
        mid = np.clip(x, -three, three)  # the quadratic piece, evaluated everywhere and used only inside
        a = mid * (mid + three)
        g = 2 * fx - fo
        q = div_round(a, 6 << g) if g >= 0 else div_round(a << -g, 6)
        high = rescale(x, fx - fo, d).astype(np.int64)
        out = np.where(x <= -three, 0, np.where(x >= three, high, q))
        return np.clip(out, d.qmin, d.qmax).astype(d.numpy)

    def element(self, node: Node, operands: Sequence[Sequence[int]], out_index: int) -> int:
        fx, fo = node.in_specs[0].frac, node.output.frac
        d = node.output.dtype
        x = int(operands[0][0])
        three = 3 << fx
        if x <= -three:
            return 0
        if x >= three:
            return rescale_int(x, fx - fo, d)
        a = x * (x + three)
        g = 2 * fx - fo
        q = div_round_element(a, 6 << g) if g >= 0 else div_round_element(a << -g, 6)
        return min(max(q, d.qmin), d.qmax)

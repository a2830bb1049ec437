"""RSQRT and EXP: the two scalar functions a chunked GroupNorm and a chunked (two-pass) softmax need
(sd-unet-block, issue 16). Both are total: every value each operand's dtype allows has exactly one result.

RSQRT (64): 1 / sqrt(x + eps) per element.
    inputs: x (INT8/16/32, frac fi, 0 <= fi <= 30).  params: (eps,) with 0 <= eps < 2^31, eps in x's LSBs.
    out (frac fo, 0 <= fo <= 30, same shape) = intmath rsqrt_element(v, fi, fo, out dtype) with
    v = min(max(x + eps, 0), 2^31 - 1): round(2^fo / sqrt(v / 2^fi)) saturated, and the dtype's max for v = 0
    (1 / sqrt(0) = +inf; a negative x + eps, which a variance never is, reads as 0). Error <= 0.5 LSB +
    2^-29 relative (intmath_norm.rsqrt). One element reads one x element.

EXP (65): e^(x - m) for x <= m (m a row's max; m = 0 without it), optionally divided by a per-row sum.
    inputs: x [..., n] (INT8/16/32, frac fi, 0 <= fi <= 24); optionally m [..., 1] (any int dtype, frac fi), then
    optionally S [..., 1] (INT32, frac fs, 0 <= fs <= 30): m and S shaped like x with its last axis 1.  params: ().
    w = max(m - x, 0) (exact integers; m = 0 with one input), e = exp_neg_q30(w, fi): e^-(w / 2^fi) in Q30, the
    magnitude clamped at 64 << fi, the very integer SOFTMAX computes for x_i below its row max m (intmath_softmax).
    one or two inputs: out = saturate(rshift_round(e~, 30 - fo)) with e~ = e before its final rounding to Q30
                       (= intmath exp_neg_element(-w)): e^(x - m) at frac fo
    three inputs:      out = saturate(div_round(e << a, max(S, 1) << b)),  a = max(fo + fs - 30, 0),
                       b = max(30 - fo - fs, 0)                            (the real quotient e / S at frac fo)
    0 <= fo <= 30. Bounds: e <= 2^30, so e << a <= 2^60 and max(S, 1) << b < 2^61, inside div_round's 2^61.
    One element reads x[e] and its row's m and S.

How the compiler uses them (offchain/engine/compiler/split.py):
* softmax over a row too wide for one step: m = AMAX(x), e = EXP(x, m) (INT32, Q30: the integers e_i of
  SOFTMAX's definition), S' = MEAN(e) with mult 1 (S' = rescale(sum e, t) at frac 30 - t, t = ceil(log2 n)),
  out = EXP(x, m, S'). Equal to SOFTMAX except that the sum is rounded to 30 - t frac bits: |S' 2^t - S| <=
  2^(t-1) with S >= 2^30, so the quotient moves by < 2^(t - 31) relative (< 2^-19 at n = 4096): at most 0.5 LSB +
  2^(fo - 19) LSB away from the real softmax besides SOFTMAX's own error. No x - m tensor is stored.
* GroupNorm: r = RSQRT(var) of the group variance (two-level MEAN of squared centred values), then MULs.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from offchain.engine.dtypes import DType
from offchain.engine.errors import DtypeMismatchError, ParamError, ShapeMismatchError
from offchain.engine.graph import Node
from offchain.engine.intmath_act import (
    _exp_neg_parts,
    _exp_neg_parts_element,
    _scale_exp,
    _scale_exp_element,
)
from offchain.engine.intmath_softmax import _exp_neg as _exp_neg_q30_tabled
from offchain.engine.intmath_core import div_round, div_round_element, saturate, saturate_element
from offchain.engine.intmath_norm import rsqrt, rsqrt_element
from offchain.engine.ops.base import Op, Range, expect_inputs, expect_params, expect_shape
from offchain.engine.ops.codes import OpCode

RSQRT_FRAC_MAX = 30
EXP_IN_FRAC_MAX = 24
EXP_OUT_FRAC_MAX = 30
SUM_FRAC_MAX = 30
#: eps must stay below this (in x's LSBs): x + eps is then an int64 in every case before the clamp.
RSQRT_EPS_LIMIT = 1 << 31
INT32_MAX = (1 << 31) - 1
#: Elements EXP's forward computes at a time (whole rows).
FORWARD_BLOCK = 1 << 22


def _frac(what: str, f: int, hi: int) -> None:
    if not 0 <= f <= hi:
        raise ParamError(f"{what} frac {f} outside [0, {hi}]")


class Rsqrt(Op):
    """1 / sqrt(x + eps), x and eps in x's LSBs; 0 (or a negative sum) gives the dtype's max."""

    code = OpCode.RSQRT
    name = "RSQRT"

    def check(self, node: Node) -> None:
        expect_inputs(node, (1,))
        expect_params(node, 1)
        expect_shape("output", node.output.shape, node.in_specs[0].shape)
        eps = node.params[0]
        if not 0 <= eps < RSQRT_EPS_LIMIT:
            raise ParamError(f"eps {eps} outside [0, 2^31)")
        _frac("input", node.in_specs[0].frac, RSQRT_FRAC_MAX)
        _frac("output", node.output.frac, RSQRT_FRAC_MAX)

    def forward(self, inputs: Sequence[np.ndarray], node: Node) -> np.ndarray:
        v = np.clip(inputs[0].astype(np.int64) + node.params[0], 0, INT32_MAX)
        return rsqrt(v, node.in_specs[0].frac, node.output.frac, node.output.dtype.numpy).reshape(node.output.shape)

    def operand_ranges(self, node: Node, out_index: int,
                       inputs: Sequence[np.ndarray] | None = None) -> list[Range]:
        return [(0, out_index, 1)]

    def element(self, node: Node, operands: Sequence[Sequence[int]], out_index: int) -> int:
        v = min(max(int(operands[0][0]) + node.params[0], 0), INT32_MAX)
        return int(rsqrt_element(v, node.in_specs[0].frac, node.output.frac, node.output.dtype.numpy))


class Exp(Op):
    """e^min(x - m, 0) (m = 0 with one input) in the output's frac, or divided by its row's S (third input)."""

    code = OpCode.EXP
    name = "EXP"

    def check(self, node: Node) -> None:
        expect_inputs(node, (1, 2, 3))
        expect_params(node, 0)
        x = node.in_specs[0]
        expect_shape("output", node.output.shape, x.shape)
        _frac("input", x.frac, EXP_IN_FRAC_MAX)
        _frac("output", node.output.frac, EXP_OUT_FRAC_MAX)
        if len(node.inputs) >= 2:
            if not x.shape:
                raise ShapeMismatchError("x needs rank >= 1 with a row max")
            row = x.shape[:-1] + (1,)
            m = node.in_specs[1]
            expect_shape("row max m", m.shape, row)
            if m.frac != x.frac:
                raise DtypeMismatchError(f"row max m has frac {m.frac}, x has {x.frac}: they must be equal")
        if len(node.inputs) == 3:
            s = node.in_specs[2]
            expect_shape("row sum S", s.shape, row)
            if s.dtype != DType.INT32:
                raise DtypeMismatchError(f"row sum S must be INT32, got {s.dtype.name}")
            _frac("row sum", s.frac, SUM_FRAC_MAX)

    @staticmethod
    def _shifts(node: Node) -> tuple[int, int]:
        total = node.output.frac + node.in_specs[2].frac
        return max(total - 30, 0), max(30 - total, 0)

    def forward(self, inputs: Sequence[np.ndarray], node: Node) -> np.ndarray:
        """Blocks of whole rows at a time (the int64 temporaries of a 134 M-element attention map would otherwise
        take several GB); Q30 exps through intmath_softmax's exp table where it applies, the same integers."""
        x = inputs[0]
        out = np.empty(node.output.shape, node.output.dtype.numpy)
        if x.size == 0:
            return out
        n = x.shape[-1] if x.ndim else 1
        rows_x, rows_out = x.reshape(-1, n), out.reshape(-1, n)
        rows = [a.reshape(-1, 1) for a in inputs[1:]]
        step = max(1, FORWARD_BLOCK // n)
        for r in range(0, rows_x.shape[0], step):
            rows_out[r:r + step] = self._block(rows_x[r:r + step], [a[r:r + step] for a in rows], node)
        return out

    def _block(self, x: np.ndarray, rows: list[np.ndarray], node: Node) -> np.ndarray:
        fi, fo, dtype = node.in_specs[0].frac, node.output.frac, node.output.dtype.numpy
        m = rows[0].astype(np.int64) if rows else np.int64(0)
        w = np.maximum(m - x.astype(np.int64), 0)
        if len(rows) < 2 and fo != 30:
            p, z = _exp_neg_parts(w, fi)
            return saturate(_scale_exp(p, z, fo), dtype)
        e = _exp_neg_q30_tabled(w, fi)   # = _scale_exp(*_exp_neg_parts(w, fi), 30): exp_neg_q30
        if len(rows) < 2:
            return saturate(e, dtype)
        a, b = self._shifts(node)
        return saturate(div_round(e << a, np.maximum(rows[1].astype(np.int64), 1) << b), dtype)

    def operand_ranges(self, node: Node, out_index: int,
                       inputs: Sequence[np.ndarray] | None = None) -> list[Range]:
        row = out_index // node.in_specs[0].shape[-1] if len(node.inputs) > 1 else 0
        return [(0, out_index, 1)] + [(k, row, 1) for k in range(1, len(node.inputs))]

    def element(self, node: Node, operands: Sequence[Sequence[int]], out_index: int) -> int:
        fi, fo = node.in_specs[0].frac, node.output.frac
        m = int(operands[1][0]) if len(operands) > 1 else 0
        w = m - int(operands[0][0])
        p, z = _exp_neg_parts_element(w if w > 0 else 0, fi)   # clamps the magnitude at EXP_CLAMP << fi
        if len(node.inputs) < 3:
            return saturate_element(_scale_exp_element(p, z, fo), node.output.dtype.numpy)
        e = _scale_exp_element(p, z, 30)
        a, b = self._shifts(node)
        s = int(operands[2][0])
        return saturate_element(div_round_element(e << a, (s if s > 1 else 1) << b), node.output.dtype.numpy)


__all__ = ["Exp", "Rsqrt"]

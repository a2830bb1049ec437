"""RSQRT and EXP: the two scalar functions a chunked GroupNorm and a chunked (two-pass) softmax need
(sd-unet-block, issue 16). Both are total: every value each operand's dtype allows has exactly one result.

RSQRT (64): 1 / sqrt(x + eps) per element.
    inputs: x (INT8/16/32, frac fi, 0 <= fi <= 30).  params: (eps,) with 0 <= eps < 2^31, eps in x's LSBs.
    out (frac fo, 0 <= fo <= 30, same shape) = intmath rsqrt_element(v, fi, fo, out dtype) with
    v = min(max(x + eps, 0), 2^31 - 1): round(2^fo / sqrt(v / 2^fi)) saturated, and the dtype's max for v = 0
    (1 / sqrt(0) = +inf; a negative x + eps, which a variance never is, reads as 0). Error <= 0.5 LSB +
    2^-29 relative (intmath_norm.rsqrt). One element reads one x element.

EXP (65): e^min(d, 0), optionally divided by a per-row sum.
    inputs: d [..., n] (INT8/16/32, frac fi, 0 <= fi <= 24), optionally S [..., 1] (INT32, frac fs, 0 <= fs <= 30)
    with S's shape d's shape with its last axis 1.  params: ().
    e = exp_neg_q30(max(-d, 0), fi): e^min(d, 0) in Q30, the very integer SOFTMAX sums (intmath_softmax).
    one input:  out = saturate(rshift_round(e, 30 - fo))            (= intmath exp_neg_element(min(d, 0)))
    two inputs: out = saturate(div_round(e << a, max(S, 1) << b)),  a = max(fo + fs - 30, 0),
                b = max(30 - fo - fs, 0)                            (the real quotient e / S at frac fo)
    0 <= fo <= 30. Bounds: e <= 2^30, so e << a <= 2^60 and max(S, 1) << b < 2^61, inside div_round's 2^61.
    One element reads d[e] and (two inputs) S of its row.

How the compiler uses them (offchain/engine/compiler/lower.py):
* softmax over a row too wide for one step: m = AMAX(x), d = SUB(x, m) (INT32, frac fi), e = EXP(d) (INT32,
  Q30: the integers e_i of SOFTMAX's definition), S' = MEAN(e) with mult 1 (S' = rescale(sum e, t) at frac
  30 - t, t = ceil(log2 n)), out = EXP(d, S'). Equal to SOFTMAX except that the sum is rounded to 30 - t frac
  bits: |S' 2^t - S| <= 2^(t-1) with S >= 2^30, so the quotient moves by < 2^(t - 31) relative (< 2^-19 at
  n = 4096): at most 0.5 LSB + 2^(fo - 19) LSB away from the real softmax besides SOFTMAX's own error.
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
    """e^min(d, 0) in the output's frac, or divided by its row's S (second input)."""

    code = OpCode.EXP
    name = "EXP"

    def check(self, node: Node) -> None:
        expect_inputs(node, (1, 2))
        expect_params(node, 0)
        d = node.in_specs[0]
        expect_shape("output", node.output.shape, d.shape)
        _frac("input", d.frac, EXP_IN_FRAC_MAX)
        _frac("output", node.output.frac, EXP_OUT_FRAC_MAX)
        if len(node.inputs) == 2:
            if not d.shape:
                raise ShapeMismatchError("d needs rank >= 1 when divided by a row sum")
            s = node.in_specs[1]
            expect_shape("row sum S", s.shape, d.shape[:-1] + (1,))
            if s.dtype != DType.INT32:
                raise DtypeMismatchError(f"row sum S must be INT32, got {s.dtype.name}")
            _frac("row sum", s.frac, SUM_FRAC_MAX)

    @staticmethod
    def _shifts(node: Node) -> tuple[int, int]:
        total = node.output.frac + node.in_specs[1].frac
        return max(total - 30, 0), max(30 - total, 0)

    def forward(self, inputs: Sequence[np.ndarray], node: Node) -> np.ndarray:
        """Blocks of whole rows at a time (the int64 temporaries of a 134 M-element attention map would otherwise
        take several GB); Q30 exps through intmath_softmax's exp table where it applies, the same integers."""
        d = inputs[0]
        out = np.empty(node.output.shape, node.output.dtype.numpy)
        if d.size == 0:
            return out
        n = d.shape[-1] if d.ndim else 1
        rows_d, rows_out = d.reshape(-1, n), out.reshape(-1, n)
        rows_s = inputs[1].reshape(-1, 1) if len(inputs) == 2 else None
        step = max(1, FORWARD_BLOCK // n)
        for r in range(0, rows_d.shape[0], step):
            block_s = rows_s[r:r + step] if rows_s is not None else None
            rows_out[r:r + step] = self._block(rows_d[r:r + step], block_s, node)
        return out

    def _block(self, d: np.ndarray, s: np.ndarray | None, node: Node) -> np.ndarray:
        fi, fo, dtype = node.in_specs[0].frac, node.output.frac, node.output.dtype.numpy
        w = np.maximum(-d.astype(np.int64), 0)
        if s is None and fo != 30:
            p, z = _exp_neg_parts(w, fi)
            return saturate(_scale_exp(p, z, fo), dtype)
        e = _exp_neg_q30_tabled(w, fi)   # = _scale_exp(*_exp_neg_parts(w, fi), 30): exp_neg_q30
        if s is None:
            return saturate(e, dtype)
        a, b = self._shifts(node)
        return saturate(div_round(e << a, np.maximum(s.astype(np.int64), 1) << b), dtype)

    def operand_ranges(self, node: Node, out_index: int,
                       inputs: Sequence[np.ndarray] | None = None) -> list[Range]:
        ranges: list[Range] = [(0, out_index, 1)]
        if len(node.inputs) == 2:
            ranges.append((1, out_index // node.in_specs[0].shape[-1], 1))
        return ranges

    def element(self, node: Node, operands: Sequence[Sequence[int]], out_index: int) -> int:
        fi, fo = node.in_specs[0].frac, node.output.frac
        d = int(operands[0][0])
        p, z = _exp_neg_parts_element(-d if d < 0 else 0, fi)   # clamps the magnitude at EXP_CLAMP << fi
        if len(node.inputs) == 1:
            return saturate_element(_scale_exp_element(p, z, fo), node.output.dtype.numpy)
        e = _scale_exp_element(p, z, 30)
        a, b = self._shifts(node)
        s = int(operands[1][0])
        return saturate_element(div_round_element(e << a, (s if s > 1 else 1) << b), node.output.dtype.numpy)


__all__ = ["Exp", "Rsqrt"]

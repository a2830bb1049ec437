"""MAXPOOL2D, AVGPOOL2D (NCHW windows) and AMAX (max over the last axis).

All three keep the input's dtype and frac bits (the output spec must equal the input's): a maximum or an
average of values never leaves their range, except an average with a divisor below its window's count,
which saturates.

MAXPOOL2D  x [B, C, H, W] -> out [B, C, OH, OW]; params (kh, kw, sh, sw, ph, pw), kernel and strides >= 1,
           0 <= ph <= kh // 2, 0 <= pw <= kw // 2 (torch's rule: every window then holds at least one image
           element), OH = (H + 2 ph - kh) // sh + 1 (floor mode), same for W.
           out[b, c, y, x] = max of x[b, c, iy, ix] over the window's in-image positions
           (the padding is the dtype minimum, which never wins over an image element).
AVGPOOL2D  same layout; params (kh, kw, sh, sw, ph, pw, divisor), divisor >= 0.
           S = exact sum of the window's in-image elements (padding counts as 0),
           D = divisor if divisor > 0 (kh * kw for count_include_pad, or torch's divisor_override),
               else the number of in-image elements (count_include_pad=False),
           out = saturate(floor((2 S + D) / (2 D))): the exact quotient rounded half up, the protocol's
           one rounding rule (for D = 2^s it is rescale(S, s) exactly).
AMAX       x [..., n], n >= 1 -> out [...] or [..., 1]; no params; out = max_j x[..., j].

One pooled element reads, per kernel row whose input row lies inside the image, one contiguous run of x
columns clipped to the image (like CONV2D, for one channel); an AMAX element reads its one row.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from offchain.engine.errors import DtypeMismatchError, ParamError, ShapeMismatchError
from offchain.engine.graph import Node
from offchain.engine.ops.base import (Op, Range, expect_inputs, expect_params, expect_same_scale, expect_shape,
                                      unravel)
from offchain.engine.ops.codes import OpCode

#: Largest window (kh * kw) and fixed divisor: keeps 2 S + D of any int32 window inside int64.
MAX_WINDOW = 1 << 24


def pool_output_hw(h: int, w: int, params: Sequence[int]) -> tuple[int, int]:
    """Output height and width of a pooling node (floor mode) for input ``h`` x ``w``."""
    kh, kw, sh, sw, ph, pw = params[:6]
    return (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1


def _check_same_spec(node: Node) -> None:
    try:
        expect_same_scale("output", node.output, node.in_specs[0])
    except DtypeMismatchError as exc:
        raise DtypeMismatchError(f"{exc} (pooling keeps its input's dtype and frac)") from None


class _Pool2d(Op):
    """Window bookkeeping shared by MAXPOOL2D and AVGPOOL2D."""

    param_count: int

    def check(self, node: Node) -> None:
        expect_inputs(node, (1,))
        expect_params(node, self.param_count)
        kh, kw, sh, sw, ph, pw = node.params[:6]
        if kh < 1 or kw < 1 or sh < 1 or sw < 1:
            raise ParamError(f"kernel {kh}x{kw} and strides {sh, sw} must be >= 1")
        if not (0 <= ph <= kh // 2 and 0 <= pw <= kw // 2):
            raise ParamError(f"pads {ph, pw} must lie in [0, kernel // 2] = [0, {kh // 2}], [0, {kw // 2}]")
        if kh * kw > MAX_WINDOW:
            raise ParamError(f"window {kh}x{kw} larger than {MAX_WINDOW} elements")
        x = node.in_specs[0]
        if len(x.shape) != 4:
            raise ShapeMismatchError(f"x {x.shape} must be rank 4 (NCHW)")
        b, c, h, w = x.shape
        if h < 1 or w < 1:
            raise ShapeMismatchError(f"x {x.shape} must have an image of at least 1x1")
        if kh > h + 2 * ph or kw > w + 2 * pw:
            raise ShapeMismatchError(f"kernel {kh}x{kw} larger than padded input {h + 2 * ph}x{w + 2 * pw}")
        expect_shape("output", node.output.shape, (b, c) + pool_output_hw(h, w, node.params))
        _check_same_spec(node)

    def _windows(self, node: Node, out_index: int) -> list[tuple[int, int]]:
        """(flat start, length) of each in-image run of x that output ``out_index`` reads, kernel rows in order."""
        kh, kw, sh, sw, ph, pw = node.params[:6]
        _, c_n, h, w = node.in_specs[0].shape
        b, c, y, x = unravel(out_index, node.output.shape)
        x0, y0 = x * sw - pw, y * sh - ph
        lo, hi = max(x0, 0), min(x0 + kw, w)
        if lo >= hi:
            return []
        return [(((b * c_n + c) * h + iy) * w + lo, hi - lo) for iy in range(max(y0, 0), min(y0 + kh, h))]

    def operand_ranges(self, node: Node, out_index: int,
                       inputs: Sequence[np.ndarray] | None = None) -> list[Range]:
        return [(0, start, length) for start, length in self._windows(node, out_index)]

    def _padded_windows(self, x: np.ndarray, node: Node, fill: int) -> np.ndarray:
        """[B, C, OH, OW, kh, kw] view of x padded with ``fill``."""
        kh, kw, sh, sw, ph, pw = node.params[:6]
        xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=fill)
        return np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]


class MaxPool2d(_Pool2d):
    """Max over each window (dilation 1, floor mode)."""

    code = OpCode.MAXPOOL2D
    name = "MAXPOOL2D"
    param_count = 6

    def forward(self, inputs: Sequence[np.ndarray], node: Node) -> np.ndarray:
        dtype = node.output.dtype
        win = self._padded_windows(inputs[0].astype(dtype.numpy), node, dtype.qmin)
        return win.max(axis=(-2, -1)).astype(dtype.numpy).reshape(node.output.shape)

    def element(self, node: Node, operands: Sequence[Sequence[int]], out_index: int) -> int:
        return max((int(v) for run in operands for v in run), default=node.output.dtype.qmin)


class AvgPool2d(_Pool2d):
    """Exact window sum divided by the divisor, rounded half up (dilation 1, floor mode)."""

    code = OpCode.AVGPOOL2D
    name = "AVGPOOL2D"
    param_count = 7

    def check(self, node: Node) -> None:
        super().check(node)
        divisor = node.params[6]
        if not 0 <= divisor <= MAX_WINDOW:
            raise ParamError(f"divisor {divisor} outside [0, {MAX_WINDOW}] (0: count the in-image elements)")

    def forward(self, inputs: Sequence[np.ndarray], node: Node) -> np.ndarray:
        sums = self._padded_windows(inputs[0].astype(np.int64), node, 0).sum(axis=(-2, -1))
        divisor = node.params[6]
        if divisor:
            d = np.full(sums.shape, divisor, np.int64)
        else:
            ones = np.ones(inputs[0].shape, np.int64)
            d = self._padded_windows(ones, node, 0).sum(axis=(-2, -1))
        q = np.floor_divide(2 * sums + d, 2 * d)
        dtype = node.output.dtype
        return np.clip(q, dtype.qmin, dtype.qmax).astype(dtype.numpy).reshape(node.output.shape)

    def element(self, node: Node, operands: Sequence[Sequence[int]], out_index: int) -> int:
        total = sum(int(v) for run in operands for v in run)
        d = node.params[6] or sum(len(run) for run in operands)
        dtype = node.output.dtype
        return min(max((2 * total + d) // (2 * d), dtype.qmin), dtype.qmax)


class Amax(Op):
    """Max over the last axis."""

    code = OpCode.AMAX
    name = "AMAX"

    def check(self, node: Node) -> None:
        expect_inputs(node, (1,))
        expect_params(node, 0)
        shape = node.in_specs[0].shape
        if not shape or shape[-1] < 1:
            raise ShapeMismatchError(f"input {shape} must have rank >= 1 and a last axis of at least 1")
        if node.output.shape not in (shape[:-1], shape[:-1] + (1,)):
            raise ShapeMismatchError(f"output {node.output.shape} must be {shape[:-1]} (+ (1,))")
        _check_same_spec(node)

    def forward(self, inputs: Sequence[np.ndarray], node: Node) -> np.ndarray:
        return inputs[0].max(axis=-1).astype(node.output.dtype.numpy).reshape(node.output.shape)

    def operand_ranges(self, node: Node, out_index: int,
                       inputs: Sequence[np.ndarray] | None = None) -> list[Range]:
        n = node.in_specs[0].shape[-1]
        return [(0, out_index * n, n)]

    def element(self, node: Node, operands: Sequence[Sequence[int]], out_index: int) -> int:
        return max(int(v) for v in operands[0])

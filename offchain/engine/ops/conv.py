"""CONV2D: 2-D convolution on NCHW tensors with zero padding, dilation and groups.

inputs: x [B, C, H, W] (frac fx), W [O, C / G, KH, KW] (frac fw), optional bias [O] int32 frac fx + fw.
params, two forms:
    (stride_h, stride_w, pad_h, pad_w): the short form, meaning
        (stride_h, stride_w, pad_h, pad_w, pad_h, pad_w, 1, 1, 1) of the long one (roots of models compiled
        before the long form existed do not change);
    (stride_h, stride_w, pad_top, pad_left, pad_bottom, pad_right, dilation_h, dilation_w, groups):
        strides, dilations, groups >= 1, pads >= 0, G divides C and O.
out [B, O, OH, OW], OH = (H + pad_top + pad_bottom - dilation_h (KH - 1) - 1) // stride_h + 1 (same for W).
With g = o // (O / G) the group of output channel o and Cg = C / G:
    out[b, o, y, x] = rescale(sum_{c < Cg, ky, kx} xpad[b, g Cg + c, y sh + ky dh, x sw + kx dw] W[o, c, ky, kx]
                              + b[o], fx + fw - fo)
where xpad is x shifted by (pad_top, pad_left) with zeros outside the image. One output element reads one
contiguous weight block W[o] and, per (c, ky) whose input row lies inside the image, one contiguous run of
x columns from its first to its last in-image tap (with dilation dw > 1 the run holds every dw-th column's
neighbours too; the element reads every dw-th value of it). Padding reads are zeros and are not proved. The
bottom/right pads only fix the output shape: an element's reads depend on the top/left pads alone.
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import numpy as np

from offchain.engine.dtypes import DType
from offchain.engine.errors import DtypeMismatchError, ParamError, ShapeMismatchError
from offchain.engine.graph import Node
from offchain.engine.ops.base import Op, Range, expect_inputs, unravel
from offchain.engine.ops.codes import OpCode
from offchain.engine.ops.fixed import check_shift, exact_matmul, rescale, rescale_int
from offchain.engine.ops.linear import _check_acc, _shift

SHORT_PARAMS = 4
LONG_PARAMS = 9


class ConvParams(NamedTuple):
    """Both param forms, spelled out."""

    stride_h: int
    stride_w: int
    pad_top: int
    pad_left: int
    pad_bottom: int
    pad_right: int
    dilation_h: int
    dilation_w: int
    groups: int


#: Largest stride, pad, dilation or group count (Python and ConvOps refuse more): with every value below 2^32 the
#: receptive-field arithmetic (positions, first/last taps) stays far inside int256 on-chain.
MAX_CONV_PARAM = 1 << 32


def conv_params(params: Sequence[int]) -> ConvParams:
    """The long form of either param form; ParamError for any other length or an out-of-range value."""
    if len(params) == SHORT_PARAMS:
        sh, sw, ph, pw = params
        p = ConvParams(sh, sw, ph, pw, ph, pw, 1, 1, 1)
    elif len(params) == LONG_PARAMS:
        p = ConvParams(*params)
    else:
        raise ParamError(f"takes {SHORT_PARAMS} or {LONG_PARAMS} params, got {len(params)}: {tuple(params)}")
    if min(p.stride_h, p.stride_w, p.dilation_h, p.dilation_w, p.groups) < 1:
        raise ParamError(f"strides {p.stride_h, p.stride_w}, dilations {p.dilation_h, p.dilation_w} and groups "
                         f"{p.groups} must be >= 1")
    if min(p.pad_top, p.pad_left, p.pad_bottom, p.pad_right) < 0:
        raise ParamError(f"pads {p.pad_top, p.pad_left, p.pad_bottom, p.pad_right} must be >= 0")
    if max(p) > MAX_CONV_PARAM:
        raise ParamError(f"params {tuple(p)} above {MAX_CONV_PARAM}: the one-step contract's window arithmetic "
                         f"is exact only below it (no real conv comes near)")
    return p


def long_conv_params(stride: Sequence[int], pads: Sequence[int], dilation: Sequence[int], groups: int) -> tuple:
    """The params tuple for a conv: the short form whenever it says the same (pads (top, left, bottom, right))."""
    top, left, bottom, right = pads
    if (top, left) == (bottom, right) and tuple(dilation) == (1, 1) and groups == 1:
        return (stride[0], stride[1], top, left)
    return (stride[0], stride[1], top, left, bottom, right, dilation[0], dilation[1], groups)


def conv_output_hw(h: int, w: int, kh: int, kw: int, params: Sequence[int]) -> tuple[int, int]:
    """Output height and width for the given input size, kernel and params (either form)."""
    p = conv_params(params)
    return ((h + p.pad_top + p.pad_bottom - p.dilation_h * (kh - 1) - 1) // p.stride_h + 1,
            (w + p.pad_left + p.pad_right - p.dilation_w * (kw - 1) - 1) // p.stride_w + 1)


def conv_taps(start: int, k: int, dilation: int, size: int) -> tuple[int, int]:
    """[first, last + 1) of the kernel taps t < k whose position start + t dilation lies in [0, size)."""
    first = (-start + dilation - 1) // dilation if start < 0 else 0
    end = min(k, (size - 1 - start) // dilation + 1) if start < size else 0
    return first, max(first, end)


class Conv2d(Op):
    """NCHW convolution with zero padding (asymmetric allowed), dilation and groups."""

    code = OpCode.CONV2D
    name = "CONV2D"

    def check(self, node: Node) -> None:
        expect_inputs(node, (2, 3))
        p = conv_params(node.params)
        x, w = node.in_specs[0], node.in_specs[1]
        if len(x.shape) != 4 or len(w.shape) != 4:
            raise ShapeMismatchError(f"x {x.shape} and W {w.shape} must be rank 4")
        b, c, h, wd = x.shape
        o, wc, kh, kw = w.shape
        if c % p.groups or o % p.groups:
            raise ParamError(f"groups {p.groups} must divide in-channels {c} and out-channels {o}")
        if wc != c // p.groups:
            raise ShapeMismatchError(f"W in-channels {wc}, expected {c // p.groups} (x channels {c} / groups "
                                     f"{p.groups})")
        eh, ew = p.dilation_h * (kh - 1) + 1, p.dilation_w * (kw - 1) + 1
        ph, pw = h + p.pad_top + p.pad_bottom, wd + p.pad_left + p.pad_right
        if kh < 1 or kw < 1 or eh > ph or ew > pw:
            raise ShapeMismatchError(f"dilated kernel {eh}x{ew} larger than padded input {ph}x{pw}")
        oh, ow = conv_output_hw(h, wd, kh, kw, node.params)
        if tuple(node.output.shape) != (b, o, oh, ow):
            raise ShapeMismatchError(f"output has shape {node.output.shape}, expected {(b, o, oh, ow)}")
        if len(node.inputs) == 3:
            bias = node.in_specs[2]
            if tuple(bias.shape) != (o,):
                raise ShapeMismatchError(f"bias has shape {bias.shape}, expected {(o,)}")
            if bias.dtype != DType.INT32 or bias.frac != x.frac + w.frac:
                raise DtypeMismatchError(f"bias must be INT32 with frac {x.frac + w.frac}")
        _check_acc(node, wc * kh * kw)
        check_shift(_shift(node), "requantisation")

    def forward(self, inputs: Sequence[np.ndarray], node: Node) -> np.ndarray:
        x, w = inputs[0], inputs[1]
        p = conv_params(node.params)
        o, cg, kh, kw = w.shape
        b, c, h, wd = x.shape
        g = p.groups
        xp = np.pad(x, ((0, 0), (0, 0), (p.pad_top, p.pad_bottom), (p.pad_left, p.pad_right)))
        eh, ew = p.dilation_h * (kh - 1) + 1, p.dilation_w * (kw - 1) + 1
        win = np.lib.stride_tricks.sliding_window_view(xp, (eh, ew), axis=(2, 3))
        win = win[:, :, ::p.stride_h, ::p.stride_w, ::p.dilation_h, ::p.dilation_w]
        oh, ow = win.shape[2:4]
        # [B, G, OH, OW, Cg * KH * KW] against [G, O / G, Cg * KH * KW]
        cols = win.reshape(b, g, cg, oh, ow, kh, kw).transpose(0, 1, 3, 4, 2, 5, 6).reshape(b, g, oh, ow, -1)
        wg = w.reshape(g, o // g, cg * kh * kw)
        acc = np.concatenate([exact_matmul(cols[:, k], wg[k])
                              for k in range(g)], axis=-1)
        if len(inputs) == 3:
            acc = acc + inputs[2].astype(np.int64)
        return rescale(acc.transpose(0, 3, 1, 2), _shift(node), node.output.dtype)

    def _windows(self, node: Node, out_index: int) -> tuple[int, int, list[tuple[int, int, int, int, int]]]:
        """(o, taps, [(c, ky, kx0, flat_start, length)]): output channel, in-image taps per kernel row, and per
        in-image (group channel c, kernel row ky) the run of x from tap kx0 to the row's last in-image tap."""
        p = conv_params(node.params)
        _, c_n, h, wd = node.in_specs[0].shape
        o_n, cg, kh, kw = node.in_specs[1].shape
        b, o, y, x = unravel(out_index, node.output.shape)
        c_first = (o // (o_n // p.groups)) * cg
        y0, x0 = y * p.stride_h - p.pad_top, x * p.stride_w - p.pad_left
        ky_lo, ky_hi = conv_taps(y0, kh, p.dilation_h, h)
        kx_lo, kx_hi = conv_taps(x0, kw, p.dilation_w, wd)
        taps = kx_hi - kx_lo
        runs = []
        if taps > 0:
            col = x0 + kx_lo * p.dilation_w
            length = (taps - 1) * p.dilation_w + 1
            for c in range(cg):
                for ky in range(ky_lo, ky_hi):
                    iy = y0 + ky * p.dilation_h
                    runs.append((c, ky, kx_lo, ((b * c_n + c_first + c) * h + iy) * wd + col, length))
        return o, taps, runs

    def operand_ranges(self, node: Node, out_index: int,
                       inputs: Sequence[np.ndarray] | None = None) -> list[Range]:
        o, _, runs = self._windows(node, out_index)
        block = node.in_specs[1].size // node.in_specs[1].shape[0]
        ranges: list[Range] = [(1, o * block, block)]
        if len(node.inputs) == 3:
            ranges.append((2, o, 1))
        ranges.extend((0, start, length) for _, _, _, start, length in runs)
        return ranges

    def element(self, node: Node, operands: Sequence[Sequence[int]], out_index: int) -> int:
        o, taps, runs = self._windows(node, out_index)
        dw = conv_params(node.params).dilation_w
        _, _, kh, kw = node.in_specs[1].shape
        weights = operands[0]
        acc = 0
        first_run = 1
        if len(node.inputs) == 3:
            acc += int(operands[1][0])
            first_run = 2
        for (c, ky, kx0, _, _), values in zip(runs, operands[first_run:]):
            base = (c * kh + ky) * kw + kx0
            acc += sum(int(values[j * dw]) * int(weights[base + j]) for j in range(taps))
        return rescale_int(acc, _shift(node), node.output.dtype)

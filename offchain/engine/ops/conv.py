"""CONV2D: 2-D convolution on NCHW tensors with zero padding.

inputs: x [B, C, H, W] (frac fx), W [O, C, KH, KW] (frac fw), optional bias [O] int32 frac fx + fw.
params: (stride_h, stride_w, pad_h, pad_w), strides >= 1, pads >= 0.
out [B, O, OH, OW], OH = (H + 2 pad_h - KH) // stride_h + 1 (same for W):
    out[b, o, y, x] = rescale(sum_{c,ky,kx} xpad[b, c, y sh + ky, x sw + kx] W[o, c, ky, kx] + b[o],
                              fx + fw - fo)
One output element reads one contiguous weight block W[o] and, per (c, ky)
whose input row lies inside the image, one contiguous run of x columns
(clipped to the image: padding reads are zeros and are not proved).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from offchain.engine.dtypes import DType
from offchain.engine.errors import DtypeMismatchError, ParamError, ShapeMismatchError
from offchain.engine.graph import Node
from offchain.engine.ops.base import Op, Range, expect_inputs, expect_params, expect_shape, unravel
from offchain.engine.ops.codes import OpCode
from offchain.engine.ops.fixed import check_shift, exact_matmul, rescale, rescale_int
from offchain.engine.ops.linear import _check_acc, _shift


def conv_output_hw(h: int, w: int, kh: int, kw: int, params: Sequence[int]) -> tuple[int, int]:
    """Output height and width for the given input size, kernel and params."""
    sh, sw, ph, pw = params
    return (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1


class Conv2d(Op):
    """NCHW convolution, groups = 1, dilation = 1."""

    code = OpCode.CONV2D
    name = "CONV2D"

    def check(self, node: Node) -> None:
        expect_inputs(node, (2, 3))
        expect_params(node, 4)
        sh, sw, ph, pw = node.params
        if sh < 1 or sw < 1 or ph < 0 or pw < 0:
            raise ParamError(f"strides {sh, sw} must be >= 1 and pads {ph, pw} >= 0")
        x, w = node.in_specs[0], node.in_specs[1]
        if len(x.shape) != 4 or len(w.shape) != 4:
            raise ShapeMismatchError(f"x {x.shape} and W {w.shape} must be rank 4")
        b, c, h, wd = x.shape
        o, wc, kh, kw = w.shape
        expect_shape("W in-channels", (wc,), (c,))
        if kh > h + 2 * ph or kw > wd + 2 * pw:
            raise ShapeMismatchError(f"kernel {kh}x{kw} larger than padded input {h + 2 * ph}x{wd + 2 * pw}")
        oh, ow = conv_output_hw(h, wd, kh, kw, node.params)
        expect_shape("output", node.output.shape, (b, o, oh, ow))
        if len(node.inputs) == 3:
            bias = node.in_specs[2]
            expect_shape("bias", bias.shape, (o,))
            if bias.dtype != DType.INT32 or bias.frac != x.frac + w.frac:
                raise DtypeMismatchError(f"bias must be INT32 with frac {x.frac + w.frac}")
        _check_acc(node, c * kh * kw)
        check_shift(_shift(node), "requantisation")

    def forward(self, inputs: Sequence[np.ndarray], node: Node) -> np.ndarray:
        x, w = inputs[0], inputs[1]
        sh, sw, ph, pw = node.params
        o, c, kh, kw = w.shape
        xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
        win = np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]
        b, _, oh, ow = win.shape[:4]
        cols = win.transpose(0, 2, 3, 1, 4, 5).reshape(b, oh, ow, c * kh * kw)
        acc = exact_matmul(cols, w.reshape(o, c * kh * kw), node.in_specs[0].dtype, node.in_specs[1].dtype)
        if len(inputs) == 3:
            acc = acc + inputs[2].astype(np.int64)
        return rescale(acc.transpose(0, 3, 1, 2), _shift(node), node.output.dtype)

    def _windows(self, node: Node, out_index: int) -> tuple[int, list[tuple[int, int, int, int, int]]]:
        """(o, [(c, ky, kx0, flat_start, length)]) of the in-image runs of x read by ``out_index``."""
        sh, sw, ph, pw = node.params
        _, c_n, h, wd = node.in_specs[0].shape
        _, _, kh, kw = node.in_specs[1].shape
        b, o, y, x = unravel(out_index, node.output.shape)
        x0 = x * sw - pw
        lo, hi = max(x0, 0), min(x0 + kw, wd)
        runs = []
        for c in range(c_n):
            for ky in range(kh):
                iy = y * sh - ph + ky
                if 0 <= iy < h and lo < hi:
                    runs.append((c, ky, lo - x0, ((b * c_n + c) * h + iy) * wd + lo, hi - lo))
        return o, runs

    def operand_ranges(self, node: Node, out_index: int,
                       inputs: Sequence[np.ndarray] | None = None) -> list[Range]:
        o, runs = self._windows(node, out_index)
        block = node.in_specs[1].size // node.in_specs[1].shape[0]
        ranges: list[Range] = [(1, o * block, block)]
        if len(node.inputs) == 3:
            ranges.append((2, o, 1))
        ranges.extend((0, start, length) for _, _, _, start, length in runs)
        return ranges

    def element(self, node: Node, operands: Sequence[Sequence[int]], out_index: int) -> int:
        o, runs = self._windows(node, out_index)
        _, _, kh, kw = node.in_specs[1].shape
        weights = operands[0]
        acc = 0
        first_run = 1
        if len(node.inputs) == 3:
            acc += int(operands[1][0])
            first_run = 2
        for (c, ky, kx0, _, length), values in zip(runs, operands[first_run:]):
            base = (c * kh + ky) * kw + kx0
            acc += sum(int(v) * int(weights[base + j]) for j, v in enumerate(values[:length]))
        return rescale_int(acc, _shift(node), node.output.dtype)

"""LOREFT: a LoReFT intervention ``h + R^T (W h + b - R h)`` (rank r) on a hidden state, the fine-tuning operator
of opp/ai's Llama demo (its weights are usually private; offchain/zk proves it with Groth16).

inputs: h [..., d] (INT8/16/32, frac fh), R [r, d] and W [r, d] (INT8, same frac fw >= 0), b [r] (INT32,
frac fh + fw). params: none. out: h's shape, dtype and frac. With one rounding rule (rescale = round half up by
an arithmetic shift, then saturate to h's dtype):

    z[k]   = sum_j (W[k, j] - R[k, j]) * h[j] + b[k]                  exact, frac fh + fw
    e[k]   = rescale(z[k], fw)                                       frac fh
    out[j] = rescale(h[j] * 2^fw + sum_k R[k, j] * e[k], fw)         frac fh

One output element reads its row of h, all of R and W, and b.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from offchain.engine.dtypes import DType
from offchain.engine.errors import DtypeMismatchError, ShapeMismatchError
from offchain.engine.graph import Node
from offchain.engine.ops.base import Op, Range, expect_inputs, expect_params
from offchain.engine.ops.codes import OpCode
from offchain.engine.ops.fixed import check_shift, rescale, rescale_int


def loreft_forward(h: np.ndarray, r_mat: np.ndarray, w_mat: np.ndarray, b: np.ndarray, fw: int,
                   dtype: DType) -> np.ndarray:
    """The integer LoReFT of ``h [..., d]`` (values of ``dtype``): an array of ``dtype`` with h's shape."""
    hi = np.asarray(h).astype(np.int64)
    z = hi @ (w_mat.astype(np.int64) - r_mat.astype(np.int64)).T + b.astype(np.int64)   # [..., r]
    e = rescale(z, fw, dtype).astype(np.int64)
    acc = (hi << fw) + e @ r_mat.astype(np.int64)                                         # [..., d]
    return rescale(acc, fw, dtype)


class Loreft(Op):
    """Rank-r LoReFT intervention on the last axis."""

    code = OpCode.LOREFT
    name = "LOREFT"

    def check(self, node: Node) -> None:
        expect_inputs(node, (4,))
        expect_params(node, 0)
        h, r_mat, w_mat, b = node.in_specs
        if len(r_mat.shape) != 2 or w_mat.shape != r_mat.shape or not h.shape or h.shape[-1] != r_mat.shape[1]:
            raise ShapeMismatchError(f"R {r_mat.shape} and W {w_mat.shape} must be [r, d] with d = h's last axis "
                                     f"{h.shape}")
        if b.shape != (r_mat.shape[0],):
            raise ShapeMismatchError(f"b {b.shape} must be [r] = [{r_mat.shape[0]}]")
        if r_mat.dtype != DType.INT8 or w_mat.dtype != DType.INT8 or b.dtype != DType.INT32:
            raise DtypeMismatchError(f"R, W must be INT8 and b INT32, got {r_mat.dtype.name}, {w_mat.dtype.name}, "
                                     f"{b.dtype.name}")
        if r_mat.frac != w_mat.frac or r_mat.frac < 0 or b.frac != h.frac + r_mat.frac:
            raise DtypeMismatchError(f"R and W need one frac fw >= 0 and b frac fh + fw; got R f{r_mat.frac}, "
                                     f"W f{w_mat.frac}, b f{b.frac}, h f{h.frac}")
        if (node.output.shape, node.output.dtype, node.output.frac) != (h.shape, h.dtype, h.frac):
            raise DtypeMismatchError(f"output {node.output} must have h's shape, dtype and frac")
        check_shift(r_mat.frac, "requantisation")
        # Both accumulators must stay inside +-2^62 for every value of h (as LINEAR's do), or the engines would
        # refuse (AccumulatorOutOfRange) an honest activation, and numpy's int64 shift would wrap first.
        h_max = 1 << (h.dtype.bits - 1)
        r, d = r_mat.shape
        z_max = d * 255 * h_max + (1 << 31)                  # |W - R| <= 255, |b| <= 2^31
        acc_max = (h_max << r_mat.frac) + r * 128 * h_max    # |e| <= h_max (saturated), |R| <= 128
        if max(z_max, acc_max) >= 1 << 62:
            raise DtypeMismatchError(f"LOREFT accumulators may reach {max(z_max, acc_max).bit_length()} bits "
                                     f"(h {h.dtype.name}, fw {r_mat.frac}, r {r}, d {d}); the limit is 62")

    def forward(self, inputs: Sequence[np.ndarray], node: Node) -> np.ndarray:
        h, r_mat, w_mat, b = inputs
        return loreft_forward(h, r_mat, w_mat, b, node.in_specs[1].frac, node.output.dtype)

    def operand_ranges(self, node: Node, out_index: int, inputs=None) -> list[Range]:
        r, d = node.in_specs[1].shape
        row = out_index // d
        return [(0, row * d, d), (1, 0, r * d), (2, 0, r * d), (3, 0, r)]

    def element(self, node: Node, operands: Sequence[Sequence[int]], out_index: int) -> int:
        h, r_mat, w_mat, b = operands
        r, d = node.in_specs[1].shape
        fw, dtype = node.in_specs[1].frac, node.output.dtype
        j = out_index % d
        acc = h[j] << fw
        for k in range(r):
            z = sum((w_mat[k * d + i] - r_mat[k * d + i]) * h[i] for i in range(d)) + b[k]
            acc += r_mat[k * d + j] * rescale_int(z, fw, dtype)
        return rescale_int(acc, fw, dtype)

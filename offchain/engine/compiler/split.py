"""Lowerings that keep every node's one-step proof under the compile bound (sd-unet-block, issue 16).

A one-step proof re-reads everything its element reads, so some layers' natural single node cannot be proven in one
transaction at Stable-Diffusion sizes. Each lowering here emits only nodes whose step fits ``config.max_move_gas``
(priced by ``offchain.engine.move_gas.step_gas``, the model ``check_move_gas`` enforces), and states how its result
relates to the single node's definition:

* **GroupNorm** (``nn.GroupNorm``; no single operator): the group mean and variance by a two-level MEAN over
  chunks of the group (an exact chunk sum, then the mean of the sums with a 2^-26-accurate reciprocal), centred
  values ``c = x - mean`` (exact at mean's frac), ``var = mean(c^2)``, ``r = RSQRT(var + eps)``, ``z = c * r``,
  then ``z * gamma + beta`` per channel. Error: each of mean, c^2, var, r, z rounds once (half an LSB of its
  calibrated frac); see README "sd-unet-block" for the bound at SD's sizes.
* **Softmax over wide rows** (a row of n costs ~488 gas per element in one step; 4,096-wide rows need 2.4 M):
  m = AMAX(x), e = EXP(x, m), a rounded row sum S' (MEAN with mult 1), EXP(x, m, S'): SOFTMAX's integers except
  that the sum is rounded to 30 - ceil(log2 n) frac bits (ops/stat.py). Each node reads at most one row of n; no
  x - m tensor is stored.
* **Dense convolutions** (CONV2D proves one run of x per input channel and kernel row, ~27k gas per run: a 3x3 over
  C channels is ~3C runs, so C = 320 needs ~26 M): im2col in NHWC, i.e. PERMUTE to [B, H, W, C], zero padding by
  CONCAT with zero constants, one SLICE per kernel row and per tap, CONCAT of the taps along channels, then one
  LINEAR whose weight is the conv's own quantised kernel reordered to [O, KH, KW, C]. The LINEAR's accumulator,
  bias, shift and rounding are CONV2D's, term for term, so the result equals the single CONV2D node bit for bit;
  an element reads one contiguous row of KH KW C values and one weight row.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from offchain.engine.compiler.builder import Act
from offchain.engine.compiler.scales import choose_frac, quantise_const
from offchain.engine.dtypes import DType
from offchain.engine.errors import UnsupportedOpError
from offchain.engine.graph import Node, TensorSpec
from offchain.engine.move_gas import step_gas
from offchain.engine.ops import OpCode
from offchain.engine.ops.elementwise import MAX_ALIGN_SHIFT
from offchain.engine.ops.reduce import MAX_MEAN_K
from offchain.engine.ops.stat import RSQRT_FRAC_MAX

if TYPE_CHECKING:
    from offchain.engine.compiler.lower import Lowerer

#: Graph sizes assumed when a node is priced before the graph exists (the operand roots' Merkle proofs grow with
#: log2 of the node and weight counts): generous for a block, so a node judged to fit still fits in the model.
NODES_HINT = 1 << 14
WEIGHTS_HINT = 1 << 12
#: Widest chunk a GroupNorm statistic sums in one node.
GROUP_CHUNK = 1024


def step_gas_of(op: int, inputs: list[Act], shape, dtype: DType, frac: int, params=()) -> int:
    """Worst-case step gas of a node not yet emitted (move_gas.step_gas with the graph-size hints)."""
    out = TensorSpec(tuple(int(d) for d in shape), dtype, int(frac))
    node = Node(int(op), tuple(a.ref for a in inputs), tuple(a.spec for a in inputs), out,
                tuple(int(p) for p in params), "")
    graph = SimpleNamespace(nodes=[node] + [None] * (NODES_HINT - 1), weights=[None] * WEIGHTS_HINT)
    return step_gas(SimpleNamespace(graph=graph), 0)


def over_bound(lw: "Lowerer", op: int, inputs: list[Act], shape, dtype: DType, frac: int, params=()) -> bool:
    """True when the compile bound is set and this node's step would exceed it."""
    bound = lw.cfg.max_move_gas
    return bound is not None and step_gas_of(op, inputs, shape, dtype, frac, params) > bound


# ---------------------------------------------------------------- softmax


def two_pass_softmax(lw: "Lowerer", xa: Act, dtype: DType, frac: int) -> Act:
    """Softmax of ``xa``'s rows (last axis) as AMAX, EXP(x, m), rounded sum, EXP(x, m, S') (module docstring)."""
    shape, n = xa.spec.shape, xa.spec.shape[-1]
    fi = xa.spec.frac
    row = shape[:-1] + (1,)
    name = lw.node.name
    m = lw._emit(OpCode.AMAX, [xa], row, xa.spec.dtype, fi, name=f"{name}.max")
    e = lw._emit(OpCode.EXP, [xa, m], shape, DType.INT32, 30, name=f"{name}.exp")
    t = (n - 1).bit_length()
    s = lw._emit(OpCode.MEAN, [e], row, DType.INT32, 30 - t, (1, 0), name=f"{name}.sum")
    return lw._emit(OpCode.EXP, [xa, m, s], shape, dtype, frac, name=f"{name}.div")


# ---------------------------------------------------------------- convolution


def im2col_conv(lw: "Lowerer", xa: Act, wa: Act, bias: Act | None, kernel: tuple[int, int], stride, before, after,
                dilation, out_shape, dtype: DType, frac: int) -> Act:
    """A groups = 1 CONV2D as PERMUTE, zero-pad CONCATs, SLICEs, a tap CONCAT and one LINEAR (module docstring);
    ``wa`` is the conv's quantised kernel [O, C, KH, KW], reordered here to [O, KH KW C]."""
    b_, c, h, w = xa.spec.shape
    o, _, kh, kw = wa.spec.shape
    _, _, oh, ow = out_shape
    name = lw.node.name
    xd, xf = xa.spec.dtype, xa.spec.frac
    nhwc = lw._emit(OpCode.PERMUTE, [xa], (b_, h, w, c), xd, xf, (0, 2, 3, 1), name=f"{name}.nhwc")

    def zeros(shape) -> Act:
        return lw.b.add_weight(np.zeros(shape, xd.numpy), xd, xf, f"{name}.pad", key=("zeros", tuple(shape), xd, xf))

    def pad(x: Act, axis: int, lo: int, hi: int) -> Act:
        if lo == 0 and hi == 0:
            return x
        shape = list(x.spec.shape)
        parts = []
        if lo:
            parts.append(zeros(shape[:axis] + [lo] + shape[axis + 1:]))
        parts.append(x)
        if hi:
            parts.append(zeros(shape[:axis] + [hi] + shape[axis + 1:]))
        shape[axis] += lo + hi
        return lw._emit(OpCode.CONCAT, parts, tuple(shape), xd, xf, (axis,), name=f"{name}.pad{axis}")

    padded = pad(pad(nhwc, 1, before[0], after[0]), 2, before[1], after[1])
    taps = []

    def cut(x: Act, axis: int, start: int, step: int, count: int, what: str) -> Act:
        if start == 0 and step == 1 and count == x.spec.shape[axis]:
            return x   # the whole axis (a 1x1 kernel): no copy
        shape = list(x.spec.shape)
        shape[axis] = count
        return lw._emit(OpCode.SLICE, [x], tuple(shape), xd, xf, (axis, start, step), name=f"{name}.{what}")

    for ky in range(kh):
        rows = cut(padded, 1, ky * dilation[0], stride[0], oh, f"row{ky}")
        for kx in range(kw):
            taps.append(cut(rows, 2, kx * dilation[1], stride[1], ow, f"tap{ky}{kx}"))
    cols = taps[0] if len(taps) == 1 else lw._emit(OpCode.CONCAT, taps, (b_, oh, ow, kh * kw * c), xd, xf, (3,),
                                                   name=f"{name}.im2col")
    kernel_q = lw.b.weights[wa.ref.index]
    w2 = np.ascontiguousarray(kernel_q.transpose(0, 2, 3, 1).reshape(o, kh * kw * c))
    w2a = lw.b.add_weight(w2, wa.spec.dtype, wa.spec.frac, f"{wa.spec.name}.im2col")
    ops = [cols, w2a] + ([bias] if bias is not None else [])
    y = lw._emit(OpCode.LINEAR, ops, (b_, oh, ow, o), dtype, frac, name=f"{name}.linear")
    return lw._emit(OpCode.PERMUTE, [y], (b_, o, oh, ow), dtype, frac, (0, 3, 1, 2), name=f"{name}.nchw")


# ---------------------------------------------------------------- GroupNorm


def _divisor_at_most(n: int, cap: int) -> int:
    return max(d for d in range(1, min(n, cap) + 1) if n % d == 0)


def _mean_params(count: int, n: int, in_dtype: DType) -> tuple[int, int]:
    """(mult, k) of a MEAN over ``count`` values of ``in_dtype`` that divides their sum by ``n``: the largest
    k <= 40 whose mult = round(2^k / n) keeps the MEAN's int64 bound (count * |qmin| * mult < 2^62)."""
    for k in range(MAX_MEAN_K, -1, -1):
        mult = max(1, round((1 << k) / n))
        if (count * (-in_dtype.qmin) * mult).bit_length() <= 62:
            return mult, k
    raise UnsupportedOpError(f"no MEAN reciprocal for {count} values")


def group_mean(lw: "Lowerer", x: Act, out_frac: int, what: str) -> Act:
    """Mean over the last axis of x [..., n] as [..., 1] INT32 at ``out_frac``: chunk sums over w <= GROUP_CHUNK
    values (exact for int16 input: each sum stays below 2^31; int32 input is summed at ceil(log2 w) fewer frac
    bits), then one MEAN of the m = n / w sums with mult = round(2^k / n)."""
    lead, n = x.spec.shape[:-1], x.spec.shape[-1]
    w = _divisor_at_most(n, GROUP_CHUNK)
    m = n // w
    name = f"{lw.node.name}.{what}"
    if m > 1:
        chunks = lw._emit(OpCode.RESHAPE, [x], lead + (m, w), x.spec.dtype, x.spec.frac, name=f"{name}.chunks")
        sum_frac = x.spec.frac if x.spec.dtype.bits <= 16 else x.spec.frac - (w - 1).bit_length()
        x = lw._emit(OpCode.MEAN, [chunks], lead + (m,), DType.INT32, sum_frac, (1, 0), name=f"{name}.chunksum")
        count = m
    else:
        count = n
    mult, k = _mean_params(count, n, x.spec.dtype)   # the mean of all n values: the sums divided by n
    out_frac = min(out_frac, x.spec.frac + k)  # MEAN's shift k + f - fo must be >= 0 (a right shift)
    return lw._emit(OpCode.MEAN, [x], lead + (1,), DType.INT32, out_frac, (mult, k), name=f"{name}.mean")


def lower_group_norm(lw: "Lowerer", x: Any, num_groups: int, weight: Any, bias: Any, eps: float) -> Act:
    """nn.GroupNorm / F.group_norm on [B, C, ...] (module docstring)."""
    xa = lw._act(x, "input")
    shape = xa.spec.shape
    if len(shape) < 2 or shape[1] % num_groups:
        raise UnsupportedOpError(f"{lw.src}: group_norm needs [B, C, ...] with C divisible by {num_groups}, "
                                 f"got {shape}")
    b_, c = shape[0], shape[1]
    n = int(np.prod(shape[1:])) // num_groups
    name = lw.node.name
    head = lw.cfg.headroom
    # Float statistics of the calibrated input choose the intermediates' scales.
    xin = lw.cal.first[lw.node.args[0].name].detach().double().reshape(b_, num_groups, n)
    mean_f = xin.mean(-1, keepdim=True)
    cen_f = xin - mean_f
    var_f = (cen_f ** 2).mean(-1, keepdim=True)
    r_f = 1.0 / torch.sqrt(var_f + eps)
    z_f = cen_f * r_f
    if xa.spec.dtype.bits > 16:
        xa = lw._to(xa, DType.INT16, choose_frac(float(xin.abs().max()), DType.INT16, head, 0, 24))
    xg = lw._emit(OpCode.RESHAPE, [xa], (b_, num_groups, n), xa.spec.dtype, xa.spec.frac, name=f"{name}.groups")
    fx = xa.spec.frac
    mu = group_mean(lw, xg, fx + 8, "mean")
    cen = lw._emit(OpCode.SUB, [xg, mu], xg.spec.shape, DType.INT32, mu.spec.frac, name=f"{name}.centred")
    fq = min(choose_frac(float((cen_f ** 2).max()), DType.INT32, head, 0, RSQRT_FRAC_MAX), 2 * cen.spec.frac)
    sq = lw._emit(OpCode.MUL, [cen, cen], xg.spec.shape, DType.INT32, fq, name=f"{name}.square")
    var = group_mean(lw, sq, fq, "var")
    r_frac = choose_frac(float(r_f.max()), DType.INT32, head, 0, RSQRT_FRAC_MAX)
    eps_lsb = min(round(eps * 2.0 ** var.spec.frac), (1 << 31) - 1)
    r = lw._emit(OpCode.RSQRT, [var], var.spec.shape, DType.INT32, r_frac, (eps_lsb,), name=f"{name}.rsqrt")
    act = lw.cfg.activation_dtype
    z_frac = min(choose_frac(float(z_f.abs().max()), act, head, 0, 24), cen.spec.frac + r_frac)
    z = lw._emit(OpCode.MUL, [cen, r], xg.spec.shape, act, z_frac, name=f"{name}.z")
    z = lw._emit(OpCode.RESHAPE, [z], shape, act, z_frac, name=f"{name}.unflatten")
    if weight is None and bias is None:
        return lw._to(z, act, lw._frac())
    per_channel = (c,) + (1,) * (len(shape) - 2)
    gamma = (lw._val(weight).detach().double() if weight is not None else torch.ones(c, dtype=torch.float64)).reshape(
        per_channel)
    beta = (lw._val(bias).detach().double() if bias is not None else torch.zeros(c, dtype=torch.float64)).reshape(per_channel)
    gq, gf = quantise_const(gamma.numpy(), lw.cfg.const_dtype)
    ga = lw.b.add_weight(gq, lw.cfg.const_dtype, gf, lw._param_name(weight) if weight is not None else f"{name}.gamma")
    out_max = float(lw.cal.maxabs.get(name, 0.0))
    zg_bound = min(float(z_f.abs().max()) * float(gamma.abs().max()), out_max + float(beta.abs().max()))
    zg_frac = min(choose_frac(zg_bound, act, head, 0, 24), z_frac + gf)
    zg = lw._emit(OpCode.MUL, [z, ga], shape, act, zg_frac, name=f"{name}.gamma")
    bq, bf = quantise_const(beta.numpy(), lw.cfg.const_dtype, zg_frac - MAX_ALIGN_SHIFT, zg_frac + MAX_ALIGN_SHIFT)
    ba = lw.b.add_weight(bq, lw.cfg.const_dtype, bf, lw._param_name(bias) if bias is not None else f"{name}.beta")
    out_frac = min(lw._frac(act), max(zg_frac, bf))
    return lw._emit(OpCode.ADD, [zg, ba], shape, act, out_frac, name=f"{name}")


__all__ = ["group_mean", "im2col_conv", "lower_group_norm", "over_bound", "step_gas_of", "two_pass_softmax"]

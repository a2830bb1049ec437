"""Hypothesis draws of operator nodes, shared by the engine's op tests (forward == element) and the operator
contract tests (Solidity == Python): one definition of what a random CONV2D, ADD/SUB/MUL, MEAN, ROPE or EMBEDDING
node looks like, with the bounds each suite wants as arguments."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from offchain.engine.dtypes import DType
from offchain.engine.graph import Node, TensorSpec
from offchain.engine.ops import OpCode
from offchain.engine.ops.conv import conv_output_hw

from .op_harness import make_node, spec

dtypes = st.sampled_from([DType.INT8, DType.INT16, DType.INT32])
small = st.sampled_from([DType.INT8, DType.INT16])
fracs = st.integers(-4, 14)


def binary_node(data, code: int, min_dim: int = 0, narrow_mul: bool = False) -> tuple[Node, list[TensorSpec]]:
    """ADD/SUB/MUL with numpy broadcasting. ``narrow_mul``: never int32 x int32 for MUL (two int32 minima
    multiply to 2^62, past the accumulator limit)."""
    out_shape = data.draw(st.lists(st.integers(min_dim, 4), min_size=0, max_size=4))

    def operand_shape():
        drop = data.draw(st.integers(0, len(out_shape)))
        return [1 if data.draw(st.booleans()) else d for d in out_shape[drop:]]

    a_shape, b_shape = operand_shape(), operand_shape()
    full = list(np.broadcast_shapes(tuple(a_shape), tuple(b_shape)))
    fa, fb = data.draw(fracs), data.draw(fracs)
    base = fa + fb if code == OpCode.MUL else max(fa, fb)
    a_dt = data.draw(dtypes)
    b_dt = data.draw(small) if narrow_mul and code == OpCode.MUL and a_dt == DType.INT32 else data.draw(dtypes)
    ins = [spec(a_shape, a_dt, fa), spec(b_shape, b_dt, fb)]
    return make_node(code, ins, spec(full, data.draw(dtypes), base - data.draw(st.integers(-8, 16)))), ins


def conv2d_node(data, max_out: int, max_hw: int) -> tuple[Node, list[TensorSpec]]:
    """CONV2D with random stride and padding, with or without bias."""
    b, c, o = data.draw(st.integers(1, 2)), data.draw(st.integers(1, 3)), data.draw(st.integers(1, max_out))
    h, w = data.draw(st.integers(1, max_hw)), data.draw(st.integers(1, max_hw))
    ph, pw = data.draw(st.integers(0, 2)), data.draw(st.integers(0, 2))
    kh, kw = data.draw(st.integers(1, h + 2 * ph)), data.draw(st.integers(1, w + 2 * pw))
    sh, sw = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3))
    params = (sh, sw, ph, pw)
    oh, ow = conv_output_hw(h, w, kh, kw, params)
    fx, fw = data.draw(fracs), data.draw(fracs)
    ins = [spec((b, c, h, w), data.draw(small), fx), spec((o, c, kh, kw), DType.INT8, fw)]
    if data.draw(st.booleans()):
        ins.append(spec((o,), DType.INT32, fx + fw))
    fo = fx + fw - data.draw(st.integers(0, 12))
    return make_node(OpCode.CONV2D, ins, spec((b, o, oh, ow), data.draw(dtypes), fo), params), ins


def mean_node(data, long_rows: bool = False) -> tuple[Node, TensorSpec]:
    """MEAN over the last axis (kept or dropped); ``long_rows``: now and then a 300-long row."""
    shape = data.draw(st.lists(st.integers(1, 6), min_size=1, max_size=3))
    if long_rows and not data.draw(st.booleans()):
        shape[-1] = 300
    n = shape[-1]
    k = data.draw(st.integers(0, 24))
    mult = round((1 << k) / n)
    fx = data.draw(fracs)
    x_spec = spec(shape, data.draw(dtypes), fx)
    out_shape = shape[:-1] + ([1] if data.draw(st.booleans()) else [])
    node = make_node(OpCode.MEAN, [x_spec], spec(out_shape, data.draw(dtypes), fx + data.draw(st.integers(-4, 4))),
                     (mult, k))
    return node, x_spec


def rope_node(data, x_dtypes=small) -> tuple[Node, list[TensorSpec]]:
    """ROPE on [..., t, d] with int16 cos/sin tables."""
    lead = data.draw(st.lists(st.integers(1, 3), max_size=2))
    t, d = data.draw(st.integers(1, 6)), 2 * data.draw(st.integers(1, 5))
    fx, fc = data.draw(fracs), data.draw(st.integers(0, 14))
    ins = [spec(lead + [t, d], data.draw(x_dtypes), fx), spec((t, d), DType.INT16, fc), spec((t, d), DType.INT16, fc)]
    return make_node(OpCode.ROPE, ins, spec(lead + [t, d], data.draw(small), fx + fc - data.draw(st.integers(0, 16)))), ins


def embedding_node(data, min_ids: int = 0) -> tuple[Node, list[TensorSpec]]:
    """EMBEDDING of an int32 id tensor into a [V, D] table."""
    vocab, dim = data.draw(st.integers(1, 20)), data.draw(st.integers(1, 8))
    ids_shape = data.draw(st.lists(st.integers(min_ids, 5), min_size=1, max_size=2))
    ft = data.draw(fracs)
    ins = [spec(ids_shape, DType.INT32, 0), spec((vocab, dim), data.draw(small), ft)]
    out = spec(ids_shape + [dim], data.draw(dtypes), ft - data.draw(st.integers(-3, 5)))
    return make_node(OpCode.EMBEDDING, ins, out), ins


# ---------------------------------------------------------------- activations (issue 13)


def act_node(data, code: int) -> Node:
    """One of TANH, SIGMOID, SOFTPLUS, CLAMP, LEAKY_RELU, HARDSWISH, HARDSIGMOID on a random shape, dtypes and
    fracs within the op's limits, with random legal params (clamp bounds in the input dtype, slope m / 2^k)."""
    shape = data.draw(st.lists(st.integers(1, 6), min_size=1, max_size=3))
    x_dt, out_dt = data.draw(dtypes), data.draw(dtypes)
    params: tuple[int, ...] = ()
    if code in (OpCode.CLAMP, OpCode.LEAKY_RELU):
        fx = data.draw(fracs)
        fo = fx - data.draw(st.integers(-8, 16)) if code == OpCode.CLAMP else None
        if code == OpCode.CLAMP:
            lo = data.draw(st.integers(x_dt.qmin, x_dt.qmax))
            params = (lo, data.draw(st.integers(lo, x_dt.qmax)))
        else:
            k = data.draw(st.integers(0, 24))
            params = (data.draw(st.integers(-(1 << 24), 1 << 24)), k)
            fo = fx + k - data.draw(st.integers(-8, 30))
    else:
        fx, fo = data.draw(st.integers(0, 24)), data.draw(st.integers(0, 30))
    return make_node(code, [spec(shape, x_dt, fx)], spec(shape, out_dt, fo), params)
# ---------------------------------------------------------------- attention and shape functions (issue 13)
def broadcast_node(data, code: int, x_dtypes=dtypes) -> tuple[Node, list[TensorSpec]]:
    """EXPAND (x -> out) or WHERE (cond, x, y -> out): each input's shape a right-aligned broadcast of the output's
    (dims dropped from the left, others set to 1 at random); cond of any dtype, x/y/out of one dtype and frac."""
    out_shape = data.draw(st.lists(st.integers(1, 4), min_size=1, max_size=4))

    def operand_shape():
        drop = data.draw(st.integers(0, len(out_shape)))
        return [1 if data.draw(st.booleans()) else d for d in out_shape[drop:]]

    dt, f = data.draw(x_dtypes), data.draw(fracs)
    if code == OpCode.EXPAND:
        ins = [spec(operand_shape(), dt, f)]
    else:
        ins = [spec(operand_shape(), data.draw(dtypes), 0), spec(operand_shape(), dt, f), spec(operand_shape(), dt, f)]
    return make_node(code, ins, spec(out_shape, dt, f)), ins
# ---------------------------------------------------------------- pooling and reductions (issue 13)

def pool2d_node(data, code: int, max_hw: int = 7) -> tuple[Node, TensorSpec]:
    """MAXPOOL2D / AVGPOOL2D with random kernel, stride and padding (pads <= kernel // 2, as torch allows); for
    AVGPOOL2D a divisor of 0 (count in-image elements), kh * kw (count_include_pad) or any override."""
    from offchain.engine.ops.pool import pool_output_hw

    b, c = data.draw(st.integers(1, 2)), data.draw(st.integers(1, 3))
    h, w = data.draw(st.integers(1, max_hw)), data.draw(st.integers(1, max_hw))
    kh, kw = data.draw(st.integers(1, 4)), data.draw(st.integers(1, 4))
    ph, pw = data.draw(st.integers(0, kh // 2)), data.draw(st.integers(0, kw // 2))
    kh, kw = min(kh, h + 2 * ph), min(kw, w + 2 * pw)
    ph, pw = min(ph, kh // 2), min(pw, kw // 2)
    params = [kh, kw, data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3)), ph, pw]
    if code == OpCode.AVGPOOL2D:
        params.append(data.draw(st.sampled_from([0, kh * kw, data.draw(st.integers(1, 20))])))
    x_spec = spec((b, c, h, w), data.draw(dtypes), data.draw(fracs))
    out = spec((b, c) + pool_output_hw(h, w, params), x_spec.dtype, x_spec.frac)
    return make_node(code, [x_spec], out, params), x_spec


def amax_node(data, long_rows: bool = False) -> tuple[Node, TensorSpec]:
    """AMAX over the last axis (kept or dropped); ``long_rows``: now and then a 300-long row."""
    shape = data.draw(st.lists(st.integers(1, 6), min_size=1, max_size=3))
    if long_rows and not data.draw(st.booleans()):
        shape[-1] = 300
    x_spec = spec(shape, data.draw(dtypes), data.draw(fracs))
    out_shape = shape[:-1] + ([1] if data.draw(st.booleans()) else [])
    return make_node(OpCode.AMAX, [x_spec], spec(out_shape, x_spec.dtype, x_spec.frac)), x_spec
def conv2d_long_node(data, max_out: int, max_hw: int) -> tuple[Node, list[TensorSpec]]:
    """CONV2D in the long param form: groups (depthwise among them), dilation, asymmetric pads (a "same" conv's
    left/right split among them), with or without bias."""
    g = data.draw(st.integers(1, 3))
    cg, og = data.draw(st.integers(1, 2)), data.draw(st.integers(1, max(1, max_out // g)))
    b, c, o = data.draw(st.integers(1, 2)), g * cg, g * og
    h, w = data.draw(st.integers(1, max_hw)), data.draw(st.integers(1, max_hw))
    dh, dw = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3))
    pads = [data.draw(st.integers(0, 3)) for _ in range(4)]
    pt, pl, pb, pr = pads
    # the largest kernel whose dilated extent fits the padded input
    kh = data.draw(st.integers(1, (h + pt + pb - 1) // dh + 1))
    kw = data.draw(st.integers(1, (w + pl + pr - 1) // dw + 1))
    sh, sw = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3))
    params = (sh, sw, pt, pl, pb, pr, dh, dw, g)
    oh, ow = conv_output_hw(h, w, kh, kw, params)
    fx, fw = data.draw(fracs), data.draw(fracs)
    ins = [spec((b, c, h, w), data.draw(small), fx), spec((o, cg, kh, kw), DType.INT8, fw)]
    if data.draw(st.booleans()):
        ins.append(spec((o,), DType.INT32, fx + fw))
    fo = fx + fw - data.draw(st.integers(0, 12))
    return make_node(OpCode.CONV2D, ins, spec((b, o, oh, ow), data.draw(dtypes), fo), params), ins

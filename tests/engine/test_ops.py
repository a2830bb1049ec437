"""forward == element on operand ranges, for every op, with hypothesis.

Each case draws shapes (including zero-size ones where the op allows them),
dtypes, frac bits that force both right and left shifts, and values that mix
the dtype extremes in (saturation, negative rounding).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from offchain.engine.dtypes import DType
from offchain.engine.errors import InputRangeError, ParamError, ShapeMismatchError
from offchain.engine.ops import OpCode, get_op
from .op_draws import (binary_node, conv2d_long_node, conv2d_node, dtypes, embedding_node, fracs, mean_node,
                       rope_node, small)
from .op_harness import check_elements, make_node, random_tensor, spec

SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _indices(data, n: int) -> list[int]:
    if n == 0:
        return []
    picks = data.draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=12))
    return sorted(set(picks + [0, n - 1]))


def _rng(data) -> np.random.Generator:
    return np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))


@SETTINGS
@given(st.data())
def test_linear(data):
    lead = data.draw(st.lists(st.integers(0, 4), min_size=1, max_size=3))
    k, n = data.draw(st.integers(0, 40)), data.draw(st.integers(1, 12))
    xd, wd, od = data.draw(small), data.draw(small), data.draw(dtypes)
    fx, fw = data.draw(fracs), data.draw(fracs)
    fo = fx + fw - data.draw(st.integers(-6, 20))
    ins = [spec(lead + [k], xd, fx), spec((n, k), wd, fw)]
    if data.draw(st.booleans()):
        ins.append(spec((n,), DType.INT32, fx + fw))
    node = make_node(OpCode.LINEAR, ins, spec(lead + [n], od, fo))
    rng, edge = _rng(data), data.draw(st.booleans())
    arrays = [random_tensor(rng, s, edge) for s in ins]
    out = check_elements(node, arrays, _indices(data, node.output.size))
    ref = arrays[0].astype(object) @ arrays[1].astype(object).T
    assert out.shape == ref.shape


@SETTINGS
@given(st.data())
def test_matmul(data):
    batch = data.draw(st.lists(st.integers(1, 3), min_size=0, max_size=2))
    m, k, n = (data.draw(st.integers(0, 9)) for _ in range(3))
    ad, bd, od = data.draw(small), data.draw(small), data.draw(dtypes)
    fa, fb = data.draw(fracs), data.draw(fracs)
    fo = fa + fb - data.draw(st.integers(-4, 20))
    ins = [spec(batch + [m, k], ad, fa), spec(batch + [n, k], bd, fb)]
    node = make_node(OpCode.MATMUL, ins, spec(batch + [m, n], od, fo))
    rng = _rng(data)
    arrays = [random_tensor(rng, s, data.draw(st.booleans())) for s in ins]
    check_elements(node, arrays, _indices(data, node.output.size))


@SETTINGS
@given(st.data())
def test_conv2d(data):
    node, ins = conv2d_node(data, max_out=4, max_hw=9)
    fx, fw, fo = ins[0].frac, ins[1].frac, node.output.frac
    sh, sw, ph, pw = node.params
    rng = _rng(data)
    arrays = [random_tensor(rng, s, data.draw(st.booleans())) for s in ins]
    out = check_elements(node, arrays, _indices(data, node.output.size))
    if len(arrays) == 2 and fo == fx + fw and node.output.dtype == DType.INT32:
        import torch
        ref = torch.nn.functional.conv2d(torch.from_numpy(arrays[0].astype(np.float64)),
                                         torch.from_numpy(arrays[1].astype(np.float64)),
                                         stride=(sh, sw), padding=(ph, pw)).numpy()
        np.testing.assert_array_equal(out, np.clip(ref, DType.INT32.qmin, DType.INT32.qmax))


@SETTINGS
@given(st.data())
def test_conv2d_groups_dilation_asymmetric_pads(data):
    """The long form: forward == element everywhere drawn, and equal to torch's conv (pads applied with F.pad,
    as torch's padding="same" does for even kernels) when no rescale or saturation can intervene."""
    node, ins = conv2d_long_node(data, max_out=6, max_hw=9)
    sh, sw, pt, pl, pb, pr, dh, dw, g = node.params
    rng = _rng(data)
    arrays = [random_tensor(rng, s, data.draw(st.booleans())) for s in ins]
    out = check_elements(node, arrays, _indices(data, node.output.size))
    if node.output.frac == ins[0].frac + ins[1].frac and node.output.dtype == DType.INT32:
        import torch
        import torch.nn.functional as F
        x = F.pad(torch.from_numpy(arrays[0].astype(np.float64)), (pl, pr, pt, pb))
        bias = torch.from_numpy(arrays[2].astype(np.float64)) if len(arrays) == 3 else None
        ref = F.conv2d(x, torch.from_numpy(arrays[1].astype(np.float64)), bias, stride=(sh, sw),
                       dilation=(dh, dw), groups=g).numpy()
        np.testing.assert_array_equal(out, np.clip(ref, DType.INT32.qmin, DType.INT32.qmax))


@SETTINGS
@given(st.data(), st.sampled_from([OpCode.ADD, OpCode.SUB, OpCode.MUL]))
def test_binary_broadcast(data, code):
    node, ins = binary_node(data, code)
    rng = _rng(data)
    arrays = [random_tensor(rng, s, True) for s in ins]
    check_elements(node, arrays, _indices(data, node.output.size))


@SETTINGS
@given(st.data(), st.sampled_from([OpCode.RELU, OpCode.NEG, OpCode.RESCALE]))
def test_unary(data, code):
    shape = data.draw(st.lists(st.integers(0, 6), max_size=3))
    fx = data.draw(fracs)
    ins = [spec(shape, data.draw(dtypes), fx)]
    node = make_node(code, ins, spec(shape, data.draw(dtypes), fx - data.draw(st.integers(-10, 20))))
    arrays = [random_tensor(_rng(data), ins[0], True)]
    check_elements(node, arrays, _indices(data, node.output.size))


def test_rounding_edges():
    """Halves round up (towards +inf), negative values floor-shift, and saturation clamps."""
    ins = [spec((6,), DType.INT16, 1)]
    node = make_node(OpCode.RESCALE, ins, spec((6,), DType.INT8, 0))
    x = np.array([-3, -1, 1, 3, 1000, -1000], dtype=np.int16)
    out = check_elements(node, [x], range(6))
    assert out.tolist() == [-1, 0, 1, 2, 127, -128]
    neg = make_node(OpCode.NEG, [spec((1,), DType.INT8, 0)], spec((1,), DType.INT8, 0))
    assert check_elements(neg, [np.array([-128], np.int8)], [0]).tolist() == [127]


@SETTINGS
@given(st.data())
def test_shape_ops(data):
    shape = data.draw(st.lists(st.integers(1, 5), min_size=1, max_size=4))
    dt, f = data.draw(dtypes), data.draw(fracs)
    x_spec = spec(shape, dt, f)
    rng = _rng(data)
    x = random_tensor(rng, x_spec)
    rank = len(shape)
    perm = data.draw(st.permutations(range(rank)))
    node = make_node(OpCode.PERMUTE, [x_spec], spec([shape[p] for p in perm], dt, f), perm)
    out = check_elements(node, [x], _indices(data, x.size))
    np.testing.assert_array_equal(out, np.transpose(x, perm))
    flat = [int(np.prod(shape))]
    node = make_node(OpCode.RESHAPE, [x_spec], spec(flat, dt, f))
    check_elements(node, [x], _indices(data, x.size))
    axis = data.draw(st.integers(0, rank - 1))
    start = data.draw(st.integers(0, shape[axis] - 1))
    step = data.draw(st.integers(1, 3))
    count = data.draw(st.integers(0, (shape[axis] - 1 - start) // step + 1))
    out_shape = list(shape)
    out_shape[axis] = count
    node = make_node(OpCode.SLICE, [x_spec], spec(out_shape, dt, f), (axis, start, step))
    out = check_elements(node, [x], _indices(data, int(np.prod(out_shape))))
    index = [slice(None)] * rank
    index[axis] = slice(start, start + count * step, step)
    np.testing.assert_array_equal(out, x[tuple(index)])
    parts = []
    for _ in range(data.draw(st.integers(1, 3))):
        part_shape = list(shape)
        part_shape[axis] = data.draw(st.integers(0, 4))
        parts.append(spec(part_shape, dt, f))
    total = list(shape)
    total[axis] = sum(p.shape[axis] for p in parts)
    node = make_node(OpCode.CONCAT, parts, spec(total, dt, f), (axis,))
    arrays = [random_tensor(rng, p) for p in parts]
    check_elements(node, arrays, _indices(data, int(np.prod(total))))


@SETTINGS
@given(st.data())
def test_mean(data):
    node, x_spec = mean_node(data)
    check_elements(node, [random_tensor(_rng(data), x_spec, True)], _indices(data, node.output.size))


@SETTINGS
@given(st.data())
def test_embedding(data):
    node, ins = embedding_node(data)
    vocab, ids_shape = ins[1].shape[0], ins[0].shape
    rng = _rng(data)
    ids = rng.integers(0, vocab, size=ids_shape).astype(np.int32)
    check_elements(node, [ids, random_tensor(rng, ins[1], True)], _indices(data, node.output.size))


def test_embedding_rejects_out_of_vocab_ids():
    ins = [spec((2,), DType.INT32, 0), spec((4, 3), DType.INT8, 0)]
    node = make_node(OpCode.EMBEDDING, ins, spec((2, 3), DType.INT8, 0))
    with pytest.raises(InputRangeError, match="outside vocabulary"):
        get_op(OpCode.EMBEDDING).forward([np.array([1, 4], np.int32), np.zeros((4, 3), np.int8)], node)


@SETTINGS
@given(st.data())
def test_rope(data):
    node, ins = rope_node(data)
    rng = _rng(data)
    check_elements(node, [random_tensor(rng, s, True) for s in ins], _indices(data, node.output.size))


def test_check_rejects_bad_nodes():
    op = get_op(OpCode.LINEAR)
    with pytest.raises(ShapeMismatchError, match="x last dim"):
        op.check(make_node(OpCode.LINEAR, [spec((2, 3), DType.INT8, 0), spec((4, 5), DType.INT8, 0)],
                           spec((2, 4), DType.INT8, 0)))
    with pytest.raises(ParamError, match="shift"):
        op.check(make_node(OpCode.LINEAR, [spec((2, 3), DType.INT8, 0), spec((4, 3), DType.INT8, 0)],
                           spec((2, 4), DType.INT8, 40)))


def test_big_linear_uses_exact_path():
    """A wide int16 x int8 reduction (4096 terms) matches a Python-int reference exactly."""
    rng = np.random.default_rng(7)
    ins = [spec((3, 4096), DType.INT16, 8), spec((5, 4096), DType.INT8, 6)]
    node = make_node(OpCode.LINEAR, ins, spec((3, 5), DType.INT32, 0))
    arrays = [random_tensor(rng, s) for s in ins]
    out = check_elements(node, arrays, range(15))
    ref = arrays[0].astype(object) @ arrays[1].astype(object).T
    expect = [[min(max((int(v) + (1 << 13)) >> 14, DType.INT32.qmin), DType.INT32.qmax) for v in row] for row in ref]
    assert out.tolist() == expect


def test_wide_operands_take_the_int64_path():
    """int32 x int16 over 256 terms exceeds float64's exact range: the int64 path must agree."""
    rng = np.random.default_rng(3)
    ins = [spec((2, 256), DType.INT32, 4), spec((3, 256), DType.INT16, 4)]
    node = make_node(OpCode.LINEAR, ins, spec((2, 3), DType.INT32, -20))
    arrays = [random_tensor(rng, s, True) for s in ins]
    out = check_elements(node, arrays, range(6))
    ref = arrays[0].astype(object) @ arrays[1].astype(object).T
    expect = [[min(max((int(v) + (1 << 27)) >> 28, DType.INT32.qmin), DType.INT32.qmax) for v in row] for row in ref]
    assert out.tolist() == expect

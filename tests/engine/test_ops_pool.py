"""MAXPOOL2D, AVGPOOL2D, AMAX: forward == element on operand ranges, the values against torch's pooling, and the
graph checks that close their refusals (pads beyond half the kernel, a rescaling output, an empty image)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from offchain.engine.dtypes import DType
from offchain.engine.errors import DtypeMismatchError, ParamError, ShapeMismatchError
from offchain.engine.ops import OpCode, get_op
from offchain.engine.ops.fixed import rescale_int
from .op_draws import amax_node, pool2d_node
from .op_harness import check_elements, make_node, random_tensor, spec

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _all(node) -> list[int]:
    return list(range(node.output.size))


@SETTINGS
@given(data=st.data(), code=st.sampled_from([OpCode.MAXPOOL2D, OpCode.AVGPOOL2D]))
def test_pool_forward_equals_element(data, code):
    node, x_spec = pool2d_node(data, code)
    x = random_tensor(np.random.default_rng(data.draw(st.integers(0, 2**32 - 1))), x_spec, True)
    check_elements(node, [x], _all(node))


@SETTINGS
@given(data=st.data())
def test_amax_forward_equals_element(data):
    node, x_spec = amax_node(data, long_rows=True)
    x = random_tensor(np.random.default_rng(data.draw(st.integers(0, 2**32 - 1))), x_spec, True)
    out = check_elements(node, [x], _all(node))
    assert np.array_equal(out.reshape(-1), x.reshape(-1, x_spec.shape[-1]).max(axis=-1))


@SETTINGS
@given(data=st.data(), code=st.sampled_from([OpCode.MAXPOOL2D, OpCode.AVGPOOL2D]))
def test_pool_equals_torch(data, code):
    """Max pooling is torch's exactly; the average is torch's float average rounded half up, for all three
    divisor rules (count_include_pad False / True, divisor_override)."""
    node, x_spec = pool2d_node(data, code)
    x = random_tensor(np.random.default_rng(data.draw(st.integers(0, 2**32 - 1))), x_spec, True)
    kh, kw, sh, sw, ph, pw = node.params[:6]
    t = torch.from_numpy(x.astype(np.float64))
    if code == OpCode.MAXPOOL2D:
        want = F.max_pool2d(t, (kh, kw), (sh, sw), (ph, pw)).numpy()
    else:
        d = node.params[6]
        include = d == kh * kw
        want = F.avg_pool2d(t, (kh, kw), (sh, sw), (ph, pw), count_include_pad=include,
                            divisor_override=None if d in (0, kh * kw) else d).numpy()
        want = np.clip(np.floor(want + 0.5), x_spec.dtype.qmin, x_spec.dtype.qmax)
    got = get_op(node.op).forward([x], node)
    assert np.array_equal(got.astype(np.float64), want)


def test_all_minimum_windows_and_padding_corners():
    """A window of dtype minima pools to the minimum (max) and to the minimum (avg, no saturation past it); a
    corner window of a padded image reads only its in-image elements, one run per in-image kernel row."""
    for dtype in DType:
        x = np.full((1, 1, 3, 3), dtype.qmin, dtype.numpy)
        x_spec = spec(x.shape, dtype, 5)
        for code, params in ((OpCode.MAXPOOL2D, (3, 3, 2, 2, 1, 1)), (OpCode.AVGPOOL2D, (3, 3, 2, 2, 1, 1, 0)),
                             (OpCode.AVGPOOL2D, (3, 3, 2, 2, 1, 1, 9))):
            node = make_node(code, [x_spec], spec((1, 1, 2, 2), dtype, 5), params)
            op = get_op(code)
            assert op.operand_ranges(node, 0) == [(0, 0, 2), (0, 3, 2)]      # top-left: rows 0-1, cols 0-1
            assert op.operand_ranges(node, 3) == [(0, 4, 2), (0, 7, 2)]      # bottom-right: rows 1-2, cols 1-2
            out = check_elements(node, [x], range(4))
            want = dtype.qmin if params[-1] != 9 else round(4 * dtype.qmin / 9)  # 4 of 9 in the image, no tie
            assert int(out.reshape(-1)[0]) == want


def test_average_rounds_half_up_like_rescale():
    """With a power-of-two divisor the average is the protocol's rescale of the exact sum; halves round up."""
    x_spec = spec((1, 1, 2, 2), DType.INT16, 0)
    node = make_node(OpCode.AVGPOOL2D, [x_spec], spec((1, 1, 1, 1), DType.INT16, 0), (2, 2, 1, 1, 0, 0, 0))
    for values in ([1, 1, 0, 0], [-1, -1, 0, 0], [3, 0, 0, 0], [-3, 0, 0, 0], [32767] * 4, [-32768] * 4,
                   [32767, 32767, 32767, 32766], [-5, 7, 1, -1]):
        x = np.array(values, np.int16).reshape(1, 1, 2, 2)
        got = int(get_op(node.op).forward([x], node).reshape(-1)[0])
        assert got == rescale_int(sum(values), 2, DType.INT16), values
    assert int(get_op(node.op).forward([np.array([1, 1, 0, 0], np.int16).reshape(1, 1, 2, 2)], node)[0, 0, 0, 0]) == 1
    assert int(get_op(node.op).forward([np.array([-1, -1, 0, 0], np.int16).reshape(1, 1, 2, 2)], node)[0, 0, 0, 0]) == 0


def test_divisor_override_saturates():
    x_spec = spec((1, 1, 2, 2), DType.INT8, 0)
    node = make_node(OpCode.AVGPOOL2D, [x_spec], spec((1, 1, 1, 1), DType.INT8, 0), (2, 2, 1, 1, 0, 0, 1))
    x = np.array([100, 100, -20, 0], np.int8).reshape(1, 1, 2, 2)
    assert check_elements(node, [x], [0]).reshape(-1)[0] == 127
    x = -x
    assert check_elements(node, [x], [0]).reshape(-1)[0] == -128


@pytest.mark.parametrize("params, out_hw, error", [
    ((3, 3, 1, 1, 2, 1), (5, 3), ParamError),          # pad 2 > kernel 3 // 2: a window could miss the image
    ((3, 3, 0, 1, 1, 1), (3, 3), ParamError),          # stride 0
    ((6, 1, 1, 1, 0, 0), (1, 3), ShapeMismatchError),  # kernel taller than the image
    ((3, 3, 1, 1, 1, 1), (3, 2), ShapeMismatchError),  # wrong output shape
])
def test_pool_graph_checks(params, out_hw, error):
    x_spec = spec((1, 1, 3, 3), DType.INT8, 0)
    for code, extra in ((OpCode.MAXPOOL2D, ()), (OpCode.AVGPOOL2D, (0,))):
        with pytest.raises(error):
            get_op(code).check(make_node(code, [x_spec], spec((1, 1) + out_hw, DType.INT8, 0), params + extra))


def test_pool_and_amax_keep_their_input_scale_and_refuse_bad_divisors():
    x_spec = spec((1, 1, 3, 3), DType.INT8, 4)
    for code, params in ((OpCode.MAXPOOL2D, (3, 3, 1, 1, 1, 1)), (OpCode.AVGPOOL2D, (3, 3, 1, 1, 1, 1, 0))):
        for out in (spec((1, 1, 3, 3), DType.INT16, 4), spec((1, 1, 3, 3), DType.INT8, 3)):
            with pytest.raises(DtypeMismatchError):
                get_op(code).check(make_node(code, [x_spec], out, params))
    with pytest.raises(ParamError):
        get_op(OpCode.AVGPOOL2D).check(make_node(OpCode.AVGPOOL2D, [x_spec], spec((1, 1, 3, 3), DType.INT8, 4),
                                                 (3, 3, 1, 1, 1, 1, -1)))
    with pytest.raises(ShapeMismatchError):
        get_op(OpCode.MAXPOOL2D).check(make_node(OpCode.MAXPOOL2D, [spec((1, 1, 0, 3), DType.INT8, 0)],
                                                 spec((1, 1, 1, 3), DType.INT8, 0), (2, 1, 1, 1, 1, 0)))
    with pytest.raises(DtypeMismatchError):
        get_op(OpCode.AMAX).check(make_node(OpCode.AMAX, [spec((2, 3), DType.INT8, 4)], spec((2,), DType.INT8, 5)))
    with pytest.raises(ShapeMismatchError):
        get_op(OpCode.AMAX).check(make_node(OpCode.AMAX, [spec((2, 0), DType.INT8, 4)], spec((2,), DType.INT8, 4)))

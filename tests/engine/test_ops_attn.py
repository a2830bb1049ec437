"""EXPAND and WHERE (issue 13 attention slice): forward == element on operand ranges, against numpy's own
broadcasting, and graph checks that refuse what does not broadcast or changes the scale."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from offchain.engine.dtypes import DType
from offchain.engine.errors import DtypeMismatchError, ParamError, ShapeMismatchError
from offchain.engine.ops import OpCode, get_op
from .op_draws import broadcast_node
from .op_harness import check_elements, make_node, random_tensor, spec

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(data=st.data(), code=st.sampled_from([OpCode.EXPAND, OpCode.WHERE]))
def test_broadcast_forward_equals_element_and_numpy(data, code):
    node, ins = broadcast_node(data, code)
    g = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    arrays = [random_tensor(g, s, True) for s in ins]
    out = check_elements(node, arrays, range(node.output.size))
    if code == OpCode.EXPAND:
        want = np.broadcast_to(arrays[0], node.output.shape)
    else:
        want = np.broadcast_to(np.where(arrays[0] != 0, arrays[1], arrays[2]), node.output.shape)
    assert np.array_equal(out, want)


def test_where_edge_values():
    """cond's dtype extremes and -1 all select x, only 0 selects y; x/y extremes pass unchanged (no rescale)."""
    cond = np.array([-128, 127, -1, 0, 1, 0], np.int8)
    x = np.array([-2**31, 2**31 - 1, 5, 7, -1, 0], np.int32)
    y = np.array([1, 2, 3, -2**31, 4, 2**31 - 1], np.int32)
    ins = [spec((6,), DType.INT8, 0), spec((6,), DType.INT32, 9), spec((6,), DType.INT32, 9)]
    node = make_node(OpCode.WHERE, ins, spec((6,), DType.INT32, 9))
    out = check_elements(node, [cond, x, y], range(6))
    assert out.tolist() == [-2**31, 2**31 - 1, 5, -2**31, -1, 2**31 - 1]


def test_expand_reads_the_repeated_element():
    x = np.array([[3], [-7]], np.int16)  # [2, 1] -> [3, 2, 4]
    node = make_node(OpCode.EXPAND, [spec((2, 1), DType.INT16, 4)], spec((3, 2, 4), DType.INT16, 4))
    out = check_elements(node, [x], range(24))
    assert out[2, 1].tolist() == [-7] * 4
    assert get_op(OpCode.EXPAND).operand_ranges(node, 23) == [(0, 1, 1)]


@pytest.mark.parametrize("node, error", [
    (make_node(OpCode.EXPAND, [spec((3,), DType.INT8, 0)], spec((2, 4), DType.INT8, 0)), ShapeMismatchError),
    (make_node(OpCode.EXPAND, [spec((2, 1, 4), DType.INT8, 0)], spec((1, 4), DType.INT8, 0)), ShapeMismatchError),
    (make_node(OpCode.EXPAND, [spec((1,), DType.INT8, 0)], spec((4,), DType.INT8, 1)), DtypeMismatchError),
    (make_node(OpCode.EXPAND, [spec((1,), DType.INT8, 0)], spec((4,), DType.INT8, 0), (1,)), ParamError),
    (make_node(OpCode.WHERE, [spec((4,), DType.INT8, 0), spec((4,), DType.INT16, 2), spec((4,), DType.INT8, 2)],
               spec((4,), DType.INT16, 2)), DtypeMismatchError),
    (make_node(OpCode.WHERE, [spec((3,), DType.INT8, 0), spec((4,), DType.INT16, 2), spec((4,), DType.INT16, 2)],
               spec((4,), DType.INT16, 2)), ShapeMismatchError),
    (make_node(OpCode.WHERE, [spec((4,), DType.INT8, 0), spec((4,), DType.INT16, 2)], spec((4,), DType.INT16, 2)),
     ParamError),
])
def test_broadcast_checks_refuse(node, error):
    with pytest.raises(error):
        get_op(node.op).check(node)

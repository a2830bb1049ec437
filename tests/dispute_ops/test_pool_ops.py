"""PoolOps (MAXPOOL2D, AVGPOOL2D) and ReduceOps' AMAX against the Python ops: rangeCount/range equal
operand_ranges and element equals Python's element and forward, on random nodes and on edge values (all-minimum
and all-maximum windows, padding corners, saturating divisors, negative halves)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from offchain.dispute.operators import descriptor_tuple
from offchain.engine.descriptor import encode_node
from offchain.engine.dtypes import DType
from offchain.engine.ops import OpCode
from engine.op_draws import amax_node, pool2d_node
from engine.op_harness import make_node, random_tensor, spec

from ._harness import check_against_contract, custom_error, revert_data
from ._strategies import SETTINGS, indices, rng, skip


@SETTINGS
@given(data=st.data(), code=st.sampled_from([OpCode.MAXPOOL2D, OpCode.AVGPOOL2D]))
def test_pool(deploy, data, code):
    node, x_spec = pool2d_node(data, code)
    x = random_tensor(rng(data), x_spec, True)
    check_against_contract(deploy("PoolOps"), node, [x], indices(data, node.output.size, 6), skip(data))


@SETTINGS
@given(data=st.data())
def test_amax(deploy, data):
    node, x_spec = amax_node(data, long_rows=True)
    x = random_tensor(rng(data), x_spec, True)
    check_against_contract(deploy("ReduceOps"), node, [x], indices(data, node.output.size), skip(data))


@pytest.mark.parametrize("dtype", list(DType))
def test_edge_windows(deploy, dtype):
    """Every window of an all-minimum / all-maximum image, padded corners included, under max, avg with the
    in-image count, avg over the whole padded window and a saturating divisor of 1; then AMAX of the rows."""
    pool = deploy("PoolOps")
    x_spec = spec((1, 2, 3, 4), dtype, 7)
    for fill in (dtype.qmin, dtype.qmax):
        x = np.full(x_spec.shape, fill, dtype.numpy)
        x[0, 1] = np.array([[fill, -1, 0, 1], [dtype.qmin, dtype.qmax, -3, 3], [1, 1, 0, fill]], dtype.numpy)
        for code, params, out_hw in ((OpCode.MAXPOOL2D, (3, 3, 2, 2, 1, 1), (2, 2)),
                                     (OpCode.AVGPOOL2D, (3, 3, 2, 2, 1, 1, 0), (2, 2)),
                                     (OpCode.AVGPOOL2D, (3, 3, 1, 1, 1, 1, 9), (3, 4)),
                                     (OpCode.AVGPOOL2D, (2, 2, 1, 2, 1, 1, 1), (4, 3))):
            node = make_node(code, [x_spec], spec((1, 2) + out_hw, dtype, 7), params)
            checked = check_against_contract(pool, node, [x], range(node.output.size))
            if fill == dtype.qmin and code == OpCode.MAXPOOL2D:
                assert checked[0].value == dtype.qmin  # a window of minima: the padding never wins
    rows = np.array([[dtype.qmin] * 5, [dtype.qmax] * 5, [-1, 0, dtype.qmin, -2, -1]], dtype.numpy)
    node = make_node(OpCode.AMAX, [spec(rows.shape, dtype, 3)], spec((3, 1), dtype, 3))
    got = [c.value for c in check_against_contract(deploy("ReduceOps"), node, [rows], range(3))]
    assert got == [dtype.qmin, dtype.qmax, 0]


def test_average_rounds_negative_halves_up(deploy):
    """floor((2S + D) / 2D) on-chain: -3/2 -> -1, -5/2 -> -2, 3/2 -> 2, -1/3 -> 0, -2/3 -> -1."""
    x_spec = spec((1, 1, 1, 6), DType.INT16, 0)
    node = make_node(OpCode.AVGPOOL2D, [x_spec], spec((1, 1, 1, 3), DType.INT16, 0), (1, 2, 1, 2, 0, 0, 0))
    cases = [([-3, 0, -5, 0, 3, 0], [-1, -2, 2]), ([-1, 0, -2, 0, 1, 0], [0, -1, 1])]
    for values, want in cases:
        x = np.array(values, np.int16).reshape(x_spec.shape)
        assert [c.value for c in check_against_contract(deploy("PoolOps"), node, [x], range(3))] == want
    node3 = make_node(OpCode.AVGPOOL2D, [x_spec], spec((1, 1, 1, 2), DType.INT16, 0), (1, 3, 1, 3, 0, 0, 0))
    x = np.array([-1, 0, 0, -2, 0, 0], np.int16).reshape(x_spec.shape)
    assert [c.value for c in check_against_contract(deploy("PoolOps"), node3, [x], range(2))] == [0, -1]


@pytest.mark.parametrize("params, reason", [
    ((3, 3, 1, 1, 2, 1, 0), "pool kernel/strides/pads"),
    ((3, 3, 0, 1, 1, 1, 0), "pool kernel/strides/pads"),
    ((3, 3, 1, 1, 1, 1, -1), "pool window/divisor"),
    ((3, 3, 1, 1, 1, 1, (1 << 24) + 1), "pool window/divisor"),
    ((3, 3, 1, 1, 1, 1), "param count"),
    ((1 << 200, 1 << 200, 1, 1, 0, 0, 0), "pool window/divisor"),   # a product past 2^256: named, not a panic
])
def test_bad_pool_descriptors_revert(deploy, chain, params, reason):
    """A descriptor the Python check refuses is refused on-chain too, by name (no element of it is computed)."""
    node = make_node(OpCode.AVGPOOL2D, [spec((1, 1, 3, 3), DType.INT8, 0)], spec((1, 1, 3, 3), DType.INT8, 0),
                     params)
    nd = descriptor_tuple(encode_node(node, 0))
    want = custom_error("BadNode(string)", ["string"], [reason])
    assert revert_data(chain, deploy("PoolOps").rangeCount, nd, 0) == want
    assert revert_data(chain, deploy("PoolOps").element, nd, [], 0) == want


def test_pool_and_amax_outputs_keep_the_input_scale(deploy, chain):
    x_spec = spec((1, 1, 3, 3), DType.INT8, 2)
    node = make_node(OpCode.MAXPOOL2D, [x_spec], spec((1, 1, 3, 3), DType.INT16, 2), (3, 3, 1, 1, 1, 1))
    assert revert_data(chain, deploy("PoolOps").rangeCount, descriptor_tuple(encode_node(node, 0)), 0) == \
        custom_error("BadNode(string)", ["string"], ["pool output scale"])
    node = make_node(OpCode.AMAX, [spec((2, 3), DType.INT8, 2)], spec((2,), DType.INT8, 3))
    assert revert_data(chain, deploy("ReduceOps").rangeCount, descriptor_tuple(encode_node(node, 0)), 0) == \
        custom_error("BadNode(string)", ["string"], ["amax output scale"])

"""StatOps.sol equals offchain/engine/ops/stat.py element for element (rangeCount, range, element) for RSQRT and
EXP (with and without the row sum): every value at each dtype's ends, 0 and +-1, at both ends of every frac, eps 0
and its largest value, row sums at their ends (negative and 0 read as 1), and random tensors; malformed nodes
revert with the custom error carrying the offending values."""

from __future__ import annotations

import numpy as np
import pytest

from engine.op_harness import exp_node, make_node, random_tensor, rsqrt_node, spec
from offchain.dispute.operators import descriptor_tuple
from offchain.engine.descriptor import encode_node
from offchain.engine.dtypes import DType
from offchain.engine.ops import OpCode

from ._harness import check_against_contract, check_elements_only, custom_error, revert_data

RNG = np.random.default_rng(64)
DTYPES = [DType.INT8, DType.INT16, DType.INT32]


@pytest.fixture(scope="module")
def contract(deploy):
    return deploy("StatOps")


def _edges(dt: DType) -> np.ndarray:
    return np.array([dt.qmin, dt.qmin + 1, -1, 0, 1, dt.qmax - 1, dt.qmax], dtype=dt.numpy)


@pytest.mark.parametrize("x_dt", DTYPES)
def test_rsqrt_edges(contract, x_dt):
    x = _edges(x_dt)
    first = True
    for out_dt in (DType.INT8, DType.INT32):
        for fi, fo in ((0, 0), (30, 30), (0, 30), (30, 0), (7, 19)):
            for eps in (0, 1, (1 << 31) - 1):
                node = rsqrt_node(x.shape, x_dt, fi, out_dt, fo, eps)
                if first:
                    check_against_contract(contract, node, [x], range(x.size))
                    first = False
                else:
                    check_elements_only(contract, node, [x], range(x.size))


@pytest.mark.parametrize("x_dt", DTYPES)
def test_exp_edges(contract, x_dt):
    x = _edges(x_dt)
    d = np.tile(x, (7, 1))
    m = np.array([[v] for v in (DType.INT32.qmin, -1, 0, 1, 2, 1 << 30, DType.INT32.qmax)], np.int32)
    s = m[::-1].copy()
    check_against_contract(contract, exp_node(x.shape, x_dt, 3, DType.INT16, 14), [x], range(x.size))
    check_against_contract(contract, exp_node(d.shape, x_dt, 3, DType.INT16, 14, None, DType.INT32), [d, m],
                           range(0, d.size, 5))
    check_against_contract(contract, exp_node(d.shape, x_dt, 3, DType.INT16, 14, 18), [d, m, s],
                           range(0, d.size, 5))
    # Every frac pair once, each output dtype at both ends of its frac range (INT16 is checked above).
    for out_dt, fi, fo in ((DType.INT8, 0, 0), (DType.INT8, 24, 0), (DType.INT32, 24, 30), (DType.INT32, 0, 30),
                           (DType.INT32, 10, 14)):
        check_elements_only(contract, exp_node(x.shape, x_dt, fi, out_dt, fo), [x], range(x.size))
        check_elements_only(contract, exp_node(d.shape, x_dt, fi, out_dt, fo, None, DType.INT32), [d, m],
                            range(d.size))
        for fs in (0, 30):
            check_elements_only(contract, exp_node(d.shape, x_dt, fi, out_dt, fo, fs), [d, m, s], range(d.size))


def test_random(contract):
    for _ in range(6):
        x_dt = DTYPES[RNG.integers(3)]
        node = rsqrt_node((3, 5), x_dt, int(RNG.integers(31)), DTYPES[RNG.integers(3)], int(RNG.integers(31)),
                          int(RNG.integers(1 << 31)))
        check_against_contract(contract, node, [random_tensor(RNG, node.in_specs[0], True)], range(0, 15, 2))
        node = exp_node((3, 5), x_dt, int(RNG.integers(25)), DTYPES[RNG.integers(3)], int(RNG.integers(31)),
                        int(RNG.integers(31)), DTYPES[RNG.integers(3)])
        inputs = [random_tensor(RNG, s, True) for s in node.in_specs]
        check_against_contract(contract, node, inputs, range(0, 15, 2))


def test_malformed_nodes_revert(contract, chain):
    def data(node):
        return revert_data(chain, contract.rangeCount, descriptor_tuple(encode_node(node, 0)), 0)

    assert data(rsqrt_node((2,), DType.INT32, 31, DType.INT32, 3, 0)) == custom_error(
        "FracOutOfRange(int256,int256,int256,int256)", ["int256"] * 4, [31, 3, 30, 30])
    assert data(rsqrt_node((2,), DType.INT32, 3, DType.INT32, 20, 1 << 31)) == custom_error(
        "EpsOutOfRange(int256)", ["int256"], [1 << 31])
    assert data(rsqrt_node((2,), DType.INT32, 3, DType.INT32, 20, -1)) == custom_error(
        "EpsOutOfRange(int256)", ["int256"], [-1])
    assert data(exp_node((2, 3), DType.INT32, 25, DType.INT32, 30)) == custom_error(
        "FracOutOfRange(int256,int256,int256,int256)", ["int256"] * 4, [25, 30, 24, 30])
    x, row = spec((2, 3), DType.INT32, 0), spec((2, 1), DType.INT32, 0)
    mismatch = "RowOperandMismatch(uint256,uint256,uint256)"
    assert data(make_node(OpCode.EXP, [x, x], x)) == custom_error(mismatch, ["uint256"] * 3, [1, 2, 4])
    assert data(make_node(OpCode.EXP, [x, row, x], x)) == custom_error(mismatch, ["uint256"] * 3, [2, 2, 4])
    narrow = make_node(OpCode.EXP, [x, row, spec((2, 1), DType.INT16, 0)], x)
    assert data(narrow) == custom_error(mismatch, ["uint256"] * 3, [2, 2, 2])
    off_scale = make_node(OpCode.EXP, [x, spec((2, 1), DType.INT32, 3)], x)
    assert data(off_scale) == custom_error("RowMaxFracMismatch(int256,int256)", ["int256"] * 2, [0, 3])
    assert data(exp_node((2, 3), DType.INT32, 3, DType.INT32, 14, 31)) == custom_error(
        "FracOutOfRange(int256,int256,int256,int256)", ["int256"] * 4, [31, 0, 30, 30])
    wrong = make_node(OpCode.RELU, [spec((2,), DType.INT32, 0)], spec((2,), DType.INT32, 0))
    assert data(wrong) == custom_error("UnsupportedOp(uint256)", ["uint256"], [int(OpCode.RELU)])

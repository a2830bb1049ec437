"""The issue-13 activations' contracts against the Python ops: TANH, SIGMOID, SOFTPLUS (ActivationOps) and CLAMP,
LEAKY_RELU, HARDSWISH, HARDSIGMOID (PiecewiseOps), element for element on random nodes (hypothesis) and on the
edges (int8/int16/int32 extremes, 0, +-1, the +-3 knees and exp's clamp, frac bits at both ends), plus the named
reverts of nodes the Python check refuses."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from offchain.dispute.operators import OPERATOR_CONTRACTS, descriptor_tuple, operand_tuple
from offchain.engine.descriptor import encode_node
from offchain.engine.dtypes import DType
from offchain.engine.ops import OpCode
from engine.op_draws import act_node
from engine.op_harness import make_node, random_tensor, spec

from ._harness import check_against_contract, check_elements_only, custom_error, revert_data
from ._strategies import SETTINGS, indices, rng, skip

ACT_CODES = [OpCode.TANH, OpCode.SIGMOID, OpCode.SOFTPLUS, OpCode.CLAMP, OpCode.LEAKY_RELU, OpCode.HARDSWISH,
             OpCode.HARDSIGMOID]


def _contract(deploy, code):
    return deploy(OPERATOR_CONTRACTS[code])


@SETTINGS
@given(data=st.data(), code=st.sampled_from(ACT_CODES))
def test_random_nodes(deploy, data, code):
    node = act_node(data, code)
    x = random_tensor(rng(data), node.in_specs[0], True)
    check_against_contract(_contract(deploy, code), node, [x], indices(data, node.output.size, 6), skip(data))


def _edge_values(x_dt: DType, fx: int) -> np.ndarray:
    """Dtype ends, 0, +-1, and the knees of the piecewise ops (+-3 at fx) and the exp clamp (64 at fx), each
    +-1 LSB, where representable."""
    vals = [x_dt.qmin, x_dt.qmin + 1, -1, 0, 1, x_dt.qmax - 1, x_dt.qmax]
    for knee in (3 << fx, 6 << fx, 20 << fx, 64 << fx):
        vals += [knee - 1, knee, knee + 1, -knee - 1, -knee, -knee + 1]
    return np.array(sorted({min(max(v, x_dt.qmin), x_dt.qmax) for v in vals}), dtype=x_dt.numpy)


def _params(code, x_dt: DType, fx: int) -> list[tuple[int, ...]]:
    if code == OpCode.CLAMP:  # ReLU6-like, Hardtanh-like, both dtype ends, one point
        six = min(6 << fx, x_dt.qmax)
        one = min(1 << fx, x_dt.qmax)
        return [(0, six), (-one, one), (x_dt.qmin, x_dt.qmax), (-1, -1)]
    if code == OpCode.LEAKY_RELU:  # torch's 0.01, the extreme multipliers, a slope above 1
        return [(167772, 24), (1 << 24, 24), (-(1 << 24), 24), (3, 0)]
    return [()]


@pytest.mark.parametrize("code", ACT_CODES, ids=lambda c: OpCode(c).name)
@pytest.mark.parametrize("x_dt", [DType.INT8, DType.INT16, DType.INT32], ids=lambda d: d.name)
def test_edges(deploy, code, x_dt):
    contract = _contract(deploy, code)
    for fx, fo in ((0, 0), (24, 30), (0, 30), (24, 0), (8, 7)):
        x = _edge_values(x_dt, fx)
        for params in _params(code, x_dt, fx):
            for out_dt in (DType.INT8, DType.INT32):
                node = make_node(code, [spec(x.shape, x_dt, fx)], spec(x.shape, out_dt, fo), params)
                check_elements_only(contract, node, [x], range(x.size))


def test_grid_at_high_precision(deploy):
    """Reals from -9 to 9 in 3/8 steps, off the grid by 7 LSB (f_in 12) into int32 f24 and int16 f11, where any
    deviation of a constant or a rounding shows."""
    x = (np.arange(-24, 25, dtype=np.int32) * 1536) + 7
    for code in ACT_CODES:
        for out_dt, fo in ((DType.INT32, 24), (DType.INT16, 11)):
            for params in _params(code, DType.INT32, 12):
                node = make_node(code, [spec(x.shape, DType.INT32, 12)], spec(x.shape, out_dt, fo), params)
                check_elements_only(_contract(deploy, code), node, [x], range(x.size))


def _revert(chain, contract, node, x):
    nd = descriptor_tuple(encode_node(node, 0))
    return revert_data(chain, contract.element, nd, [operand_tuple([int(x)], int(node.in_specs[0].dtype))], 0)


@pytest.mark.parametrize("params,want", [
    ((-129, 0), (-129, 0, -128, 127)),
    ((5, 4), (5, 4, -128, 127)),
    ((0, 128), (0, 128, -128, 127)),
])
def test_clamp_bounds_revert(chain, deploy, params, want):
    node = make_node(OpCode.CLAMP, [spec((1,), DType.INT8, 0)], spec((1,), DType.INT8, 0), params)
    got = _revert(chain, deploy("PiecewiseOps"), node, 0)
    assert got == custom_error("ClampBoundsOutOfRange(int256,int256,int256,int256)", ["int256"] * 4, want)


@pytest.mark.parametrize("params", [(1, 25), ((1 << 24) + 1, 3), (-(1 << 24) - 1, 3), (1, -1)])
def test_leaky_slope_revert(chain, deploy, params):
    node = make_node(OpCode.LEAKY_RELU, [spec((1,), DType.INT8, 0)], spec((1,), DType.INT8, 0), params)
    got = _revert(chain, deploy("PiecewiseOps"), node, -5)
    assert got == custom_error("SlopeOutOfRange(int256,int256)", ["int256"] * 2, params)


@pytest.mark.parametrize("code", [OpCode.HARDSWISH, OpCode.HARDSIGMOID], ids=lambda c: OpCode(c).name)
@pytest.mark.parametrize("fx,fo", [(25, 0), (-1, 0), (0, 31), (0, -1)])
def test_hard_frac_revert(chain, deploy, code, fx, fo):
    node = make_node(code, [spec((1,), DType.INT8, fx)], spec((1,), DType.INT8, fo))
    got = _revert(chain, deploy("PiecewiseOps"), node, 1)
    assert got == custom_error("FracOutOfRange(int256,int256,int256,int256)", ["int256"] * 4, (fx, fo, 24, 30))


@pytest.mark.parametrize("code", [OpCode.TANH, OpCode.SIGMOID, OpCode.SOFTPLUS], ids=lambda c: OpCode(c).name)
def test_intmath_frac_and_params_revert(chain, deploy, code):
    contract = deploy("ActivationOps")
    bad_in = make_node(code, [spec((1,), DType.INT8, 25)], spec((1,), DType.INT8, 0))
    assert _revert(chain, contract, bad_in, 1) == custom_error("BadNode(string)", ["string"], ["f_in outside [0, 24]"])
    bad_out = make_node(code, [spec((1,), DType.INT8, 0)], spec((1,), DType.INT8, 31))
    assert _revert(chain, contract, bad_out, 1) == custom_error("BadNode(string)", ["string"], ["f_out outside [0, 30]"])
    params = make_node(code, [spec((1,), DType.INT8, 0)], spec((1,), DType.INT8, 0), (1,))
    assert _revert(chain, contract, params, 1) == custom_error("BadNode(string)", ["string"], ["param count"])


def test_wrong_family_is_refused(chain, deploy):
    node = make_node(OpCode.TANH, [spec((1,), DType.INT8, 0)], spec((1,), DType.INT8, 0))
    assert _revert(chain, deploy("PiecewiseOps"), node, 1) == custom_error("UnsupportedOp(uint256)", ["uint256"],
                                                                           [int(OpCode.TANH)])

"""forward == element for the issue-13 activations (TANH, SIGMOID, SOFTPLUS, CLAMP, LEAKY_RELU, HARDSWISH,
HARDSIGMOID), their closeness to the real functions, and the graph checks that close their refusals."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from offchain.engine.dtypes import DType
from offchain.engine.errors import ParamError
from offchain.engine.ops import OpCode, get_op

from .op_draws import act_node, dtypes
from .op_harness import check_elements, make_node, random_tensor, spec
from .test_ops_intmath import SETTINGS, _indices, _rng

ACT_CODES = [OpCode.TANH, OpCode.SIGMOID, OpCode.SOFTPLUS, OpCode.CLAMP, OpCode.LEAKY_RELU, OpCode.HARDSWISH,
             OpCode.HARDSIGMOID]


@SETTINGS
@given(st.data(), st.sampled_from(ACT_CODES))
def test_forward_equals_element(data, code):
    node = act_node(data, code)
    x = random_tensor(_rng(data), node.in_specs[0], True)
    check_elements(node, [x], _indices(data, node.output.size))


@pytest.mark.parametrize("code", ACT_CODES, ids=lambda c: OpCode(c).name)
@pytest.mark.parametrize("x_dt", [DType.INT8, DType.INT16, DType.INT32])
def test_dtype_extremes_and_frac_ends(code, x_dt):
    """Every value at the dtype's ends, 0, +-1, at the smallest and largest frac each op takes, into int8 (which
    saturates) and int32."""
    x = np.array([x_dt.qmin, x_dt.qmin + 1, -1, 0, 1, x_dt.qmax - 1, x_dt.qmax], dtype=x_dt.numpy)
    for fx, fo in ((0, 0), (24, 30), (0, 30), (24, 0)):
        for out_dt in (DType.INT8, DType.INT32):
            params = _params(code, x_dt)
            node = make_node(code, [spec(x.shape, x_dt, fx)], spec(x.shape, out_dt, fo), params)
            check_elements(node, [x], range(x.size))


def _params(code, x_dt: DType) -> tuple[int, ...]:
    if code == OpCode.CLAMP:
        return (x_dt.qmin // 3, x_dt.qmax // 5)
    if code == OpCode.LEAKY_RELU:
        return (-(1 << 24), 24)
    return ()


REAL = {
    OpCode.TANH: np.tanh,
    OpCode.SIGMOID: lambda r: 1 / (1 + np.exp(-r)),
    OpCode.SOFTPLUS: lambda r: np.logaddexp(0, r),
    OpCode.HARDSWISH: lambda r: r * np.clip(r + 3, 0, 6) / 6,
    OpCode.HARDSIGMOID: lambda r: np.clip(r + 3, 0, 6) / 6,
}


@pytest.mark.parametrize("code", sorted(REAL), ids=lambda c: OpCode(c).name)
@pytest.mark.parametrize("fx,fo", [(8, 15), (12, 24), (16, 8)])
def test_close_to_the_real_function(code, fx, fo):
    """Within the docstrings' bounds of the real function (int32, no saturation): <= 0.5 LSB for the exact
    piecewise ops, <= 0.5 + 2^(fo - 26) LSB for the intmath ones."""
    x = np.linspace(-30 << fx, 30 << fx, 40001).astype(np.int64)
    x = np.clip(x, DType.INT32.qmin, DType.INT32.qmax).astype(np.int32)
    node = make_node(code, [spec(x.shape, DType.INT32, fx)], spec(x.shape, DType.INT32, fo))
    got = get_op(code).forward([x], node).astype(np.float64)
    want = REAL[code](x / 2.0**fx) * 2.0**fo
    exact = code in (OpCode.HARDSWISH, OpCode.HARDSIGMOID)
    bound = 0.5 + (1e-9 if exact else 2.0 ** (fo - 26))
    assert np.abs(got - want).max() <= bound


def test_clamp_and_leaky_relu_values():
    """Hand-checked values: clamp at (-16, 48) with a rescale by 1 bit (round half up), and a slope of 655 / 2^16 (torch default 0.01)."""
    x = np.array([-128, -17, -16, -3, 0, 3, 47, 48, 49, 127], np.int8)
    node = make_node(OpCode.CLAMP, [spec(x.shape, DType.INT8, 4)], spec(x.shape, DType.INT8, 3), (-16, 48))
    assert get_op(OpCode.CLAMP).forward([x], node).tolist() == [-8, -8, -8, -1, 0, 2, 24, 24, 24, 24]
    node = make_node(OpCode.LEAKY_RELU, [spec(x.shape, DType.INT8, 4)], spec(x.shape, DType.INT16, 8), (655, 16))
    # negative: x * 655 / 2^16 at frac 8 = round half up of x * 655 / 2^12; positive: x * 2^4
    want = [math.floor(v * 655 / 4096 + 0.5) if v < 0 else v * 16 for v in x.tolist()]
    assert get_op(OpCode.LEAKY_RELU).forward([x], node).tolist() == want


@pytest.mark.parametrize("code,params,x_dt,fx,fo", [
    (OpCode.CLAMP, (-129, 0), DType.INT8, 0, 0),
    (OpCode.CLAMP, (5, 4), DType.INT16, 0, 0),
    (OpCode.CLAMP, (0, 1 << 15), DType.INT16, 0, 0),
    (OpCode.CLAMP, (0, 1), DType.INT8, 0, 40),
    (OpCode.LEAKY_RELU, (1, 25), DType.INT8, 0, 0),
    (OpCode.LEAKY_RELU, ((1 << 24) + 1, 3), DType.INT8, 0, 0),
    (OpCode.LEAKY_RELU, (1, -1), DType.INT8, 0, 0),
    (OpCode.HARDSWISH, (), DType.INT8, 25, 0),
    (OpCode.HARDSWISH, (), DType.INT8, -1, 0),
    (OpCode.HARDSIGMOID, (), DType.INT8, 0, 31),
    (OpCode.TANH, (), DType.INT8, 25, 0),
    (OpCode.SIGMOID, (), DType.INT8, 0, 31),
    (OpCode.SOFTPLUS, (), DType.INT8, -1, 0),
    (OpCode.SOFTPLUS, (1,), DType.INT8, 0, 0),
])
def test_check_refuses_bad_nodes(code, params, x_dt, fx, fo):
    node = make_node(code, [spec((3,), x_dt, fx)], spec((3,), DType.INT8, fo), params)
    with pytest.raises(ParamError):
        get_op(code).check(node)


@pytest.mark.parametrize("code", ACT_CODES, ids=lambda c: OpCode(c).name)
@pytest.mark.parametrize("x_dt", [DType.INT8, DType.INT16, DType.INT32], ids=lambda d: d.name)
def test_total_on_the_request_input(code, x_dt):
    """Read straight from the request input, each op takes every value of the input dtype (no refusal to close),
    and gives a result for all of int8 / int16 (every value) and int32 (its ends and a sweep)."""
    from offchain.engine.domain import InputDomain, input_domain
    from offchain.engine.graph import Graph
    from offchain.engine.model import Model

    fx = 8
    if x_dt == DType.INT32:
        x = np.concatenate([np.linspace(x_dt.qmin, x_dt.qmax, 65537).astype(np.int64), [x_dt.qmin, x_dt.qmax]])
    else:
        x = np.arange(x_dt.qmin, x_dt.qmax + 1)
    x = x.astype(x_dt.numpy)
    node = make_node(code, [spec(x.shape, x_dt, fx)], spec(x.shape, DType.INT16, 10), _params(code, x_dt))
    model = Model(Graph([node.in_specs[0]], [], [node]), [], {})
    model.validate()
    assert input_domain(model.graph) == InputDomain(x_dt.bits // 8, x_dt.qmin, x_dt.qmax)
    check_elements(node, [x], range(0, x.size, max(1, x.size // 4096)))

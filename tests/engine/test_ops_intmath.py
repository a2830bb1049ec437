"""forward == element for the ops wrapped from intmath (GELU, SILU, SOFTMAX, LAYERNORM, RMSNORM)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from offchain.engine.dtypes import DType
from offchain.engine.errors import ParamError
from offchain.engine.ops import OpCode, get_op

from .op_harness import check_elements, make_node, random_tensor, spec

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
small = st.sampled_from([DType.INT8, DType.INT16])


def _indices(data, n: int) -> list[int]:
    if n == 0:
        return []
    return sorted(set(data.draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=8)) + [0, n - 1]))


def _rng(data) -> np.random.Generator:
    return np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))


@SETTINGS
@given(st.data(), st.sampled_from([(OpCode.GELU, (0,)), (OpCode.GELU, (1,)), (OpCode.SILU, ())]))
def test_activation(data, case):
    code, params = case
    shape = data.draw(st.lists(st.integers(0, 6), max_size=3))
    x_spec = spec(shape, data.draw(st.sampled_from([DType.INT8, DType.INT16, DType.INT32])), data.draw(st.integers(0, 24)))
    out = spec(shape, data.draw(small), data.draw(st.integers(0, 14)))
    node = make_node(code, [x_spec], out, params)
    check_elements(node, [random_tensor(_rng(data), x_spec, True)], _indices(data, node.output.size))


def test_gelu_is_close_to_float():
    x_spec = spec((201,), DType.INT16, 8)
    node = make_node(OpCode.GELU, [x_spec], spec((201,), DType.INT16, 12), (0,))
    x = np.arange(-100, 101, dtype=np.int16) * 8
    out = get_op(OpCode.GELU).forward([x], node) / 2**12
    real = x / 2**8
    ref = real * 0.5 * (1 + np.vectorize(math.erf)(real / math.sqrt(2)))
    assert np.abs(out - ref).max() < 2**-11


@SETTINGS
@given(st.data())
def test_softmax(data):
    lead = data.draw(st.lists(st.integers(1, 3), min_size=1, max_size=2))
    n = data.draw(st.integers(1, 12))
    causal = data.draw(st.booleans())
    shape = lead + [n]
    x_spec = spec(shape, data.draw(small), data.draw(st.integers(0, 12)))
    out = spec(shape, data.draw(small), data.draw(st.integers(0, 14)))
    node = make_node(OpCode.SOFTMAX, [x_spec], out, (int(causal),))
    result = check_elements(node, [random_tensor(_rng(data), x_spec, True)], _indices(data, node.output.size))
    if causal and len(shape) >= 2 and n > 1 and shape[-2] > 0:
        assert (result[..., 0, 1:] == 0).all()


@SETTINGS
@given(st.data(), st.booleans())
def test_norms(data, layer):
    lead = data.draw(st.lists(st.integers(1, 3), max_size=2))
    n = data.draw(st.integers(1, 16))
    fx, fg = data.draw(st.integers(0, 12)), data.draw(st.integers(0, 14))
    x_spec = spec(lead + [n], data.draw(small), fx)
    ins = [x_spec, spec((n,), DType.INT16, fg)]
    if layer:
        ins.append(spec((n,), DType.INT16, data.draw(st.integers(0, 14))))
    eps = data.draw(st.sampled_from([0, 1, round(1e-5 * 4**fx)]))
    out = spec(lead + [n], data.draw(small), data.draw(st.integers(0, min(14, 20 + fg))))
    node = make_node(OpCode.LAYERNORM if layer else OpCode.RMSNORM, ins, out, (eps,))
    rng = _rng(data)
    check_elements(node, [random_tensor(rng, s, True) for s in ins], _indices(data, node.output.size))


def test_intmath_bounds_surface_as_param_errors():
    node = make_node(OpCode.SOFTMAX, [spec((2, 4), DType.INT16, 30)], spec((2, 4), DType.INT16, 14), (0,))
    with pytest.raises(ParamError, match="f_in"):
        get_op(OpCode.SOFTMAX).check(node)

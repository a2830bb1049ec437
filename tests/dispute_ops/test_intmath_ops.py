"""ActivationOps (GELU erf/tanh, SILU), SoftmaxOps and NormOps (LAYERNORM, RMSNORM) against the Python ops.

The intmath references (offchain/engine/intmath_*.py) are mirrored line by line in LibIntMath*.sol; these
tests check the contracts' ranges and elements against Python's on random nodes and on the edges: dtype
extremes, saturation, the clamps of exp and GELU, masked and length-1 softmax rows, constant and all-zero
norm rows, eps terms, frac bits at both ends of their ranges.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from offchain.engine.dtypes import DType
from offchain.engine.ops import OpCode, get_op
from engine.op_harness import make_node, random_tensor, spec

from ._harness import check_against_contract, check_elements_only
from ._strategies import SETTINGS, dtypes, indices, rng, skip, small

ACTIVATIONS = [(OpCode.GELU, (0,)), (OpCode.GELU, (1,)), (OpCode.SILU, ())]


@SETTINGS
@given(data=st.data(), case=st.sampled_from(ACTIVATIONS))
def test_activation(deploy, data, case):
    code, params = case
    shape = data.draw(st.lists(st.integers(1, 6), min_size=1, max_size=3))
    x_spec = spec(shape, data.draw(dtypes), data.draw(st.integers(0, 24)))
    out = spec(shape, data.draw(dtypes), data.draw(st.integers(0, 30)))
    node = make_node(code, [x_spec], out, params)
    x = random_tensor(rng(data), x_spec, True)
    check_against_contract(deploy("ActivationOps"), node, [x], indices(data, node.output.size, 6), skip(data))


@pytest.mark.parametrize("code,params", ACTIVATIONS)
@pytest.mark.parametrize("f_in,f_out", [(0, 0), (24, 30), (8, 12), (16, 7)])
def test_activation_extremes(deploy, code, params, f_in, f_out):
    """int32 extremes, zero, +-1 LSB and values around the exp/GELU clamps, into int8 (saturating) and int32."""
    lim = 8 << f_in
    values = [-(1 << 31), (1 << 31) - 1, 0, 1, -1, lim, -lim, lim + 1, -lim - 1, (64 << f_in) + 5, -(64 << f_in) - 5]
    values = [min(max(v, -(1 << 31)), (1 << 31) - 1) for v in values]
    x = np.array(values, dtype=np.int32)
    for out_dt in (DType.INT8, DType.INT32):
        node = make_node(code, [spec((len(values),), DType.INT32, f_in)], spec((len(values),), out_dt, f_out), params)
        check_elements_only(deploy("ActivationOps"), node, [x], range(len(values)))


@pytest.mark.parametrize("code,params", ACTIVATIONS)
def test_activation_grid(deploy, code, params):
    """Reals from -9 to 9 in steps of 0.375 (both sides of every clamp), at high output precision, where any
    deviation of the polynomial, erf or exp constants shows."""
    x = (np.arange(-24, 25, dtype=np.int32) * 1536) + 7  # f_in = 12: -9 .. 9 in 3/8 steps, off the grid by 7 LSB
    for out_dt, fo in ((DType.INT32, 24), (DType.INT16, 11)):
        node = make_node(code, [spec(x.shape, DType.INT32, 12)], spec(x.shape, out_dt, fo), params)
        check_elements_only(deploy("ActivationOps"), node, [x], range(x.size))


def test_softmax_moderate_rows(deploy):
    """Scores within +-6 (f_in 10) so that every key contributes, at f_out 30 (int32) and 14 (int16)."""
    g = np.random.default_rng(11)
    x = g.integers(-6 << 10, 6 << 10, size=(2, 5, 24)).astype(np.int16)
    for causal in (0, 1):
        for out_dt, fo in ((DType.INT32, 30), (DType.INT16, 14)):
            node = make_node(OpCode.SOFTMAX, [spec(x.shape, DType.INT16, 10)], spec(x.shape, out_dt, fo), (causal,))
            check_elements_only(deploy("SoftmaxOps"), node, [x], range(0, x.size, 7))


@SETTINGS
@given(data=st.data())
def test_softmax(deploy, data):
    lead = data.draw(st.lists(st.integers(1, 3), min_size=1, max_size=2))
    n = data.draw(st.sampled_from([1, 2, 5, 12, 64]))
    causal = data.draw(st.booleans())
    shape = lead + [n]
    x_spec = spec(shape, data.draw(dtypes), data.draw(st.integers(0, 24)))
    out = spec(shape, data.draw(dtypes), data.draw(st.integers(0, 30)))
    node = make_node(OpCode.SOFTMAX, [x_spec], out, (int(causal),))
    x = random_tensor(rng(data), x_spec, True)
    check_against_contract(deploy("SoftmaxOps"), node, [x], indices(data, node.output.size, 6), skip(data))


def test_softmax_causal_mask_and_constant_rows(deploy):
    """Causal rows mask keys past the query (0 out), equal scores split evenly, one-hot rows saturate."""
    x = np.array([[[5, 5, 5, 5], [0, 0, -32768, 32767], [7, -7, 7, -7], [32767, -32768, 0, 0]]], np.int16)
    for causal in (0, 1):
        node = make_node(OpCode.SOFTMAX, [spec(x.shape, DType.INT16, 4)], spec(x.shape, DType.INT8, 7), (causal,))
        check_elements_only(deploy("SoftmaxOps"), node, [x], range(x.size))
        if causal:
            out = get_op(OpCode.SOFTMAX).forward([x], node).reshape(-1)
            assert out[1:4].tolist() == [0, 0, 0]


@SETTINGS
@given(data=st.data(), layer=st.booleans())
def test_norms(deploy, data, layer):
    lead = data.draw(st.lists(st.integers(1, 3), max_size=2))
    n = data.draw(st.sampled_from([1, 2, 7, 16, 100]))
    fx, fg = data.draw(st.integers(0, 16)), data.draw(st.integers(0, 14))
    x_spec = spec(lead + [n], data.draw(dtypes), fx)
    ins = [x_spec, spec((n,), data.draw(small), fg)]
    if layer:
        ins.append(spec((n,), DType.INT16, data.draw(st.integers(0, min(14, 20 + fg)))))
    eps = data.draw(st.sampled_from([0, 1, round(1e-5 * 4**fx)]))
    out = spec(lead + [n], data.draw(dtypes), data.draw(st.integers(0, min(30, 20 + fg))))
    node = make_node(OpCode.LAYERNORM if layer else OpCode.RMSNORM, ins, out, (eps,))
    g = rng(data)
    arrays = [random_tensor(g, s, True) for s in ins]
    if data.draw(st.booleans()):  # a constant row (LayerNorm's variance 0) or an all-zero one (RMSNorm's)
        arrays[0].reshape(-1, n)[0] = 0 if not layer else arrays[0].reshape(-1)[0]
    check_against_contract(deploy("NormOps"), node, arrays, indices(data, node.output.size, 5), skip(data))


@pytest.mark.parametrize("layer", [True, False])
def test_norm_precise_rows(deploy, layer):
    """Wide int32 rows (22-bit truncation active) at int32 f_out 30 - fg, where each rounding step shows."""
    g = np.random.default_rng(5)
    n = 48
    rows = g.integers(-(1 << 24), 1 << 24, size=(3, n)).astype(np.int32)
    ins = [spec(rows.shape, DType.INT32, 16), spec((n,), DType.INT16, 14)]
    arrays = [rows, g.integers(8000, 20000, size=n).astype(np.int16)]
    if layer:
        ins.append(spec((n,), DType.INT16, 12))
        arrays.append(g.integers(-3000, 3000, size=n).astype(np.int16))
    node = make_node(OpCode.LAYERNORM if layer else OpCode.RMSNORM, ins, spec(rows.shape, DType.INT32, 26),
                     (round(1e-5 * 4**16),))
    check_elements_only(deploy("NormOps"), node, arrays, range(0, rows.size, 5))


@pytest.mark.parametrize("layer", [True, False])
def test_norm_edges(deploy, layer):
    """int32 extremes in the row (22-bit truncation), eps = 0 on a zero-variance row, int8 saturation."""
    n = 6
    rows = np.array([[-(1 << 31), (1 << 31) - 1, 0, 1, -1, 12345],
                     [3, 3, 3, 3, 3, 3],
                     [0, 0, 0, 0, 0, 0]], dtype=np.int32)
    gamma = np.array([32767, -32768, 1, 0, 16384, -1], np.int16)
    ins = [spec(rows.shape, DType.INT32, 16), spec((n,), DType.INT16, 14)]
    arrays = [rows, gamma]
    if layer:
        ins.append(spec((n,), DType.INT16, 14))
        arrays.append(np.array([32767, -32768, 0, 5, -5, 1], np.int16))
    for out_dt, fo in ((DType.INT8, 6), (DType.INT32, 30)):
        node = make_node(OpCode.LAYERNORM if layer else OpCode.RMSNORM, ins, spec(rows.shape, out_dt, fo), (0,))
        check_elements_only(deploy("NormOps"), node, arrays, range(rows.size))

"""Activations on int8/int16 inputs read a table of the op on every input value; it must equal the direct
computation (the int64 pipeline that the one-step prover mirrors) on every value, at the dtype edges included."""

from __future__ import annotations

import numpy as np
import pytest

from offchain.engine import intmath_act, intmath_softmax, kernels
from offchain.engine.dtypes import DType
from offchain.engine.ops import activation, get_op
from offchain.engine.ops.codes import OpCode

from .op_harness import make_node, spec

CASES = [
    (OpCode.GELU, (0,), intmath_act.gelu), (OpCode.GELU, (1,), intmath_act.gelu_tanh),
    (OpCode.SILU, (), intmath_act.silu), (OpCode.TANH, (), intmath_act.tanh),
    (OpCode.SIGMOID, (), intmath_act.sigmoid), (OpCode.SOFTPLUS, (), intmath_act.softplus),
]


@pytest.mark.parametrize("code,params,direct", CASES)
@pytest.mark.parametrize("in_dtype,f_in,out_dtype,f_out", [
    (DType.INT16, 12, DType.INT16, 12), (DType.INT16, 0, DType.INT8, 4), (DType.INT8, 5, DType.INT16, 14),
    (DType.INT16, 15, DType.INT32, 24)])
def test_table_equals_direct_on_every_value(code, params, direct, in_dtype, f_in, out_dtype, f_out):
    every = np.arange(in_dtype.qmin, in_dtype.qmax + 1, dtype=np.int64)
    # every value, in a shuffled order, twice (the second call reads the cached table)
    x = np.random.default_rng(0).permutation(np.concatenate([every, every])).astype(in_dtype.numpy)
    node = make_node(code, [spec(x.shape, in_dtype, f_in)], spec(x.shape, out_dtype, f_out), params)
    op = get_op(code)
    op.check(node)
    activation._TABLES.clear()
    want = direct(x, f_in, f_out, out_dtype.numpy)
    for _ in range(2):
        got = op.forward([x], node)
        assert got.dtype == want.dtype and np.array_equal(got, want)
    assert len(activation._TABLES) == 1  # the table path ran


def test_small_or_int32_inputs_compute_directly():
    activation._TABLES.clear()
    x16 = np.array([-32768, 0, 32767], np.int16)
    node = make_node(OpCode.GELU, [spec(x16.shape, DType.INT16, 12)], spec(x16.shape, DType.INT16, 12), (0,))
    assert np.array_equal(get_op(OpCode.GELU).forward([x16], node), intmath_act.gelu(x16, 12, 12, np.int16))
    x32 = np.full(70000, -2**31, np.int32)
    node = make_node(OpCode.SILU, [spec(x32.shape, DType.INT32, 16)], spec(x32.shape, DType.INT32, 16))
    assert np.array_equal(get_op(OpCode.SILU).forward([x32], node), intmath_act.silu(x32, 16, 16, np.int32))
    assert not activation._TABLES


@pytest.mark.parametrize("f_in", [0, 8, 13, 16])
@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32])
def test_softmax_exp_table_equals_direct(f_in, dtype, monkeypatch):
    """Softmax's numpy path reads exp from a table of exp_neg_q30 over its clamped domain [0, 64 << f_in]; with
    the table turned off it computes directly; the C row kernel (its own polynomial) gives the same integers. Rows
    include the widest spread (min next to max: differences far past the clamp for int32), constants and random
    values; plain, causal and key-padded."""
    info = np.iinfo(dtype)
    rng = np.random.default_rng(f_in)
    x = rng.integers(info.min, info.max, size=(4, 64, 128), endpoint=True).astype(dtype)
    x[0, 0] = info.min
    x[0, 0, 5] = info.max
    x[0, 1] = info.max
    x[1, :, ::2] = info.min
    x[2] = (rng.integers(-(64 << f_in) - 9, 9, size=(64, 128)) // 1).clip(info.min, info.max).astype(dtype)
    lens = rng.integers(1, 129, size=(4, 64))

    def runs():
        return [intmath_softmax.softmax(x, f_in, 15, np.int16, causal=c) for c in (False, True)] + \
            [intmath_softmax.softmax(x, f_in, 15, np.int16, valid_len=lens)]

    intmath_softmax._EXP_TABLES.clear()
    with kernels.forced_fallback():
        tabled = runs()
        assert list(intmath_softmax._EXP_TABLES) == [f_in]  # the table path ran
        monkeypatch.setattr(intmath_softmax, "_EXP_TABLE_MAX", 0)
        direct = runs()
    kernel = runs()  # the C rows where built (else numpy again)
    for got, want, c_rows in zip(tabled, direct, kernel):
        assert np.array_equal(got, want) and np.array_equal(c_rows, want)

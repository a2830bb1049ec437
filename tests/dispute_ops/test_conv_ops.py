"""ConvOps in the long param form (groups, depthwise, dilation, asymmetric and "same" pads) against the Python op:
rangeCount/range equal operand_ranges and element equals Python's element and forward, on random nodes and on
every element (each padding corner) of fixed nodes filled with the dtypes' extremes. Malformed params revert with
BadNode naming the rule."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from offchain.dispute.operators import descriptor_tuple
from offchain.engine.descriptor import encode_node
from offchain.engine.dtypes import DType
from offchain.engine.errors import ParamError, ShapeMismatchError
from offchain.engine.ops import OpCode, get_op
from offchain.engine.ops.conv import conv_output_hw
from engine.op_draws import conv2d_long_node
from engine.op_harness import make_node, random_tensor, spec

from ._harness import check_against_contract, custom_error, revert_data
from ._strategies import SETTINGS, indices, rng, skip


@SETTINGS
@given(data=st.data())
def test_conv2d_long_form(deploy, data):
    node, ins = conv2d_long_node(data, max_out=4, max_hw=7)
    g = rng(data)
    arrays = [random_tensor(g, s, True) for s in ins]
    check_against_contract(deploy("ConvOps"), node, arrays, indices(data, node.output.size, 6), skip(data))


def _extremes(shape, dtype: DType, seed: int) -> np.ndarray:
    """dtype min / max / 0 / -1 / 1 mixed, so every product and the saturation are at their limits."""
    pick = np.random.default_rng(seed).integers(0, 5, size=shape)
    table = np.array([dtype.qmin, dtype.qmax, 0, -1, 1], dtype=np.int64)
    return table[pick].astype(dtype.numpy)


def _same_pads(k: int, dilation: int) -> tuple[int, int]:
    """torch's padding="same": total dilation (k - 1), the left/top side gets the floor half."""
    total = dilation * (k - 1)
    return total // 2, total - total // 2


def _same(stride: int, k: tuple[int, int], dilation: tuple[int, int], groups: int) -> tuple[int, ...]:
    """Long-form params of a padding="same" conv (stride 1 in torch; a stride here tests the split alone)."""
    (top, bottom), (left, right) = _same_pads(k[0], dilation[0]), _same_pads(k[1], dilation[1])
    return (stride, stride, top, left, bottom, right) + tuple(dilation) + (groups,)


CASES = {
    # name: (x shape, W shape, params)
    "depthwise 3x3 dilation 2 same": ((1, 3, 5, 6), (3, 1, 3, 3), _same(1, (3, 3), (2, 2), 3)),
    "grouped 4x4 same (pads 1 before, 2 after)": ((1, 4, 5, 5), (6, 2, 4, 4), _same(1, (4, 4), (1, 1), 2)),
    "even 2x4 kernel, dilation (3, 1), stride 2, same": ((2, 2, 7, 6), (2, 2, 2, 4), _same(2, (2, 4), (3, 1), 1)),
    "dilation wider than the image": ((1, 2, 3, 3), (2, 1, 2, 2), (1, 1, 3, 0, 3, 4, 4, 4, 2)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_conv2d_every_element_at_extremes(deploy, name):
    """Every output element (the four padding corners and edges among them) with dtype extremes in x, W and
    bias, output int8 (so rescale and saturation are exercised), Solidity == Python element == forward."""
    x_shape, w_shape, params = CASES[name]
    oh, ow = conv_output_hw(x_shape[2], x_shape[3], w_shape[2], w_shape[3], params)
    ins = [spec(x_shape, DType.INT16, 6), spec(w_shape, DType.INT8, 5), spec((w_shape[0],), DType.INT32, 11)]
    node = make_node(OpCode.CONV2D, ins, spec((x_shape[0], w_shape[0], oh, ow), DType.INT8, 4), params)
    arrays = [_extremes(s.shape, s.dtype, k) for k, s in enumerate(ins)]
    check_against_contract(deploy("ConvOps"), node, arrays, range(node.output.size))


def test_short_form_still_means_symmetric_pads(deploy):
    """(sh, sw, ph, pw) and its long spelling give the same ranges and values on-chain."""
    x = spec((1, 2, 4, 5), DType.INT8, 3)
    w = spec((3, 2, 3, 2), DType.INT8, 3)
    out = spec((1, 3) + conv_output_hw(4, 5, 3, 2, (2, 2, 1, 1)), DType.INT16, 4)
    short = make_node(OpCode.CONV2D, [x, w], out, (2, 2, 1, 1))
    long = make_node(OpCode.CONV2D, [x, w], out, (2, 2, 1, 1, 1, 1, 1, 1, 1))
    g = np.random.default_rng(7)
    arrays = [random_tensor(g, s, True) for s in (x, w)]
    contract = deploy("ConvOps")
    a = check_against_contract(contract, short, arrays, range(short.output.size))
    b = check_against_contract(contract, long, arrays, range(long.output.size))
    assert [c.value for c in a] == [c.value for c in b]


@pytest.mark.parametrize("params, w_shape, reason", [
    ((1, 1, 0, 0, 0, 0, 1, 1, 4), (4, 1, 1, 1), "conv groups"),       # 4 groups of 3 channels: 3 % 4
    ((1, 1, 0, 0, 0, 0, 1, 1, 3), (4, 1, 1, 1), "conv groups"),       # 4 out-channels over 3 groups
    ((1, 1, 0, 0, 0, 0, 0, 1, 1), (3, 3, 1, 1), "conv strides/dilations/groups"),
    ((1, 1, 0, 0, 0, 0, 1, 1, 0), (3, 3, 1, 1), "conv strides/dilations/groups"),
    ((1, 1, 0, 0, -1, 0, 1, 1, 1), (3, 3, 1, 1), "conv pads"),
    ((1, 1, 0, -1, 0, 0, 1, 1, 1), (3, 3, 1, 1), "conv pads"),
    ((1, 1, 0, 0, 0, 0, 1, 1), (3, 3, 1, 1), "conv params"),
    # found by review: a 1-wide kernel passes every shape rule at any dilation, and with pad_left 2 the tap
    # arithmetic overflowed int256 on-chain (a panic) while Python returned the bias: an unanswerable node
    ((1, 1, 0, 2, 0, 0, 1, (1 << 255) - 1, 1), (3, 3, 1, 1), "conv param too large"),
    ((1, 1, 0, 0, 0, 0, (1 << 32) + 1, 1, 1), (3, 3, 1, 1), "conv param too large"),
    (((1 << 32) + 1, 1, 0, 0), (3, 3, 1, 1), "conv param too large"),
])
def test_bad_params_revert(chain, deploy, params, w_shape, reason):
    """Each refused param set reverts with its reason, and Python's graph check refuses the same node."""
    ins = [spec((1, 3, 2, 2), DType.INT8, 0), spec(w_shape, DType.INT8, 0)]
    node = make_node(OpCode.CONV2D, ins, spec((1, w_shape[0], 2, 2), DType.INT8, 0), params)
    with pytest.raises((ParamError, ShapeMismatchError)):
        get_op(OpCode.CONV2D).check(node)
    nd = descriptor_tuple(encode_node(node, 0))
    contract = deploy("ConvOps")
    want = custom_error("BadNode(string)", ["string"], [reason])
    assert revert_data(chain, contract.rangeCount, nd, 0) == want
    assert revert_data(chain, contract.element, nd, [], 0) == want


def test_worst_conv_steps_fit_the_one_step_bound(project, owner):
    """bench_ops_gas's conv cases (depthwise 3x3 over 1,024 channels, plain and dilated "same"; a 7x7 stride-2
    stem on a 224x224 image): the whole one-step transaction through OneStepProver, checked against Python's
    value, stays under 2,000,000 gas."""
    from bench.bench_ops_gas import STEP_BOUND, conv_cases, one_step_tx_gas
    from offchain.dispute.operators import operator_families, prover_args

    families = {name: owner.deploy(getattr(project, name)) for name in operator_families()}
    codes, addresses = prover_args({name: c.address for name, c in families.items()})
    prover = owner.deploy(project.OneStepProver, codes, addresses)
    for case in conv_cases():
        total, inside = one_step_tx_gas(prover, case, owner)
        assert 0 < inside < total < STEP_BOUND, (case.name, total, inside)

"""Where the engine refuses to requantise (|accumulator| >= 2^62, e.g. MUL of two int32 minimums), the contract
refuses too, with AccumulatorOutOfRange, instead of returning a saturated value Python never computes."""

from __future__ import annotations

import ape
import pytest

from offchain.dispute.operators import descriptor_tuple, operand_tuple
from offchain.engine.descriptor import encode_node
from offchain.engine.dtypes import DType
from offchain.engine.graph import Node, TensorKind, TensorRef, TensorSpec
from offchain.engine.intmath_core import OperandRangeError
from offchain.engine.ops import OpCode, get_op

INT32_MIN = -(1 << 31)


def test_mul_of_int32_minimums_is_refused_by_both(deploy):
    spec = TensorSpec((1,), DType.INT32, 8)
    node = Node(OpCode.MUL, (TensorRef(TensorKind.INPUT, 0), TensorRef(TensorKind.INPUT, 1)), (spec, spec),
                TensorSpec((1,), DType.INT32, 8), ())
    with pytest.raises(OperandRangeError):
        get_op(OpCode.MUL).element(node, [[INT32_MIN], [INT32_MIN]], 0)
    ops = deploy("ElementwiseOps")
    with ape.reverts(ops.AccumulatorOutOfRange, acc=1 << 62):
        ops.element(descriptor_tuple(encode_node(node, 0)),
                    [operand_tuple([INT32_MIN], 4), operand_tuple([INT32_MIN], 4)], 0)
    # One step inside the bound still computes: (-2^31) * (2^31 - 1) >> 8, saturated like Python.
    inside = [[INT32_MIN], [(1 << 31) - 1]]
    expected = get_op(OpCode.MUL).element(node, inside, 0)
    assert expected == INT32_MIN
    got = ops.element(descriptor_tuple(encode_node(node, 0)),
                      [operand_tuple(inside[0], 4), operand_tuple(inside[1], 4)], 0)
    assert got == expected

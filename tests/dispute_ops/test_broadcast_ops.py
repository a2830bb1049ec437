"""BroadcastOps (EXPAND, WHERE) against the Python ops: rangeCount/range equal operand_ranges and element equals
Python's element and forward, on random broadcasts with dtype extremes and on hand-picked edge values; nodes whose
inputs do not broadcast are refused with the named BadNode reason, not read somewhere else."""

from __future__ import annotations

import ape
import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from offchain.dispute.operators import descriptor_tuple
from offchain.engine.descriptor import encode_node
from offchain.engine.dtypes import DType
from offchain.engine.graph import Node, TensorKind, TensorRef
from offchain.engine.ops import OpCode
from engine.op_draws import broadcast_node
from engine.op_harness import make_node, random_tensor, spec

from ._harness import check_against_contract, custom_error, revert_data
from ._strategies import SETTINGS, indices, rng, skip


@SETTINGS
@given(data=st.data(), code=st.sampled_from([OpCode.EXPAND, OpCode.WHERE]))
def test_broadcast_ops_match_python(deploy, data, code):
    node, ins = broadcast_node(data, code)
    g = rng(data)
    arrays = [random_tensor(g, s, True) for s in ins]
    check_against_contract(deploy("BroadcastOps"), node, arrays, indices(data, node.output.size, 6), skip(data))


def test_where_edge_values(deploy):
    """Every cond extreme selects x and only 0 selects y; int32 extremes are copied unchanged."""
    cond = np.array([[-2**31], [2**31 - 1], [-1], [0]], np.int32)  # [4, 1] broadcast over 2 columns
    x = np.array([-2**31, 2**31 - 1], np.int32)                    # [2] broadcast over 4 rows
    y = np.array([[7, -7], [1, 0], [2**31 - 1, -2**31], [-2**31, 2**31 - 1]], np.int32)
    ins = [spec((4, 1), DType.INT32, 0), spec((2,), DType.INT32, -3), spec((4, 2), DType.INT32, -3)]
    node = make_node(OpCode.WHERE, ins, spec((4, 2), DType.INT32, -3))
    got = [c.value for c in check_against_contract(deploy("BroadcastOps"), node, [cond, x, y], range(8))]
    assert got == [-2**31, 2**31 - 1] * 3 + [-2**31, 2**31 - 1]


def test_expand_edge_values(deploy):
    x = np.array([-128, 127, 0, -1], np.int8).reshape(1, 4, 1)
    node = make_node(OpCode.EXPAND, [spec((1, 4, 1), DType.INT8, 7)], spec((2, 4, 3), DType.INT8, 7))
    got = [c.value for c in check_against_contract(deploy("BroadcastOps"), node, [x], range(24))]
    assert got == [v for v in (-128, 127, 0, -1) for _ in range(3)] * 2


def _node(op: int, in_shapes, out_shape) -> Node:
    """A node with unchecked shapes (the engine would refuse it) for the contract's own checks."""
    ins = tuple(spec(s, DType.INT8, 0) for s in in_shapes)
    return Node(op, tuple(TensorRef(TensorKind.INPUT, k) for k in range(len(ins))), ins, spec(out_shape, DType.INT8, 0),
                ())


def test_broadcast_ops_refuse_bad_nodes(chain, deploy):
    contract = deploy("BroadcastOps")
    bad = [
        (_node(OpCode.EXPAND, [(3,)], (2, 4)), "broadcast dim"),         # 3 would read past a row of 3
        (_node(OpCode.EXPAND, [(1, 2, 4)], (2, 4)), "broadcast rank"),
        (_node(OpCode.WHERE, [(4,), (4,)], (4,)), "input count"),
        (_node(OpCode.WHERE, [(4,), (4,), (5,)], (4,)), "broadcast dim"),
    ]
    for node, reason in bad:
        nd = descriptor_tuple(encode_node(node, 0))
        assert revert_data(chain, contract.range, nd, 0, 0, []) == custom_error("BadNode(string)", ["string"],
                                                                                 [reason]), reason
    nd = descriptor_tuple(encode_node(_node(OpCode.RESHAPE, [(4,)], (4,)), 0))
    with ape.reverts(contract.UnsupportedOp, op=int(OpCode.RESHAPE)):
        contract.rangeCount(nd, 0)

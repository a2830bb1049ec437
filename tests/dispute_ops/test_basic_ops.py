"""ElementwiseOps, ShapeOps, ReduceOps, RopeOps, EmbeddingOps, ConvOps against the Python ops.

For random nodes and output indices: the contract's rangeCount/range equal operand_ranges, and its
element equals Python's element and the forward output (tests/dispute_ops/_harness.py).
"""

from __future__ import annotations

import ape
import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from offchain.dispute.operators import descriptor_tuple, operand_tuple
from offchain.engine.descriptor import encode_node
from offchain.engine.dtypes import DType
from offchain.engine.ops import OpCode
from engine.op_draws import binary_node, conv2d_node, embedding_node, mean_node, rope_node
from engine.op_harness import make_node, random_tensor, spec

from ._harness import check_against_contract, custom_error, revert_data
from ._strategies import SETTINGS, dtypes, fracs, indices, rng, skip


@SETTINGS
@given(data=st.data(), code=st.sampled_from([OpCode.ADD, OpCode.SUB, OpCode.MUL]))
def test_binary_broadcast(deploy, data, code):
    node, ins = binary_node(data, code, min_dim=1, narrow_mul=True)
    g = rng(data)
    arrays = [random_tensor(g, s, True) for s in ins]
    check_against_contract(deploy("ElementwiseOps"), node, arrays, indices(data, node.output.size), skip(data))


def test_add_rounds_halves_up_and_saturates(deploy):
    """-3/2 rounds to -1, 3/2 to 2; int16 + int16 saturates into int8."""
    ins = [spec((4,), DType.INT16, 1), spec((4,), DType.INT16, 1)]
    node = make_node(OpCode.ADD, ins, spec((4,), DType.INT8, 0))
    a = np.array([-3, 3, 32767, -32768], np.int16)
    b = np.array([0, 0, 32767, -32768], np.int16)
    got = [c.value for c in check_against_contract(deploy("ElementwiseOps"), node, [a, b], range(4))]
    assert got == [-1, 2, 127, -128]


@SETTINGS
@given(data=st.data())
def test_shape_ops(deploy, data):
    contract = deploy("ShapeOps")
    shape = data.draw(st.lists(st.integers(1, 4), min_size=1, max_size=4))
    dt, f = data.draw(dtypes), data.draw(fracs)
    x_spec = spec(shape, dt, f)
    g = rng(data)
    x = random_tensor(g, x_spec, True)
    rank = len(shape)
    perm = data.draw(st.permutations(range(rank)))
    node = make_node(OpCode.PERMUTE, [x_spec], spec([shape[p] for p in perm], dt, f), perm)
    check_against_contract(contract, node, [x], indices(data, x.size))
    node = make_node(OpCode.RESHAPE, [x_spec], spec([x.size], dt, f))
    check_against_contract(contract, node, [x], indices(data, x.size))
    axis = data.draw(st.integers(0, rank - 1))
    start = data.draw(st.integers(0, shape[axis] - 1))
    step = data.draw(st.integers(1, 3))
    count = data.draw(st.integers(1, (shape[axis] - 1 - start) // step + 1))
    out_shape = list(shape)
    out_shape[axis] = count
    node = make_node(OpCode.SLICE, [x_spec], spec(out_shape, dt, f), (axis, start, step))
    check_against_contract(contract, node, [x], indices(data, int(np.prod(out_shape))), skip(data))
    parts = []
    for _ in range(data.draw(st.integers(1, 3))):
        part_shape = list(shape)
        part_shape[axis] = data.draw(st.integers(0, 3))
        parts.append(spec(part_shape, dt, f))
    total = list(shape)
    total[axis] = sum(p.shape[axis] for p in parts)
    node = make_node(OpCode.CONCAT, parts, spec(total, dt, f), (axis,))
    arrays = [random_tensor(g, p, True) for p in parts]
    check_against_contract(contract, node, arrays, indices(data, int(np.prod(total))))


def test_shape_ops_reject_what_the_engine_rejects(chain, deploy):
    """A slice past its axis, a perm that repeats an axis, a reshape that changes the count: BadNode, not a read
    of some other element."""
    contract = deploy("ShapeOps")
    x = spec((2, 3), DType.INT8, 0)
    bad = [
        (make_node(OpCode.SLICE, [x], spec((2, 2), DType.INT8, 0), (1, 1, 2)), 1, "slice bound"),
        (make_node(OpCode.PERMUTE, [x], spec((2, 2), DType.INT8, 0), (0, 0)), 0, "perm entry"),
        (make_node(OpCode.RESHAPE, [x], spec((5,), DType.INT8, 0)), 0, "reshape count"),
    ]
    for node, e, reason in bad:
        nd = descriptor_tuple(encode_node(node, 0))
        assert revert_data(chain, contract.range, nd, e, 0, []) == custom_error("BadNode(string)", ["string"], [reason])


@SETTINGS
@given(data=st.data())
def test_mean(deploy, data):
    node, x_spec = mean_node(data, long_rows=True)
    x = random_tensor(rng(data), x_spec, True)
    check_against_contract(deploy("ReduceOps"), node, [x], indices(data, node.output.size), skip(data))


@SETTINGS
@given(data=st.data())
def test_rope(deploy, data):
    node, ins = rope_node(data, x_dtypes=dtypes)
    g = rng(data)
    check_against_contract(deploy("RopeOps"), node, [random_tensor(g, s, True) for s in ins],
                           indices(data, node.output.size), skip(data))


@SETTINGS
@given(data=st.data())
def test_embedding(deploy, data):
    node, ins = embedding_node(data, min_ids=1)
    vocab, ids_shape = ins[1].shape[0], ins[0].shape
    g = rng(data)
    ids = g.integers(0, vocab, size=ids_shape).astype(np.int32)
    check_against_contract(deploy("EmbeddingOps"), node, [ids, random_tensor(g, ins[1], True)],
                           indices(data, node.output.size), skip(data))


def test_embedding_rejects_out_of_vocab_id(deploy):
    """A proven id outside [0, V) selects no row: range 1 reverts naming the id and the vocabulary."""
    contract = deploy("EmbeddingOps")
    ins = [spec((2,), DType.INT32, 0), spec((4, 3), DType.INT8, 0)]
    nd = descriptor_tuple(encode_node(make_node(OpCode.EMBEDDING, ins, spec((2, 3), DType.INT8, 0)), 0))
    for bad in (4, -1):
        with ape.reverts(contract.TokenOutOfVocabulary, token=bad, vocab=4):
            contract.range(nd, 3, 1, [operand_tuple([bad], 4)])


@SETTINGS
@given(data=st.data())
def test_conv2d(deploy, data):
    node, ins = conv2d_node(data, max_out=3, max_hw=7)
    g = rng(data)
    arrays = [random_tensor(g, s, True) for s in ins]
    check_against_contract(deploy("ConvOps"), node, arrays, indices(data, node.output.size, 6), skip(data))

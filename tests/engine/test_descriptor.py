"""Node descriptors: fixed word layout, round trip, and graph validation errors."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from offchain.engine.descriptor import HEADER_WORDS, TENSOR_WORDS, WORD, decode_node, encode_node
from offchain.engine.dtypes import DType
from offchain.engine.errors import DescriptorError, TopologyError, UnknownOpError
from offchain.engine.graph import Graph, Node, TensorKind, TensorRef, TensorSpec
from offchain.engine.ops import OpCode

specs = st.builds(
    TensorSpec,
    st.lists(st.integers(0, 2**20), max_size=6).map(tuple),
    st.sampled_from(list(DType)),
    st.integers(-64, 64),
    st.integers(5, 20),
)
refs = st.builds(TensorRef, st.sampled_from(list(TensorKind)), st.integers(0, 2**32))


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 255), st.lists(st.tuples(refs, specs), max_size=4), specs,
       st.lists(st.integers(-(2**255), 2**255 - 1), max_size=5), st.integers(0, 2**40))
def test_round_trip(op, operands, out, params, index):
    node = Node(op, tuple(r for r, _ in operands), tuple(s for _, s in operands), out, tuple(params))
    data = encode_node(node, index)
    assert len(data) == WORD * (HEADER_WORDS + TENSOR_WORDS * (1 + len(operands)) + len(params))
    got_index, got = decode_node(data)
    assert got_index == index
    assert got == dataclasses.replace(node, source="")
    assert encode_node(got, index) == data


def test_field_offsets():
    """The layout a Solidity decoder relies on: one field per 32-byte word at fixed offsets."""
    x = TensorSpec((2, 3), DType.INT16, -5, 5)
    out = TensorSpec((2, 4), DType.INT8, 7, 6)
    node = Node(OpCode.LINEAR, (TensorRef(TensorKind.INPUT, 0), TensorRef(TensorKind.WEIGHT, 9)),
                (x, TensorSpec((4, 3), DType.INT8, 6, 12)), out, (-1, 2))
    data = encode_node(node, 3)

    def word(k, signed=False):
        return int.from_bytes(data[32 * k:32 * k + 32], "big", signed=signed)

    assert [word(k) for k in range(5)] == [1, OpCode.LINEAR, 3, 2, 2]
    assert [word(5 + k) for k in range(8)] == [2, 3, 1, 7, 6, 2, 2, 4]
    base = 5 + TENSOR_WORDS
    assert [word(base + k, k == 3) for k in range(8)] == [0, 0, 2, -5, 5, 2, 2, 3]
    assert word(base + 2 * TENSOR_WORDS, True) == -1 and word(base + 2 * TENSOR_WORDS + 1, True) == 2
    assert data[32 * (base + 3):32 * (base + 4)] == b"\xff" * 31 + b"\xfb"


def test_decode_rejects_garbage():
    with pytest.raises(DescriptorError):
        decode_node(b"\0" * 31)
    good = encode_node(Node(OpCode.RELU, (TensorRef(TensorKind.INPUT, 0),), (TensorSpec((1,), DType.INT8, 0),),
                            TensorSpec((1,), DType.INT8, 0)), 0)
    with pytest.raises(DescriptorError, match="bytes"):
        decode_node(good + b"\0" * 32)
    with pytest.raises(DescriptorError, match="version"):
        decode_node(b"\0" * 31 + b"\x02" + good[32:])


def _relu(ref: TensorRef, op: int = OpCode.RELU) -> Node:
    s = TensorSpec((2,), DType.INT8, 0)
    return Node(op, (ref,), (s,), s)


def test_validate_names_problems():
    s = TensorSpec((2,), DType.INT8, 0)
    Graph([s], [], [_relu(TensorRef(TensorKind.INPUT, 0))]).validate()
    with pytest.raises(TopologyError, match="not an earlier node"):
        Graph([s], [], [_relu(TensorRef(TensorKind.ACTIVATION, 0))]).validate()
    with pytest.raises(TopologyError, match="does not exist"):
        Graph([s], [], [_relu(TensorRef(TensorKind.WEIGHT, 0))]).validate()
    with pytest.raises(UnknownOpError, match="op code 200"):
        Graph([s], [], [_relu(TensorRef(TensorKind.INPUT, 0), op=200)]).validate()
    wrong = TensorSpec((2,), DType.INT16, 0)
    with pytest.raises(TopologyError, match="disagrees"):
        Graph([wrong], [], [_relu(TensorRef(TensorKind.INPUT, 0))]).validate()

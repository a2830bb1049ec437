"""A node has at most 16 operands and 64 params, the most LibDescriptor.decode accepts (it reverts
MalformedDescriptor("counts") beyond): Graph.validate refuses a larger node, so no graph can hold a node whose
one-step proof could never run (a CONCAT of 17 tensors would otherwise be committed, and a fault in it could not
lose a dispute)."""

from __future__ import annotations

import pytest

from offchain.engine.dtypes import DType
from offchain.engine.errors import ParamError
from offchain.engine.graph import MAX_NODE_INPUTS, MAX_NODE_PARAMS, Graph, Node, TensorKind, TensorRef, TensorSpec
from offchain.engine.ops import OpCode


def _concat(parts: int) -> Graph:
    x = TensorSpec((1, 2), DType.INT16, 0)
    node = Node(OpCode.CONCAT, (TensorRef(TensorKind.INPUT, 0),) * parts, (x,) * parts,
                TensorSpec((1, 2 * parts), DType.INT16, 0), (1,))
    return Graph([x], [], [node])


def test_the_limits_are_the_solidity_decoders():
    text = open("contracts/dispute/lib/LibDescriptor.sol").read()
    assert f"n > {MAX_NODE_INPUTS} || p > {MAX_NODE_PARAMS}" in text


def test_a_node_with_more_operands_than_a_descriptor_holds_is_refused():
    _concat(MAX_NODE_INPUTS).validate()
    with pytest.raises(ParamError, match=f"{MAX_NODE_INPUTS + 1} inputs .* at most {MAX_NODE_INPUTS}"):
        _concat(MAX_NODE_INPUTS + 1).validate()


def test_a_node_with_more_params_than_a_descriptor_holds_is_refused():
    x = TensorSpec((4,), DType.INT16, 0)
    node = Node(OpCode.RELU, (TensorRef(TensorKind.INPUT, 0),), (x,), x, (0,) * (MAX_NODE_PARAMS + 1))
    with pytest.raises(ParamError, match=f"{MAX_NODE_PARAMS + 1} params"):
        Graph([x], [], [node]).validate()

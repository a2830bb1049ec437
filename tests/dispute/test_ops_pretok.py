"""A dispute through each tokenizer-front operator (issue 14): a submitter that corrupts one element of a
UTF8_CHARS, ADDED_TOKENS or PRETOKENIZE node's output, and runs the rest of the graph on it, loses the game to the
honest challenger through that node's one-step proof (PretokOps), on a hand-built front: UTF-8 bytes -> UTF8_CHARS
-> CHAR_MAP (the tokenizers class table) -> ADDED_TOKENS -> PRETOKENIZE (Llama-3 regex)."""

from __future__ import annotations


import numpy as np
import pytest

from offchain.chain.params import ProtocolParams
from offchain.chain.registration import model_spec
from offchain.dispute.commitment import ExecutionCommitment, ModelCommitment
from offchain.engine.dtypes import DType
from offchain.engine.executor import run
from offchain.engine.graph import Graph, Node, TensorKind, TensorRef, TensorSpec
from offchain.engine.model import Model
from offchain.engine.ops import OpCode
from offchain.models.bpe_tables import CLASS_SHIFT, class_table

from ._fault_game import a_fault_loses

PARAMS = ProtocolParams(reveal_depth=2, challenge_window=600, clock_budget=600, request_timeout=3600)
#: The op codes this file disputes (tests/dispute/test_every_operator.py counts them as covered).
PRETOK_OPS = {OpCode.UTF8_CHARS, OpCode.ADDED_TOKENS, OpCode.PRETOKENIZE}
N = 48
TEXT = "<|eot|>It's 東京 ok!\n  \U0001F600x<|eot|>".encode()


def front_model() -> Model:
    stage1, stage2, shift = class_table()
    assert shift == CLASS_SHIFT
    table = np.full((2, 8), -1, dtype=np.int32)
    table[0, :8] = [7] + [ord(c) for c in "<|eot|>"]
    table[1, :3] = [9] + [ord(c) for c in "東京"]
    i32 = DType.INT32
    weights = [TensorSpec(stage1.shape, i32, 0, 5, "class.stage1"), TensorSpec(stage2.shape, i32, 0, 5, "class.stage2"),
               TensorSpec(table.shape, i32, 0, 5, "added")]
    byte_spec = TensorSpec((N,), DType.INT8, 0, 5, "utf8")
    chars = TensorSpec((N,), i32, 0, 5, "chars")
    stream = TensorSpec((N, 1), i32, 0, 5, "stream")
    added = TensorSpec((N,), i32, 0, 5, "added")
    pretok = TensorSpec((N, 2), i32, 0, 5, "pretok")
    w = lambda j: TensorRef(TensorKind.WEIGHT, j)  # noqa: E731
    a = lambda j: TensorRef(TensorKind.ACTIVATION, j)  # noqa: E731
    nodes = [
        Node(OpCode.UTF8_CHARS, (TensorRef(TensorKind.INPUT, 0),), (byte_spec,), chars, (), "utf8"),
        Node(OpCode.CHAR_MAP, (a(0), w(0), w(1)), (chars, weights[0], weights[1]), stream, (shift,), "classes"),
        Node(OpCode.ADDED_TOKENS, (a(0), w(2)), (chars, weights[2]), added, (), "added"),
        Node(OpCode.PRETOKENIZE, (a(1), a(2)), (stream, added), pretok, (2, 0, 0), "pretok"),
    ]
    graph = Graph([byte_spec], weights, nodes)
    model = Model(graph, [np.asarray(stage1), np.asarray(stage2), table], {"name": "bpe-front"})
    model.validate()
    return model


def front_input() -> np.ndarray:
    return np.frombuffer(TEXT.ljust(N, b"\0"), dtype=np.uint8).astype(np.int8)


@pytest.fixture(scope="module")
def front():
    model = front_model()
    x = front_input()
    commitment = ModelCommitment(model)
    return commitment, x, ExecutionCommitment(commitment, run(model, [x]))


def test_the_front_is_what_it_claims(front):
    _, _, honest = front
    outs = honest.trace.outputs
    chars, added, pretok = outs[0], outs[2], outs[3].reshape(N, 2)
    assert [c for c in chars.tolist() if c >= 0] == [ord(c) for c in TEXT.decode()]
    assert sorted(set(added.tolist())) == [-2, -1, 7, 9]
    assert pretok[:, 1].tolist().count(1) >= 8


@pytest.mark.parametrize("op", sorted(PRETOK_OPS, key=int), ids=lambda op: OpCode(op).name)
def test_a_corrupted_element_loses_the_game(front, protocol, owner, submitter, challenger, op):
    commitment, x, honest = front
    registry, game = protocol
    nodes = commitment.model.graph.nodes
    node_index = next(i for i, n in enumerate(nodes) if n.op == op)
    element = {OpCode.UTF8_CHARS: 12, OpCode.ADDED_TOKENS: 13, OpCode.PRETOKENIZE: 2 * 16 + 1}[op]
    model_id = registry.registerModel(model_spec(commitment.model, 0, owner.address), sender=owner).return_value
    a_fault_loses(game, model_id, commitment, x, honest, node_index, element, submitter, challenger)

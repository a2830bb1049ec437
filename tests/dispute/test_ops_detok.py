"""A dispute through each detokenizer operator: a submitter that corrupts one element of a DETOK_LEN or
DETOK_BYTES node's output (and runs the rest of the graph on it) loses the game to the honest challenger through
that node's one-step proof (DetokOps), on the detokenizer graph of the committed SentencePiece tokenizer (strip
mode 1) and of a Metaspace decoder (strip mode 2, whose step reads five ranges)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest
from tokenizers import Tokenizer

from offchain.chain.params import ProtocolParams
from offchain.chain.registration import model_spec
from offchain.dispute.commitment import ExecutionCommitment, ModelCommitment
from offchain.engine.executor import run
from offchain.engine.ops import OpCode
from offchain.models.bpe_detok import detok_model, text_of

from ._fault_game import a_fault_loses

PARAMS = ProtocolParams(reveal_depth=2, challenge_window=600, clock_budget=600, request_timeout=3600)
#: The op codes this file disputes (tests/dispute/test_every_operator.py counts them as covered).
DETOK_OPS = {OpCode.DETOK_LEN, OpCode.DETOK_BYTES}
TINY_SP = "offchain/models/llm_tiny_sp/tokenizer.json"
TEXT = " Disputable text, ünïcode 🙂"
T, B = 32, 64


def _graph(decoder=None):
    spec = json.loads(Path(TINY_SP).read_text(encoding="utf-8"))
    if decoder is not None:
        spec = copy.deepcopy(spec)
        spec["decoder"] = decoder
    hf = Tokenizer.from_str(json.dumps(spec))
    ids = hf.encode(TEXT).ids
    assert len(ids) <= T
    model = detok_model(spec, T, B)
    x = np.array(ids + [1] * (T - len(ids)), dtype=np.int32)
    commitment = ModelCommitment(model)
    honest = ExecutionCommitment(commitment, run(model, [x]))
    assert text_of(honest.trace.output) == hf.decode(ids, skip_special_tokens=True)
    return commitment, x, honest


@pytest.fixture(scope="module")
def graphs():
    metaspace = {"type": "Sequence", "decoders": [
        {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "first", "split": True},
        {"type": "ByteFallback"}, {"type": "Fuse"}]}
    return {"legacy": _graph(), "metaspace": _graph(metaspace)}


def test_the_graphs_decode_the_text(graphs):
    commitment, _, honest = graphs["legacy"]
    assert [n.op for n in commitment.model.graph.nodes] == [OpCode.DETOK_LEN, OpCode.DETOK_BYTES]
    assert commitment.model.graph.nodes[1].params == (1,)
    assert text_of(honest.trace.output) == TEXT         # "\u2581\u2581Disputable": one of the two spaces stripped
    commitment, _, honest = graphs["metaspace"]
    assert commitment.model.graph.nodes[1].params == (2,)
    assert text_of(honest.trace.output) == TEXT         # the first token "\u2581" is dropped whole


@pytest.mark.parametrize("graph, node_index, element", [
    ("legacy", 0, 3),       # one token's length
    ("legacy", 1, 0),       # the first byte, after the stripped space
    ("metaspace", 1, 9),    # a byte past the first token, located through its kept entries
])
def test_a_corrupted_detok_element_loses_the_game(graphs, protocol, owner, submitter, challenger, graph, node_index,
                                                  element):
    commitment, x, honest = graphs[graph]
    registry, game = protocol
    model_id = registry.registerModel(model_spec(commitment.model, 0, owner.address), sender=owner).return_value
    a_fault_loses(game, model_id, commitment, x, honest, node_index, element, submitter, challenger)

"""A dispute through WORD_VOCAB (BPE ignore_merges): a submitter that corrupts one element of the node's output (a
found word's token, or a copied slot of a word not in the table) loses the game to the honest challenger through
the node's one-step proof (WordVocabOps), on bench/_bpe_graph.py's word_vocab_graph (the byte-level tokenizer's
symbols of a short text in, a table holding every other word)."""

from __future__ import annotations


import numpy as np
import pytest

from bench._bpe_graph import word_vocab_graph
from offchain.chain.params import ProtocolParams
from offchain.chain.registration import model_spec
from offchain.dispute.commitment import ExecutionCommitment, ModelCommitment
from offchain.engine.executor import run
from offchain.engine.ops import OpCode

from ._fault_game import a_fault_loses

PARAMS = ProtocolParams(reveal_depth=2, challenge_window=600, clock_budget=600, request_timeout=3600)
#: The op codes this file disputes (tests/dispute/test_every_operator.py counts them as covered).
WORD_VOCAB_OPS = {OpCode.WORD_VOCAB}


@pytest.fixture(scope="module")
def graph():
    model, x = word_vocab_graph()
    commitment = ModelCommitment(model)
    return commitment, x, ExecutionCommitment(commitment, run(model, [x]))


@pytest.mark.parametrize("which", ["found", "copied"])
def test_a_corrupted_word_vocab_element_loses_the_game(graph, protocol, owner, submitter, challenger, which):
    commitment, x, honest = graph
    registry, game = protocol
    out = honest.trace.outputs[0].reshape(-1)
    before = x.reshape(-1)
    if which == "found":
        element = int(np.flatnonzero(out >= 9000)[0])
    else:
        element = int(np.flatnonzero((out == before) & (before != -1))[-1])
    model_id = registry.registerModel(model_spec(commitment.model, 0, owner.address), sender=owner).return_value
    a_fault_loses(game, model_id, commitment, x, honest, 0, element, submitter, challenger)

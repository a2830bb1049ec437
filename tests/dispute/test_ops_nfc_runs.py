"""A dispute through each NFC-runs op (issue 14): a submitter that corrupts one element of NFC_REORDER's output (a
mark moved in front of the run) or of an NFC_STAGE's (the composite of a starter composed past run index C, the
-1 of a mark absorbed there) loses the game to the honest challenger through that node's one-step proof
(NfcRunOps), on bench/_nfc_run_graph.py's chain: chars in, ADDED_TOKENS, CHAR_MAP(NFD), NFC_REORDER,
NFC_COMPOSE, NFC_STAGE x2, NFC_COMPACT."""

from __future__ import annotations

import numpy as np
import pytest

from bench._nfc_run_graph import TEXT, TOKEN, nfc_run_graph
from offchain.chain.params import ProtocolParams
from offchain.chain.registration import model_spec
from offchain.dispute.commitment import ExecutionCommitment, ModelCommitment
from offchain.engine.executor import run
from offchain.engine.ops import OpCode

from ._fault_game import a_fault_loses

PARAMS = ProtocolParams(reveal_depth=2, challenge_window=600, clock_budget=600, request_timeout=3600)
#: The op codes this file disputes (tests/dispute/test_every_operator.py counts them as covered).
NFC_RUN_OPS = {OpCode.NFC_REORDER, OpCode.NFC_STAGE}


@pytest.fixture(scope="module")
def graph():
    model, x = nfc_run_graph()
    commitment = ModelCommitment(model)
    return commitment, x, ExecutionCommitment(commitment, run(model, [x]))


def test_the_chain_equals_tokenizers_nfc(graph):
    """The graph disputed below computes tokenizers' NFC of the pieces around the added token, runs past C
    included (the honest run is the right one)."""
    from tokenizers import normalizers

    _, _, honest = graph
    chars = honest.trace.outputs[6].reshape(-1).tolist()
    head, tail = TEXT.split(TOKEN)
    nfc = normalizers.NFC().normalize_str
    assert nfc(head) == "\u00e1" + "\u0316" * 4 + " \u00e9" + "\u0316" * 6 + "\u0323"
    assert "".join(chr(c) for c in chars if c >= 0) == nfc(head) + TOKEN + nfc(tail)


@pytest.mark.parametrize("node,which", [(2, "moved"), (4, "composite"), (5, "absorbed"), (5, "composite")])
def test_a_corrupted_nfc_run_element_loses_the_game(graph, protocol, owner, submitter, challenger, node, which):
    commitment, x, honest = graph
    registry, game = protocol
    out = honest.trace.outputs[node].reshape(-1)
    before = honest.trace.outputs[node - 1].reshape(-1)
    if which == "moved":   # the dot below sorted in front of the acute after e's six lower-class marks
        element = int(np.flatnonzero(out != before)[0])
    elif which == "composite":
        element = int(np.flatnonzero((out == (0xE1 if node == 4 else 0xE9)) & (before != out))[0])
    else:
        element = int(np.flatnonzero((out == -1) & (before != -1))[0])
    model_id = registry.registerModel(model_spec(commitment.model, 0, owner.address), sender=owner).return_value
    a_fault_loses(game, model_id, commitment, x, honest, node, element, submitter, challenger)

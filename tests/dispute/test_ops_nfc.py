"""A dispute through each NFC op (issue 14): a submitter that corrupts one element of NFC_COMPOSE's output (an
absorbed mark's -1, a composite) or of NFC_COMPACT's (a normalized char in mode 0, a moved added-token match in
mode 1) loses the game to the honest challenger through that node's one-step proof (NfcOps), on
bench/_nfc_graph.py's chain: chars in, ADDED_TOKENS, CHAR_MAP(NFD), NFC_COMPOSE, NFC_COMPACT x2."""

from __future__ import annotations


import numpy as np
import pytest

from bench._nfc_graph import TEXT, TOKEN, nfc_graph
from offchain.chain.params import ProtocolParams
from offchain.chain.registration import model_spec
from offchain.dispute.commitment import ExecutionCommitment, ModelCommitment
from offchain.engine.executor import run
from offchain.engine.ops import OpCode

from ._fault_game import a_fault_loses

PARAMS = ProtocolParams(reveal_depth=2, challenge_window=600, clock_budget=600, request_timeout=3600)
#: The op codes this file disputes (tests/dispute/test_every_operator.py counts them as covered).
NFC_OPS = {OpCode.NFC_COMPOSE, OpCode.NFC_COMPACT}


@pytest.fixture(scope="module")
def graph():
    model, x = nfc_graph()
    commitment = ModelCommitment(model)
    return commitment, x, ExecutionCommitment(commitment, run(model, [x]))


def test_the_chain_equals_tokenizers_nfc(graph):
    """The graph disputed below computes tokenizers' NFC of the pieces around the added token (the honest run is
    the right one) and moves the token's match along."""
    from tokenizers import normalizers

    _, _, honest = graph
    chars, moved = (honest.trace.outputs[k].reshape(-1).tolist() for k in (3, 4))
    head, tail = TEXT.split(TOKEN)
    nfc = normalizers.NFC().normalize_str
    want = nfc(head) + TOKEN + nfc(tail)
    assert "".join(chr(c) for c in chars if c >= 0) == want
    assert moved[len(nfc(head))] == 900 and moved.count(-2) == len(TOKEN) - 1


@pytest.mark.parametrize("node,which", [(2, "absorbed"), (2, "composite"), (3, "char"), (4, "match")])
def test_a_corrupted_nfc_element_loses_the_game(graph, protocol, owner, submitter, challenger, node, which):
    commitment, x, honest = graph
    registry, game = protocol
    out = honest.trace.outputs[node].reshape(-1)
    nfd = honest.trace.outputs[1].reshape(-1)
    if which == "absorbed":
        element = int(np.flatnonzero((out == -1) & (nfd > 0))[0])
    elif which == "composite":
        element = int(np.flatnonzero(out == 0x1E1D if 0x1E1D in out else out == 0xAC01)[0])
    elif which == "char":
        element = int(np.flatnonzero(out == 0xC5)[0])
    else:
        element = int(np.flatnonzero(out == 900)[0])
    model_id = registry.registerModel(model_spec(commitment.model, 0, owner.address), sender=owner).return_value
    a_fault_loses(game, model_id, commitment, x, honest, node, element, submitter, challenger)

"""A dispute through each added-token op (issue 14): a submitter that corrupts one element of an ADDED_MATCH node's
output (a match's id in the first node of the chain, a match's end in the second, which reads the first as prev)
or of ADDED_RESOLVE's (a covered position) loses the game to the honest challenger through that node's one-step
proof (AddedOps), on bench/_added_graph.py's chain: chars in, ADDED_MATCH -> ADDED_MATCH -> ADDED_RESOLVE."""

from __future__ import annotations


import numpy as np
import pytest

from bench._added_graph import added_graph
from offchain.chain.params import ProtocolParams
from offchain.chain.registration import model_spec
from offchain.dispute.commitment import ExecutionCommitment, ModelCommitment
from offchain.engine.executor import run
from offchain.engine.ops import OpCode
from offchain.engine.ops.pretok import added_matches

from ._fault_game import a_fault_loses

PARAMS = ProtocolParams(reveal_depth=2, challenge_window=600, clock_budget=600, request_timeout=3600)
#: The op codes this file disputes (tests/dispute/test_every_operator.py counts them as covered).
ADDED_OPS = {OpCode.ADDED_MATCH, OpCode.ADDED_RESOLVE}


@pytest.fixture(scope="module")
def graph():
    model, x = added_graph()
    commitment = ModelCommitment(model)
    return commitment, x, ExecutionCommitment(commitment, run(model, [x]))


def test_the_chain_equals_added_tokens(graph):
    """The graph disputed below computes what ADDED_TOKENS would (the honest run is the right one)."""
    from bench._added_graph import TOKENS

    commitment, x, honest = graph
    width = max(len(t) for t in TOKENS)
    rows = np.full((len(TOKENS), width + 1), -1, dtype=np.int32)
    for k, t in enumerate(TOKENS):
        rows[k, 0] = 500 + k
        rows[k, 1:1 + len(t)] = [ord(c) for c in t]
    out = honest.trace.outputs[2].reshape(-1).tolist()
    assert out == added_matches(x.tolist(), rows.reshape(-1).tolist(), width + 1)
    assert sum(v >= 0 for v in out) >= 5 and -2 in out


@pytest.mark.parametrize("node,which", [(0, "id"), (1, "end"), (2, "covered")])
def test_a_corrupted_added_element_loses_the_game(graph, protocol, owner, submitter, challenger, node, which):
    commitment, x, honest = graph
    registry, game = protocol
    out = honest.trace.outputs[node].reshape(-1)
    if which == "id":
        element = int(np.flatnonzero(out[0::2] >= 0)[0]) * 2
    elif which == "end":
        ids = out[0::2]
        mine = honest.trace.outputs[0].reshape(-1)[0::2]
        element = int(np.flatnonzero((ids >= 0) & (mine < 0))[0]) * 2 + 1   # a match the second node found
    else:
        element = int(np.flatnonzero(out == -2)[0])
    model_id = registry.registerModel(model_spec(commitment.model, 0, owner.address), sender=owner).return_value
    a_fault_loses(game, model_id, commitment, x, honest, node, element, submitter, challenger)

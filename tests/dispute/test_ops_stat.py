"""A dispute through each sd-unet-block op (issue 16): a submitter that corrupts one element of EXP's output (each of
its three forms: e^x, e^(x - m), e^(x - m) / S) or of RSQRT's loses the game to the honest challenger through that
node's one-step proof (StatOps), on bench/_stat_graph.py's two-pass softmax and mean-square normalisation."""

from __future__ import annotations

import pytest

from bench._stat_graph import EXP_DIV_NODE, EXP_MAX_NODE, EXP_NODE, RSQRT_NODE, stat_graph
from offchain.chain.params import ProtocolParams
from offchain.chain.registration import model_spec
from offchain.dispute.commitment import ExecutionCommitment, ModelCommitment
from offchain.engine.executor import run
from offchain.engine.ops import OpCode

from ._fault_game import a_fault_loses

PARAMS = ProtocolParams(reveal_depth=2, challenge_window=600, clock_budget=600, request_timeout=3600)
#: The op codes this file disputes (tests/dispute/test_every_operator.py counts them as covered).
STAT_OPS = {OpCode.RSQRT, OpCode.EXP}


@pytest.fixture(scope="module")
def graph():
    model, x = stat_graph()
    commitment = ModelCommitment(model)
    return commitment, x, ExecutionCommitment(commitment, run(model, [x]))


def test_the_graph_runs_each_op_where_the_disputes_look(graph):
    commitment, _, _ = graph
    ops = [n.op for n in commitment.model.graph.nodes]
    assert [ops[k] for k in (EXP_NODE, EXP_MAX_NODE, EXP_DIV_NODE, RSQRT_NODE)] == [OpCode.EXP] * 3 + [OpCode.RSQRT]
    assert [len(commitment.model.graph.nodes[k].inputs) for k in (EXP_NODE, EXP_MAX_NODE, EXP_DIV_NODE)] == [1, 2, 3]


@pytest.mark.parametrize("node,element", [(EXP_NODE, 5), (EXP_MAX_NODE, 2), (EXP_DIV_NODE, 11), (RSQRT_NODE, 1)])
def test_a_corrupted_element_loses_the_game(graph, protocol, owner, submitter, challenger, node, element):
    commitment, x, honest = graph
    registry, game = protocol
    model_id = registry.registerModel(model_spec(commitment.model, 0, owner.address), sender=owner).return_value
    a_fault_loses(game, model_id, commitment, x, honest, node, element, submitter, challenger)

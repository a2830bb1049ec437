"""A dispute through each KV-cache operator: a submitter that corrupts one element of an ALIGN_END, ATTN_BIAS or
CAT_MATMUL (axis 0 and axis 1) node's output (and runs the rest of the graph on it) loses the game to the honest
challenger through that node's one-step proof (CacheOps). The graph is hand-built so that the CAT_MATMUL blocks mix
an earlier node's output (its root proven against the trace root) with weights (proven against the weights root),
as a decode step's cache does."""

from __future__ import annotations


import pytest

from offchain.chain.params import ProtocolParams
from offchain.chain.registration import model_spec
from offchain.dispute.commitment import ExecutionCommitment, ModelCommitment
from offchain.engine.executor import run
from offchain.engine.ops import OpCode
from offchain.models.cache_graph import NEG, PAD, cache_graph

from ._fault_game import a_fault_loses

PARAMS = ProtocolParams(reveal_depth=2, challenge_window=600, clock_budget=600, request_timeout=3600)
#: The op codes this file disputes (tests/dispute/test_every_operator.py counts them as covered).
CACHE_OPS = {OpCode.CAT_MATMUL, OpCode.ATTN_BIAS, OpCode.ALIGN_END}
@pytest.fixture(scope="module")
def graph():
    model, x = cache_graph()
    commitment = ModelCommitment(model)
    honest = ExecutionCommitment(commitment, run(model, [x]))
    return commitment, x, honest


def test_the_graph_aligns_and_masks(graph):
    commitment, x, honest = graph
    trace = honest.trace
    assert trace.outputs[0].reshape(-1).tolist() == [PAD] * 3 + [5, 9, 11]
    bias = trace.outputs[1]
    for r in range(6):
        q = 3 + r % 3  # lead = 3 pads: keys 0..2 masked, keys past q masked
        assert bias[r].tolist() == [NEG if (j > q or j < 3) else 0 for j in range(6)]
    assert {n.op for n in commitment.model.graph.nodes} == CACHE_OPS


@pytest.mark.parametrize("node_index, element", [
    (0, 4),    # ALIGN_END: a moved token
    (1, 9),    # ATTN_BIAS: row 1, key 3 (query 4: unmasked)
    (1, 6),    # ATTN_BIAS: row 1, key 0 (a pad: masked)
    (2, 7),    # CAT_MATMUL axis 0: column 7, in the weight block
    (2, 10),   # CAT_MATMUL axis 0: row 1, column 2, in the activation block
    (3, 13),   # CAT_MATMUL axis 1: row 2, column 1 (reads both blocks)
], ids=["align", "bias-open", "bias-pad", "cat0-weight", "cat0-activation", "cat1"])
def test_a_corrupted_cache_element_loses_the_game(graph, protocol, owner, submitter, challenger, node_index, element):
    commitment, x, honest = graph
    registry, game = protocol
    model_id = registry.registerModel(model_spec(commitment.model, 0, owner.address), sender=owner).return_value
    a_fault_loses(game, model_id, commitment, x, honest, node_index, element, submitter, challenger)

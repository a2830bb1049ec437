"""A dispute through each generation operator (issue 15): a submitter that corrupts one element of a GEN_PARAMS,
TOPK (mode 0 and mode 1), PRNG, SAMPLE or GEN_STOP node's output, and runs the rest of the graph on it, loses the
game to the honest challenger through that node's one-step proof (GenOps), on a hand-built two-step sampler:
request bytes -> GEN_PARAMS; committed logits -> TOPK blocks -> TOPK merge; then per step PRNG -> SAMPLE ->
GEN_STOP (step 1 reads step 0's stop output) (offchain/models/sampler.py)."""

from __future__ import annotations


import pytest

from offchain.chain.params import ProtocolParams
from offchain.chain.registration import model_spec
from offchain.dispute.commitment import ExecutionCommitment, ModelCommitment
from offchain.engine.executor import run
from offchain.engine.ops import OpCode
from offchain.models.sampler import EOS, K, V, sampler_input, sampler_model

from ._fault_game import a_fault_loses

PARAMS = ProtocolParams(reveal_depth=2, challenge_window=600, clock_budget=600, request_timeout=3600)
#: The op codes this file disputes (tests/dispute/test_every_operator.py counts them as covered).
SAMPLE_OPS = {OpCode.GEN_PARAMS, OpCode.TOPK, OpCode.PRNG, OpCode.SAMPLE, OpCode.GEN_STOP}


@pytest.fixture(scope="module")
def sampler():
    model = sampler_model()
    x = sampler_input()
    commitment = ModelCommitment(model)
    return commitment, x, ExecutionCommitment(commitment, run(model, [x]))


def test_the_sampler_is_what_it_claims(sampler):
    commitment, _, honest = sampler
    outs = honest.trace.outputs
    assert outs[0].tolist() == [3, 80, 5, 77]
    logits = commitment.model.weights[0].reshape(-1)
    top = sorted(range(V), key=lambda i: (-int(logits[i]), i))[:K]
    assert outs[2].reshape(K, 2)[:, 1].tolist() == top
    tokens = [int(outs[4][0]), int(outs[7][0])]
    assert all(t in top[:5] for t in tokens)  # top_k 5 of the K = 8 candidates
    assert [int(outs[5][0]), int(outs[8][0])] == [tokens[0], -1 if tokens[0] == EOS else tokens[1]]


@pytest.mark.parametrize("node_index, element", [
    (0, 1),                   # GEN_PARAMS' temperature
    (1, 2 * K * 2 + 2 * 7),   # TOPK mode 0: the last block's 8th value (its costliest entry)
    (2, 2 * 3 + 1),           # TOPK mode 1: the 4th candidate's index
    (3, 0),                   # PRNG step 0
    (7, 0),                   # SAMPLE step 1
    (8, 0),                   # GEN_STOP step 1 (reads step 0's stop output)
], ids=["GEN_PARAMS", "TOPK_blocks", "TOPK_merge", "PRNG", "SAMPLE", "GEN_STOP"])
def test_a_corrupted_element_loses_the_game(sampler, protocol, owner, submitter, challenger, node_index, element):
    commitment, x, honest = sampler
    registry, game = protocol
    assert commitment.model.graph.nodes[node_index].op in SAMPLE_OPS
    model_id = registry.registerModel(model_spec(commitment.model, 0, owner.address), sender=owner).return_value
    a_fault_loses(game, model_id, commitment, x, honest, node_index, element, submitter, challenger)

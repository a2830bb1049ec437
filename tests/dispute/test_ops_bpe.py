"""A dispute through each BPE operator: a submitter that corrupts one element of a BPE_SYMBOLS, PAIR_RANK, BPE_MERGE
or BPE_IDS node's output (and runs the rest of the graph on it) loses the game to the honest challenger through
that node's one-step proof (BpeOps), on a small hand-built BPE graph of the SentencePiece tokenizer
(bench/_bpe_graph.py: code points in, framed ids out, three merge rounds)."""

from __future__ import annotations


import numpy as np
import pytest

from bench._bpe_graph import bpe_graph
from offchain.chain.params import ProtocolParams
from offchain.chain.registration import model_spec
from offchain.dispute.commitment import ExecutionCommitment, ModelCommitment
from offchain.engine.executor import run
from offchain.engine.ops import OpCode
from offchain.engine.ops.bpe import INF_RANK

from ._fault_game import a_fault_loses

PARAMS = ProtocolParams(reveal_depth=2, challenge_window=600, clock_budget=600, request_timeout=3600)
#: The op codes this file disputes (tests/dispute/test_every_operator.py counts them as covered).
BPE_OPS = {OpCode.BPE_SYMBOLS, OpCode.PAIR_RANK, OpCode.BPE_MERGE, OpCode.BPE_IDS}


@pytest.fixture(scope="module")
def graph():
    model, x = bpe_graph()
    commitment = ModelCommitment(model)
    return commitment, x, ExecutionCommitment(commitment, run(model, [x]))


def _element(op: OpCode, honest, node_index: int) -> int:
    """An element whose corruption matters: a char's first symbol, a found merge's rank, a slot the round merged,
    the first piece."""
    out = honest.trace.outputs[node_index].reshape(-1)
    if op == OpCode.BPE_SYMBOLS:
        return int(np.flatnonzero(out != -1)[1])
    if op == OpCode.PAIR_RANK:
        return 2 * int(np.flatnonzero(out[0::2] != INF_RANK)[0])
    if op == OpCode.BPE_MERGE:
        before = honest.trace.outputs[node_index - 2].reshape(-1)
        return int(np.flatnonzero(out != before)[0])
    return 1


@pytest.mark.parametrize("op", sorted(BPE_OPS), ids=lambda op: OpCode(op).name)
def test_a_corrupted_bpe_element_loses_the_game(graph, protocol, owner, submitter, challenger, op):
    commitment, x, honest = graph
    registry, game = protocol
    nodes = commitment.model.graph.nodes
    node_index = min(i for i, n in enumerate(nodes) if n.op == op)
    element = _element(op, honest, node_index)
    model_id = registry.registerModel(model_spec(commitment.model, 0, owner.address), sender=owner).return_value
    a_fault_loses(game, model_id, commitment, x, honest, node_index, element, submitter, challenger)

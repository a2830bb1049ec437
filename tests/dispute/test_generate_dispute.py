"""Disputes inside a text-generating model (issue 15): a submitter that corrupts one element in the prefill, in a
middle decode step's logits, in a decode step's cached attention (CAT_MATMUL), in the sampler or in the
detokenizer, and runs the rest of the graph on it, loses the game to the honest challenger at exactly that node's
one-step proof — on the generating graph of the committed reference checkpoint llm-small (sampling on, so the
sampler's PRNG and temperature path is the one disputed)."""

from __future__ import annotations


import numpy as np
import pytest

from offchain.chain.params import ProtocolParams
from offchain.chain.registration import model_spec
from offchain.dispute.commitment import ExecutionCommitment, ModelCommitment
from offchain.dispute.faults import run_with_fault
from offchain.engine.executor import run
from offchain.engine.ops import OpCode
from offchain.models.generate import (GenerationConfig, compile_generator, generated_ids, request_bytes,
                                      request_tensor)
from offchain.models.train_llm import SMALL_DIR

from ._fault_game import a_fault_loses

PARAMS = ProtocolParams(reveal_depth=3, challenge_window=600, clock_budget=600, request_timeout=3600)
B, T, N = 32, 12, 6


@pytest.fixture(scope="module")
def generating():
    gen = compile_generator(SMALL_DIR, GenerationConfig(prompt_bytes=B, prompt_tokens=T, max_new=N, top_k=8))
    x = request_tensor(gen, request_bytes("The capital of France", temperature=0.9, seed=11, prompt_bytes=B))
    commitment = ModelCommitment(gen.model)
    honest = ExecutionCommitment(commitment, run(gen.model, [x]))
    return gen, commitment, x, honest


def _node(gen, op: OpCode, prefix: str, last: bool = True) -> int:
    found = [i for i, n in enumerate(gen.model.graph.nodes) if n.op == op and n.source.startswith(prefix)]
    assert found, (op, prefix)
    return found[-1] if last else found[0]


SITES = {
    "prefill": lambda g: (_node(g, OpCode.LINEAR, "prefill:", last=False), 5),        # layer 0's q projection
    "decode-logit": lambda g: (_node(g, OpCode.LINEAR, f"step{N // 2}:"), 17),       # the middle step's logits
    "decode-cache": lambda g: (_node(g, OpCode.CAT_MATMUL, f"step{N - 1}:"), 3),     # attention over the cache
    "sampler": lambda g: (_node(g, OpCode.SAMPLE, f"gen.{N // 2}."), 0),
    "detokenizer": lambda g: (_node(g, OpCode.DETOK_BYTES, "detok."), 1),
}


@pytest.mark.parametrize("site", list(SITES))
def test_a_fault_inside_generation_loses_the_game(generating, protocol, owner, submitter, challenger, site):
    gen, commitment, x, honest = generating
    node, element = SITES[site](gen)
    registry, game = protocol
    model_id = registry.registerModel(model_spec(commitment.model, 0, owner.address), sender=owner).return_value
    a_fault_loses(game, model_id, commitment, x, honest, node, element, submitter, challenger, delta=40)


def test_a_corrupted_middle_logit_changes_the_delivered_text(generating):
    """The demo's fault: raising one logit of a middle step changes that step's token and the text after it."""
    gen, _, x, honest = generating
    node = _node(gen, OpCode.LINEAR, f"step{N // 2}:")
    logits = np.asarray(honest.trace.outputs[node]).reshape(-1)
    wrong = int(np.argsort(logits)[-2])       # the runner-up token
    faulty = run_with_fault(gen.model, [x], node, wrong, delta=20000)
    assert generated_ids(gen, faulty) != generated_ids(gen, honest.trace)
    assert not np.array_equal(faulty.output, honest.trace.output)

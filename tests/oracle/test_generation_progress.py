"""Submitter progress for generating models: the executor's per-node ``progress`` hook (called once per node, the
trace unchanged), the one-line-per-token rule of offchain/nodes/progress.py, and the node's
``event=generate tokens=K/N tok_s=X.X`` log lines while it computes a request of a generating model (the echo
stand-in of tests/oracle/_text_standin.py, whose ADD nodes have the sources ``gen.<t>.emitted``)."""

from __future__ import annotations

import dataclasses
import logging
import re

import numpy as np
import pytest
from ape.utils import ZERO_ADDRESS

from offchain.chain.encoding import generation_request, input_tensor
from offchain.dispute.commitment import ModelCommitment
from offchain.dispute.faults import run_with_fault
from offchain.engine.executor import run
from offchain.nodes.node import Roles
from offchain.nodes.progress import emitted_tokens, generation_progress

from ._text_standin import echo_generator
from .conftest import make_node, register_model

B, STEPS = 16, 4


def _request(model, prompt="Go on"):
    return input_tensor(model.graph, generation_request(prompt, B))


def test_the_progress_hook_is_called_once_per_node_and_changes_nothing():
    model = echo_generator(B, STEPS)
    x = _request(model)
    plain = run(model, [x])
    seen: list[int] = []
    hooked = run(model, [x], progress=seen.append)
    assert seen == list(range(STEPS))
    assert all(np.array_equal(a, b) for a, b in zip(plain.outputs, hooked.outputs))
    seen.clear()
    run(model, [x], given={1: plain.outputs[1]}, progress=seen.append)   # a given node is reported too
    assert seen == list(range(STEPS))
    seen.clear()
    faulty = run_with_fault(model, [x], 2, 0, 3, progress=seen.append)
    assert seen == list(range(STEPS)) and int(faulty.output[0]) == int(plain.output[0]) + 3


def test_one_line_per_token_with_its_rate():
    model = echo_generator(B, STEPS)
    # Node 2 repeats token 1 (a generator may have several nodes per token) and token 2 has no node: token 1 is
    # logged once, and K counts tokens by their index.
    nodes = list(model.graph.nodes)
    nodes[2] = dataclasses.replace(nodes[2], source="gen.1.emitted.copy")
    model.graph.nodes = nodes
    assert emitted_tokens(model) == {0: 0, 1: 1, 2: 1, 3: 3}
    ticks = iter([10.0, 10.25, 11.0, 14.0])
    lines: list[tuple] = []
    hook = generation_progress(model, lambda event, **f: lines.append((event, f)), clock=lambda: next(ticks))
    run(model, [_request(model)], progress=hook)
    assert lines == [("generate", {"tokens": "1/4", "tok_s": "4.0"}), ("generate", {"tokens": "2/4", "tok_s": "2.0"}),
                     ("generate", {"tokens": "4/4", "tok_s": "1.0"})]
    plain = echo_generator(B, STEPS)
    del plain.meta["generation"]
    assert generation_progress(plain, lambda *a, **f: pytest.fail("no hook for a non-generating model")) is None


def test_the_submitter_node_logs_generation_progress(protocol, owner, model_owner, user, submitter, tmp_path,
                                                     caplog):
    model = echo_generator(B, STEPS)
    commitment = ModelCommitment(model)
    model_id = register_model(protocol.registry, owner, model_owner, model)
    oracle = protocol.oracle
    oracle.requestCallback(model_id, b"Tell me more", ZERO_ADDRESS, 0, b"", sender=user,
                           value=oracle.estimateFee(model_id, 0))
    node = make_node(protocol, submitter, commitment, model_id, tmp_path / "node.db", Roles(submit=True),
                     name="submitter")
    with caplog.at_level(logging.INFO):
        node.poll_once()
    lines = [r.getMessage() for r in caplog.records if "event=generate" in r.getMessage()]
    assert len(lines) == STEPS
    for k, line in enumerate(lines, start=1):
        assert re.fullmatch(rf"node=submitter event=generate request=1 tokens={k}/{STEPS} tok_s=\d+\.\d", line), line
    assert any("event=submitted request=1" in r.getMessage() for r in caplog.records)

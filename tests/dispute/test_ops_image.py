"""A dispute through each image op (issue 16): a submitter that corrupts one element of NOISE's output (a noise
value), of either DDIM_STEP's (the first step's x_mid, the last step's clipped x_0 at the clip bound and inside it)
or of PIXELS' (a mid-grey pixel byte and a saturated one) loses the game to the honest challenger through that
node's one-step proof (ImageOps), on bench/_image_graph.py's K = 2 sampler: seed in, NOISE, MUL, DDIM_STEP, MUL,
DDIM_STEP, PIXELS."""

from __future__ import annotations

import numpy as np
import pytest

from bench._image_graph import FIRST_STEP, FRAC, LAST_STEP, NOISE_NODE, PIXELS_NODE, image_graph
from offchain.chain.params import ProtocolParams
from offchain.chain.registration import model_spec
from offchain.dispute.commitment import ExecutionCommitment, ModelCommitment
from offchain.engine.executor import run
from offchain.engine.ops import OpCode

from ._fault_game import a_fault_loses

PARAMS = ProtocolParams(reveal_depth=2, challenge_window=600, clock_budget=600, request_timeout=3600)
#: The op codes this file disputes (tests/dispute/test_every_operator.py counts them as covered).
IMAGE_OPS = {OpCode.NOISE, OpCode.DDIM_STEP, OpCode.PIXELS}


@pytest.fixture(scope="module")
def graph():
    model, x = image_graph()
    commitment = ModelCommitment(model)
    return commitment, x, ExecutionCommitment(commitment, run(model, [x]))


def _pick(honest, node: int, which: str) -> int:
    out = honest.trace.outputs[node].reshape(-1).astype(np.int64)
    if which == "clipped":  # the last step's x_0 sits at the clip bound 2^FRAC
        return int(np.flatnonzero(np.abs(out) == 1 << FRAC)[0])
    if which == "inside":
        return int(np.flatnonzero(np.abs(out) < (1 << FRAC) - 8)[0])
    if which == "grey":  # a pixel byte strictly between 0 and 255
        return int(np.flatnonzero((out & 0xFF) % 255 != 0)[0])
    if which == "saturated":
        return int(np.flatnonzero(out == -1)[0])  # byte 255
    return 7


@pytest.mark.parametrize("node,which", [(NOISE_NODE, "any"), (FIRST_STEP, "any"), (LAST_STEP, "clipped"),
                                        (LAST_STEP, "inside"), (PIXELS_NODE, "grey"), (PIXELS_NODE, "saturated")])
def test_a_corrupted_image_element_loses_the_game(graph, protocol, owner, submitter, challenger, node, which):
    commitment, x, honest = graph
    assert commitment.model.graph.nodes[node].op in IMAGE_OPS
    registry, game = protocol
    element = _pick(honest, node, which)
    model_id = registry.registerModel(model_spec(commitment.model, 0, owner.address), sender=owner).return_value
    a_fault_loses(game, model_id, commitment, x, honest, node, element, submitter, challenger)

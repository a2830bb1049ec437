"""Disputes inside the text-to-image model (issue 16): on the committed digits-diffusion graph, a submitter that
corrupts one element of the seeded noise (NOISE), of a middle denoising step (the denoiser's output layer in step
K/2, and that step's DDIM update), or of the final scaling (PIXELS), and runs the rest of the graph on it, loses the
game to the honest challenger at exactly that node's one-step proof; and each such fault changes the image."""

from __future__ import annotations

import numpy as np
import pytest

from offchain.chain.params import ProtocolParams
from offchain.chain.registration import model_spec
from offchain.dispute.commitment import ExecutionCommitment, ModelCommitment
from offchain.dispute.faults import run_with_fault
from offchain.engine.executor import run
from offchain.engine.ops import OpCode
from offchain.models import diffusion

from ._fault_game import a_fault_loses

PARAMS = ProtocolParams(reveal_depth=3, challenge_window=600, clock_budget=600, request_timeout=3600)


@pytest.fixture(scope="module")
def imaging():
    im = diffusion.build_image_model()
    x = diffusion.request_tensor(diffusion.image_request("a handwritten seven", 7))
    commitment = ModelCommitment(im.model)
    honest = ExecutionCommitment(commitment, run(im.model, [x]))
    return im, commitment, x, honest


def _middle_denoiser_out(im) -> int:
    """The last LINEAR before step K/2's DDIM_STEP: the denoiser's eps output layer in that step."""
    ddim = im.nodes[f"ddim{im.config.ddim_steps // 2}"]
    return max(i for i, n in enumerate(im.model.graph.nodes[:ddim]) if n.op == OpCode.LINEAR)


SITES = {
    "noise": lambda im: (im.nodes["noise"], 9, OpCode.NOISE),
    "denoiser-middle-step": lambda im: (_middle_denoiser_out(im), 20, OpCode.LINEAR),
    "ddim-middle-step": lambda im: (im.nodes[f"ddim{im.config.ddim_steps // 2}"], 36, OpCode.DDIM_STEP),
    "pixels": lambda im: (im.nodes["pixels"], 27, OpCode.PIXELS),
}


@pytest.mark.parametrize("site", list(SITES))
def test_a_fault_inside_sampling_loses_the_game(imaging, protocol, owner, submitter, challenger, site):
    im, commitment, x, honest = imaging
    node, element, op = SITES[site](im)
    assert im.model.graph.nodes[node].op == op
    registry, game = protocol
    model_id = registry.registerModel(model_spec(commitment.model, 0, owner.address), sender=owner).return_value
    a_fault_loses(game, model_id, commitment, x, honest, node, element, submitter, challenger, delta=3000)


@pytest.mark.parametrize("site", list(SITES))
def test_each_fault_changes_the_image(imaging, site):
    im, _, x, honest = imaging
    node, element, _ = SITES[site](im)
    faulty = run_with_fault(im.model, [x], node, element, delta=3000)
    assert not np.array_equal(faulty.output, honest.trace.output)

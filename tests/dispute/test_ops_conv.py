"""A corrupted element of a depthwise conv and of a dilated padding="same" conv (CONV2D's long param form) loses
the game to the honest challenger through ConvOps' one-step proof: at a padding corner, where most of the
receptive field is padding, and in the middle. The model is compiled from PyTorch with its BatchNorm folded."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from ape import chain
from torch import nn

from offchain.chain.deployments import deploy_protocol
from offchain.chain.params import ProtocolParams
from offchain.chain.registration import model_spec
from offchain.dispute.commitment import ExecutionCommitment, ModelCommitment
from offchain.engine.compiler import compile_module
from offchain.engine.executor import run
from offchain.engine.ops import OpCode
from offchain.engine.ops.conv import conv_params

from ._fault_game import a_fault_loses

PARAMS = ProtocolParams(reveal_depth=2, challenge_window=600, clock_budget=600, request_timeout=3600)


class _DepthwiseBlock(nn.Module):
    """MobileNet-style: depthwise 3x3 dilation 2 "same" + BatchNorm + ReLU, then a dense (2, 3) kernel with
    dilation (3, 2) and padding "same" (pads 1 above, 2 below, 2 left and right), pooled."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.dw = nn.Conv2d(4, 4, 3, padding="same", dilation=2, groups=4)
        self.bn = nn.BatchNorm2d(4)
        self.same = nn.Conv2d(4, 6, (2, 3), padding="same", dilation=(3, 2))

    def forward(self, x):  # x [1, 4, 6, 7]
        return self.same(torch.relu(self.bn(self.dw(x)))).mean(dim=3)


@pytest.fixture(scope="module")
def compiled():
    samples = [(torch.randn(1, 4, 6, 7, generator=torch.Generator().manual_seed(s)),) for s in range(4)]
    model = compile_module(_DepthwiseBlock().eval(), samples[0], samples)
    spec = model.graph.inputs[0]
    x = np.clip(np.round(samples[1][0].numpy() * 2.0**spec.frac), spec.dtype.qmin, spec.dtype.qmax)
    commitment = ModelCommitment(model)
    x = x.astype(spec.dtype.numpy)
    return commitment, x, ExecutionCommitment(commitment, run(model, [x]))


def _conv_index(model, depthwise: bool) -> int:
    for i, n in enumerate(model.graph.nodes):
        if n.op == OpCode.CONV2D and (conv_params(n.params).groups > 1) == depthwise:
            return i
    raise AssertionError("no such conv")


def test_the_model_uses_the_long_form(compiled):
    model = compiled[0].model
    dw = conv_params(model.graph.nodes[_conv_index(model, True)].params)
    same = conv_params(model.graph.nodes[_conv_index(model, False)].params)
    assert (dw.groups, dw.dilation_h, dw.pad_top, dw.pad_bottom) == (4, 2, 2, 2)
    assert (same.dilation_h, same.dilation_w, same.pad_top, same.pad_bottom, same.pad_left) == (3, 2, 1, 2, 2)
    assert OpCode.MUL not in [n.op for n in model.graph.nodes], "the BatchNorm is folded"


@pytest.fixture(scope="module")
def protocol(project, accounts):
    """Deployed once for the module (as in the other test_ops_* files); ape's isolation reverts each game."""
    a = deploy_protocol(project, chain.provider, accounts[0], directory=Path(tempfile.mkdtemp()), params=PARAMS)
    return project.ModelRegistry.at(a["ModelRegistry"]), project.DisputeGame.at(a["DisputeGame"])


@pytest.mark.parametrize("depthwise, where", [(True, "corner"), (True, "middle"), (False, "corner"),
                                              (False, "middle")])
def test_a_corrupted_conv_element_loses(compiled, protocol, accounts, submitter, challenger, depthwise, where):
    commitment, x, honest = compiled
    owner = accounts[0]
    registry, game = protocol
    model_id = registry.registerModel(model_spec(commitment.model, 0, owner.address), sender=owner).return_value
    node_index = _conv_index(commitment.model, depthwise)
    out = commitment.model.graph.nodes[node_index].output
    # corner: the last element (bottom-right of the last channel), where the asymmetric pads lie
    element = out.size - 1 if where == "corner" else out.size // 2
    a_fault_loses(game, model_id, commitment, x, honest, node_index, element, submitter, challenger)

"""A dispute through each pooling operator: a submitter that corrupts one element of a MAXPOOL2D, AVGPOOL2D
(nn.AvgPool2d and nn.AdaptiveAvgPool2d's even windows) or AMAX node's output, and runs the rest of the model on
it, loses the game to the honest challenger through that node's one-step proof (PoolOps / ReduceOps), on a small
CNN compiled from PyTorch."""

from __future__ import annotations


import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from offchain.chain.params import ProtocolParams
from offchain.chain.registration import model_spec
from offchain.dispute.commitment import ExecutionCommitment, ModelCommitment
from offchain.engine.compiler import compile_module
from offchain.engine.executor import run
from offchain.engine.ops import OpCode

from ._fault_game import a_fault_loses

PARAMS = ProtocolParams(reveal_depth=2, challenge_window=600, clock_budget=600, request_timeout=3600)
#: The op codes this file disputes (tests/dispute/test_every_operator.py counts them as covered).
POOL_OPS = {OpCode.MAXPOOL2D, OpCode.AVGPOOL2D, OpCode.AMAX}


class _PoolNet(nn.Module):
    """Conv 3x3 -> ReLU -> MaxPool2d(2) -> AvgPool2d(3, s1, p1, count_include_pad=False) -> AdaptiveAvgPool2d(2)
    -> amax over H, W -> Linear: [1, 1, 8, 8] -> [1, 3]."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.avg = nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
        self.adapt = nn.AdaptiveAvgPool2d(2)
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        h = self.adapt(self.avg(self.pool(F.relu(self.conv(x)))))
        return self.fc(torch.amax(h, dim=(2, 3)))


@pytest.fixture(scope="module")
def pool_net():
    samples = [(torch.randn(1, 1, 8, 8, generator=torch.Generator().manual_seed(s)),) for s in range(4)]
    model = compile_module(_PoolNet().eval(), samples[0], samples)
    spec = model.graph.inputs[0]
    x = np.clip(np.round(samples[1][0].numpy() * 2.0**spec.frac), spec.dtype.qmin, spec.dtype.qmax)
    commitment = ModelCommitment(model)
    x = x.astype(spec.dtype.numpy)
    return commitment, x, ExecutionCommitment(commitment, run(model, [x]))


def test_the_net_has_each_pooling_node(pool_net):
    ops = [n.op for n in pool_net[0].model.graph.nodes]
    assert ops.count(OpCode.MAXPOOL2D) == 1 and ops.count(OpCode.AVGPOOL2D) == 2 and ops.count(OpCode.AMAX) == 1


@pytest.mark.parametrize("which", ["MAXPOOL2D", "AVGPOOL2D", "AVGPOOL2D-adaptive", "AMAX"])
def test_a_corrupted_pooling_element_loses_the_game(pool_net, protocol, owner, submitter, challenger, which):
    commitment, x, honest = pool_net
    registry, game = protocol
    nodes = commitment.model.graph.nodes
    at = [i for i, n in enumerate(nodes) if n.op == OpCode[which.split("-")[0]]]
    node_index = at[-1] if which.endswith("adaptive") else at[0]
    element = nodes[node_index].output.size - 1  # the bottom-right window (padded for AvgPool2d), the last row
    model_id = registry.registerModel(model_spec(commitment.model, 0, owner.address), sender=owner).return_value
    a_fault_loses(game, model_id, commitment, x, honest, node_index, element, submitter, challenger)

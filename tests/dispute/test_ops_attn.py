"""Issue 13 attention slice: a submitter that corrupts one element inside a compiled nn.MultiheadAttention block
(the mask ADD, the SOFTMAX, the attention MATMUL) or of the new EXPAND / WHERE operators, and runs the rest of the
model on it, loses the game to the honest challenger through that node's one-step proof.

Model: offchain/models/attention_block.py (LayerNorm -> nn.MultiheadAttention with a constant key-padding mask ->
residual -> torch.where with a constant mask over an expanded row), compiled from PyTorch.
"""

from __future__ import annotations

import pytest
from ape import chain

from offchain.chain.deployments import deploy_protocol
from offchain.chain.params import ProtocolParams
from offchain.chain.registration import model_spec
from offchain.dispute.commitment import ExecutionCommitment, ModelCommitment
from offchain.engine.dtypes import DType
from offchain.engine.executor import run
from offchain.engine.ops import OpCode
from offchain.models.attention_block import attention_block

from ._fault_game import a_fault_loses

PARAMS = ProtocolParams(reveal_depth=2, challenge_window=600, clock_budget=600, request_timeout=3600)

#: The new op codes this file's games cover (tests/dispute/test_every_operator.py counts them as covered).
OP_MODEL = {OpCode.EXPAND: "attention-block", OpCode.WHERE: "attention-block"}


@pytest.fixture(scope="module")
def block():
    model, x = attention_block()
    commitment = ModelCommitment(model)
    return commitment, x, ExecutionCommitment(commitment, run(model, [x]))


@pytest.fixture(scope="module")
def protocol(project, accounts):
    import tempfile
    from pathlib import Path

    a = deploy_protocol(project, chain.provider, accounts[0], directory=Path(tempfile.mkdtemp()), params=PARAMS)
    return project.ModelRegistry.at(a["ModelRegistry"]), project.DisputeGame.at(a["DisputeGame"])


def _in_attention(node) -> bool:
    return "MultiheadAttention" in node.source


def _target(nodes, fault: str) -> tuple[int, int]:
    """(node index, output element) of each fault."""
    def last(pred):
        return max(i for i, n in enumerate(nodes) if pred(n))

    if fault == "mask-add":
        # The INT32 score + mask node; element (batch 0, head 0, query 0, key T-1): a padded key's masked score.
        i = last(lambda n: n.op == OpCode.ADD and n.output.dtype == DType.INT32 and _in_attention(n))
        return i, nodes[i].output.shape[-1] - 1
    op = {"softmax": OpCode.SOFTMAX, "attention-matmul": OpCode.MATMUL, "expand": OpCode.EXPAND,
          "where": OpCode.WHERE}[fault]
    i = last(lambda n: n.op == op and (_in_attention(n) or op in (OpCode.EXPAND, OpCode.WHERE)))
    return i, nodes[i].output.size // 2 + 1


@pytest.mark.parametrize("fault", ["mask-add", "softmax", "attention-matmul", "expand", "where"])
def test_a_corrupted_element_loses_the_game(block, protocol, owner, submitter, challenger, fault):
    commitment, x, honest = block
    registry, game = protocol
    model_id = registry.registerModel(model_spec(commitment.model, 0, owner.address), sender=owner).return_value
    node_index, element = _target(commitment.model.graph.nodes, fault)
    a_fault_loses(game, model_id, commitment, x, honest, node_index, element, submitter, challenger)

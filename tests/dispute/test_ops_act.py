"""A dispute through each activation of issue 13: a submitter that corrupts one element of that op's output (and
runs the rest of the model on it) loses the game to the honest challenger through that op's one-step proof
(ActivationOps for TANH, SIGMOID, SOFTPLUS; PiecewiseOps for CLAMP, LEAKY_RELU, HARDSWISH, HARDSIGMOID).

One small model compiled from PyTorch (tests/engine/act_models.py: Linear, the eight nn.* activations side by
side, concatenated, Linear) holds all seven op codes.
"""

from __future__ import annotations


import pytest

from engine.act_models import ActModules, quantised_input, samples
from offchain.chain.params import ProtocolParams
from offchain.chain.registration import model_spec
from offchain.dispute.commitment import ExecutionCommitment, ModelCommitment
from offchain.engine.compiler import compile_module
from offchain.engine.executor import run
from offchain.engine.ops import OpCode

from ._fault_game import a_fault_loses

PARAMS = ProtocolParams(reveal_depth=2, challenge_window=600, clock_budget=600, request_timeout=3600)
#: The op codes this file disputes (tests/dispute/test_every_operator.py counts them as covered).
ACT_OPS = (OpCode.TANH, OpCode.SIGMOID, OpCode.CLAMP, OpCode.LEAKY_RELU, OpCode.HARDSWISH, OpCode.HARDSIGMOID,
           OpCode.SOFTPLUS)


@pytest.fixture(scope="module")
def act_model():
    module = ActModules().eval()
    cal = samples()
    model = compile_module(module, cal[0], cal)
    commitment = ModelCommitment(model)
    x = quantised_input(model, samples(seed=1)[0][0])
    return commitment, x, ExecutionCommitment(commitment, run(model, [x]))


def test_the_model_holds_every_act_op(act_model):
    assert set(ACT_OPS) <= {n.op for n in act_model[0].model.graph.nodes}


@pytest.mark.parametrize("op", ACT_OPS, ids=lambda op: OpCode(op).name)
def test_a_corrupted_element_of_each_activation_loses_the_game(act_model, protocol, owner, submitter, challenger,
                                                                op):
    commitment, x, honest = act_model
    registry, game = protocol
    model_id = registry.registerModel(model_spec(commitment.model, 0, owner.address), sender=owner).return_value
    nodes = commitment.model.graph.nodes
    node_index = max(i for i, n in enumerate(nodes) if n.op == op)
    element = nodes[node_index].output.size // 2 + 1
    credit_before = game.credit(challenger)
    a_fault_loses(game, model_id, commitment, x, honest, node_index, element, submitter, challenger)
    assert game.credit(challenger) > credit_before + game.challengerBond()  # its bond back and part of the other

"""Fixtures for dispute games on anvil: the contracts, a registered tiny model, and executions of it."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from offchain.dispute.commitment import ExecutionCommitment, ModelCommitment
from offchain.engine.executor import run
from offchain.engine.ops import OpCode
from offchain.chain.params import MOOT_BASE_GAS, MOOT_GAS_PRICE, MOOT_MOVE_GAS
from offchain.chain.registration import model_spec
from offchain.models.tiny import tiny_input, tiny_mlp

SUBMITTER_BOND = 10**18
CHALLENGER_BOND = 5 * 10**17
WINDOW = 3600
CLOCK = 1800
BURN_BPS = 1000
# A moot game's compensation as the protocol states it: its challenger's gas (challenge + settleMoot + withdraw,
# plus each move) at MOOT_GAS_PRICE.
MOOT_BASE = MOOT_BASE_GAS * MOOT_GAS_PRICE
MOOT_MOVE = MOOT_MOVE_GAS * MOOT_GAS_PRICE


@dataclass
class Deployed:
    registry: object
    prover: object
    game: object


def deploy_dispute(project, owner, reveal_depth: int = 2, moot_base: int = MOOT_BASE) -> Deployed:
    registry = owner.deploy(project.ModelRegistry, owner)
    linear = owner.deploy(project.LinearOps)
    unary = owner.deploy(project.UnaryOps)
    codes = [OpCode.LINEAR, OpCode.MATMUL, OpCode.RELU, OpCode.NEG, OpCode.RESCALE]
    impls = [linear, linear, unary, unary, unary]
    prover = owner.deploy(project.OneStepProver, [int(c) for c in codes], impls)
    config = (registry, prover, SUBMITTER_BOND, CHALLENGER_BOND, WINDOW, CLOCK, reveal_depth, BURN_BPS, moot_base,
              MOOT_MOVE)
    game = owner.deploy(project.DisputeGame, config, owner)
    return Deployed(registry, prover, game)


def register(registry, owner, model_owner, commitment: ModelCommitment) -> int:
    return registry.registerModel(model_spec(commitment.model, 10**15, model_owner), sender=owner).return_value


@pytest.fixture(scope="module")
def tiny():
    model = tiny_mlp()
    return ModelCommitment(model)


@pytest.fixture(scope="module")
def tiny_honest(tiny):
    return ExecutionCommitment(tiny, run(tiny.model, [tiny_input()]))


@pytest.fixture(scope="module")
def deployed(project, owner):
    """Deployed once per module: ape's isolation reverts every test's transactions, so each test starts from the
    freshly deployed contracts, as a per-test deploy gave."""
    return deploy_dispute(project, owner)


@pytest.fixture
def tiny_model_id(deployed, owner, model_owner, tiny):
    return register(deployed.registry, owner, model_owner, tiny)


@pytest.fixture(scope="module")
def protocol(project, accounts, request):
    """(ModelRegistry, DisputeGame) of the protocol deployed once for the test module, with the module's ``PARAMS``
    (the per-operator dispute files' shared deployment)."""
    import tempfile
    from pathlib import Path

    from ape import chain

    from offchain.chain.deployments import deploy_protocol

    a = deploy_protocol(project, chain.provider, accounts[0], directory=Path(tempfile.mkdtemp()),
                        params=request.module.PARAMS)
    return project.ModelRegistry.at(a["ModelRegistry"]), project.DisputeGame.at(a["DisputeGame"])

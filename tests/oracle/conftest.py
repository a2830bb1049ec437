"""The whole protocol on anvil with the tiny MLP registered, for oracle and node tests."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from offchain.chain.deployments import deploy_protocol
from offchain.chain.params import ProtocolParams
from offchain.dispute.commitment import ModelCommitment
from offchain.chain.registration import model_spec

from offchain.models.tiny import tiny_mlp

PARAMS = ProtocolParams(challenge_window=60, clock_budget=120, request_timeout=600)
MODEL_FEE = 10**15
CALLBACK_GAS = 200_000


@dataclass
class Protocol:
    registry: object
    game: object
    oracle: object
    prover: object


@pytest.fixture(scope="module")
def tiny_model():
    return ModelCommitment(tiny_mlp())


def register_model(registry, owner, receiver, model, fee=MODEL_FEE) -> int:
    return registry.registerModel(model_spec(model, fee, receiver), sender=owner).return_value


@pytest.fixture
def protocol(project, owner, tmp_path):
    a = deploy_protocol(project, __import__("ape").chain.provider, owner, directory=tmp_path, params=PARAMS)
    return Protocol(project.ModelRegistry.at(a["ModelRegistry"]), project.DisputeGame.at(a["DisputeGame"]),
                    project.AIOracle.at(a["AIOracle"]), project.OneStepProver.at(a["OneStepProver"]))


@pytest.fixture
def model_id(protocol, owner, model_owner, tiny_model):
    return register_model(protocol.registry, owner, model_owner, tiny_model.model)


@pytest.fixture
def classifier(project, protocol, owner, model_id):
    return owner.deploy(project.DigitsClassifier, protocol.oracle, model_id)


def tiny_image(seed: int = 3) -> bytes:
    return np.random.default_rng(seed).integers(-100, 101, size=16).astype(np.int8).tobytes()

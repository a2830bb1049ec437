"""The whole protocol on anvil with the tiny MLP registered, for oracle and node tests."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from ape.exceptions import ContractLogicError

from offchain.chain.deployments import deploy_protocol
from offchain.chain.errors import decode_error
from offchain.chain.params import ProtocolParams
from offchain.dispute.commitment import ModelCommitment
from offchain.chain.registration import model_spec

from offchain.models.tiny import tiny_mlp
from offchain.nodes.catalog import ServedModel
from offchain.nodes.node import Fault, Node, Roles
from offchain.nodes.store import NodeStore

PARAMS = ProtocolParams(challenge_window=60, clock_budget=120, request_timeout=600)
MODEL_FEE = 10**15
CALLBACK_GAS = 200_000


@dataclass
class Protocol:
    registry: object
    game: object
    oracle: object
    prover: object
    directory: Path   # holds the deployment record (deployments/<chain-id>.json): every address, e.g. ModelLauncher


@pytest.fixture(scope="module")
def tiny_model():
    return ModelCommitment(tiny_mlp())


def register_model(registry, owner, receiver, model, fee=MODEL_FEE) -> int:
    return registry.registerModel(model_spec(model, fee, receiver), sender=owner).return_value


@pytest.fixture(scope="module")
def protocol(project, owner, tmp_path_factory):
    """The protocol deployed once per module: ape's isolation reverts every test's transactions, so each test still
    starts from the freshly deployed contracts (no model registered, no request made), as a per-test deploy gave, for
    one deployment (~30 transactions) instead of one per test."""
    directory = tmp_path_factory.mktemp("deploy")
    a = deploy_protocol(project, __import__("ape").chain.provider, owner, directory=directory, params=PARAMS)
    return Protocol(project.ModelRegistry.at(a["ModelRegistry"]), project.DisputeGame.at(a["DisputeGame"]),
                    project.AIOracle.at(a["AIOracle"]), project.OneStepProver.at(a["OneStepProver"]), directory)


@pytest.fixture
def model_id(protocol, owner, model_owner, tiny_model):
    return register_model(protocol.registry, owner, model_owner, tiny_model.model)


@pytest.fixture
def classifier(project, protocol, owner, model_id):
    return owner.deploy(project.DigitsClassifier, protocol.oracle, model_id)


def tiny_image(seed: int = 3) -> bytes:
    return np.random.default_rng(seed).integers(-100, 101, size=16).astype(np.int8).tobytes()


#: The fault the tests' faulty submitter nodes inject: element 2 of node 3's output, off by 7.
NODE_FAULT = Fault(3, 2, 7)


def make_node(protocol, account, tiny_model, model_id, path, roles, fault=None, name="node"):
    """A node (in this process, polled by the test) serving the tiny model, its state in SQLite file ``path``."""
    from ape import chain

    return Node(protocol.oracle, protocol.game, account, {model_id: ServedModel(model_id, "tiny", tiny_model)},
                NodeStore(path), roles, fault=fault, name=name, chain=chain)


def faulty_submitter_node(protocol, account, tiny_model, model_id, path, fault=NODE_FAULT):
    return make_node(protocol, account, tiny_model, model_id, path, Roles(submit=True), fault=fault,
                     name="submitter")


def honest_challenger_node(protocol, account, tiny_model, model_id, path):
    """Disputes wrong results and posts the correct one after its game."""
    return make_node(protocol, account, tiny_model, model_id, path, Roles(challenge=True, correct=True),
                     name="challenger")


@contextlib.contextmanager
def reverts_named(name: str, **inputs):
    """Expect a revert with custom error ``name`` and these ``inputs``, decoded from the revert data by the project's
    own error table (offchain/chain/errors.py, what `decode-error` uses). An oracle error raised inside a consumer
    reaches ape as the consumer's revert, which ape decodes with whichever ABI it tries first (the consumer's, the
    oracle's, or none), so ``ape.reverts(oracle.X)`` is not deterministic there."""
    with pytest.raises(ContractLogicError) as caught:
        yield
    err = caught.value
    if type(err).__name__ == name:  # ape decoded it
        actual = dict(err.inputs)
    else:
        data = err.revert_message if str(err.revert_message).startswith("0x") else err.message
        decoded = decode_error(data)
        assert decoded["name"] == name, decoded
        actual = decoded["args"]
    assert {k: actual.get(k) for k in inputs} == inputs, actual


def nodes_answer_script_waits(protocol, commitment, submitter, stranger, chain, sent: list):
    """A stand-in for scripts/request.py's ``_wait`` (monkeypatch it in): it plays the nodes' part where the script
    waits for the callback (the request's input appended to ``sent``, the model run, the result submitted, the
    challenge window passed, finalized) and checks the script's ``delivered()`` goes from False to True."""
    from offchain.chain.encoding import input_tensor
    from offchain.dispute.commitment import ExecutionCommitment
    from offchain.engine.executor import run

    from .test_oracle import submit

    oracle = protocol.oracle

    def nodes_answer(console, oracle_, request_id, delivered, timeout):
        assert oracle_.address == oracle.address and not delivered()
        log = list(oracle.AICallbackRequest.range(chain.blocks.head.number, chain.blocks.head.number + 1))[-1]
        sent.append(bytes(log.input))
        trace = run(commitment.model, [input_tensor(commitment.model.graph, bytes(log.input))])
        output, _ = submit(oracle, protocol.game, request_id, ExecutionCommitment(commitment, trace), submitter)
        chain.pending_timestamp += PARAMS.challenge_window
        oracle.finalize(request_id, output, b"", sender=stranger)
        assert delivered()

    return nodes_answer

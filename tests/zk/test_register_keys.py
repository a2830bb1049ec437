"""Which Groth16 keys a private model may be registered with, by chain.

Dev keys come from a seed whose default is public: anyone can rebuild their toxic waste and forge a proof of any
output for a private node. So `register` (and `ape run register --private`) sets them up unasked only on a local
dev chain (31337, 1337); on any other chain id, the stand-in Sepolia (11155111) included, it refuses before any
transaction and before any setup unless keys from a ceremony are given (`keys_dir` / `--keys DIR`) or dev keys
are asked for by name (`unsafe_dev_keys` / `--unsafe-dev-keys`). Acceptance on the local chain is
tests/zk/test_private_dispute.py::test_register_sets_up_keys_and_launches_a_private_model_once.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import groth16py
import numpy as np
import pytest
from ape import chain
from eth_utils import keccak

from offchain.chain.deployments import deploy_protocol
from offchain.chain.params import ProtocolParams
from offchain.chain.registration import DevKeysRefused, register
from offchain.dispute.commitment import ModelCommitment
from offchain.engine.modelfile import save_model
from offchain.nodes.catalog import ServedModel
from offchain.nodes.node import Node, Roles
from offchain.nodes.store import NodeStore
from offchain.zk.chain import encode_vk
from offchain.zk.circuits import build
from offchain.zk.dev_setup import save_keys
from offchain.zk.model_proofs import descriptors
from offchain.zk.private import PrivateSpec, descriptor_hash
from offchain.zk.prover import ProofError, setup, zero_operands

from .test_model_proofs import tiny_mlp

PARAMS = ProtocolParams(challenge_window=60, clock_budget=120, request_timeout=600)
SPEC = PrivateSpec((0, 2))
REPO = Path(__file__).resolve().parents[2]
CONTRACTS = ("ModelRegistry", "ModelLauncher", "Groth16Registry")
X = np.arange(-4, 4, dtype=np.int8).reshape(1, 8) * 30


@pytest.fixture
def zk_build(tmp_path, monkeypatch):
    """An empty dev-key cache: a setup that runs leaves a folder in it."""
    folder = tmp_path / "zk-cache"
    monkeypatch.setenv("ZK_BUILD_DIR", str(folder))
    return folder


@pytest.fixture
def standin_protocol(standin_chain, project, owner, tmp_path):
    provider, uri = standin_chain
    assert provider.chain_id == 11155111
    a = deploy_protocol(project, provider, owner, directory=tmp_path / "deployments", params=PARAMS)
    return {n: getattr(project, n).at(a[n]) for n in CONTRACTS + ("AIOracle", "DisputeGame")}, uri, \
        tmp_path / "deployments"


def ceremony_keys(root: Path) -> dict[str, bytes]:
    """Keys for the spec's circuits made outside the dev setup (OS randomness, no seed, no meta.json): what a
    ceremony leaves in a keys folder. Returns the encoded verifying key by descriptor hash."""
    out = {}
    for desc in set(descriptors(tiny_mlp(), SPEC).values()):
        folder = root / descriptor_hash(desc)
        folder.mkdir(parents=True)
        r1cs = build(desc, *zero_operands(desc)).cs.write_r1cs(folder / "circuit.r1cs")
        pk, vk = groth16py.setup(str(r1cs))
        save_keys(pk, vk, folder)
        out[descriptor_hash(desc)] = encode_vk(vk)
    return out


def test_dev_keys_are_refused_on_a_real_chain_before_any_setup_or_transaction(standin_protocol, owner, zk_build):
    contracts, _, _ = standin_protocol
    nonce = owner.nonce
    with pytest.raises(DevKeysRefused, match=r"chain 11155111, which is not a local dev chain \(1337, 31337\)") as e:
        register(contracts, tiny_mlp(), 10**15, owner.address, owner, private=SPEC.node_indices)
    message = str(e.value)
    assert "public seed 'voai-dev-1'" in message and "forge proofs" in message
    assert "--keys DIR" in message and "--unsafe-dev-keys" in message
    assert contracts["ModelRegistry"].modelCount() == 0 and owner.nonce == nonce      # nothing sent
    assert not zk_build.exists()                                                      # nothing set up


def test_dev_keys_on_a_real_chain_only_when_asked_for_by_name(standin_protocol, owner, zk_build):
    contracts, _, _ = standin_protocol
    done = register(contracts, tiny_mlp(), 10**15, owner.address, owner, private=SPEC.node_indices,
                    unsafe_dev_keys=True)
    assert done.new and done.private_nodes == SPEC.node_indices
    assert [n.node for n in contracts["ModelRegistry"].privateNodes(done.model_id)] == [0, 2]
    dev = setup(descriptors(tiny_mlp(), SPEC)[0])             # the cached dev key the registration used
    assert contracts["Groth16Registry"].keyIdOf(keccak(encode_vk(dev.vk))) > 0


def test_ceremony_keys_register_on_a_real_chain_and_dev_keys_do_not_pass_as_them(
    standin_protocol, owner, user, submitter, tmp_path, zk_build
):
    """`--keys DIR` end to end: registered, then a submitter node given the same DIR proves with them and its
    submitPrivate is accepted; a submitter on dev keys cannot (its call reverts at the estimate: nothing sent)."""
    contracts, _, _ = standin_protocol
    registry, verifier = contracts["ModelRegistry"], contracts["Groth16Registry"]
    with pytest.raises(ProofError, match="vk.bin, pk.bin missing"):
        register(contracts, tiny_mlp(), 10**15, owner.address, owner, private=SPEC.node_indices,
                 keys_dir=tmp_path / "empty")
    # a dev cache handed over as "ceremony keys" is refused: its meta.json says what it is
    for desc in set(descriptors(tiny_mlp(), SPEC).values()):
        setup(desc, folder=tmp_path / "dev-cache" / descriptor_hash(desc))
    with pytest.raises(ProofError, match="single-party dev setup.*not keys from a ceremony"):
        register(contracts, tiny_mlp(), 10**15, owner.address, owner, private=SPEC.node_indices,
                 keys_dir=tmp_path / "dev-cache")
    assert registry.modelCount() == 0

    vks = ceremony_keys(tmp_path / "ceremony")
    done = register(contracts, tiny_mlp(), 10**15, owner.address, owner, private=SPEC.node_indices,
                    keys_dir=tmp_path / "ceremony")
    assert done.new and done.private_nodes == SPEC.node_indices
    descs = descriptors(tiny_mlp(), SPEC)
    expected = [verifier.keyIdOf(keccak(vks[descriptor_hash(descs[i])])) for i in (0, 2)]
    assert 0 not in expected and [n.keyId for n in registry.privateNodes(done.model_id)] == expected
    assert not zk_build.exists()                                # no dev setup ran

    oracle, game = contracts["AIOracle"], contracts["DisputeGame"]
    served = {done.model_id: ServedModel(done.model_id, "tiny-private", ModelCommitment(tiny_mlp()),
                                         SPEC.node_indices, False)}
    oracle.requestCallback(done.model_id, X.tobytes(), "0x" + "00" * 20, 0, b"", sender=user,
                           value=oracle.estimateFee(done.model_id, 0))
    on_dev_keys = Node(oracle, game, submitter, served, NodeStore(tmp_path / "dev.sqlite"), Roles(submit=True),
                       chain=chain)
    on_dev_keys.poll_once()
    assert game.claimCount() == 0 and on_dev_keys.store.tx_counts() == {"reverted": 1}
    (error,) = on_dev_keys.store.db.execute("SELECT detail FROM transactions").fetchone()
    assert error.startswith("PrivateProofInvalid("), error      # decoded though the judge, not the oracle, has it
    on_ceremony_keys = Node(oracle, game, submitter, served, NodeStore(tmp_path / "ceremony.sqlite"),
                            Roles(submit=True), chain=chain, keys_dir=tmp_path / "ceremony")
    on_ceremony_keys.poll_once()
    assert game.claimCount() == 1 and oracle.getRequest(1).submitter == submitter.address
    assert on_ceremony_keys.store.tx_counts() == {"ok": 1}


def _ape_register(uri: str, deployments: Path, model_file: Path, zk_build: Path, *extra: str):
    env = dict(os.environ, ZK_BUILD_DIR=str(zk_build), PYTHONPATH=str(REPO))
    cmd = [str(Path(sys.executable).with_name("ape")), "run", "register", "--network",
           f"ethereum:stand-in-sepolia:{uri}", "--account", "TEST::0", "--model", str(model_file), "--private", "0,2",
           "--deployments", str(deployments), *extra]
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)


def test_ape_run_register_refuses_dev_keys_on_the_standin_and_accepts_the_flag(standin_protocol, tmp_path, zk_build):
    _, uri, deployments = standin_protocol
    model_file = save_model(tiny_mlp(), tmp_path / "tiny-private.model")
    refused = _ape_register(uri, deployments, model_file, zk_build)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "refusing Groth16 dev keys on chain 11155111" in refused.stderr and "forge" in refused.stderr
    assert "registered" not in refused.stdout and not zk_build.exists()

    accepted = _ape_register(uri, deployments, model_file, zk_build, "--unsafe-dev-keys")
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    assert "registered tiny-private as model 1" in accepted.stdout and "private nodes [0, 2]" in accepted.stdout

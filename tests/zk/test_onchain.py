"""Groth16Registry on anvil: registration rules, single and batched verification, snarkjs' verifier, Poseidon contracts."""

import ape
import numpy as np
import pytest
from ape.contracts import ContractContainer

from offchain.zk.chain import encode_vk
from offchain.zk.evm_artifacts import contract_type, poseidon_artifact, snarkjs_verifier
from offchain.zk.field import P
from offchain.zk.poseidon import TENSOR_RATE, poseidon, poseidon_chain
from offchain.zk.private import tensor_hash
from offchain.zk.prover import proof_words, prove

from .conftest import LINEAR, linear_operands


@pytest.fixture(scope="module")
def registry(project, owner, linear_case, loreft_case):
    reg = owner.deploy(project.Groth16Registry, owner)
    reg.registerKey(encode_vk(linear_case.keys.vk), sender=owner)
    reg.registerKey(encode_vk(loreft_case.keys.vk), sender=owner)
    return reg


@pytest.fixture(scope="module")
def batch(linear_case):
    """Four honest proofs for the linear key (different inputs and weights)."""
    proofs = [linear_case.proof]
    for seed in (11, 12, 13):
        x, weights = linear_operands(seed)
        proofs.append(prove(linear_case.keys, LINEAR, x, weights))
    return proofs


def test_registration_is_permissioned_unique_and_logged(project, owner, stranger, linear_case):
    reg = owner.deploy(project.Groth16Registry, owner)
    vk = encode_vk(linear_case.keys.vk)
    with ape.reverts():
        reg.registerKey(vk, sender=stranger)
    tx = reg.registerKey(vk, sender=owner)
    event = tx.events[0]
    assert event.keyId == 1 and event.nPublic == 1
    assert reg.keyInfo(1)[0] == 1
    with ape.reverts(reg.KeyAlreadyRegistered, keyId=1):
        reg.registerKey(vk, sender=owner)
    with ape.reverts(reg.VerifyingKeyMalformed, length=len(vk) - 64):
        reg.registerKey(vk[:-64], sender=owner)
    with ape.reverts(reg.UnknownKey, keyId=7):
        reg.keyInfo(7)


def test_honest_proofs_verify_on_chain(registry, linear_case, loreft_case):
    assert registry.verify(1, [linear_case.proof.signal], linear_case.proof.proof)
    assert registry.verify(2, [loreft_case.proof.signal], loreft_case.proof.proof)


def test_wrong_signal_tampered_proof_and_other_key_return_false(registry, linear_case, loreft_case):
    c = linear_case.proof
    assert not registry.verify(1, [(c.signal + 1) % P], c.proof)
    for byte in (3, 100, 250):
        bad = bytearray(c.proof)
        bad[byte] ^= 0x10
        assert not registry.verify(1, [c.signal], bytes(bad))
    assert not registry.verify(2, [c.signal], c.proof)
    assert not registry.verify(1, [loreft_case.proof.signal], loreft_case.proof.proof)


def test_malformed_calls_revert_with_named_errors(registry, linear_case):
    c = linear_case.proof
    with ape.reverts(registry.UnknownKey, keyId=9):
        registry.verify(9, [c.signal], c.proof)
    with ape.reverts(registry.PublicInputCount, keyId=1, expected=1, got=2):
        registry.verify(1, [c.signal, 1], c.proof)
    with ape.reverts(registry.PublicInputNotInField, index=0, value=P):
        registry.verify(1, [P], c.proof)
    with ape.reverts(registry.ProofLength, index=0, length=255):
        registry.verify(1, [c.signal], c.proof[:255])
    with ape.reverts(registry.EmptyBatch):
        registry.verifyBatch(1, [], [])
    with ape.reverts(registry.BatchLengthMismatch, proofs=1, inputs=2):
        registry.verifyBatch(1, [[c.signal], [c.signal]], [c.proof])


def test_batch_verifies_and_one_bad_proof_rejects_it(registry, batch):
    signals = [[p.signal] for p in batch]
    proofs = [p.proof for p in batch]
    assert registry.verifyBatch(1, signals, proofs)
    assert registry.verifyBatch(1, signals[:1], proofs[:1])
    for i in range(len(batch)):
        wrong = [list(s) for s in signals]
        wrong[i][0] = (wrong[i][0] + 1) % P
        assert not registry.verifyBatch(1, wrong, proofs)
    swapped = proofs[:2][::-1] + proofs[2:]
    assert not registry.verifyBatch(1, signals, swapped)
    bad = bytearray(proofs[3])
    bad[200] ^= 1
    assert not registry.verifyBatch(1, signals, proofs[:3] + [bytes(bad)])


def test_snarkjs_exported_verifier_agrees(owner, linear_case):
    art = snarkjs_verifier(linear_case.keys.vk.to_json())
    verifier = owner.deploy(ContractContainer(contract_type(art)))
    w = proof_words(linear_case.proof.proof)
    a, b, c = w[0:2], [w[2:4], w[4:6]], w[6:8]
    assert verifier.verifyProof(a, b, c, [linear_case.proof.signal])
    assert not verifier.verifyProof(a, b, c, [linear_case.proof.signal + 1])


@pytest.mark.parametrize("n_inputs", [2, 3, 6])
def test_circomlibjs_poseidon_contracts_match_python(owner, n_inputs):
    hasher = owner.deploy(ContractContainer(contract_type(poseidon_artifact(n_inputs))))
    inputs = [(7 ** (i + 40)) % P for i in range(n_inputs)]
    assert hasher.poseidon(inputs) == poseidon(inputs)


def test_tensor_hash_recomputed_on_chain(owner, linear_case):
    """What a dispute does with a revealed tensor: chain Poseidon(6) over its packed elements."""
    hasher = owner.deploy(ContractContainer(contract_type(poseidon_artifact(6))))
    from offchain.zk.gadgets import pack_values

    elements = pack_values(linear_case.proof.output.reshape(-1).tolist(), 8)
    h = 0
    for i in range(0, max(len(elements), 1), TENSOR_RATE):
        blk = elements[i:i + TENSOR_RATE]
        h = hasher.poseidon([h, *blk, *[0] * (TENSOR_RATE - len(blk))])
    assert h == tensor_hash(linear_case.proof.output, 8) == poseidon_chain(elements, TENSOR_RATE)


@pytest.fixture(scope="module")
def hasher(project, owner):
    p6 = owner.deploy(ContractContainer(contract_type(poseidon_artifact(6))))
    p3 = owner.deploy(ContractContainer(contract_type(poseidon_artifact(3))))
    return owner.deploy(project.PrivateNodeHasher, p6, p3)


@pytest.mark.parametrize("bits,n", [(8, 0), (8, 40), (16, 77), (32, 15)])
def test_private_node_hasher_matches_python(hasher, bits, n):
    rng = np.random.default_rng(bits + n)
    values = rng.integers(-(1 << (bits - 1)), 1 << (bits - 1), n)
    values[:2] = [-(1 << (bits - 1)), (1 << (bits - 1)) - 1][:n]
    assert hasher.tensorHash(values.tolist(), bits) == tensor_hash(values, bits)


def test_private_node_hasher_checks_the_proven_signal(hasher, linear_case):
    p = linear_case.proof
    in_hash = hasher.tensorHash(linear_case.x.reshape(-1).tolist(), 8)
    out_hash = hasher.tensorHash(p.output.reshape(-1).tolist(), 8)
    assert hasher.publicSignal(in_hash, out_hash, p.commitment) == p.signal
    with ape.reverts(hasher.ValueOutOfRange, index=1, value=128, bits=8):
        hasher.tensorHash([0, 128], 8)
    with ape.reverts(hasher.UnsupportedBits, bits=12):
        hasher.tensorHash([0], 12)

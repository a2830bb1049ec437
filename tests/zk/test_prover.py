"""Groth16 proofs of private nodes: honest ones verify (groth16py and snarkjs), every kind of cheat does not."""

import hashlib
import json

import pytest

from offchain.zk.circuits import build_linear
from offchain.zk.private import public_signal, tensor_hash, weight_commitment
from offchain.zk.prover import (
    ProofError,
    from_snarkjs_proof,
    prove,
    prove_built,
    setup,
    snarkjs_verify,
    to_snarkjs_proof,
    verify,
)

from .conftest import LINEAR, linear_operands


def test_honest_proofs_verify(linear_case, loreft_case):
    for case in (linear_case, loreft_case):
        assert verify(case.keys.vk, case.proof.proof, [case.proof.signal])


def test_snarkjs_accepts_our_proof_and_rejects_a_wrong_signal(linear_case):
    vk_json = linear_case.keys.vk.to_json()
    assert snarkjs_verify(vk_json, linear_case.proof.proof, [linear_case.proof.signal])
    assert not snarkjs_verify(vk_json, linear_case.proof.proof, [linear_case.proof.signal + 1])
    assert from_snarkjs_proof(to_snarkjs_proof(linear_case.proof.proof)) == linear_case.proof.proof


def test_signal_binds_registered_commitment_and_tensors(linear_case):
    c = linear_case
    expected = public_signal(tensor_hash(c.x, 8), tensor_hash(c.proof.output, 8),
                             weight_commitment(c.desc, c.weights))
    assert c.proof.signal == expected


def test_wrong_public_signal_is_rejected(linear_case):
    c = linear_case
    wrong_out = c.proof.output.copy()
    wrong_out[0, 0] ^= 1
    signal = public_signal(c.proof.in_hash, tensor_hash(wrong_out, 8), c.proof.commitment)
    assert not verify(c.keys.vk, c.proof.proof, [signal])
    assert not verify(c.keys.vk, c.proof.proof, [c.proof.signal, 0])


def test_proof_with_other_weights_fails_against_registered_commitment(linear_case):
    c = linear_case
    w, b = c.weights
    other = [w.copy(), b]
    other[0][0, 0] = -other[0][0, 0] - 1
    p = prove(c.keys, c.desc, c.x, other)
    assert verify(c.keys.vk, p.proof, [p.signal])  # a valid proof of a different statement ...
    registered = public_signal(p.in_hash, p.out_hash, c.proof.commitment)
    assert not verify(c.keys.vk, p.proof, [registered])  # ... is no proof for the registered weights


@pytest.mark.parametrize("byte", [5, 70, 200])
def test_tampered_proof_is_rejected(linear_case, byte):
    c = linear_case
    bad = bytearray(c.proof.proof)
    bad[byte] ^= 1
    assert not verify(c.keys.vk, bytes(bad), [c.proof.signal])


def test_proof_for_another_key_is_rejected(linear_case, key_root):
    other = setup(LINEAR, key_root / "linear-second-ceremony", seed="another ceremony")
    assert not verify(other.vk, linear_case.proof.proof, [linear_case.proof.signal])


def test_unsatisfied_witness_cannot_be_proven(linear_case):
    x, (w, b) = linear_operands(9)
    built = build_linear(LINEAR, x, w // 4, b // 16, cheat={1: {"q": 0, "rem": 0}})
    assert built.cs.unsatisfied()
    try:
        proof = prove_built(linear_case.keys, built)
    except ProofError:
        return
    assert not verify(linear_case.keys.vk, proof, [built.signal])


def test_key_cache_reloads_the_same_key(linear_case, key_root):
    written = (key_root / "linear" / "pk.bin").stat().st_mtime_ns
    again = setup(LINEAR, key_root / "linear")
    assert (key_root / "linear" / "pk.bin").stat().st_mtime_ns == written   # loaded, not set up again
    assert again.vk.to_json() == linear_case.keys.vk.to_json()
    assert verify(again.vk, prove(again, LINEAR, linear_case.x, linear_case.weights).proof,
                  [linear_case.proof.signal])


def _digests(folder):
    return {name: hashlib.sha256((folder / name).read_bytes()).hexdigest() for name in ("pk.bin", "vk.bin")}


def test_dev_setups_are_reproducible_from_a_seed(linear_case, loreft_case, key_root, monkeypatch):
    """Same seed and circuit: byte-identical proving and verifying keys (the default seed gave linear_case's);
    another seed or another circuit: other toxic waste; ZK_DEV_SEED=os: OS randomness, a new key each time."""
    from offchain.zk.dev_setup import DEFAULT_SEED, derive_key

    assert json.loads((linear_case.keys.folder / "meta.json").read_text())["seed"] == DEFAULT_SEED
    again = setup(LINEAR, key_root / "linear-reproduced", seed=DEFAULT_SEED)
    assert _digests(again.folder) == _digests(linear_case.keys.folder)
    assert verify(again.vk, linear_case.proof.proof, [linear_case.proof.signal])
    other = setup(LINEAR, key_root / "linear-other-seed", seed="other")
    assert _digests(other.folder)["vk.bin"] != _digests(again.folder)["vk.bin"]
    r1cs = linear_case.keys.folder / "circuit.r1cs"
    assert derive_key("s", r1cs) != derive_key("s", key_root / "loreft" / "circuit.r1cs")
    assert derive_key("s", r1cs) != derive_key("t", r1cs)

    monkeypatch.setenv("ZK_DEV_SEED", "os")
    first, second = setup(LINEAR, key_root / "linear-os-1"), setup(LINEAR, key_root / "linear-os-2")
    assert json.loads((first.folder / "meta.json").read_text())["seed"] is None
    assert _digests(first.folder)["vk.bin"] != _digests(second.folder)["vk.bin"]
    assert verify(first.vk, prove(first, LINEAR, linear_case.x, linear_case.weights).proof, [linear_case.proof.signal])


def test_a_cached_key_of_another_seed_is_replaced(linear_case, key_root):
    folder = key_root / "linear-reseeded"
    setup(LINEAR, folder, seed="first")
    before, written = _digests(folder), (folder / "pk.bin").stat().st_mtime_ns
    setup(LINEAR, folder, seed="first")                       # cached: not set up again
    assert (folder / "pk.bin").stat().st_mtime_ns == written
    setup(LINEAR, folder, seed="second")
    assert _digests(folder) != before
    assert json.loads((folder / "meta.json").read_text())["seed"] == "second"


def test_prove_all_on_two_threads_gives_each_job_its_own_valid_proof_in_order(linear_case, loreft_case):
    from offchain.zk.prover import prove_all

    x2, w2 = linear_operands(5)
    jobs = [(linear_case.keys, LINEAR, linear_case.x, linear_case.weights),
            (loreft_case.keys, loreft_case.desc, loreft_case.x, loreft_case.weights),
            (linear_case.keys, LINEAR, x2, w2)]
    proofs = prove_all(jobs, workers=2)
    expected = [linear_case.proof.signal, loreft_case.proof.signal, prove(*jobs[2]).signal]
    assert [p.signal for p in proofs] == expected
    for (keys, *_), p in zip(jobs, proofs):
        assert verify(keys.vk, p.proof, [p.signal])
    assert not verify(linear_case.keys.vk, proofs[2].proof, [expected[0]])

"""Encodings the on-chain verifier (contracts/zk/Groth16Registry.sol) expects, from groth16py / snarkjs objects.

Who calls: whoever registers a private node's key (``encode_vk``) and the
submitter posting proofs (proof bytes go on-chain unchanged: groth16py already
writes A, B, C in the EIP-197 layout the precompiles read).
"""

from __future__ import annotations

import json

import groth16py

#: Bytes of an encoded key before the IC points: alpha1 (64), beta2, gamma2, delta2 (128 each).
VK_FIXED_BYTES = 448


def _g2_words(point: list[list[str]]) -> list[int]:
    # snarkjs writes Fp2 elements real part first; EIP-197 wants the imaginary part first.
    return [int(point[0][1]), int(point[0][0]), int(point[1][1]), int(point[1][0])]


def encode_vk(vk: groth16py.VerifyingKey | str) -> bytes:
    """The ``bytes vk`` argument of ``registerKey``: alpha1, beta2, gamma2, delta2, IC[0..n] as big-endian words."""
    j = json.loads(vk if isinstance(vk, str) else vk.to_json())
    words = [int(j["vk_alpha_1"][0]), int(j["vk_alpha_1"][1])]
    for name in ("vk_beta_2", "vk_gamma_2", "vk_delta_2"):
        words += _g2_words(j[name])
    for point in j["IC"]:
        words += [int(point[0]), int(point[1])]
    return b"".join(w.to_bytes(32, "big") for w in words)

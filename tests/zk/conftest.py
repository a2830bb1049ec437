"""Small private-node circuits, their dev keys (set up fresh in a temp folder) and honest proofs."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from offchain.zk.private import LinearDescriptor, LoreftDescriptor
from offchain.zk.prover import Keys, Proof, prove, setup

#: A private LINEAR small enough that setup and proving take well under a second.
LINEAR = LinearDescriptor(rows=1, k=8, n=4, x_bits=8, w_bits=8, has_bias=True, shift=7, out_bits=8)
#: A private LoReFT of rank 2 on a 16-wide int16 hidden state.
LOREFT = LoreftDescriptor(rows=1, d=16, r=2, h_bits=16, shift=6)


@dataclass
class Case:
    """One private node: descriptor, keys, operands and an honest proof of them."""

    desc: object
    keys: Keys
    x: np.ndarray
    weights: list[np.ndarray]
    proof: Proof


def linear_operands(seed: int) -> tuple[np.ndarray, list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    x = rng.integers(-128, 128, (1, LINEAR.k)).astype(np.int8)
    w = rng.integers(-128, 128, (LINEAR.n, LINEAR.k)).astype(np.int8)
    b = rng.integers(-20000, 20000, LINEAR.n).astype(np.int32)
    return x, [w, b]


def loreft_operands(seed: int) -> tuple[np.ndarray, list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    h = rng.integers(-4000, 4000, (1, LOREFT.d)).astype(np.int16)
    r = rng.integers(-128, 128, (LOREFT.r, LOREFT.d)).astype(np.int8)
    w = rng.integers(-128, 128, (LOREFT.r, LOREFT.d)).astype(np.int8)
    b = rng.integers(-50000, 50000, LOREFT.r).astype(np.int32)
    return h, [r, w, b]


@pytest.fixture(scope="session")
def key_root(tmp_path_factory):
    return tmp_path_factory.mktemp("zk-keys")


@pytest.fixture(scope="session")
def linear_case(key_root) -> Case:
    keys = setup(LINEAR, key_root / "linear")
    x, weights = linear_operands(1)
    return Case(LINEAR, keys, x, weights, prove(keys, LINEAR, x, weights))


@pytest.fixture(scope="session")
def loreft_case(key_root) -> Case:
    keys = setup(LOREFT, key_root / "loreft")
    h, weights = loreft_operands(2)
    return Case(LOREFT, keys, h, weights, prove(keys, LOREFT, h, weights))

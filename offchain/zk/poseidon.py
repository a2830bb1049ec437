"""circomlib's Poseidon over BN254 (the reference permutation of circomlibjs 0.1.7), and our chain hash.

``poseidon(inputs)`` equals circomlibjs ``poseidon(inputs)`` and circomlib's
``Poseidon(n)`` template; the constants for the widths the project uses
(t = 3, 4, 7, 17, i.e. 2, 3, 6 and 16 inputs) are copied from circomlibjs
into ``poseidon_constants.json``. ``poseidon_chain`` hashes any number of
field elements ``rate`` at a time, feeding each hash into the next. Tensors
use rate 5 (Poseidon(6): the widest circomlibjs 0.1.7 emits as an EVM
contract, 7 inputs trip its assembler), so a dispute can recompute a tensor
hash on-chain; weight commitments use rate 15 (Poseidon(16): 41 instead of
71 constraints per element), as they are registered, never hashed on-chain.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from offchain.zk.field import P, check_field

FULL_ROUNDS = 8
#: circomlib's partial round counts, indexed by t - 2 (t = number of inputs + 1).
PARTIAL_ROUNDS = (56, 57, 56, 60, 60, 63, 64, 63, 60, 66, 60, 65, 70, 60, 64, 68)
#: Elements per chain step for tensors (Poseidon(6): running hash + 5) and for weights (Poseidon(16)).
TENSOR_RATE = 5
WEIGHT_RATE = 15
_CONSTANTS_FILE = Path(__file__).with_name("poseidon_constants.json")


class PoseidonWidthError(ValueError):
    """Poseidon was asked for a number of inputs whose constants are not shipped."""


@dataclass(frozen=True)
class PoseidonParams:
    """Round constants ``c`` (flat, ``(FULL_ROUNDS + partial) * t``) and MDS matrix ``m`` (t x t) of one width."""

    t: int
    partial: int
    c: tuple[int, ...]
    m: tuple[tuple[int, ...], ...]


@functools.cache
def params(n_inputs: int) -> PoseidonParams:
    """Constants for Poseidon over ``n_inputs`` field elements (t = n_inputs + 1)."""
    t = n_inputs + 1
    widths = json.loads(_CONSTANTS_FILE.read_text())["widths"]
    if str(t) not in widths:
        raise PoseidonWidthError(f"n_inputs = {n_inputs}: only {sorted(int(w) - 1 for w in widths)} are shipped")
    w = widths[str(t)]
    return PoseidonParams(t=t, partial=PARTIAL_ROUNDS[t - 2], c=tuple(int(x, 16) for x in w["C"]),
                          m=tuple(tuple(int(x, 16) for x in row) for row in w["M"]))


def permutation_trace(n_inputs: int, state: list[int]) -> tuple[list[int], list[int]]:
    """Run the permutation on ``state`` (t field elements, state[0] the capacity).

    Returns (final state, every S-box input in order): the S-box inputs are what a
    circuit needs as witness (each costs x^2, x^4, x^5 = three constraints).
    """
    pp = params(n_inputs)
    t, c, m = pp.t, pp.c, pp.m
    sbox_in: list[int] = []
    half = FULL_ROUNDS // 2
    for r in range(FULL_ROUNDS + pp.partial):
        state = [(a + c[r * t + i]) % P for i, a in enumerate(state)]
        full = r < half or r >= half + pp.partial
        for i in range(t if full else 1):
            x = state[i]
            sbox_in.append(x)
            x2 = x * x % P
            state[i] = x2 * x2 % P * x % P
        state = [sum(mij * a for mij, a in zip(row, state)) % P for row in m]
    return state, sbox_in


def poseidon(inputs: Sequence[int]) -> int:
    """circomlib Poseidon of 1..16 field elements (each in [0, P)); returns a field element."""
    for i, x in enumerate(inputs):
        check_field(f"inputs[{i}]", x)
    state, _ = permutation_trace(len(inputs), [0, *inputs])
    return state[0]


def chain_blocks(n_elements: int, rate: int) -> int:
    """Number of Poseidon(rate + 1) calls ``poseidon_chain`` makes for ``n_elements`` elements (at least one)."""
    return max(1, -(-n_elements // rate))


def poseidon_chain(elements: Sequence[int], rate: int) -> int:
    """Chain hash: ``h_0 = 0``, ``h_{i+1} = Poseidon(h_i, block_i)`` with ``rate``-element blocks, zero-padded.

    The element count is not hashed in: callers hash tensors of a shape fixed by
    the verifying key, so equal-length inputs are all a chain ever compares.
    """
    h = 0
    for b in range(chain_blocks(len(elements), rate)):
        block = list(elements[b * rate:(b + 1) * rate])
        block += [0] * (rate - len(block))
        h = poseidon([h, *block])
    return h

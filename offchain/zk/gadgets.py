"""Circuit gadgets over :class:`ConstraintSystem`: range checks, the requantisation rule, packing, Poseidon.

Each gadget takes the values it needs from the caller (the engine's integers),
adds the witness wires it introduces and the constraints that pin them down,
and returns linear combinations. Signed values are range-checked by their
offset ``x + 2**(bits-1)``, which must fit ``bits`` bits.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Sequence

from offchain.zk.field import P
from offchain.zk.poseidon import FULL_ROUNDS, chain_blocks, params, permutation_trace
from offchain.zk.r1cs import LC, ConstraintSystem, const, lc_add

#: Bits a packed field element may fill: 253 < log2(P), so a packing is injective.
PACK_BITS = 253


class GadgetRangeError(ValueError):
    """A gadget was handed a value outside the range it was declared with (the honest witness cannot exist)."""


def bits_var(cs: ConstraintSystem, value: int, n_bits: int, strict: bool = True) -> LC:
    """New wires for the ``n_bits`` bits of ``value`` (0 <= value < 2**n_bits), each constrained boolean.

    Returns the LC ``sum 2**i b_i`` (which equals ``value``). With ``strict=False``
    an out-of-range value is truncated instead of refused: tests use this to play
    a cheating prover whose other constraints must then fail.
    """
    if strict and not 0 <= value < (1 << n_bits):
        raise GadgetRangeError(f"value {value} does not fit {n_bits} unsigned bits")
    first = cs.vars((value >> i) & 1 for i in range(n_bits))
    if not cs.witness_only:
        for i in range(n_bits):
            b = {first + i: 1}
            cs.enforce(b, b, b)
    return {first + i: 1 << i for i in range(n_bits)}


def signed_var(cs: ConstraintSystem, value: int, n_bits: int, strict: bool = True) -> LC:
    """A new signed value in [-2**(n_bits-1), 2**(n_bits-1)) defined by its offset's bits; returns its LC."""
    off = 1 << (n_bits - 1)
    if strict and not -off <= value < off:
        raise GadgetRangeError(f"value {value} does not fit {n_bits} signed bits")
    return lc_add((1, bits_var(cs, (value + off) % (1 << n_bits), n_bits, strict=False)), (1, const(-off)))


def assert_range(cs: ConstraintSystem, lc: LC, value: int, n_bits: int) -> None:
    """Constrain ``lc`` (whose value is ``value``) to [0, 2**n_bits): bits plus one linear constraint."""
    cs.enforce_equal(bits_var(cs, value % P if value >= 0 else value, n_bits, strict=False), lc)


@dataclass(frozen=True)
class Saturation:
    """The output range of a requantisation: [qmin, qmax] and the dtype's bit width."""

    qmin: int
    qmax: int
    bits: int


def requantize(cs: ConstraintSystem, acc: LC, acc_value: int, acc_bound: int, s: int,
               sat: Saturation, cheat: dict[str, int] | None = None) -> tuple[LC, int]:
    """The engine's one requantisation rule in-circuit: ``clip((acc + 2**(s-1)) >> s, qmin, qmax)``.

    ``acc_bound`` bounds ``|acc|`` for every honest input (from the dtypes and the
    reduction length); it sizes the range checks. ``s < 0`` is the exact left
    shift ``acc << -s`` (then saturation), as in the engine. Returns (output LC,
    output value). Soundness: the remainder ``rem`` is range-checked to s bits and
    the quotient ``q = (acc + 2**(s-1) - rem) / 2**s`` is pinned to a small integer
    by the output / slack range checks, so ``rem`` and ``q`` are the integer ones;
    saturation flags ``lo``/``hi`` are boolean, exclusive, and their slack
    ``qmin-1-q`` resp. ``q-qmax-1`` is range-checked non-negative.

    ``cheat`` (tests only) overrides witness values ``q``, ``rem``, ``lo``, ``hi``.
    """
    cheat = cheat or {}
    if s < 0:
        # An exact left shift: no remainder, the saturation below still applies.
        q = cheat.get("q", acc_value << -s)
        q_lc = lc_add((1 << -s, acc))
        q_bound = (acc_bound << -s) + 1
        return _saturate(cs, q_lc, q, q_bound, sat, cheat)
    half = (1 << (s - 1)) if s > 0 else 0
    q = (acc_value + half) >> s
    rem = (acc_value + half) - (q << s)
    q, rem = cheat.get("q", q), cheat.get("rem", rem)
    if s > 0:
        rem_lc = bits_var(cs, rem, s, strict=False)
        inv = pow(1 << s, -1, P)
        q_lc = lc_add((inv, acc), (inv, const(half)), (-inv, rem_lc))
    else:
        q_lc = acc
    return _saturate(cs, q_lc, q, ((acc_bound + half) >> s) + 1, sat, cheat)


def _saturate(cs: ConstraintSystem, q_lc: LC, q: int, q_bound: int, sat: Saturation,
              cheat: dict[str, int]) -> tuple[LC, int]:
    """``clip(q, qmin, qmax)`` for an integer ``q`` with ``|q| <= q_bound``; see :func:`requantize`."""
    if -q_bound >= sat.qmin and q_bound <= sat.qmax:
        # No honest accumulator can saturate: the output range check alone pins q.
        out = min(max(q, sat.qmin), sat.qmax) if "q" not in cheat else q
        out_lc = signed_var(cs, out, sat.bits, strict=False)
        cs.enforce_equal(out_lc, q_lc)
        return out_lc, out
    lo = cheat.get("lo", int(q < sat.qmin))
    hi = cheat.get("hi", int(q > sat.qmax))
    lo_w, hi_w = cs.var(lo), cs.var(hi)
    lo_lc, hi_lc = {lo_w: 1}, {hi_w: 1}
    t1 = lo * (sat.qmin - q)
    t2 = hi * (sat.qmax - q)
    t1_w, t2_w = cs.var(t1), cs.var(t2)
    if not cs.witness_only:
        cs.enforce(lo_lc, lo_lc, lo_lc)
        cs.enforce(hi_lc, hi_lc, hi_lc)
        cs.enforce(lo_lc, hi_lc, {})
        cs.enforce(lo_lc, lc_add((1, const(sat.qmin)), (-1, q_lc)), {t1_w: 1})
        cs.enforce(hi_lc, lc_add((1, const(sat.qmax)), (-1, q_lc)), {t2_w: 1})
    out = q + t1 + t2
    out_lc = signed_var(cs, out, sat.bits, strict=False)
    cs.enforce_equal(out_lc, lc_add((1, q_lc), (1, {t1_w: 1}), (1, {t2_w: 1})))
    slack_bits = (q_bound + max(-sat.qmin, sat.qmax) + 1).bit_length()
    slack = t1 - t2 - lo - hi
    assert_range(cs, lc_add((1, {t1_w: 1}), (-1, {t2_w: 1}), (-1, lo_lc), (-1, hi_lc)), slack, slack_bits)
    return out_lc, out


def per_element(bits: int) -> int:
    """How many ``bits``-bit values one packed field element holds."""
    return PACK_BITS // bits


def pack_values(values: Sequence[int], bits: int) -> list[int]:
    """Pack signed ``bits``-bit ints (offset by 2**(bits-1)) little-endian into field elements."""
    k, off = per_element(bits), 1 << (bits - 1)
    out = []
    for i in range(0, len(values), k):
        out.append(sum((int(v) + off) << (bits * j) for j, v in enumerate(values[i:i + k])))
    return out


def pack_lcs(lcs: Sequence[LC], bits: int) -> list[LC]:
    """The in-circuit twin of :func:`pack_values` for LCs of range-checked signed values (free: linear)."""
    k, off = per_element(bits), 1 << (bits - 1)
    out = []
    for i in range(0, len(lcs), k):
        chunk = lcs[i:i + k]
        out.append(lc_add(*((1 << (bits * j), lc) for j, lc in enumerate(chunk)),
                          (1, const(sum(off << (bits * j) for j in range(len(chunk)))))))
    return out


@functools.cache
def _template(n_inputs: int) -> tuple[list[tuple[LC, LC, LC]], LC, int]:
    """Poseidon(n_inputs) as constraints over local wires: ``-1 - i`` = input i, 0 = one, ``1 + k`` = k-th new wire.

    Returns (constraints, LC of the output, number of new wires). Built once per
    width; every instance copies it with local wires renumbered, which keeps
    the linear layers free (no wire per MDS output) without redoing the algebra.
    """
    pp = params(n_inputs)
    t = pp.t
    state: list[LC] = [{}] + [{-1 - i: 1} for i in range(n_inputs)]
    cons: list[tuple[LC, LC, LC]] = []
    n_new = 0
    half = FULL_ROUNDS // 2
    for r in range(FULL_ROUNDS + pp.partial):
        state = [lc_add((1, a), (1, const(pp.c[r * t + i]))) for i, a in enumerate(state)]
        full = r < half or r >= half + pp.partial
        for i in range(t if full else 1):
            x = state[i]
            x2, x4, x5 = n_new + 1, n_new + 2, n_new + 3
            n_new += 3
            cons.append((x, x, {x2: 1}))
            cons.append(({x2: 1}, {x2: 1}, {x4: 1}))
            cons.append(({x4: 1}, x, {x5: 1}))
            state[i] = {x5: 1}
        state = [lc_add(*((mij, a) for mij, a in zip(row, state))) for row in pp.m]
    return cons, state[0], n_new


def poseidon_gadget(cs: ConstraintSystem, inputs: Sequence[LC], values: Sequence[int]) -> tuple[LC, int]:
    """Poseidon(len(inputs)) of input LCs whose values are ``values``; returns (output LC, output value)."""
    n = len(inputs)
    state, sbox_in = permutation_trace(n, [0, *(v % P for v in values)])
    wit = []
    for x in sbox_in:
        x2 = x * x % P
        x4 = x2 * x2 % P
        wit += (x2, x4, x4 * x % P)
    base = cs.vars(wit) - 1
    cons, out, _ = _template(n)

    def place(lc: LC) -> LC:
        if all(w >= 0 for w in lc):
            return {(base + w if w > 0 else 0): c for w, c in lc.items()}
        return lc_add(*((c, inputs[-1 - w]) if w < 0 else (c, {base + w if w > 0 else 0: 1})
                        for w, c in lc.items()))

    if not cs.witness_only:
        for a, b, c in cons:
            cs.enforce(place(a), place(b), place(c))
    return place(out), state[0]


def chain_gadget(cs: ConstraintSystem, elements: Sequence[LC], values: Sequence[int],
                 rate: int) -> tuple[LC, int]:
    """In-circuit :func:`offchain.zk.poseidon.poseidon_chain`; returns (hash LC, hash value)."""
    h_lc, h = const(0), 0
    for b in range(chain_blocks(len(elements), rate)):
        lo, hi = b * rate, (b + 1) * rate
        blk_lcs = list(elements[lo:hi]) + [const(0)] * (rate - len(elements[lo:hi]))
        blk_vals = list(values[lo:hi]) + [0] * (rate - len(values[lo:hi]))
        h_lc, h = poseidon_gadget(cs, [h_lc, *blk_lcs], [h, *blk_vals])
    return h_lc, h

"""A rank-1 constraint system built in Python, with its witness computed natively alongside.

Every gadget both emits constraints ``<A,w> * <B,w> = <C,w>`` and appends the
witness values it introduces, so one pass over the engine's integer values
yields a circom-compatible ``.r1cs`` (for setup) and ``.wtns`` (for proving)
without circom's compiler or its wasm witness generator, which run out of
memory near 700k constraints (ZK-FACTS.md). With ``witness_only`` the same
code computes the witness of an already set-up circuit and skips the
constraints (what a prover does for every inference).

Wire 0 is the constant 1, wires 1..n_public the public signals (written as
circom outputs), then private wires in creation order.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Iterable

from offchain.zk.field import P

#: A linear combination: wire index -> coefficient (field element, nonzero).
LC = dict[int, int]

_P_BYTES = P.to_bytes(32, "little")


class UnsatisfiedError(ValueError):
    """A witness does not satisfy a constraint system."""


def const(c: int) -> LC:
    """The linear combination equal to the constant ``c``."""
    c %= P
    return {0: c} if c else {}


def lc_add(*terms: tuple[int, LC]) -> LC:
    """``sum(k * lc)`` over ``(k, lc)`` pairs, with zero coefficients dropped."""
    out: LC = {}
    for k, lc in terms:
        k %= P
        if not k:
            continue
        for w, c in lc.items():
            v = (out.get(w, 0) + k * c) % P
            if v:
                out[w] = v
            else:
                out.pop(w, None)
    return out


class ConstraintSystem:
    """Wires, their values and (unless ``witness_only``) the constraints between them.

    ``n_public`` public wires are reserved at creation; gadgets fill them with
    :meth:`set_public`. Callers: the circuit builders in ``offchain.zk.circuits``.
    """

    def __init__(self, n_public: int, witness_only: bool = False) -> None:
        self.n_public = n_public
        self.witness_only = witness_only
        self.values: list[int] = [1] + [0] * n_public
        self.constraints: list[tuple[LC, LC, LC]] = []
        self.n_constraints = 0

    @property
    def n_wires(self) -> int:
        return len(self.values)

    def var(self, value: int) -> int:
        """A new private wire holding ``value`` (any int; stored mod P). Returns its index."""
        self.values.append(value % P)
        return len(self.values) - 1

    def vars(self, values: Iterable[int]) -> int:
        """New consecutive wires for ``values``; returns the index of the first."""
        first = len(self.values)
        self.values.extend(v % P for v in values)
        return first

    def enforce(self, a: LC, b: LC, c: LC) -> None:
        """Add the constraint ``<a,w> * <b,w> = <c,w>``."""
        self.n_constraints += 1
        if not self.witness_only:
            self.constraints.append((a, b, c))

    def enforce_equal(self, a: LC, b: LC) -> None:
        """Add the linear constraint ``<a,w> = <b,w>``."""
        self.enforce(lc_add((1, a), (-1, b)), const(1), {})

    def set_public(self, index: int, lc: LC) -> None:
        """Make public wire ``index`` (0-based among public signals) equal to ``lc``."""
        wire = 1 + index
        self.values[wire] = self.eval(lc)
        self.enforce_equal({wire: 1}, lc)

    def eval(self, lc: LC) -> int:
        """Value of ``lc`` under the current witness."""
        vals = self.values
        return sum(vals[w] * c for w, c in lc.items()) % P

    def public_values(self) -> list[int]:
        return self.values[1:1 + self.n_public]

    def unsatisfied(self, values: list[int] | None = None, limit: int = 10) -> list[int]:
        """Indices of (up to ``limit``) constraints that ``values`` (default: own witness) violates."""
        vals = self.values if values is None else values
        bad = []
        for i, (a, b, c) in enumerate(self.constraints):
            ea = sum(vals[w] * k for w, k in a.items())
            eb = sum(vals[w] * k for w, k in b.items())
            ec = sum(vals[w] * k for w, k in c.items())
            if (ea * eb - ec) % P:
                bad.append(i)
                if len(bad) >= limit:
                    break
        return bad

    # --- circom binary formats (iden3 r1cs v1, wtns v2) ---

    def r1cs_bytes(self) -> bytes:
        """The system as a circom ``.r1cs`` file (public wires written as outputs)."""
        if self.witness_only:
            raise ValueError("a witness_only system has no constraints to write")
        header = struct.pack("<I", 32) + _P_BYTES + struct.pack(
            "<IIIIQI", self.n_wires, self.n_public, 0, 0, self.n_wires, len(self.constraints))
        body = bytearray()
        for a, b, c in self.constraints:
            for lc in (a, b, c):
                body += struct.pack("<I", len(lc))
                for w in sorted(lc):
                    body += struct.pack("<I", w) + lc[w].to_bytes(32, "little")
        labels = struct.pack(f"<{self.n_wires}Q", *range(self.n_wires))
        out = bytearray(b"r1cs" + struct.pack("<II", 1, 3))
        for kind, data in ((1, header), (2, body), (3, labels)):
            out += struct.pack("<IQ", kind, len(data)) + data
        return bytes(out)

    def wtns_bytes(self) -> bytes:
        """The witness as a circom/snarkjs ``.wtns`` file."""
        head = struct.pack("<I", 32) + _P_BYTES + struct.pack("<I", self.n_wires)
        vals = b"".join(v.to_bytes(32, "little") for v in self.values)
        return (b"wtns" + struct.pack("<II", 2, 2) + struct.pack("<IQ", 1, len(head)) + head
                + struct.pack("<IQ", 2, len(vals)) + vals)

    def write_r1cs(self, path: Path) -> Path:
        path.write_bytes(self.r1cs_bytes())
        return path

    def write_wtns(self, path: Path) -> Path:
        path.write_bytes(self.wtns_bytes())
        return path

"""The BN254 scalar field, in which every circuit value lives.

Signed integers map to field elements by ``x mod P``; a circuit gives them
back their sign only through range checks on offset values (``x + 2**(b-1)``
fits ``b`` bits), never by comparing field elements.
"""

from __future__ import annotations

#: Order of BN254's scalar field (the group order r of the curve snarkjs calls bn128).
P = 21888242871839275222246405745257275088548364400416034343698204186575808495617

#: Bits of a field element's canonical representative.
FIELD_BITS = P.bit_length()


class FieldRangeError(ValueError):
    """A value meant to be a canonical field element is outside [0, P)."""


def to_field(x: int) -> int:
    """Signed int -> its field element ``x mod P``."""
    return x % P


def from_field(x: int) -> int:
    """Field element -> the signed int of least magnitude it represents, in (-P/2, P/2]."""
    x %= P
    return x - P if x > P // 2 else x


def check_field(name: str, x: int) -> int:
    """Return ``x`` if it is a canonical field element, else raise FieldRangeError naming ``name``."""
    if not 0 <= x < P:
        raise FieldRangeError(f"{name} = {x} is not in [0, P) (P = BN254 scalar order)")
    return x

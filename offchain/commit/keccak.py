"""keccak256 as the EVM computes it (original Keccak padding 0x01, not NIST SHA3-256).

Backend: safe-pysha3 (``sha3.keccak_256``), the C extension behind
``eth-hash[pysha3]`` and installed with eth-ape. Measured here against
pycryptodome's ``Crypto.Hash.keccak`` (same C core speed on long inputs, both
release the GIL on long inputs): a 64-byte hash costs ~1.0 us with sha3 and
~6.7 us with pycryptodome, and Merkle trees are millions of 64-byte hashes.
The test suite checks both libraries agree.

Anyone may call; pure.
"""

from __future__ import annotations

from sha3 import keccak_256 as _keccak_256

#: keccak256(b""), the EVM's hash of empty input.
KECCAK_EMPTY = bytes.fromhex("c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470")


def keccak256(data: bytes | bytearray | memoryview) -> bytes:
    """The 32-byte keccak256 digest of ``data`` (any length, any C-contiguous bytes-like object)."""
    return _keccak_256(data).digest()


def keccak256_pieces(data: bytes | memoryview, piece_bytes: int, first: int, end: int) -> bytes:
    """Concatenated digests of pieces ``first .. end - 1`` of ``data``, piece ``i`` = ``data[i*p:(i+1)*p]``.

    The hot loop of every tree: leaves (pieces = chunks) and inner levels
    (pieces = 64-byte sibling pairs). Pieces must lie inside ``data``; pass
    ``bytes`` for small pieces (slicing bytes is the fastest input for the
    backend) and a ``memoryview`` for large ones (no copy).
    """
    h = _keccak_256
    p = piece_bytes
    return b"".join([h(data[i * p:(i + 1) * p]).digest() for i in range(first, end)])


if keccak256(b"") != KECCAK_EMPTY:  # a wrong backend would silently fork every commitment
    raise ImportError("sha3.keccak_256 does not compute the EVM's keccak256 (known answer of b'' differs)")

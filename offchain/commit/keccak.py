"""keccak256 as the EVM computes it (original Keccak padding 0x01, not NIST SHA3-256).

Backed by pycryptodome's C implementation. Anyone may call; pure.
"""

from __future__ import annotations

from Crypto.Hash import keccak as _keccak

#: keccak256(b""), the EVM's hash of empty input.
KECCAK_EMPTY = bytes.fromhex("c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470")


def keccak256(data: bytes | bytearray | memoryview) -> bytes:
    """The 32-byte keccak256 digest of ``data`` (any length, bytes-like)."""
    return _keccak.new(data=data, digest_bits=256).digest()

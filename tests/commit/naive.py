"""Independent reference for the tests: recursive Merkle root over padded leaves, pycryptodome keccak.

Written from DESIGN.md section 3 without reusing offchain.commit, so the
optimised implementation is checked against a second definition.
"""

from Crypto.Hash import keccak


def keccak_ref(data: bytes) -> bytes:
    return keccak.new(data=data, digest_bits=256).digest()


def zero_subtree(size: int) -> bytes:
    """Hash of an all-padding subtree with ``size`` (a power of two) leaf slots."""
    if size == 1:
        return bytes(32)
    half = zero_subtree(size // 2)
    return keccak_ref(half + half)


def naive_root(leaves: list[bytes]) -> bytes:
    n = len(leaves)
    if n == 0:
        return keccak_ref(b"")
    width = 1
    while width < n:
        width *= 2

    def subtree(lo: int, size: int) -> bytes:
        if lo >= n:
            return zero_subtree(size)
        if size == 1:
            return leaves[lo]
        return keccak_ref(subtree(lo, size // 2) + subtree(lo + size // 2, size // 2))

    return subtree(0, width)


def naive_tensor_root(packed: bytes, chunk_bytes: int) -> bytes:
    chunks = [packed[i:i + chunk_bytes].ljust(chunk_bytes, b"\x00") for i in range(0, len(packed), chunk_bytes)]
    return naive_root([keccak_ref(c) for c in chunks])

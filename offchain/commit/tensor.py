"""Tensor roots and element-range proofs (DESIGN.md section 3).

A tensor root is the Merkle root (see :mod:`offchain.commit.merkle`) over the
tensor's packed bytes (:mod:`offchain.commit.pack`) cut into ``chunk_bytes``
chunks (:mod:`offchain.commit.chunks`). A zero-size tensor has no chunks and
the root :data:`~offchain.commit.merkle.EMPTY_ROOT`. The root commits to bytes
only: dtype, shape and chunk size come from the node descriptor.

Element proofs serve the one-step proof: flat (row-major) elements
``[start, start + count)`` live in chunks ``[first, end)``; the prover reveals
those whole chunks plus one range proof; the verifier hashes the chunks into
leaves, checks the range proof and decodes the elements at byte offset
``start * width - first * chunk_bytes`` of the concatenated chunks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from offchain.commit.chunks import check_chunk_bytes, chunk, chunk_count, leaf_hashes
from offchain.commit.errors import IndexOutOfRangeError, PackedSizeError
from offchain.commit.keccak import keccak256
from offchain.commit.merkle import MerkleTree, verify_range
from offchain.commit.pack import dtype_width, packed_buffer, unpack_tensor


def tensor_root(arr: np.ndarray, chunk_bytes: int, workers: int | None = None) -> bytes:
    """32-byte root of ``arr`` (int8/int16/int32, any shape) with ``chunk_bytes`` chunks.

    ``workers`` threads hash the leaves (default: CPU count). Does not keep
    the tree; use :func:`tensor_tree` when proofs are needed.
    """
    return MerkleTree(leaf_hashes(packed_buffer(arr), chunk_bytes, workers)).root


def element_chunk_span(start: int, count: int, width: int, chunk_bytes: int) -> tuple[int, int]:
    """Chunks ``[first, end)`` that hold flat elements ``[start, start + count)`` of ``width`` bytes.

    ``count`` must be >= 1 and ``start`` >= 0. Raises :class:`IndexOutOfRangeError` otherwise.
    """
    check_chunk_bytes(chunk_bytes)
    if start < 0 or count < 1:
        raise IndexOutOfRangeError(f"element range start={start}, count={count} needs start >= 0, count >= 1")
    first = (start * width) // chunk_bytes
    end = ((start + count) * width - 1) // chunk_bytes + 1
    return first, end


@dataclass(frozen=True)
class ElementProof:
    """Proof of flat elements ``[start, start + count)``: whole chunks ``first_chunk ..`` plus siblings.

    ``chunks`` are the revealed chunks (each exactly ``chunk_bytes`` long);
    ``siblings`` follow the range-proof order of :mod:`offchain.commit.merkle`.
    """

    start: int
    count: int
    first_chunk: int
    chunks: tuple[bytes, ...]
    siblings: tuple[bytes, ...]


@dataclass(frozen=True)
class TensorTree:
    """A tensor's packed bytes with its Merkle tree: what a submitter keeps to answer a dispute."""

    dtype: np.dtype
    shape: tuple[int, ...]
    chunk_bytes: int
    packed: bytes
    tree: MerkleTree

    @property
    def root(self) -> bytes:
        """The tensor root."""
        return self.tree.root

    @property
    def numel(self) -> int:
        """Number of elements."""
        return len(self.packed) // dtype_width(self.dtype)

    def chunk(self, index: int) -> bytes:
        """Chunk ``index`` (zero-padded to ``chunk_bytes``); the preimage of leaf ``index``."""
        if not 0 <= index < self.tree.num_leaves:
            raise IndexOutOfRangeError(f"chunk index {index} outside [0, {self.tree.num_leaves})")
        return chunk(self.packed, index, self.chunk_bytes)

    def prove_elements(self, start: int, count: int) -> ElementProof:
        """Proof of flat elements ``[start, start + count)``; must lie inside ``[0, numel)``."""
        if start < 0 or count < 1 or start + count > self.numel:
            raise IndexOutOfRangeError(
                f"element range [{start}, {start + count}) is empty or outside [0, {self.numel})"
            )
        first, end = element_chunk_span(start, count, dtype_width(self.dtype), self.chunk_bytes)
        proof = self.tree.prove_range(first, end)
        chunks = tuple(self.chunk(i) for i in range(first, end))
        return ElementProof(start=start, count=count, first_chunk=first, chunks=chunks,
                            siblings=proof.siblings)


def tensor_tree(arr: np.ndarray, chunk_bytes: int, workers: int | None = None) -> TensorTree:
    """Commit to ``arr`` and keep its tree for proofs. Memory: packed bytes + 64 B per chunk."""
    packed = bytes(packed_buffer(arr))
    tree = MerkleTree(leaf_hashes(packed, chunk_bytes, workers))
    return TensorTree(dtype=np.dtype(f"i{dtype_width(arr.dtype)}"), shape=tuple(arr.shape),
                      chunk_bytes=chunk_bytes, packed=packed, tree=tree)


def verify_elements(root: bytes, dtype: np.dtype | type | str, numel: int, chunk_bytes: int,
                    proof: ElementProof) -> bool:
    """True iff ``proof`` shows elements ``[proof.start, +count)`` of the ``numel``-element tensor ``root``.

    Checks the element range against ``numel``, that the revealed chunks are
    exactly the ones covering it, each ``chunk_bytes`` long, and the range
    proof. Never raises on a wrong proof.
    """
    width = dtype_width(dtype)
    check_chunk_bytes(chunk_bytes)
    if proof.start < 0 or proof.count < 1 or proof.start + proof.count > numel:
        return False
    first, end = element_chunk_span(proof.start, proof.count, width, chunk_bytes)
    if proof.first_chunk != first or len(proof.chunks) != end - first:
        return False
    if any(len(c) != chunk_bytes for c in proof.chunks):
        return False
    leaves = [keccak256(c) for c in proof.chunks]
    return verify_range(root, chunk_count(numel * width, chunk_bytes), first, leaves, proof.siblings)


def decode_elements(proof: ElementProof, dtype: np.dtype | type | str, chunk_bytes: int) -> np.ndarray:
    """The ``proof.count`` elements (1-D, native int dtype) carried by ``proof``'s chunks.

    Decodes only; call :func:`verify_elements` first to trust them.
    """
    width = dtype_width(dtype)
    check_chunk_bytes(chunk_bytes)
    data = b"".join(proof.chunks)
    offset = proof.start * width - proof.first_chunk * chunk_bytes
    if offset < 0 or offset + proof.count * width > len(data):
        raise PackedSizeError(
            f"chunks from {proof.first_chunk} ({len(data)} bytes) do not cover elements "
            f"[{proof.start}, {proof.start + proof.count}) of width {width}"
        )
    return unpack_tensor(data[offset:offset + proof.count * width], dtype, (proof.count,))

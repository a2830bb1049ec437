"""Commitment primitives (DESIGN.md section 3): everything is a binary keccak Merkle tree.

Public API (import from ``offchain.commit``):

Packing (:mod:`.pack`)
    ``pack_tensor(arr) -> bytes``: int8/int16/int32, row-major, big-endian two's complement.
    ``unpack_tensor(data, dtype, shape) -> ndarray``: inverse.
    ``dtype_width(dtype) -> int``: 1, 2 or 4 bytes.

Hashing (:mod:`.keccak`)
    ``keccak256(data) -> bytes``: the EVM's keccak256. ``KECCAK_EMPTY`` = keccak256(b"").

Trees (:mod:`.merkle`; the module docstring is the normative algorithm)
    ``ZERO_HASHES``: ``Z[0] = bytes32(0)``, ``Z[h+1] = keccak256(Z[h] ++ Z[h])``.
    ``EMPTY_ROOT``: root of a tree with zero leaves = keccak256(b"").
    ``merkle_root(leaves)``, ``tree_depth(n)``, ``hash_pair(l, r)``, ``hash_up(nodes)``,
    ``verify_reveal(parent, children)``.
    ``MerkleTree(leaf_hashes_bytes)`` / ``MerkleTree.from_leaves(list)`` with ``.root``,
    ``.prove_leaf(i)``, ``.prove_range(a, b)``, ``.node(level, index)``, ``.reveal(level, index, j)``.
    ``verify_leaf``, ``verify_range``, ``compute_range_root``; ``LeafProof``, ``RangeProof``.

Chunks and tensors (:mod:`.chunks`, :mod:`.tensor`)
    ``leaf_hashes(data, chunk_bytes)``, ``chunk_count``, ``check_chunk_bytes``,
    ``WEIGHT_CHUNK_BYTES``, ``ACTIVATION_CHUNK_BYTES``.
    ``tensor_root(arr, chunk_bytes)``, ``tensor_tree(arr, chunk_bytes) -> TensorTree``,
    ``element_chunk_span``, ``TensorTree.prove_elements(start, count) -> ElementProof``,
    ``verify_elements``, ``decode_elements``.

Errors (:mod:`.errors`)
    ``CommitError`` and its subclasses ``UnsupportedDtypeError``, ``PackedSizeError``,
    ``ChunkSizeError``, ``LeafError``, ``IndexOutOfRangeError``.
"""

from offchain.commit.chunks import (
    ACTIVATION_CHUNK_BYTES,
    MIN_CHUNK_BYTES,
    WEIGHT_CHUNK_BYTES,
    check_chunk_bytes,
    chunk_count,
    leaf_hashes,
)
from offchain.commit.errors import (
    ChunkSizeError,
    CommitError,
    IndexOutOfRangeError,
    LeafError,
    PackedSizeError,
    UnsupportedDtypeError,
)
from offchain.commit.keccak import KECCAK_EMPTY, keccak256
from offchain.commit.merkle import (
    EMPTY_ROOT,
    HASH_BYTES,
    ZERO_HASHES,
    LeafProof,
    MerkleTree,
    RangeProof,
    compute_range_root,
    hash_pair,
    hash_up,
    merkle_root,
    tree_depth,
    verify_leaf,
    verify_range,
    verify_reveal,
)
from offchain.commit.pack import DTYPE_WIDTH, dtype_width, pack_tensor, packed_buffer, unpack_tensor
from offchain.commit.tensor import (
    ElementProof,
    TensorTree,
    decode_elements,
    element_chunk_span,
    tensor_root,
    tensor_tree,
    verify_elements,
)

__all__ = [
    "ACTIVATION_CHUNK_BYTES", "DTYPE_WIDTH", "EMPTY_ROOT", "HASH_BYTES", "KECCAK_EMPTY",
    "MIN_CHUNK_BYTES", "WEIGHT_CHUNK_BYTES", "ZERO_HASHES",
    "ChunkSizeError", "CommitError", "ElementProof", "IndexOutOfRangeError", "LeafError",
    "LeafProof", "MerkleTree", "PackedSizeError", "RangeProof", "TensorTree", "UnsupportedDtypeError",
    "check_chunk_bytes", "chunk_count", "compute_range_root", "decode_elements", "dtype_width",
    "element_chunk_span", "hash_pair", "hash_up", "keccak256", "leaf_hashes", "merkle_root",
    "pack_tensor", "packed_buffer", "tensor_root", "tensor_tree", "tree_depth", "unpack_tensor",
    "verify_elements", "verify_leaf", "verify_range", "verify_reveal",
]

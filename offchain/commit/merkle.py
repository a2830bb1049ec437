"""Binary keccak Merkle trees: roots, proofs, range proofs and k-ary reveals.

Every commitment of the protocol (tensor, graph, weights, trace roots) is one
of these trees. The Solidity library mirrors this module line for line, so the
rules below are the protocol's single definition.

Tree shape
----------
* A tree over ``n`` leaves (32-byte hashes) has depth ``d = ceil(log2(n))``
  (``d = 0`` for ``n = 1``) and ``2**d`` leaf slots. Parent =
  ``keccak256(left ++ right)``.
* Slots ``n .. 2**d - 1`` are padding. A subtree of height ``h`` made only of
  padding has the fixed hash ``Z[h]`` of the empty-subtree ladder::

      Z[0]   = bytes32(0)
      Z[h+1] = keccak256(Z[h] ++ Z[h])

  Chosen because it is the cheapest on-chain: ``Z[0]`` is a free constant and
  a contract that builds a root from scratch pads an odd level with ``Z[h]``
  (a 32-entry constant table, or one extra keccak per level). A padding leaf
  cannot be mistaken for a real one: real leaves are keccak outputs, and a
  keccak preimage of zero is unknown.
* The tree over zero leaves has the root :data:`EMPTY_ROOT` = ``keccak256("")``
  (non-zero, so it never looks like an unset storage slot, and distinct from
  every ``Z[h]``).
* A root does not commit to ``n``. Verifiers always take ``n`` from context
  (tensor shape, node count in the graph) and derive ``d`` from it; that also
  rules out passing an inner node off as a leaf.

Positions
---------
``(level, index)`` counts levels from the root: the root is ``(0, 0)``, the
leaves are ``(d, 0 .. 2**d - 1)``. Internally, ``height = d - level``.

Range proof (contiguous leaves ``[start, start + m)``)
------------------------------------------------------
The proof is the list of sibling hashes that the verifier consumes in this
exact order: level by level from the leaves up; within one level, first the
left neighbour of the run (present iff the run's first position is odd), then
the right neighbour (present iff the run's last position is even). A
single-leaf proof is the case ``m = 1``: one sibling per level, bottom-up.
Verification, in one loop, in place, with at most ``m + 2d`` hashes and at
most ``2d`` siblings::

    require 1 <= m and start + m <= n            (n from context)
    nodes = leaves; lo = start; p = 0
    repeat d times:
        out = 0; i = 0
        if lo is odd:                       # first node is a right child
            nodes[0] = H(proof[p], nodes[0]); p += 1; out = 1; i = 1
        while i + 1 < m:                    # whole pairs inside the run
            nodes[out] = H(nodes[i], nodes[i+1]); out += 1; i += 2
        if i < m:                           # last node is a left child
            nodes[out] = H(nodes[i], proof[p]); p += 1; out += 1
        m = out; lo = lo >> 1
    accept iff p == len(proof) and nodes[0] == root

Writes never overtake reads (``out <= i`` throughout), so Solidity can reuse
the calldata-copied ``nodes`` array. Reading ``proof[p]`` past its end means
the proof is too short: reject.

k-ary reveal (dispute descent)
------------------------------
``reveal(level, index, j)`` returns the ``2**j`` descendants of node
``(level, index)`` at ``level + j`` (padding positions give ``Z[h]``).
:func:`hash_up` hashes such a list pairwise back to one node (level by
level, left to right); the contract checks ``hash_up(children) == parent``
(:func:`verify_reveal`). A descent that picks child ``c`` moves to
``(level + j, index * 2**j + c)``; near the leaves it reveals
``min(j, d - level)`` levels.

Who may call: anyone; everything here is pure except that a
:class:`MerkleTree` keeps its levels in memory.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from offchain.commit.errors import IndexOutOfRangeError, LeafError
from offchain.commit.keccak import KECCAK_EMPTY, keccak256, keccak256_pieces

HASH_BYTES = 32

#: Root of a tree over zero leaves (also the root of a zero-size tensor).
EMPTY_ROOT: bytes = KECCAK_EMPTY

#: Deepest tree supported: 2**64 leaves is beyond any tensor or trace.
MAX_DEPTH = 64


def _zero_ladder(depth: int) -> tuple[bytes, ...]:
    ladder = [bytes(HASH_BYTES)]
    for _ in range(depth):
        ladder.append(keccak256(ladder[-1] + ladder[-1]))
    return tuple(ladder)


#: ``ZERO_HASHES[h]`` is the hash of an all-padding subtree of height ``h``.
ZERO_HASHES: tuple[bytes, ...] = _zero_ladder(MAX_DEPTH)


def hash_pair(left: bytes, right: bytes) -> bytes:
    """Parent hash ``keccak256(left ++ right)`` of two 32-byte nodes."""
    return keccak256(left + right)


def tree_depth(num_leaves: int) -> int:
    """Depth ``ceil(log2(num_leaves))`` of the padded tree; 0 for 0 or 1 leaves."""
    if num_leaves < 0:
        raise IndexOutOfRangeError(f"num_leaves must be >= 0, got {num_leaves}")
    depth = max(num_leaves - 1, 0).bit_length()
    if depth > MAX_DEPTH:
        raise IndexOutOfRangeError(f"num_leaves {num_leaves} needs depth {depth} > {MAX_DEPTH}")
    return depth


def _check_leaves(leaves: Sequence[bytes]) -> bytes:
    for i, leaf in enumerate(leaves):
        if len(leaf) != HASH_BYTES:
            raise LeafError(f"leaf {i} has {len(leaf)} bytes, expected {HASH_BYTES}")
    return b"".join(leaves)


def _parent_level(level: bytes, height: int) -> bytes:
    """Hash a packed level (32 bytes per node) of the given height into its parent level."""
    if (len(level) // HASH_BYTES) % 2:
        level = level + ZERO_HASHES[height]
    return keccak256_pieces(level, 2 * HASH_BYTES, 0, len(level) // (2 * HASH_BYTES))


class MerkleTree:
    """A padded binary keccak Merkle tree that keeps its levels to produce proofs.

    Memory: 32 bytes per stored node, about twice the leaf bytes. Padding
    nodes are not stored (they come from :data:`ZERO_HASHES`).
    """

    def __init__(self, leaf_hashes: bytes | bytearray | memoryview):
        """Build from the concatenation of the leaves (``32 * n`` bytes)."""
        packed = bytes(leaf_hashes)
        if len(packed) % HASH_BYTES:
            raise LeafError(f"packed leaves have {len(packed)} bytes, not a multiple of {HASH_BYTES}")
        self.num_leaves: int = len(packed) // HASH_BYTES
        self.depth: int = tree_depth(self.num_leaves)
        levels = [packed]
        for height in range(self.depth):
            levels.append(_parent_level(levels[-1], height))
        self._levels: list[bytes] = levels  # _levels[h]: stored nodes at height h

    @classmethod
    def from_leaves(cls, leaves: Sequence[bytes]) -> "MerkleTree":
        """Build from a sequence of 32-byte leaves. Raises :class:`LeafError` on a wrong length."""
        return cls(_check_leaves(leaves))

    @property
    def root(self) -> bytes:
        """The 32-byte root (:data:`EMPTY_ROOT` for zero leaves)."""
        if self.num_leaves == 0:
            return EMPTY_ROOT
        return self._levels[self.depth][:HASH_BYTES]

    def leaf(self, index: int) -> bytes:
        """Leaf ``index`` (``0 <= index < num_leaves``)."""
        if not 0 <= index < self.num_leaves:
            raise IndexOutOfRangeError(f"leaf index {index} outside [0, {self.num_leaves})")
        return self._node_at_height(0, index)

    def node(self, level: int, index: int) -> bytes:
        """Node at ``level`` (0 = root, ``depth`` = leaves) and ``index`` (< ``2**level``)."""
        if self.num_leaves == 0:
            raise IndexOutOfRangeError("an empty tree has no nodes to address")
        if not 0 <= level <= self.depth:
            raise IndexOutOfRangeError(f"level {level} outside [0, {self.depth}]")
        if not 0 <= index < (1 << level):
            raise IndexOutOfRangeError(f"index {index} outside [0, {1 << level}) at level {level}")
        return self._node_at_height(self.depth - level, index)

    def _node_at_height(self, height: int, index: int) -> bytes:
        stored = self._levels[height]
        offset = index * HASH_BYTES
        if offset < len(stored):
            return stored[offset:offset + HASH_BYTES]
        return ZERO_HASHES[height]

    def prove_leaf(self, index: int) -> "LeafProof":
        """Proof of leaf ``index``: its ``depth`` siblings, bottom-up."""
        proof = self.prove_range(index, index + 1)
        return LeafProof(index=index, siblings=proof.siblings)

    def prove_range(self, start: int, end: int) -> "RangeProof":
        """Proof of the contiguous leaves ``[start, end)``, ``0 <= start < end <= num_leaves``.

        Sibling order is the one the module docstring's verification loop consumes.
        """
        if not 0 <= start < end <= self.num_leaves:
            raise IndexOutOfRangeError(
                f"leaf range [{start}, {end}) is empty or outside [0, {self.num_leaves})"
            )
        siblings: list[bytes] = []
        lo, hi = start, end - 1
        for height in range(self.depth):
            if lo & 1:
                siblings.append(self._node_at_height(height, lo - 1))
            if not hi & 1:
                siblings.append(self._node_at_height(height, hi + 1))
            lo >>= 1
            hi >>= 1
        return RangeProof(start=start, end=end, siblings=tuple(siblings))

    def reveal(self, level: int, index: int, j: int) -> list[bytes]:
        """The ``2**j`` descendants of node ``(level, index)`` at ``level + j``, left to right.

        ``level + j`` must not exceed ``depth``. :func:`hash_up` of the result
        equals ``node(level, index)``.
        """
        self.node(level, index)  # validates the position
        if not 0 <= j <= self.depth - level:
            raise IndexOutOfRangeError(
                f"j = {j} outside [0, {self.depth - level}] below level {level} of a depth-{self.depth} tree"
            )
        height = self.depth - level - j
        first = index << j
        return [self._node_at_height(height, first + k) for k in range(1 << j)]


@dataclass(frozen=True)
class LeafProof:
    """Membership proof of one leaf: position and siblings bottom-up (one per level)."""

    index: int
    siblings: tuple[bytes, ...]


@dataclass(frozen=True)
class RangeProof:
    """Proof of leaves ``[start, end)``: siblings in the docstring's verification order."""

    start: int
    end: int
    siblings: tuple[bytes, ...]


def merkle_root(leaves: Sequence[bytes]) -> bytes:
    """Root of the padded tree over 32-byte ``leaves`` (:data:`EMPTY_ROOT` if there are none).

    Used for the graph root (node-descriptor hashes), the weights root
    (weight tensor roots) and the trace root (output tensor roots).
    """
    return MerkleTree(_check_leaves(leaves)).root


def compute_range_root(num_leaves: int, start: int, leaves: Sequence[bytes],
                       siblings: Sequence[bytes]) -> bytes | None:
    """Root implied by ``leaves`` at ``[start, start + len(leaves))`` and ``siblings``.

    The exact loop of the module docstring. Returns ``None`` instead of
    raising when the inputs cannot form a valid proof (empty or out-of-range
    leaves, wrong hash lengths, too few or too many siblings).
    """
    m = len(leaves)
    if num_leaves < 1 or m < 1 or start < 0 or start + m > num_leaves:
        return None
    if any(len(h) != HASH_BYTES for h in leaves) or any(len(h) != HASH_BYTES for h in siblings):
        return None
    depth = tree_depth(num_leaves)
    nodes = list(leaves)
    lo, p = start, 0
    for _ in range(depth):
        out = i = 0
        if lo & 1:
            if p >= len(siblings):
                return None
            nodes[0] = hash_pair(siblings[p], nodes[0])
            p, out, i = p + 1, 1, 1
        while i + 1 < m:
            nodes[out] = hash_pair(nodes[i], nodes[i + 1])
            out, i = out + 1, i + 2
        if i < m:
            if p >= len(siblings):
                return None
            nodes[out] = hash_pair(nodes[i], siblings[p])
            p, out = p + 1, out + 1
        m, lo = out, lo >> 1
    if p != len(siblings):
        return None
    return nodes[0]


def verify_range(root: bytes, num_leaves: int, start: int, leaves: Sequence[bytes],
                 siblings: Sequence[bytes]) -> bool:
    """True iff ``leaves`` sit at ``[start, start + len(leaves))`` of the ``num_leaves``-leaf tree ``root``."""
    return compute_range_root(num_leaves, start, leaves, siblings) == root


def verify_leaf(root: bytes, num_leaves: int, index: int, leaf: bytes,
                siblings: Sequence[bytes]) -> bool:
    """True iff ``leaf`` is leaf ``index`` of the ``num_leaves``-leaf tree ``root``."""
    return verify_range(root, num_leaves, index, [leaf], siblings)


def hash_up(nodes: Sequence[bytes]) -> bytes:
    """Hash ``2**j`` sibling nodes (left to right) pairwise up to their common ancestor.

    Raises :class:`LeafError` if the count is not a power of two or a node is not 32 bytes.
    """
    count = len(nodes)
    if count < 1 or count & (count - 1):
        raise LeafError(f"hash_up needs a power-of-two number of nodes, got {count}")
    level = list(nodes)
    _check_leaves(level)
    while len(level) > 1:
        level = [hash_pair(level[i], level[i + 1]) for i in range(0, len(level), 2)]
    return level[0]


def verify_reveal(parent: bytes, children: Sequence[bytes]) -> bool:
    """True iff ``children`` (``2**j`` nodes, left to right) hash up to ``parent``. Never raises."""
    count = len(children)
    if count < 1 or count & (count - 1) or any(len(c) != HASH_BYTES for c in children):
        return False
    return hash_up(children) == parent

"""The other side's tree, as far as its reveals have shown it.

A challenger must prove operand roots (outputs of nodes before the disputed node i) against the
*submitter's* trace root. Leaves before i agree with the honest trace (the challenger always picked the
leftmost disagreeing child), and every sibling on such a proof path is either a subtree wholly before
leaf i (honest values) or a node the submitter's reveals determine (a node on i's path or a sibling of
one, hashed up from revealed children). So the honest tree plus the reveals give every proof.
"""

from __future__ import annotations

from offchain.commit import MerkleTree, hash_pair


class ClaimedTreeError(Exception):
    """The reveals seen so far do not determine a node that a proof needs."""


class ClaimedTree:
    """Nodes of the claimed tree (same depth and leaf count as ``honest``) learnt from reveals."""

    def __init__(self, honest: MerkleTree, claimed_root: bytes):
        self.honest = honest
        self.depth = honest.depth
        self.known: dict[tuple[int, int], bytes] = {(0, 0): claimed_root}

    def add_reveal(self, level: int, index: int, children: list[bytes]) -> None:
        """Record the 2^j children revealed below node (level, index) and every node between."""
        j = len(children).bit_length() - 1
        row = list(children)
        row_level = level + j
        first = index << j
        while True:
            for k, h in enumerate(row):
                self.known[(row_level, first + k)] = h
            if len(row) == 1:
                break
            row = [hash_pair(row[k], row[k + 1]) for k in range(0, len(row), 2)]
            row_level -= 1
            first >>= 1

    def node(self, level: int, index: int, agreed_before: int) -> bytes:
        """Node (level, index): from the honest tree if its leaves all lie before leaf ``agreed_before``."""
        height = self.depth - level
        if (index + 1) << height <= agreed_before:
            return self.honest.node(level, index)
        if (level, index) in self.known:
            return self.known[(level, index)]
        raise ClaimedTreeError(f"node ({level}, {index}) of the claimed tree is not determined by the reveals")

    def prove_leaf(self, leaf: int, agreed_before: int) -> list[bytes]:
        """Siblings (bottom-up) proving claimed leaf ``leaf`` < ``agreed_before`` against the claimed root."""
        siblings = []
        index = leaf
        for level in range(self.depth, 0, -1):
            siblings.append(self.node(level, index ^ 1, agreed_before))
            index >>= 1
        return siblings

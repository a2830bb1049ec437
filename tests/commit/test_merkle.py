"""Merkle roots, leaf and range proofs, k-ary reveals: against the naive reference and under tampering."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from offchain.commit import (
    EMPTY_ROOT,
    ZERO_HASHES,
    IndexOutOfRangeError,
    LeafError,
    MerkleTree,
    compute_range_root,
    hash_up,
    merkle_root,
    tree_depth,
    verify_leaf,
    verify_range,
    verify_reveal,
)

from .naive import keccak_ref, naive_root


def make_leaves(n: int, salt: bytes = b"") -> list[bytes]:
    return [keccak_ref(salt + i.to_bytes(4, "big")) for i in range(n)]


def flip(h: bytes, bit: int = 0) -> bytes:
    return bytes([h[0] ^ (1 << bit)]) + h[1:]


@pytest.mark.parametrize("n", [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 15, 16, 17, 33])
def test_root_matches_naive(n):
    leaves = make_leaves(n)
    assert merkle_root(leaves) == naive_root(leaves)
    assert MerkleTree.from_leaves(leaves).root == naive_root(leaves)


def test_small_roots_by_hand():
    a, b, c = make_leaves(3)
    assert merkle_root([a]) == a
    assert merkle_root([a, b]) == keccak_ref(a + b)
    assert merkle_root([a, b, c]) == keccak_ref(keccak_ref(a + b) + keccak_ref(c + bytes(32)))
    assert merkle_root([]) == EMPTY_ROOT


def test_depth():
    assert [tree_depth(n) for n in (0, 1, 2, 3, 4, 5, 8, 9)] == [0, 0, 1, 2, 2, 3, 3, 4]
    with pytest.raises(IndexOutOfRangeError):
        tree_depth(-1)


def test_bad_leaf_length_rejected():
    with pytest.raises(LeafError, match="leaf 1 has 31 bytes"):
        merkle_root([bytes(32), bytes(31)])
    with pytest.raises(LeafError, match="not a multiple of 32"):
        MerkleTree(bytes(33))


@pytest.mark.parametrize("n", range(1, 18))
def test_every_leaf_proof_round_trips(n):
    leaves = make_leaves(n)
    tree = MerkleTree.from_leaves(leaves)
    for i in range(n):
        proof = tree.prove_leaf(i)
        assert len(proof.siblings) == tree.depth
        assert verify_leaf(tree.root, n, i, leaves[i], proof.siblings)


@pytest.mark.parametrize("n", range(1, 14))
def test_every_range_proof_round_trips_and_is_minimal(n):
    leaves = make_leaves(n)
    tree = MerkleTree.from_leaves(leaves)
    for a in range(n):
        for b in range(a + 1, n + 1):
            proof = tree.prove_range(a, b)
            assert verify_range(tree.root, n, a, leaves[a:b], proof.siblings)
            # at most one sibling per side per level
            assert len(proof.siblings) <= 2 * tree.depth
    if n >= 2:
        assert tree.prove_range(0, n).siblings == tuple(
            ZERO_HASHES[h] for h in range(tree.depth) if ((n - 1) >> h) & 1 == 0
        )


def test_leaf_proof_tampering_rejected():
    n = 11
    leaves = make_leaves(n)
    tree = MerkleTree.from_leaves(leaves)
    root = tree.root
    for i in range(n):
        sib = list(tree.prove_leaf(i).siblings)
        assert verify_leaf(root, n, i, leaves[i], sib)
        for k in range(len(sib)):
            wrong = sib[:k] + [flip(sib[k])] + sib[k + 1:]
            assert not verify_leaf(root, n, i, leaves[i], wrong), "wrong sibling"
        assert not verify_leaf(root, n, i, flip(leaves[i]), sib), "wrong leaf"
        for j in range(n):
            if j != i:
                assert not verify_leaf(root, n, j, leaves[i], sib), "wrong index"
        assert not verify_leaf(root, n, i, leaves[i], sib[:-1]), "truncated"
        assert not verify_leaf(root, n, i, leaves[i], sib[1:]), "first sibling dropped"
        assert not verify_leaf(root, n, i, leaves[i], sib + [bytes(32)]), "extended"
        assert not verify_leaf(root, n, i, leaves[i], list(reversed(sib))), "reordered"
        assert not verify_leaf(flip(root), n, i, leaves[i], sib), "wrong root"
        assert not verify_leaf(root, 2 * n + 1, i, leaves[i], sib), "wrong depth"
    assert not verify_leaf(root, n, n, bytes(32), []), "padding slot"
    assert not verify_leaf(root, n, -1, leaves[0], tree.prove_leaf(0).siblings)


def test_range_proof_tampering_rejected():
    n = 13
    leaves = make_leaves(n)
    tree = MerkleTree.from_leaves(leaves)
    root = tree.root
    for a in range(n):
        for b in range(a + 1, n + 1):
            sib = list(tree.prove_range(a, b).siblings)
            got = leaves[a:b]
            for k in range(len(sib)):
                assert not verify_range(root, n, a, got, sib[:k] + [flip(sib[k], 3)] + sib[k + 1:])
            for k in range(len(got)):
                assert not verify_range(root, n, a, got[:k] + [flip(got[k])] + got[k + 1:], sib)
            if sib:
                assert not verify_range(root, n, a, got, sib[:-1]), "truncated"
            assert not verify_range(root, n, a, got, sib + [ZERO_HASHES[0]]), "extended"
            # range off by one, in every direction
            assert not verify_range(root, n, a + 1, got, sib)
            assert not verify_range(root, n, a - 1, got, sib)
            if b < n:
                assert not verify_range(root, n, a, leaves[a:b + 1], sib)
            if b - a > 1:
                assert not verify_range(root, n, a, got[:-1], sib)
                assert not verify_range(root, n, a + 1, got[1:], sib)
    assert not verify_range(root, n, 0, [], [])
    assert compute_range_root(0, 0, leaves[:1], []) is None
    assert not verify_range(root, n, 0, [leaves[0][:31]], tree.prove_leaf(0).siblings)


def test_single_leaf_tree():
    leaf = make_leaves(1)[0]
    tree = MerkleTree.from_leaves([leaf])
    assert tree.root == leaf and tree.depth == 0
    assert tree.prove_leaf(0).siblings == ()
    assert verify_leaf(leaf, 1, 0, leaf, [])
    assert not verify_leaf(leaf, 1, 0, leaf, [bytes(32)])
    assert tree.reveal(0, 0, 0) == [leaf]


def test_prove_out_of_range_raises():
    tree = MerkleTree.from_leaves(make_leaves(5))
    for a, b in [(0, 0), (3, 2), (-1, 2), (4, 6), (5, 6)]:
        with pytest.raises(IndexOutOfRangeError):
            tree.prove_range(a, b)
    with pytest.raises(IndexOutOfRangeError):
        tree.leaf(5)
    with pytest.raises(IndexOutOfRangeError):
        MerkleTree(b"").prove_leaf(0)


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8, 11, 16, 21])
def test_reveal_hash_up_round_trip(n):
    tree = MerkleTree.from_leaves(make_leaves(n))
    for level in range(tree.depth + 1):
        for index in range(1 << level):
            parent = tree.node(level, index)
            for j in range(tree.depth - level + 1):
                children = tree.reveal(level, index, j)
                assert len(children) == 1 << j
                assert hash_up(children) == parent
                assert verify_reveal(parent, children)
                if j:
                    assert not verify_reveal(parent, children[:-1] + [flip(children[-1])])
                    assert not verify_reveal(parent, children[::-1]) or len(set(children)) == 1
                    assert not verify_reveal(parent, children[:-1])


def test_descent_reaches_the_leaf():
    """A 2**j-ary descent from the root, always taking child c, ends at the leaf the index spells."""
    n, j = 23, 2
    leaves = make_leaves(n)
    tree = MerkleTree.from_leaves(leaves)
    target = 17
    level, index = 0, 0
    while level < tree.depth:
        step = min(j, tree.depth - level)
        children = tree.reveal(level, index, step)
        assert hash_up(children) == tree.node(level, index)
        child = (target >> (tree.depth - level - step)) & ((1 << step) - 1)
        level, index = level + step, (index << step) + child
    assert tree.node(level, index) == leaves[target]


def test_padding_nodes_come_from_the_ladder():
    tree = MerkleTree.from_leaves(make_leaves(5))  # depth 3, slots 5..7 are padding
    assert tree.node(3, 6) == ZERO_HASHES[0]
    assert tree.node(2, 3) == ZERO_HASHES[1]
    assert tree.node(1, 1) != ZERO_HASHES[2]  # holds real leaf 4


def test_reveal_and_hash_up_reject_bad_arguments():
    tree = MerkleTree.from_leaves(make_leaves(6))
    with pytest.raises(IndexOutOfRangeError):
        tree.reveal(1, 0, 3)
    with pytest.raises(IndexOutOfRangeError):
        tree.reveal(1, 2, 1)
    with pytest.raises(IndexOutOfRangeError):
        tree.node(4, 0)
    with pytest.raises(LeafError, match="power-of-two"):
        hash_up(make_leaves(3))
    with pytest.raises(LeafError):
        hash_up([])
    assert not verify_reveal(tree.root, [])
    assert not verify_reveal(tree.root, [tree.root[:31]])


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 70), st.data())
def test_range_proof_property(n, data):
    leaves = make_leaves(n, salt=b"p")
    tree = MerkleTree.from_leaves(leaves)
    assert tree.root == naive_root(leaves)
    a = data.draw(st.integers(0, n - 1))
    b = data.draw(st.integers(a + 1, n))
    sib = tree.prove_range(a, b).siblings
    assert verify_range(tree.root, n, a, leaves[a:b], sib)
    shift = data.draw(st.sampled_from([-1, 1]))
    assert not verify_range(tree.root, n, a + shift, leaves[a:b], sib)

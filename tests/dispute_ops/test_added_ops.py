"""AddedOps.sol equals offchain/engine/ops/added.py element for element (rangeCount, every range including the
data-dependent probe windows, element) for ADDED_MATCH and ADDED_RESOLVE: on Llama-3's specials over a chat text,
on a chain of two ADDED_MATCH nodes (the second reads prev), on random tensors (holes, int32 extremes in chars, ids,
prev and candidates, colliding keys, negative ids, ends before / past the position and past N, salts 0 and
2^32 - 1) and at the caps (N = 256, W = 8, D = 12 lengths up to 64);
malformed nodes revert with BadNode naming the field."""

from __future__ import annotations

import numpy as np
import pytest

from engine.op_harness import make_node, spec
from engine.test_added_ops import added_rows, match_node, resolve_node
from offchain.dispute.operators import descriptor_tuple
from offchain.engine.descriptor import encode_node
from offchain.engine.dtypes import DType
from offchain.engine.ops import OpCode, get_op
from offchain.engine.ops.added import MAX_ADDED_CHARS, MAX_ADDED_LENGTHS, MAX_ADDED_WINDOW, MAX_CHARS, length_groups
from offchain.engine.ops.wordvocab import VOCAB_ROW, hash_words, symbols_hash, vocab_home
from offchain.models import bpe_merges

from ._harness import check_against_contract, custom_error, revert_data

RNG = np.random.default_rng(57)
I32_MIN, I32_MAX = -(2**31), 2**31 - 1


def i32(shape):
    return spec(shape, DType.INT32, 0)


@pytest.fixture(scope="module")
def contract(deploy):
    return deploy("AddedOps")


def _llama3_case():
    specials = ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"] \
        + [f"<|reserved_special_token_{k}|>" for k in range(256)]
    rows = added_rows([[ord(c) for c in t] for t in specials])
    text = "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nhé <|reserved_special_token_42|>" \
           "<|reserved_special_token_4<|eot_id|>"
    n = 128
    cps = [ord(c) for c in text]
    chars = np.array(cps + [-1] * (n - len(cps)), dtype=np.int32)
    chars = np.insert(chars, 60, -1)[:n]   # a hole inside the text (a UTF-8 continuation position)
    return chars, rows


def _elements(cand: np.ndarray, every: int = 7) -> list[int]:
    """Both columns of every match, and every ``every``-th element besides (each element of the op takes the code
    path of one of these: a match, a miss, a hole; all of them made the test 25 s)."""
    n = cand.shape[0]
    hits = {int(p) for p in np.flatnonzero(cand[:, 0] >= 0)}
    return sorted({2 * p + c for p in hits for c in (0, 1)} | set(range(0, 2 * n, every)))


def test_llama3_specials_match_on_every_kind_of_element(contract):
    chars, rows = _llama3_case()
    table, window, salt, lengths = bpe_merges.added_match_table(rows)
    n = chars.size
    node = match_node(n, table.shape[0], window, salt, lengths)
    cand = get_op(OpCode.ADDED_MATCH).forward([chars, table], node)
    assert (cand[:, 0] >= 0).sum() >= 5
    check_against_contract(contract, node, [chars, table], _elements(cand))
    check_against_contract(contract, resolve_node(n), [cand, chars], range(n))


def test_a_chain_over_many_lengths_matches(contract):
    """Tokens of every length 1 .. MAX_ADDED_LENGTHS + 4: two chained ADDED_MATCH nodes, every kind of element."""
    a, b = ord("a"), ord("b")
    tokens = [[a] * (k - 1) + [b] for k in range(1, MAX_ADDED_LENGTHS + 5)]
    rows = added_rows(tokens)
    table, window, salt, lengths = bpe_merges.added_match_table(rows)
    text = tokens[-1] + tokens[3] + tokens[-3][:-1] + tokens[0] + [a, -1, b] + tokens[MAX_ADDED_LENGTHS + 1]
    n = len(text) + 2
    chars = np.array(text + [-1, -1], dtype=np.int32)
    first, second = length_groups(lengths)
    node1 = match_node(n, table.shape[0], window, salt, first)
    prev = get_op(OpCode.ADDED_MATCH).forward([chars, table], node1)
    check_against_contract(contract, node1, [chars, table], _elements(prev))
    node2 = match_node(n, table.shape[0], window, salt, second, prev=True)
    assert (prev[:, 0] >= 0).any() and (prev[:, 0] < 0).any()
    check_against_contract(contract, node2, [chars, table, prev],
                           _elements(get_op(OpCode.ADDED_MATCH).forward([chars, table, prev], node2)))
    wild = RNG.choice([-1, -2, 0, 5, I32_MIN, I32_MAX], size=(n, 2)).astype(np.int32)
    check_against_contract(contract, node2, [chars, table, wild], range(0, 2 * n, 9))


def _random_match(n: int, rows: int, window: int, salt: int, lengths):
    chars = RNG.choice([-1, -1, 0, 1, 2, I32_MAX, I32_MIN, -2], size=n).astype(np.int32)
    table = RNG.integers(I32_MIN, I32_MAX, size=(rows, VOCAB_ROW), dtype=np.int64).astype(np.int32)
    table[RNG.random(rows) < 0.4] = -1
    text = [int(c) for c in chars if c >= 0]
    homes = rows - window + 1
    for k in range(len(text)):
        for length in lengths:
            if k + length <= len(text) and RNG.random() < 0.5:
                h = symbols_hash(text[k:k + length])
                table[vocab_home(h, salt, homes) + int(RNG.integers(0, window))] = (
                    *hash_words(h), int(RNG.choice([k, 0, -1, I32_MIN, I32_MAX])))
    return chars, table


@pytest.mark.parametrize("n,rows,window,salt,lengths", [(12, 16, 3, 0, (4, 2, 1)), (9, 16, 1, 2**32 - 1, (3,)),
                                                         (6, 4, 4, 77, (6, 5, 1)), (1, 1, 1, 5, (1,))])
def test_random_match_tensors(contract, n, rows, window, salt, lengths):
    chars, table = _random_match(n, rows, window, salt, lengths)
    check_against_contract(contract, match_node(n, rows, window, salt, lengths), [chars, table], range(2 * n))


@pytest.mark.parametrize("n", [1, 7, 16])
def test_random_resolve_tensors(contract, n):
    for _ in range(3):
        cand = RNG.choice([-3, -2, -1, 0, 1, 2, n // 2, n, n + 1, I32_MIN, I32_MAX], size=(n, 2)).astype(np.int32)
        cand[:, 1] = np.where(RNG.random(n) < 0.5, np.arange(n) + RNG.integers(1, 4, n), cand[:, 1])
        chars = RNG.choice([-1, 5, 0, I32_MIN, I32_MAX], size=n).astype(np.int32)
        check_against_contract(contract, resolve_node(n), [cand, chars], range(n))


def test_edge_tensors(contract):
    """All -1 chars; all -1 table; a text of int32 max chars whose every substring is a key with id int32 max."""
    n, rows, window, salt, lengths = 6, 16, 2, 2**32 - 1, (3, 2, 1)
    node = match_node(n, rows, window, salt, lengths)
    empty = np.full(n, -1, dtype=np.int32)
    table = np.full((rows, VOCAB_ROW), -1, dtype=np.int32)
    check_against_contract(contract, node, [empty, table], range(2 * n))
    full = np.full(n, I32_MAX, dtype=np.int32)
    check_against_contract(contract, node, [full, table], range(2 * n))
    for length in lengths:
        h = symbols_hash([I32_MAX] * length)
        table[vocab_home(h, salt, rows - window + 1) + window - 1] = (*hash_words(h), I32_MAX - length)
    checked = check_against_contract(contract, node, [full, table], range(2 * n))
    assert [c.value for c in checked[:4]] == [I32_MAX - 3, 3, I32_MAX - 3, 4]
    assert [c.value for c in checked[-2:]] == [I32_MAX - 1, n]
    cand = get_op(OpCode.ADDED_MATCH).forward([full, table], node)
    checked = check_against_contract(contract, resolve_node(n), [cand, full], range(n))
    assert [c.value for c in checked] == [I32_MAX - 3, -2, -2, I32_MAX - 3, -2, -2]


def test_the_caps_match(contract):
    """N = 256, W = 8, D = 12 lengths from 64 down: a text of one repeated char, keys of some lengths present."""
    n, rows, window, salt = MAX_CHARS, 1024, MAX_ADDED_WINDOW, 9
    lengths = list(range(MAX_ADDED_CHARS, MAX_ADDED_CHARS - MAX_ADDED_LENGTHS, -1))
    chars = np.full(n, ord("a"), dtype=np.int32)
    chars[::5] = -1
    table = np.full((rows, VOCAB_ROW), -1, dtype=np.int32)
    for length in lengths[3::5]:
        h = symbols_hash([ord("a")] * length)
        table[vocab_home(h, salt, rows - window + 1) + window - 1] = (*hash_words(h), 1000 + length)
    node = match_node(n, rows, window, salt, lengths)
    check_against_contract(contract, node, [chars, table], [0, 1, 2, 3, 301, 2 * n - 2, 2 * n - 1])
    cand = get_op(OpCode.ADDED_MATCH).forward([chars, table], node)
    check_against_contract(contract, resolve_node(n), [cand, chars], [0, 1, 100, n - 1])


def _bad_node_reverts(chain, contract, node, reason: str) -> None:
    nd = descriptor_tuple(encode_node(node, 0))
    assert revert_data(chain, contract.rangeCount, nd, 0) == custom_error("BadNode(string)", ["string"], [reason])


def test_malformed_nodes_revert_by_name(chain, contract):
    _bad_node_reverts(chain, contract, match_node(MAX_CHARS + 1, 16, 4, 0, (3,)), "positions")
    _bad_node_reverts(chain, contract, resolve_node(MAX_CHARS + 1), "positions")
    _bad_node_reverts(chain, contract, make_node(OpCode.ADDED_MATCH, (i32((4,)), i32((16, 8))), i32((4, 2)),
                                                 (4, 0, 3)), "table shape")
    _bad_node_reverts(chain, contract, make_node(OpCode.ADDED_MATCH, (i32((4,)), i32((16, 9))), i32((4,)),
                                                 (4, 0, 3)), "output shape")
    _bad_node_reverts(chain, contract, make_node(OpCode.ADDED_MATCH, (i32((4, 1)), i32((16, 9))), i32((4, 2)),
                                                 (4, 0, 3)), "chars shape")
    _bad_node_reverts(chain, contract, make_node(OpCode.ADDED_MATCH, (spec((4,), DType.INT16, 0), i32((16, 9))),
                                                 i32((4, 2)), (4, 0, 3)), "dtype")
    _bad_node_reverts(chain, contract, make_node(OpCode.ADDED_RESOLVE, (i32((4, 3)), i32((4,))), i32((4,))),
                      "cand shape")
    _bad_node_reverts(chain, contract, make_node(OpCode.ADDED_MATCH, (i32((4,)), i32((16, 9)), i32((4, 3))),
                                                 i32((4, 2)), (4, 0, 3)), "prev shape")
    _bad_node_reverts(chain, contract, make_node(OpCode.ADDED_RESOLVE, (i32((4, 2)), i32((4,)), i32((4,))),
                                                 i32((4,))), "input count")
    _bad_node_reverts(chain, contract, make_node(OpCode.ADDED_RESOLVE, (i32((4, 2)), i32((4,))), i32((4,)), (1,)),
                      "params")
    for params in ((4, 0), (0, 0, 3), (MAX_ADDED_WINDOW + 1, 0, 3), (4, -1, 3), (4, 2**32, 3),
                   (4, 0, 3, 3), (4, 0, 2, 3), (4, 0, 0), (4, 0, MAX_ADDED_CHARS + 1),
                   (4, 0, *range(MAX_ADDED_LENGTHS + 1, 0, -1))):
        node = make_node(OpCode.ADDED_MATCH, (i32((4,)), i32((16, 9))), i32((4, 2)), params)
        _bad_node_reverts(chain, contract, node, "params")
    _bad_node_reverts(chain, contract, match_node(4, 4, 5, 0, (3,)), "params")   # window over H
    nd = descriptor_tuple(encode_node(make_node(OpCode.ADDED_TOKENS, (i32((4,)), i32((2, 3))), i32((4,))), 0))
    assert revert_data(chain, contract.rangeCount, nd, 0) == custom_error("UnsupportedOp(uint256)", ["uint256"],
                                                                          [int(OpCode.ADDED_TOKENS)])

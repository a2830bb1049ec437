"""WordVocabOps.sol equals offchain/engine/ops/wordvocab.py element for element (rangeCount, every range including
the data-dependent probe window, element): on the byte-level tokenizer's symbols of a real text with a table holding
some of its words, on random tensors (holes, int32 extremes, -1 everywhere, found / missing / colliding keys, salts
0 and 2^32 - 1) and at the N cap; malformed nodes revert with BadNode naming the field."""

from __future__ import annotations

import numpy as np
import pytest

from bench._bpe_graph import i32, word_vocab_graph
from engine.op_harness import make_node
from offchain.dispute.operators import descriptor_tuple
from offchain.engine.descriptor import encode_node
from offchain.engine.ops import OpCode, get_op
from offchain.engine.ops.bpe import MAX_POSITIONS, SLOTS
from offchain.engine.ops.wordvocab import MAX_VOCAB_WINDOW, VOCAB_ROW, hash_words, symbols_hash, vocab_home

from ._harness import check_against_contract, custom_error, revert_data

RNG = np.random.default_rng(48)
I32_MIN, I32_MAX = -(2**31), 2**31 - 1


@pytest.fixture(scope="module")
def contract(deploy):
    return deploy("WordVocabOps")


def _node(n: int, rows: int, window: int, salt: int):
    return make_node(OpCode.WORD_VOCAB, (i32((n, SLOTS)), i32((n, 2)), i32((rows, VOCAB_ROW))), i32((n, SLOTS)),
                     (window, salt))


def test_a_real_text_matches_on_every_element(contract):
    model, symbols = word_vocab_graph()
    node = model.graph.nodes[0]
    pretok, table = model.weights
    out = get_op(OpCode.WORD_VOCAB).forward([symbols, pretok, table], node)
    assert (out >= 9000).any() and (out != symbols).any(), "some words are found"
    check_against_contract(contract, node, [symbols, pretok, table], range(symbols.size))


def _random_case(n: int, rows: int, window: int, salt: int):
    symbols = RNG.choice([-1, -1, -1, 0, 1, 2, I32_MIN, I32_MAX, -2], size=(n, SLOTS)).astype(np.int32)
    pretok = RNG.choice([0, 0, 1, 1, -1, 2, I32_MAX], size=(n, 2)).astype(np.int32)
    flat, p = symbols.reshape(-1), pretok.reshape(-1)
    starts = [s for s in range(flat.size) if s == 0 or (s % SLOTS < 2 and p[2 * (s // SLOTS) + s % SLOTS] == 1)]
    words = [[int(v) for v in flat[a:b] if v != -1] for a, b in zip(starts, starts[1:] + [flat.size])]
    table = RNG.integers(I32_MIN, I32_MAX, size=(rows, VOCAB_ROW), dtype=np.int64).astype(np.int32)
    table[RNG.random(rows) < 0.5] = -1
    homes = rows - window + 1
    for k, w in enumerate(words):
        if len(w) > 1 and RNG.random() < 0.6:
            h = symbols_hash(w)
            table[vocab_home(h, salt, homes) + int(RNG.integers(0, window))] = (*hash_words(h),
                                                                                 int(RNG.choice([k, I32_MIN, I32_MAX])))
    return symbols, pretok, table


@pytest.mark.parametrize("n,rows,window,salt", [(6, 8, 3, 0), (9, 16, 1, 2**32 - 1), (4, 4, 4, 77), (1, 1, 1, 5)])
def test_random_tensors_match(contract, n, rows, window, salt):
    symbols, pretok, table = _random_case(n, rows, window, salt)
    check_against_contract(contract, _node(n, rows, window, salt), [symbols, pretok, table], range(SLOTS * n))


def test_edge_tensors_match(contract):
    """All -1; one word over every slot (found, then not found); int32 extremes as symbols and token ids."""
    n, rows, window, salt = 5, 8, 2, 3
    pretok = np.zeros((n, 2), dtype=np.int32)
    empty = np.full((n, SLOTS), -1, dtype=np.int32)
    table = np.full((rows, VOCAB_ROW), -1, dtype=np.int32)
    node = _node(n, rows, window, salt)
    check_against_contract(contract, node, [empty, pretok, table], range(SLOTS * n))
    full = RNG.choice([I32_MIN, I32_MAX, 0], size=(n, SLOTS)).astype(np.int32)
    h = symbols_hash(full.reshape(-1).tolist())
    table[vocab_home(h, salt, rows - window + 1) + 1] = (*hash_words(h), I32_MIN)
    checked = check_against_contract(contract, node, [full, pretok, table], range(SLOTS * n))
    assert checked[0].value == I32_MIN and all(c.value == -1 for c in checked[1:])
    table[:] = -1
    check_against_contract(contract, node, [full, pretok, table], [0, 7, SLOTS * n - 1])


def test_the_position_cap_matches(contract):
    n, rows, window = MAX_POSITIONS, 64, MAX_VOCAB_WINDOW
    symbols, pretok, table = _random_case(n, rows, window, 9)
    check_against_contract(contract, _node(n, rows, window, 9), [symbols, pretok, table],
                           [0, 1, SLOTS * n - 1] + [int(e) for e in RNG.integers(0, SLOTS * n, 5)])


def _bad_node_reverts(chain, contract, node, reason: str) -> None:
    nd = descriptor_tuple(encode_node(node, 0))
    assert revert_data(chain, contract.rangeCount, nd, 0) == custom_error("BadNode(string)", ["string"], [reason])


def test_malformed_nodes_revert_by_name(chain, contract):
    n = MAX_POSITIONS + 1
    _bad_node_reverts(chain, contract, _node(n, 8, 4, 0), "positions")
    _bad_node_reverts(chain, contract, make_node(OpCode.WORD_VOCAB, (i32((4, 4)), i32((4, 2)), i32((8, 9))),
                                                 i32((4, 5)), (4, 0)), "symbols shape")
    _bad_node_reverts(chain, contract, make_node(OpCode.WORD_VOCAB, (i32((4, 5)), i32((4, 2)), i32((8, 8))),
                                                 i32((4, 5)), (4, 0)), "table shape")
    _bad_node_reverts(chain, contract, make_node(OpCode.WORD_VOCAB, (i32((4, 5)), i32((4, 2)), i32((8, 9))),
                                                 i32((5, 4)), (4, 0)), "output shape")
    _bad_node_reverts(chain, contract, make_node(OpCode.WORD_VOCAB, (i32((4, 5)), i32((8,)), i32((8, 9))),
                                                 i32((4, 5)), (4, 0)), "pretok shape")
    for params in ((9, 0), (0, 0), (MAX_VOCAB_WINDOW + 1, 0), (4, 2**32), (4, -1)):
        rows = 128 if params[0] == MAX_VOCAB_WINDOW + 1 else 8
        _bad_node_reverts(chain, contract, _node(4, rows, *params), "params")
    nd = descriptor_tuple(encode_node(make_node(OpCode.BPE_MERGE, (i32((4, 5)), i32((20, 2)), i32((4, 2))),
                                                i32((4, 5))), 0))
    assert revert_data(chain, contract.rangeCount, nd, 0) == custom_error("UnsupportedOp(uint256)", ["uint256"],
                                                                          [int(OpCode.BPE_MERGE)])

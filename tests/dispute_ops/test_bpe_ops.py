"""BpeOps.sol equals offchain/engine/ops/bpe.py element for element (rangeCount, every range, element): on the real
tables of both committed tokenizer.json files and on edge tensors: holes everywhere, all -1, INF ranks, runs of
equal pairs ("a a a a"), words of one symbol, symbols at int32's extremes, every UTF-8 length and code points
outside Unicode; malformed nodes revert with BadNode naming the field."""

from __future__ import annotations

import numpy as np
import pytest

from bench._bpe_graph import BYTE_LEVEL, SENTENCEPIECE, Bpe, i32
from engine.op_harness import make_node
from offchain.dispute.operators import descriptor_tuple
from offchain.engine.descriptor import encode_node
from offchain.engine.ops import OpCode, get_op
from offchain.engine.ops.bpe import INF_RANK, MAX_POSITIONS, MERGE_ROW, pair_hash

from ._harness import check_against_contract, custom_error, revert_data

RNG = np.random.default_rng(14)


@pytest.fixture(scope="module")
def contract(deploy):
    return deploy("BpeOps")


@pytest.fixture(scope="module", params=[BYTE_LEVEL, SENTENCEPIECE], ids=["byte-level", "sentencepiece"])
def bpe(request):
    return Bpe(request.param)


def _real(bpe: Bpe, text: str):
    """Symbols, pretok and the first round's ranks of a real text (with holes and virtual prefix chars)."""
    chars, pretok, added, charids = bpe.layout(bpe.words(text), np.random.default_rng(5))
    n = chars.size
    symbols = get_op(OpCode.BPE_SYMBOLS).forward([chars, pretok, added, charids, bpe.byte_ids], bpe.symbols_node(n))
    ranks = get_op(OpCode.PAIR_RANK).forward([symbols, pretok, bpe.table], bpe.rank_node(n))
    return (chars, pretok, added, charids), symbols, ranks


TEXT = "Hi thé 😀 cat aaaa  ate\ufffd!"


def test_bpe_symbols_match_on_a_real_text(contract, bpe):
    inputs, symbols, _ = _real(bpe, TEXT)
    n = symbols.shape[0]
    check_against_contract(contract, bpe.symbols_node(n), [*inputs, bpe.byte_ids], range(5 * n))


def test_bpe_symbols_match_on_edge_values(contract):
    """Both modes: prefix flags, added starts and covered chars, every UTF-8 length, surrogates, code points past
    U+10FFFF and int32's extremes, SentencePiece char ids and spaces looked up as U+2581."""
    chars = np.array([0x41, 0x7FF, 0x800, 0xD800, 0xFFFF, 0x10000, 0x10FFFF, 0x110000, 2**31 - 1, -(2**31), -1, 0x20,
                      0x20, 0], dtype=np.int32)
    n = chars.size
    pretok = np.array([(1, 0), (0, 1), (2, -1), (1, 1)] * 3 + [(0, 0), (1, 1)], dtype=np.int32)
    added = np.array([-1, -1, -2, -1, 5, -3, -1, -1, -1, -1, 2**31 - 1, -1, -2, 0], dtype=np.int32)
    charids = np.array([0, 41, 0, -3, 0, 2**31 - 1, 0, 5, 0, 0, 0, 0, 0, 1], dtype=np.int32).reshape(n, 1)
    byte_ids = RNG.integers(-(2**31), 2**31 - 1, 256).astype(np.int32)
    for mode in (0, 1):
        node = make_node(OpCode.BPE_SYMBOLS, (i32((n,)), i32((n, 2)), i32((n,)), i32((n, 1)), i32((256,))),
                         i32((n, 5)), (mode, -(2**31), 0x2581))
        check_against_contract(contract, node, [chars, pretok, added, charids, byte_ids], range(5 * n))


def test_pair_rank_matches_on_a_real_text(contract, bpe):
    (_, pretok, _, _), symbols, ranks = _real(bpe, TEXT)
    n = symbols.shape[0]
    found = [2 * s for s in range(5 * n) if ranks[s, 0] != INF_RANK]
    assert found, "the text has merges"
    missing = [2 * s + 1 for s in range(5 * n) if ranks[s, 0] == INF_RANK and symbols.reshape(-1)[s] != -1]
    picks = found[:6] + missing[:4] + [0, 1, 10 * n - 1] + [int(e) for e in RNG.integers(0, 10 * n, 6)]
    check_against_contract(contract, bpe.rank_node(n), [symbols, pretok, bpe.table],
                           sorted(set(picks)))


def _table(pairs, window: int, salt: int, rows: int = 16) -> np.ndarray:
    table = np.full((rows, MERGE_ROW), -1, dtype=np.int32)
    homes = rows - window + 1
    for rank, (a, b) in enumerate(pairs):
        h = pair_hash(a, b, salt) % homes
        r = next(r for r in range(h, h + window) if table[r, 0] == -1)
        table[r] = (a, b, rank, 100 + rank)
    return table


def _rank_merge_nodes(n: int, table, window: int, salt: int):
    rank = make_node(OpCode.PAIR_RANK, (i32((n, 5)), i32((n, 2)), i32(table.shape)), i32((5 * n, 2)), (window, salt))
    merge = make_node(OpCode.BPE_MERGE, (i32((n, 5)), i32((5 * n, 2)), i32((n, 2))), i32((n, 5)))
    return rank, merge


def test_pair_rank_and_merge_match_on_edge_tensors(contract):
    """All -1; holes everywhere; a word of one symbol; equal-pair runs; a pair whose next slot starts a word;
    symbols at int32's extremes whose pair is in the table; a pair missing from a full window."""
    salt, window = 2**32 - 1, 2
    table = _table([(3, 3), (2**31 - 1, -(2**31)), (3, 4), (-(2**31), 7)], window, salt)
    n = 6
    cases = []
    cases.append((np.full((n, 5), -1, dtype=np.int32), np.zeros((n, 2), dtype=np.int32)))   # all -1
    runs = np.full((n, 5), -1, dtype=np.int32)
    runs[:, 1] = 3                                                                             # "a a a a a a"
    cases.append((runs, np.array([(0, 1)] + [(0, 0)] * (n - 1), dtype=np.int32)))
    holes = np.full((n, 5), -1, dtype=np.int32)
    holes[0, 0], holes[0, 1], holes[2, 3], holes[5, 4] = 3, 3, 3, 4                           # holes between
    cases.append((holes, np.array([(1, 0), (0, -1), (0, 0), (0, -1), (0, -1), (0, 0)], dtype=np.int32)))
    single = np.full((n, 5), -1, dtype=np.int32)
    single[:, 1] = 3                                                                           # words of one symbol
    cases.append((single, np.array([(0, 1)] * n, dtype=np.int32)))
    extreme = np.full((n, 5), -1, dtype=np.int32)
    extreme[1, 1], extreme[1, 2], extreme[3, 1], extreme[4, 0] = 2**31 - 1, -(2**31), -(2**31), 7
    cases.append((extreme, np.array([(0, 1), (0, 1), (0, -1), (0, 0), (1, 5), (0, 1)], dtype=np.int32)))
    rank_node, merge_node = _rank_merge_nodes(n, table, window, salt)
    for symbols, pretok in cases:
        checked = check_against_contract(contract, rank_node, [symbols, pretok, table], range(10 * n))
        ranks = np.array([c.value for c in checked], dtype=np.int32).reshape(5 * n, 2)
        check_against_contract(contract, merge_node, [symbols, ranks, pretok], range(5 * n))


def test_merge_matches_with_arbitrary_ranks(contract):
    """BPE_MERGE alone on ranks no PAIR_RANK gives: INF, int32 min, equal least ranks in several words."""
    n = 8
    symbols = RNG.choice([-1, -1, 4, 9], size=(n, 5)).astype(np.int32)
    pretok = RNG.choice([-1, 0, 1], size=(n, 2)).astype(np.int32)
    ranks = np.stack([RNG.choice([0, 1, INF_RANK, -(2**31)], 5 * n), RNG.integers(-2, 50, 5 * n)], 1).astype(np.int32)
    _, merge_node = _rank_merge_nodes(n, np.full((16, 4), -1, dtype=np.int32), 1, 0)
    check_against_contract(contract, merge_node, [symbols, ranks, pretok], range(5 * n))


def test_merge_matches_on_a_real_round(contract, bpe):
    (_, pretok, _, _), symbols, ranks = _real(bpe, TEXT)
    n = symbols.shape[0]
    changed = np.flatnonzero(get_op(OpCode.BPE_MERGE).forward([symbols, ranks, pretok], bpe.merge_node(n)).reshape(-1)
                             != symbols.reshape(-1))
    assert changed.size
    picks = sorted(set(changed[:8].tolist() + [0, 5 * n - 1] + [int(e) for e in RNG.integers(0, 5 * n, 4)]))
    check_against_contract(contract, bpe.merge_node(n), [symbols, ranks, pretok], picks)


@pytest.mark.parametrize("frame_len,length,n_before", [(0, 3, 0), (1, 40, 1), (3, 6, 2), (2, 2, 0), (1, 12, 0)])
def test_bpe_ids_match_with_frames_truncation_and_padding(contract, frame_len, length, n_before):
    n = 6
    symbols = RNG.choice([-1, -1, 2**31 - 1, 0, 5], size=(n, 5)).astype(np.int32)
    frame = np.arange(-3, -3 + frame_len, dtype=np.int32)
    specs = (i32((n, 5)),) + ((i32((frame_len,)),) if frame_len else ())
    node = make_node(OpCode.BPE_IDS, specs, i32((1, length)), (n_before, -(2**31)))
    check_against_contract(contract, node, [symbols] + ([frame] if frame_len else []), range(length))
    empty = np.full((n, 5), -1, dtype=np.int32)
    check_against_contract(contract, node, [empty] + ([frame] if frame_len else []), range(length))


def _bad_node_reverts(chain, contract, node, reason: str) -> None:
    nd = descriptor_tuple(encode_node(node, 0))
    assert revert_data(chain, contract.rangeCount, nd, 0) == custom_error("BadNode(string)", ["string"], [reason])


def test_malformed_nodes_revert_by_name(chain, contract):
    n = MAX_POSITIONS + 1
    _bad_node_reverts(chain, contract, make_node(OpCode.BPE_MERGE, (i32((n, 5)), i32((5 * n, 2)), i32((n, 2))),
                                                 i32((n, 5))), "positions")
    _bad_node_reverts(chain, contract, make_node(OpCode.BPE_MERGE, (i32((4, 4)), i32((20, 2)), i32((4, 2))),
                                                 i32((4, 5))), "symbols shape")
    _bad_node_reverts(chain, contract, make_node(OpCode.PAIR_RANK, (i32((4, 5)), i32((4, 2)), i32((16, 4))),
                                                 i32((20, 2)), (17, 0)), "params")
    _bad_node_reverts(chain, contract, make_node(OpCode.PAIR_RANK, (i32((4, 5)), i32((4, 2)), i32((16, 3))),
                                                 i32((20, 2)), (1, 0)), "merges shape")
    _bad_node_reverts(chain, contract, make_node(OpCode.BPE_SYMBOLS, (i32((4,)), i32((4, 2)), i32((4,)),
                                                                      i32((4, 1)), i32((256,))), i32((4, 5)),
                                                 (2, 0, 0)), "params")
    _bad_node_reverts(chain, contract, make_node(OpCode.BPE_SYMBOLS, (i32((4,)), i32((4, 2)), i32((4,)),
                                                                      i32((4, 1)), i32((255,))), i32((4, 5)),
                                                 (0, 0, 0)), "byte ids")
    _bad_node_reverts(chain, contract, make_node(OpCode.BPE_IDS, (i32((4, 5)), i32((3,))), i32((8,)), (4, 0)),
                      "params")
    _bad_node_reverts(chain, contract, make_node(OpCode.BPE_IDS, (i32((4, 5)), i32((65,))), i32((80,)), (0, 0)),
                      "frame")

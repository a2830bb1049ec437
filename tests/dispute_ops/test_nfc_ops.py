"""NfcOps.sol equals offchain/engine/ops/nfc.py element for element (rangeCount, every range including the
data-dependent probe windows, element) for NFC_COMPOSE and NFC_COMPACT: on real text through the chain (combining
marks, reordering, Hangul, starter chains, an added token cutting the text, a run past C), on random int32 tensors
(junk entries with any rank / cp, negative chars, odd added values, a hand-made table with colliding homes and
negative composites, salts 0 and 2^32 - 1) and at the caps (N = 256, K = 4, C = 6); malformed nodes revert
with BadNode naming the field."""

from __future__ import annotations

import numpy as np
import pytest

from engine.op_harness import make_node, spec
from engine.test_nfc_ops import compact_node, compose_node
from offchain.dispute.operators import descriptor_tuple
from offchain.engine.descriptor import encode_node
from offchain.engine.dtypes import DType
from offchain.engine.ops import OpCode, get_op
from offchain.engine.ops.nfc import MAX_K, MAX_RUN_TRIES, entry_value
from offchain.engine.ops.bpe import MAX_POSITIONS
from offchain.models import nfc_tables

from ._harness import check_against_contract, custom_error, revert_data

RNG = np.random.default_rng(59)
I32_MIN, I32_MAX = -(2**31), 2**31 - 1
K = 4


def i32(shape):
    return spec(shape, DType.INT32, 0)


@pytest.fixture(scope="module")
def contract(deploy):
    return deploy("NfcOps")


def chain_inputs(text: str, n: int, added_at: dict[int, int] | None = None):
    """(nfd, chars, added) of ``text`` padded to n positions (added[i] = id at the given char positions)."""
    data = text.encode()
    raw = np.zeros(n, dtype=np.int8)
    raw[:len(data)] = np.frombuffer(data, np.uint8).astype(np.int8)
    chars = get_op(OpCode.UTF8_CHARS).forward([raw], make_node(OpCode.UTF8_CHARS, (spec((n,), DType.INT8, 0),),
                                                                 i32((n,))))
    s1, s2, shift = nfc_tables.nfd_table()
    nfd = get_op(OpCode.CHAR_MAP).forward([chars, s1, s2], make_node(
        OpCode.CHAR_MAP, (i32((n,)), i32(s1.shape), i32(s2.shape)), i32((n, K)), (shift,)))
    added = np.full(n, -1, dtype=np.int32)
    for i, v in (added_at or {}).items():
        added[i] = v
    return nfd, chars, added


def test_real_text_every_element(contract):
    """Marks to reorder and compose, Hangul L V T, a Kannada starter chain, a leading mark, an added token ('>'
    at byte 9 then U+0338 that must not compose with it): every other NFC_COMPOSE element holding a decomposed mark,
    every eighth one besides; every second element of NFC_COMPACT in each mode (alternating)."""
    text = "\u0301a\u0323\u0301\u1100\u1161\u11a8\u0cc6\u0cc2\u0cd5"
    pre = len(text.encode())
    text += "<|>\u0338\u212b"
    n = len(text.encode()) + 9   # zero padding: more than MAX_LINK empty slots after the text
    nfd, chars, added = chain_inputs(text, n, {pre: 7, pre + 1: -2, pre + 2: -2})
    rows, window, salt = nfc_tables.comp_table()
    node = compose_node(n, rows.shape[0], window, salt, 3)
    out = get_op(OpCode.NFC_COMPOSE).forward([nfd, chars, added, rows], node)
    assert "".join(chr(v) for v in out.reshape(-1) if v >= 0) == "\u0301\u1ea1\u0301\uac01\u0ccb<|>\u0338\u00c5"
    flat = nfd.reshape(-1)   # the entries after a slot's first that hold a cp (marks); every 8th entry besides
    busy = [i for i in range(n * K) if flat[i] >= 0 and i % K][::2]
    check_against_contract(contract, node, [nfd, chars, added, rows], sorted(set(busy) | set(range(0, n * K, 8))))
    for mode in (0, 1):
        check_against_contract(contract, compact_node(n, mode), [out, added], range(mode, n, 2))


def test_gaps_past_max_link_cut_the_text(contract):
    """An acute MAX_LINK = 16 flat slots after its base composes with it; 20 slots after (a gap only the zero
    padding has) it starts a new segment and stays as it is."""
    rows, window, salt = nfc_tables.comp_table()
    for row, want in ((4, [0xE1]), (5, [0x61, 0x301])):
        n = row + 3
        nfd = np.zeros((n, K), dtype=np.int32)
        nfd[0, 0] = entry_value(0x61, 0)
        nfd[row, 0] = entry_value(0x301, 19)
        chars = np.full(n, 0x61, dtype=np.int32)
        added = np.full(n, -1, dtype=np.int32)
        node = compose_node(n, rows.shape[0], window, salt)
        out = get_op(OpCode.NFC_COMPOSE).forward([nfd, chars, added, rows], node).reshape(-1)
        assert [int(v) for v in out if v >= 0] == want
        check_against_contract(contract, node, [nfd, chars, added, rows], range(n * K))


def test_a_long_run_at_c(contract):
    """a, C lower-class marks, then an acute (not composed: run index C) and the same run one mark shorter."""
    rows, window, salt = nfc_tables.comp_table()
    for count in (MAX_RUN_TRIES - 1, MAX_RUN_TRIES):
        text = "a" + "\u0316" * count + "\u0301"
        n = len(text.encode())
        nfd, chars, added = chain_inputs(text, n)
        node = compose_node(n, rows.shape[0], window, salt)
        idx = [0, 4, n * K - 8, (n - 2) * K]
        check_against_contract(contract, node, [nfd, chars, added, rows], idx)


@pytest.mark.parametrize("n, k, tries, salt", [(6, 4, 2, 0), (9, 2, 3, 2**32 - 1), (5, 1, 1, 12345), (7, 3, 4, 99)])
def test_random_tensors(contract, n, k, tries, salt):
    vals = [0, 1, -1, I32_MIN, I32_MAX] + [entry_value(c, r) for c in (0x41, 0x301, 0x1100, 0x1161, 0xAC00,
                                                                        0x11A8, 7) for r in (0, 0, 1, 2, 255)]
    nfd = RNG.choice(vals, size=(n, k)).astype(np.int32)
    chars = RNG.choice([-1, 0, 0x41, 0x1161, I32_MAX, I32_MIN], size=n).astype(np.int32)
    added = RNG.choice([-1, -1, -1, -1, -2, 3, I32_MIN], size=n).astype(np.int32)
    rows = RNG.choice([0x41, 0x301, 7, -1, -5, 0x1100, I32_MAX, I32_MIN], size=(8, 3)).astype(np.int32)
    rows[:2] = [[0x41, 0x301, 0xC1], [0x41, 0x301, -5]]
    window = int(RNG.integers(1, 9))
    node = compose_node(n, 8, window, salt, tries, k)
    out = get_op(OpCode.NFC_COMPOSE).forward([nfd, chars, added, rows], node)
    check_against_contract(contract, node, [nfd, chars, added, rows], range(n * k))
    for mode in (0, 1):
        check_against_contract(contract, compact_node(n, mode, k), [out, added], range(n))
        junk = RNG.choice([-1, -2, 0, 5, I32_MIN, I32_MAX], size=(n, k)).astype(np.int32)
        check_against_contract(contract, compact_node(n, mode, k), [junk, added], [0, n // 2, n - 1])


def test_the_caps_match(contract):
    """N = 256, K = 4, C = MAX_RUN_TRIES with the real table, a combining-heavy text filling the input."""
    unit = "e\u0301\u0316\u0323\u0308\u0345\u1100\u1161\u11a8"
    text = unit * 40
    data = text.encode()[:MAX_POSITIONS]
    text = data.decode("utf-8", "ignore")
    nfd, chars, added = chain_inputs(text, MAX_POSITIONS)
    rows, window, salt = nfc_tables.comp_table()
    node = compose_node(MAX_POSITIONS, rows.shape[0], window, salt)
    check_against_contract(contract, node, [nfd, chars, added, rows], [0, 1, 8, 20, 4 * 120, 4 * 250])
    out = get_op(OpCode.NFC_COMPOSE).forward([nfd, chars, added, rows], node)
    check_against_contract(contract, compact_node(MAX_POSITIONS, 1), [out, added], [0, 200, 255])


def _bad_node_reverts(chain, contract, node, reason: str) -> None:
    nd = descriptor_tuple(encode_node(node, 0))
    assert revert_data(chain, contract.rangeCount, nd, 0) == custom_error("BadNode(string)", ["string"], [reason])


def test_malformed_nodes_revert_by_name(chain, contract):
    _bad_node_reverts(chain, contract, compose_node(MAX_POSITIONS + 1, 16, 4, 0), "x shape")
    _bad_node_reverts(chain, contract, compose_node(4, 16, 4, 0, k=MAX_K + 1), "x shape")
    _bad_node_reverts(chain, contract, compact_node(MAX_POSITIONS + 1, 0), "x shape")
    for params in ((0, 0, 1), (9, 0, 1), (4, -1, 1), (4, 2**32, 1), (4, 0, 0), (4, 0, MAX_RUN_TRIES + 1)):
        node = make_node(OpCode.NFC_COMPOSE, (i32((4, 4)), i32((4,)), i32((4,)), i32((32, 3))), i32((4, 4)), params)
        _bad_node_reverts(chain, contract, node, "params")
    _bad_node_reverts(chain, contract, compose_node(4, 3, 4, 0), "params")   # window over M
    _bad_node_reverts(chain, contract, compact_node(4, 2), "params")
    _bad_node_reverts(chain, contract, make_node(OpCode.NFC_COMPOSE, (i32((4, 4)), i32((5,)), i32((4,)),
                                                                      i32((16, 3))), i32((4, 4)), (4, 0, 1)),
                      "chars/added shape")
    _bad_node_reverts(chain, contract, make_node(OpCode.NFC_COMPOSE, (i32((4, 4)), i32((4,)), i32((4,)),
                                                                      i32((16, 4))), i32((4, 4)), (4, 0, 1)),
                      "comps shape")
    _bad_node_reverts(chain, contract, make_node(OpCode.NFC_COMPACT, (i32((4, 4)), i32((4,))), i32((4, 1)), (0,)),
                      "output shape")
    _bad_node_reverts(chain, contract, make_node(OpCode.NFC_COMPACT, (spec((4, 4), DType.INT16, 0), i32((4,))),
                                                 i32((4,)), (0,)), "dtype")
    nd = descriptor_tuple(encode_node(make_node(OpCode.ADDED_RESOLVE, (i32((4, 2)), i32((4,))), i32((4,))), 0))
    assert revert_data(chain, contract.rangeCount, nd, 0) == custom_error("UnsupportedOp(uint256)", ["uint256"],
                                                                          [OpCode.ADDED_RESOLVE])

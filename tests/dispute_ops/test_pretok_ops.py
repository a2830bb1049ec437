"""PretokOps.sol (UTF8_CHARS, ADDED_TOKENS, PRETOKENIZE) equals offchain/engine/ops/pretok.py element for element:
rangeCount/range equal operand_ranges and element equals Python's element and the forward output, on honest
tokenizer streams (every UTF-8 byte class, every regex kind and prefix rule, added tokens) and on arbitrary
int32 operands (extremes, -1, 0, stray -2s) that no honest graph produces; malformed nodes revert by name."""

from __future__ import annotations

import numpy as np
import pytest

from offchain.dispute.operators import descriptor_tuple, operand_tuple
from offchain.engine.descriptor import encode_node
from offchain.engine.dtypes import DType
from offchain.engine.ops import OpCode

from engine.test_pretok_ops import ADDED, _nodes, _table, front
from ._harness import check_against_contract, custom_error, revert_data

BROKEN = (b"ab\x80\xc0\xaf\xc3\xa9\xed\xa0\x80\xe0\x80\x80\xf0\x80\x80\x80\xf4\x90\x80\x80\xf5\xff"
          + "\U0001F600".encode() + b" z\x00\xe1\x80\x00" + b"\x00" * 3 + b"\xe2\x82")
TEXT = "<|eot|>It's  ok\t\r\n 'S ſ12345 東京ab😀!? ▁x\u00a0<|e".encode()
PARAMS = [(1, 2, 0), (1, 0, 0), (2, 1, 1), (3, 0, 0), (4, 2, 1), (4, 1, 0), (5, 2, 0)]


def _bytes(raw: bytes, n: int) -> np.ndarray:
    return np.frombuffer(raw.ljust(n, b"\0"), dtype=np.uint8).astype(np.int8)


def test_utf8_chars_every_byte_class(deploy):
    n = len(BROKEN)
    check_against_contract(deploy("PretokOps"), _nodes(n, 0, 1, (1, 0, 0))[0], [_bytes(BROKEN, n)], range(n))


def test_utf8_chars_random_and_degenerate_bytes(deploy):
    rng = np.random.default_rng(14)
    contract = deploy("PretokOps")
    pool = np.array([0x00, 0x41, 0x80, 0xBF, 0xC2, 0xE0, 0xED, 0xF0, 0xF4, 0xFF], dtype=np.uint8)
    for raw in (bytes(rng.choice(pool, 24)), bytes(rng.integers(0, 256, 24, dtype=np.uint8)), b"\x00" * 24,
                b"\xff" * 24, b"\x80" * 24, b"\x00" * 23 + b"\xf0"):
        node = _nodes(24, 0, 1, (1, 0, 0))[0]
        check_against_contract(contract, node, [_bytes(raw, 24)], range(24), skip=3)


def test_added_tokens_on_honest_chars(deploy):
    n = len(TEXT) + 3
    table = _table(ADDED)
    chars, _, added, _ = front(TEXT, n, table, (1, 0, 0))
    assert (added >= 0).sum() >= 3 and (added == -2).any()
    check_against_contract(deploy("PretokOps"), _nodes(n, *table.shape, (1, 0, 0))[2], [chars, table], range(n))


def test_added_tokens_arbitrary_chars_and_rows(deploy):
    rng = np.random.default_rng(41)
    n = 20
    chars = rng.choice(np.array([-1, 97, 98, 0, 2**31 - 1, -2**31, 60], dtype=np.int32), n)
    table = np.array([[-5, 97, -1, -1], [7, -1, 98, 98], [8, 97, 98, -1], [9, 97, 98, -1], [2**31 - 1, 98, 98, 98],
                      [3, 2**31 - 1, -1, -1], [4, 0, 60, -1]], dtype=np.int32)
    check_against_contract(deploy("PretokOps"), _nodes(n, 7, 3, (1, 0, 0))[2], [chars, table], range(n))
    empty = np.full((0, 2), -1, dtype=np.int32)
    check_against_contract(deploy("PretokOps"), _nodes(n, 0, 1, (1, 0, 0))[2], [chars, empty], range(4))


@pytest.mark.parametrize("params", PARAMS, ids=str)
def test_pretokenize_honest_streams(deploy, params):
    n = len(TEXT) + 2
    table = _table(ADDED)
    _, stream, added, out = front(TEXT, n, table, params)
    assert (out.reshape(-1, 2)[:, 1] == 1).sum() >= 3
    check_against_contract(deploy("PretokOps"), _nodes(n, *table.shape, params)[3], [stream, added], range(2 * n))


def test_pretokenize_arbitrary_int32_operands(deploy):
    """Values no CHAR_MAP/ADDED_TOKENS produces: negative and extreme stream values, -2 runs, ids at empty slots."""
    rng = np.random.default_rng(40)
    n = 24
    values = np.array([0, 1, 2, 3, 4 * 0x27 + 3, 4 * 0x73 + 0, 4 * 0x20 + 2, 4 * 0x0A + 2, 4 * 0x2581 + 3,
                       4 * 0x31 + 1, 2**31 - 1, -2**31, -1, -4 * 0x20 + 2], dtype=np.int32)
    contract = deploy("PretokOps")
    for k, params in enumerate(PARAMS):
        stream = rng.choice(values, (n, 1))
        added = rng.choice(np.array([-1, -1, -1, -2, 5, -2**31, 2**31 - 1], dtype=np.int32), n)
        picks = sorted(set(rng.choice(2 * n, 16, replace=False).tolist()))
        check_against_contract(contract, _nodes(n, 1, 1, params)[3], [stream, added], picks)


def test_malformed_nodes_revert_by_name(chain, deploy):
    contract = deploy("PretokOps")
    bad = _nodes(8, 1, 1, (6, 0, 0))[3]
    nd = descriptor_tuple(encode_node(bad, 0))
    assert revert_data(chain, contract.rangeCount, nd, 0) == custom_error("BadNode(string)", ["string"], ["params"])
    node = _nodes(8, 1, 1, (1, 0, 0))[0]
    nd = descriptor_tuple(encode_node(node, 0))
    assert revert_data(chain, contract.range, nd, 8, 0, []) == \
        custom_error("BadNode(string)", ["string"], ["range index"])
    wide = [operand_tuple([0x41] * 8, int(DType.INT32))]
    assert revert_data(chain, contract.element, nd, wide, 0) == custom_error("NotBytes(uint256)", ["uint256"], [4])
    assert revert_data(chain, contract.rangeCount, descriptor_tuple(encode_node(_nodes(8, 1, 1, (1, 0, 0))[1], 0)),
                       0) == custom_error("UnsupportedOp(uint256)", ["uint256"], [int(OpCode.CHAR_MAP)])


def test_added_tokens_long_rows_compare_across_words(deploy):
    """Rows longer than 8 chars span several 32-byte words of the packed comparison: matches, and misses in the
    9th, 12th and last char, next to rows of exactly 8 chars and code points up to 2^31 - 1."""
    rows = ["abcdefghijkl", "abcdefghijkX", "abcdefghi", "abcdefgh", "bcdefghijklmnopqrstu", "\U0001F600" * 9,
            "abcdefghijklmnopq"]
    table = _table(rows)
    big = np.array([[20, 2**31 - 1, 97, -1] + [-1] * 17], dtype=np.int32)
    table = np.concatenate([np.pad(table, ((0, 0), (0, 21 - table.shape[1])), constant_values=-1), big])
    text = "abcdefghijklabcdefghiabcdefghXbcdefghijklmnopqrstu" + "\U0001F600" * 10 + "abcdefghijklmnopq"
    n = 90
    chars = np.full(n, -1, dtype=np.int32)
    chars[:len(text)] = [ord(c) for c in text]
    chars[len(text):len(text) + 2] = [2**31 - 1, 97]
    node = _nodes(n, *table.shape[:1], table.shape[1] - 1, (1, 0, 0))[2]
    checked = check_against_contract(deploy("PretokOps"), node, [chars, table], range(n))
    assert {c.value for c in checked} >= {1, 3, 5, 6, 7, 20, -2, -1}

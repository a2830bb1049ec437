"""TextOps.sol (the tokenizer's one-step checks) equals offchain/engine/ops/text.py element for element:
every UTF-8 byte class, code points outside the table, word starts, "##" continuations, punctuation, pieces
that are not in the vocabulary, over-long words, truncation and padding; bad tables revert with named errors."""

from __future__ import annotations

import numpy as np
import pytest

from offchain.dispute.operators import descriptor_tuple, operand_tuple
from offchain.engine.descriptor import encode_node
from offchain.engine.executor import run
from offchain.engine.graph import Node, TensorKind, TensorRef, TensorSpec
from offchain.engine.dtypes import DType
from offchain.engine.ops import OpCode
from offchain.models import minilm
from offchain.models.text_tables import text_input, tokenizer_model

from ._harness import check_against_contract, custom_error, revert_data

MAX_BYTES, SEQ = 64, 24
#: Ill-formed UTF-8 of every kind, a 4-byte emoji, then a truncated 3-byte sequence at the very end.
BROKEN = (b"ab\x80\xc0\xaf\xc3\xa9\xed\xa0\x80\xe0\x80\x80\xf0\x80\x80\x80\xf4\x90\x80\x80\xf5\xff"
          + "\U0001F600".encode() + b" z" + b"\x00" * 33 + b"\xe2\x82")


@pytest.fixture(scope="module")
def model():
    return tokenizer_model(MAX_BYTES, SEQ, minilm.load_tokenizer())


def _trace(model, data: bytes):
    return run(model, [text_input(data, MAX_BYTES)])


def _check_node(deploy, model, trace, index: int, elements) -> None:
    node = model.graph.nodes[index]
    check_against_contract(deploy("TextOps"), node, trace.operands(model, index), list(elements))


def test_utf8_decode_matches_on_every_byte_class(deploy, model):
    assert len(BROKEN) == MAX_BYTES
    trace = _trace(model, BROKEN)
    _check_node(deploy, model, trace, 0, range(MAX_BYTES))   # includes the last bytes, whose range is clipped


def test_char_map_matches(deploy, model):
    text = "Größe 東京 가 É\u0301! \t\u00a0x\u200bY".encode()
    trace = _trace(model, text)
    cps = trace.outputs[0]
    assert -1 in cps and 0x6771 in cps and 0xAC00 in cps
    _check_node(deploy, model, trace, 1, range(0, 3 * len(text) + 6))


def test_char_map_of_code_points_outside_unicode(deploy, model):
    """CHAR_MAP is total: a code point below 0 or above U+10FFFF maps to empty slots without reading tables."""
    node = model.graph.nodes[1]
    stage1, stage2 = model.weights[0], model.weights[1]
    cps = np.array([-1, 0x110000, 2**31 - 1, -(2**31), 0x41] + [0] * (MAX_BYTES - 5), dtype=np.int32)
    check_against_contract(deploy("TextOps"), node, [cps, stage1, stage2], list(range(15)))


def test_trie_match_matches_on_word_starts_continuations_and_misses(deploy, model):
    text = "unaffable supercalifragilistic, ok! \U0001F600x 東京".encode()
    trace = _trace(model, text)
    stream = trace.outputs[1].reshape(-1)
    match = trace.outputs[2]
    assert (match[:, 1] == -1).any() and (match[:, 1] >= 0).any()
    # Two slots of each kind (class, word start or "##", found or missed), both columns: each element makes
    # up to 20 calls, so all 192 would take minutes.
    from offchain.engine.ops.text import word_start

    kinds: dict[tuple, list[int]] = {}
    for i in range(len(stream)):
        cls = int(stream[i]) & 3
        key = (cls, cls in (1, 3) and word_start([int(v) for v in stream], i), int(match[i, 1]) >= 0)
        kinds.setdefault(key, []).append(i)
    assert len(kinds) >= 6, kinds.keys()
    slots = sorted(i for found in kinds.values() for i in found[:2])
    _check_node(deploy, model, trace, 2, [2 * i + c for i in slots for c in (0, 1)])


def test_wordpiece_matches_with_unk_truncation_and_padding(deploy, model):
    for text in ("a" * 60, "Hello, world! \U0001F600 tokens", "word " * 12, ""):
        trace = _trace(model, text.encode()[:MAX_BYTES])
        _check_node(deploy, model, trace, 3, range(SEQ))


def test_char_map_with_a_block_outside_stage2_reverts(chain, deploy, model):
    node = model.graph.nodes[1]
    contract = deploy("TextOps")
    nd = descriptor_tuple(encode_node(node, 0))
    loaded = [operand_tuple([0x41], 4), operand_tuple([10**6], 4)]
    data = revert_data(chain, contract.range, nd, 0, 2, loaded)
    rows = model.graph.weights[1].shape[0]
    assert data == custom_error("TableOutOfRange(int256,uint256)", ["int256", "uint256"], [10**6, rows])


def test_wordpiece_with_a_match_that_does_not_advance_reverts(chain, deploy, model):
    node = model.graph.nodes[3]
    contract = deploy("TextOps")
    nd = descriptor_tuple(encode_node(node, 0))
    s = MAX_BYTES * 3
    stream = [ord("a") * 4 + 1] + [0] * (s - 1)
    match = [0, 5] + [0] * (2 * s - 2)
    data = revert_data(chain, contract.element, nd, [operand_tuple(stream, 4), operand_tuple(match, 4)], 1)
    assert data == custom_error("BadNode(string)", ["string"], ["match end"])


def test_text_ops_reject_malformed_nodes(chain, deploy):
    contract = deploy("TextOps")
    i32 = TensorSpec((4,), DType.INT32, 0)
    trie = TensorSpec((16, 4), DType.INT32, 0)   # rows are (parent, char, token): 3 columns
    bad = Node(OpCode.TRIE_MATCH, (TensorRef(TensorKind.ACTIVATION, 0), TensorRef(TensorKind.WEIGHT, 0)),
               (i32, trie), TensorSpec((4, 2), DType.INT32, 0), (0, 1, 8, 18, 0))
    nd = descriptor_tuple(encode_node(bad, 1))
    assert revert_data(chain, contract.rangeCount, nd, 0) == custom_error("BadNode(string)", ["string"], ["trie shape"])

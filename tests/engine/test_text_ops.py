"""The disputable tokenizer (offchain/engine/ops/text.py): each op's forward equals its element rule, and the
four-node graph equals the reference WordPiece tokenizer on sample sentences, random text and broken UTF-8."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from offchain.engine.errors import ParamError
from offchain.engine.executor import run
from offchain.engine.ops import get_op
from offchain.engine.ops.text import decode_at
from offchain.models import minilm
from offchain.models.text_tables import TableError, build_trie, text_input, tokenizer_model
from offchain.models.wordpiece import WordPieceTokenizer

from .op_harness import check_elements

MAX_BYTES, SEQ = 128, 40


@pytest.fixture(scope="module")
def tokenizer():
    return minilm.load_tokenizer()


@pytest.fixture(scope="module")
def model(tokenizer):
    return tokenizer_model(MAX_BYTES, SEQ, tokenizer)


def _graph_ids(model, data: bytes) -> list[int]:
    return [int(v) for v in run(model, [text_input(data, MAX_BYTES)]).output.reshape(-1)]


def _reference_ids(tokenizer, data: bytes) -> list[int]:
    return list(tokenizer.encode(data.decode("utf-8", "replace"), SEQ).input_ids)


def test_graph_equals_reference_tokenizer_on_the_sample_sentences(model, tokenizer):
    for sentence in minilm.sample_sentences():
        data = sentence.encode("utf-8")[:MAX_BYTES]
        assert _graph_ids(model, data) == _reference_ids(tokenizer, data), sentence


@settings(max_examples=60, deadline=None)
@given(text=st.text(min_size=0, max_size=40))
def test_graph_equals_reference_tokenizer_on_random_text(model, tokenizer, text):
    data = text.encode("utf-8")[:MAX_BYTES]
    assert _graph_ids(model, data) == _reference_ids(tokenizer, data)


@settings(max_examples=60, deadline=None)
@given(data=st.binary(min_size=0, max_size=MAX_BYTES))
def test_graph_equals_reference_tokenizer_on_arbitrary_bytes(model, tokenizer, data):
    assert _graph_ids(model, data) == _reference_ids(tokenizer, data)


def test_edge_texts(model, tokenizer):
    cases = [
        b"",                                              # nothing: [CLS] [SEP] [PAD]...
        b"a" * 101 + b" ok",                              # a word over 100 characters is one [UNK]
        b"a" * 95,                                        # exactly at the byte limit
        "\U0001F600\u00e9t\u00e9 \u4e2d\u6587 \uac00".encode(),  # emoji ([UNK]), accents, CJK, Hangul -> 3 jamo
        b"x" + b"\x80\xc0\xaf\xed\xa0\x80\xf4\x90\x80\x80\xe2\x82" + b"y",  # ill-formed UTF-8 is dropped
        ("word " * 30).encode()[:MAX_BYTES],              # truncated to SEQ - 2 pieces
        b"[SEP] [PAD]",                                   # special-token text is text
    ]
    for data in cases:
        assert _graph_ids(model, data) == _reference_ids(tokenizer, data), data


def test_every_element_equals_forward(model):
    data = "Größere Straßen, 東京! supercalifragilistic ok".encode()
    x = text_input(data, MAX_BYTES)
    trace = run(model, [x])
    for index, node in enumerate(model.graph.nodes):
        out = check_elements(node, trace.operands(model, index), range(node.output.size))
        assert np.array_equal(out, trace.outputs[index])


def test_utf8_decoding_rules():
    assert decode_at([0x41]) == 0x41
    assert decode_at([0xC3, 0xA9]) == 0xE9
    assert decode_at([-61, -87]) == 0xE9                   # int8 bytes read as & 0xFF
    assert decode_at([0xE2, 0x82, 0xAC]) == 0x20AC
    assert decode_at([0xF0, 0x9F, 0x98, 0x80]) == 0x1F600
    assert decode_at([0xF4, 0x8F, 0xBF, 0xBF]) == 0x10FFFF
    for bad in ([0x80], [0xC0, 0xAF], [0xC1, 0xBF], [0xE0, 0x80, 0x80], [0xED, 0xA0, 0x80], [0xF0, 0x80, 0x80, 0x80],
                [0xF4, 0x90, 0x80, 0x80], [0xF5, 0x80, 0x80, 0x80], [0xFF], [0xE2, 0x82], [0xC3, 0x41], []):
        assert decode_at(bad) == -1, bad
    for cp in (0, 0x7F, 0x80, 0x7FF, 0x800, 0xD7FF, 0xE000, 0xFFFF, 0x10000, 0x10FFFF):
        assert decode_at(list(chr(cp).encode("utf-8"))) == cp


def test_unicode_table_shares_blocks():
    """1.1 M code points in 8704 blocks of 128, of which only 266 differ (Unicode 14.0: README's figure)."""
    import unicodedata

    from offchain.models.text_tables import char_tables

    stage1, stage2 = char_tables()
    assert stage1.shape == (8704,) and stage2.shape[0] % 128 == 0
    assert unicodedata.unidata_version == "14.0.0" and stage2.shape[0] // 128 == 266
    assert int(stage1.max()) == 265


def test_trie_placement_and_bad_tables(tokenizer):
    trie = build_trie(tokenizer.vocab)
    assert trie.depth == 18 and trie.window == 8
    assert int((trie.rows[:, 0] >= 0).sum()) == 72_445   # one row per vocabulary prefix (README's figure)
    with pytest.raises(TableError, match="no salt"):   # 3,000 tokens (5,699 edges) cannot place at one row each
        build_trie(dict(list(tokenizer.vocab.items())[:3000]), window=1)
    with pytest.raises(TableError, match="max_bytes"):
        tokenizer_model(0, SEQ, tokenizer)
    with pytest.raises(TableError, match="UTF-8 bytes"):
        text_input(b"x" * (MAX_BYTES + 1), MAX_BYTES)


def test_a_tiny_vocabulary_tokenizes_by_longest_match():
    vocab = {t: i for i, t in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "un", "##aff", "##able", "una", "!", "##ff"])}
    tok = WordPieceTokenizer(vocab)
    small = tokenizer_model(24, 8, tok)
    for data in (b"unaffable!", b"unable una", b"xyz un", b"unaffx"):
        x = text_input(data, 24)
        assert [int(v) for v in run(small, [x]).output.reshape(-1)] == list(tok.encode(data.decode(), 8).input_ids)
    # Greedy longest match, no backtracking: "unaffable" is una ##ff ##able (not un ##aff ##able); "unable" takes
    # "una", then "##ble" has no piece, so the whole word is one [UNK] although un ##able exists.
    assert list(tok.encode("unaffable", 8).input_ids)[:5] == [2, 7, 9, 6, 3]
    assert list(tok.encode("unable", 8).input_ids)[:4] == [2, 1, 3, 0]


def test_wordpiece_rejects_a_match_that_does_not_advance(model):
    node = model.graph.nodes[3]
    stream = np.zeros(MAX_BYTES * 3, dtype=np.int32)
    stream[0] = ord("a") * 4 + 1
    match = np.zeros((MAX_BYTES * 3, 2), dtype=np.int32)
    match[0] = (0, 5)
    with pytest.raises(ParamError, match="ends at 0"):
        get_op(node.op).forward([stream, match], node)

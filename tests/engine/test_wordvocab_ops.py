"""WORD_VOCAB (offchain/engine/ops/wordvocab.py, BPE ignore_merges): forward equals the element rule on hypothesis
tensors (holes, -1 everywhere, int32 extremes, words that are / are not in the table, colliding windows); the
tokenizer graph of a Llama-3-style tokenizer with ``ignore_merges: true`` (variant llama3_im, which also holds
whole-word tokens the merges would split) equals the ``tokenizers`` library's encode; the table builder places every
key where its probe window finds it and refuses SentencePiece models; check() refuses sizes over the caps."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from offchain.engine.errors import ParamError, ShapeMismatchError
from offchain.engine.executor import run
from offchain.engine.ops import OpCode, get_op
from offchain.engine.ops.bpe import SLOTS
from offchain.engine.ops.wordvocab import (
    MAX_VOCAB_WINDOW,
    VOCAB_ROW,
    find_word,
    hash_words,
    symbols_hash,
    vocab_home,
)
from offchain.models import bpe, bpe_merges
from offchain.models.text_tables import TableError, text_input

from bench._bpe_graph import i32
from models import _bpe_variants as V
from .op_harness import check_elements, make_node

I32_MIN, I32_MAX = -(2**31), 2**31 - 1
MAX_BYTES, SEQ = 48, 64


def _node(n: int, rows: int, window: int, salt: int):
    return make_node(OpCode.WORD_VOCAB, (i32((n, SLOTS)), i32((n, 2)), i32((rows, VOCAB_ROW))), i32((n, SLOTS)),
                     (window, salt))


def _words(symbols: np.ndarray, pretok: np.ndarray) -> list[list[int]]:
    flat, p = symbols.reshape(-1), pretok.reshape(-1)
    starts = [s for s in range(flat.size) if s == 0 or (s % SLOTS < 2 and p[2 * (s // SLOTS) + s % SLOTS] == 1)]
    return [[int(v) for v in flat[a:b] if v != -1] for a, b in zip(starts, starts[1:] + [flat.size])]


SYMBOL = st.one_of(st.just(-1), st.just(-1), st.integers(0, 6), st.sampled_from([I32_MIN, I32_MAX, -2]))


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 12), data=st.data(), salt=st.sampled_from([0, 1, 2**32 - 1, 12345]),
       window=st.integers(1, 4), keep=st.floats(0, 1))
def test_forward_equals_element(n, data, salt, window, keep):
    symbols = np.array(data.draw(st.lists(SYMBOL, min_size=5 * n, max_size=5 * n)), dtype=np.int32).reshape(n, SLOTS)
    pretok = np.array(data.draw(st.lists(st.sampled_from([0, 0, 1, 1, -1, 2, I32_MIN]), min_size=2 * n,
                                         max_size=2 * n)), dtype=np.int32).reshape(n, 2)
    words = [w for w in _words(symbols, pretok) if len(w) > 1]
    rows = 8
    table = np.full((rows, VOCAB_ROW), -1, dtype=np.int32)
    rng = np.random.default_rng(len(words) + n)
    homes = rows - window + 1
    for k, w in enumerate(words):   # some words at a slot of their window (collisions overwrite: misses happen too)
        if rng.random() < keep:
            h = symbols_hash(w)
            slot = vocab_home(h, salt, homes) + int(rng.integers(0, window))
            table[slot] = (*hash_words(h), int(rng.choice([1000 + k, I32_MAX, I32_MIN, 0, -1])))
    node = _node(n, rows, window, salt)
    out = check_elements(node, [symbols, pretok, table], range(5 * n))
    # The rule itself: every word is either its one token at its first symbol slot, or copied.
    flat, before = out.reshape(-1), symbols.reshape(-1)
    assert ((flat == before) | (before != -1)).all()


def test_a_found_word_becomes_its_token_and_others_are_copied():
    """Two words (slot 1 and slot 5 + 0 virtual prefix); the first is in the table, the second is not; a
    one-symbol word (an added token) in the table is copied anyway."""
    symbols = np.array([[-1, 10, 11, -1, -1], [-1, 12, -1, -1, -1], [20, 21, -1, -1, -1], [-1, 22, -1, -1, -1],
                        [-1, 99, -1, -1, -1]], dtype=np.int32)
    pretok = np.array([[0, 1], [0, 0], [1, 0], [0, 0], [0, 1]], dtype=np.int32)
    table = np.full((4, VOCAB_ROW), -1, dtype=np.int32)
    window, salt = 4, 7
    table[0] = (*hash_words(symbols_hash([10, 11, 12])), 500)
    table[1] = (*hash_words(symbols_hash([99])), 501)
    out = check_elements(_node(5, 4, window, salt), [symbols, pretok, table], range(25))
    want = symbols.copy()
    want[0, 1], want[0, 2], want[1, 1] = 500, -1, -1
    assert (out == want).all()


def test_first_matching_row_wins_and_a_row_outside_the_window_is_not_seen():
    symbols = np.array([[-1, 3, 4, -1, -1]], dtype=np.int32)
    pretok = np.array([[0, 1]], dtype=np.int32)
    key = hash_words(symbols_hash([3, 4]))
    rows, window, salt = 16, 2, 0
    home = vocab_home(symbols_hash([3, 4]), salt, rows - window + 1)
    table = np.full((rows, VOCAB_ROW), -1, dtype=np.int32)
    table[home + 1] = (*key, 77)
    table[(home + 2) % rows] = (*key, 88)
    assert check_elements(_node(1, rows, window, salt), [symbols, pretok, table], range(5)).reshape(-1)[1] == 77
    table[home] = (*key, 66)
    assert check_elements(_node(1, rows, window, salt), [symbols, pretok, table], range(5)).reshape(-1)[1] == 66
    table[home], table[home + 1] = -1, -1
    out = check_elements(_node(1, rows, window, salt), [symbols, pretok, table], range(5))
    assert (out == symbols).all()


def test_check_refuses_sizes_over_the_caps():
    op = get_op(OpCode.WORD_VOCAB)
    with pytest.raises(ParamError):
        op.check(_node(4, 128, MAX_VOCAB_WINDOW + 1, 0))
    with pytest.raises(ParamError):
        op.check(_node(4, 8, 9, 0))
    with pytest.raises(ParamError):
        op.check(_node(4, 8, 4, 2**32))
    with pytest.raises(ParamError):
        op.check(_node(257, 8, 4, 0))
    with pytest.raises(ShapeMismatchError):
        op.check(make_node(OpCode.WORD_VOCAB, (i32((4, 5)), i32((4, 2)), i32((8, 8))), i32((4, 5)), (4, 0)))


# ------------------------------------------------------------------------------------------- table builder


def test_word_vocab_table_finds_every_non_added_token():
    data = json.loads(V.variant("llama3_im"))
    table, window, salt = bpe_merges.word_vocab_table(data)
    vocab = data["model"]["vocab"]
    added = {t["content"] for t in data["added_tokens"]}
    homes = table.shape[0] - window + 1
    keys = 0
    for token, tid in vocab.items():
        if len(token) < 2 or token in added:
            continue
        h = symbols_hash([vocab[c] for c in token])
        home = vocab_home(h, salt, homes)
        assert find_word(table[home:home + window].reshape(-1).tolist(), hash_words(h)) == tid, token
        keys += 1
    assert int((table[:, 8] >= 0).sum()) == keys and keys > 400


def test_word_vocab_table_refuses_sentencepiece():
    with pytest.raises(TableError, match="byte-level"):
        bpe_merges.word_vocab_table(V.variant("llm_tiny_sp"))


# ------------------------------------------------------------------------------------------- the graph


@pytest.fixture(scope="module")
def llama3_im():
    spec = bpe.read_tokenizer(json.loads(V.variant("llama3_im")))
    model = bpe.tokenizer_model(spec, MAX_BYTES, SEQ)
    return spec, V.tokenizer("llama3_im"), model


def _check(llama3_im, text: str) -> list[str]:
    spec, tok, model = llama3_im
    data = text.encode("utf-8")[:MAX_BYTES]
    want = bpe.reference_ids(tok, spec, data, SEQ, model.meta["pad_id"])
    got = [int(v) for v in run(model, [text_input(data, MAX_BYTES)]).output.reshape(-1)]
    assert got == want, (text, tok.encode(bpe.text_of(data)).tokens)
    return tok.encode(bpe.text_of(data)).tokens


SAMPLES = ["zzqx", "Hello zzqx world!?!? café", " zzqx zzqxzzqx qq", "<|begin_of_text|>zzqx<|eot_id|>!?!?",
           "The quick brown fox jumps over the lazy dog.", "I'm sure they'll say it's fine", "naïve café 日本語 😀",
           "   leading\t\r\nnewlines", "", " ", "1234567 3.14159"]


def test_graph_has_word_vocab_and_meta(llama3_im):
    _, _, model = llama3_im
    ops = [n.op for n in model.graph.nodes]
    assert model.meta["tokenizer"]["ignore_merges"] is True
    assert ops.count(OpCode.WORD_VOCAB) == 1
    assert ops.index(OpCode.WORD_VOCAB) == ops.index(OpCode.BPE_SYMBOLS) + 1 < ops.index(OpCode.PAIR_RANK)


@pytest.mark.parametrize("text", SAMPLES)
def test_graph_equals_tokenizers_with_ignore_merges(llama3_im, text):
    _check(llama3_im, text)


def test_whole_word_tokens_differ_from_the_merges(llama3_im):
    """The words the variant adds are single tokens under ignore_merges, while the merges alone (llama3) split
    them: the WORD_VOCAB node is what makes the graph equal."""
    plain = V.tokenizer("llama3")
    for text, token in (("zzqx", "zzqx"), ("a zzqx", "Ġzzqx"), ("!?!?", "!?!?"), ("x café", "ĠcafÃ©")):
        assert token in _check(llama3_im, text)
        assert token not in plain.encode(text).tokens


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.one_of(st.text(max_size=24),
                      st.lists(st.sampled_from(["zzqx", " zzqx", "!?!?", " café", "the", " the", "qq", "hello",
                                                " world", "\n", "é", "😀"]), max_size=8).map("".join)))
def test_graph_equals_tokenizers_on_random_text(llama3_im, text):
    _check(llama3_im, text)

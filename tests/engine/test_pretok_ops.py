"""UTF8_CHARS, ADDED_TOKENS and PRETOKENIZE (offchain/engine/ops/pretok.py): forward == element for every
element, UTF8_CHARS == Python's replacing decoder, the class table == tokenizers' regex classes, ADDED_TOKENS ==
tokenizers' added-token split and PRETOKENIZE == tokenizers' own pre-tokenizers (ByteLevel, the Llama-3 and
Qwen2 Split regexes, Metaspace) word for word, through a real ``tokenizers.Tokenizer`` with added tokens."""

from __future__ import annotations

import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tokenizers import AddedToken, Regex, Tokenizer, models, normalizers
from tokenizers import pre_tokenizers as pt

from offchain.engine.dtypes import DType
from offchain.engine.errors import DtypeMismatchError, ParamError, ShapeMismatchError
from offchain.engine.ops import OpCode, get_op
from offchain.engine.ops.pretok import MAX_ADDED_WORK, MAX_CHARS, added_work
from offchain.models.bpe_tables import (TokenizerTableError, added_table, class_table, code_point_classes)

from .op_harness import check_elements, make_node, spec

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
LLAMA3 = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|"
          r"\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2 = LLAMA3.replace(r"\p{N}{1,3}", r"\p{N}")
META = "\u2581"

#: (name, PRETOKENIZE params, tokenizers pre-tokenizer, normalizer, byte-level alphabet?)
CONFIGS = [
    ("gpt2-prefix", (1, 2, 0), lambda: pt.ByteLevel(add_prefix_space=True, use_regex=True), None, True),
    ("gpt2", (1, 0, 0), lambda: pt.ByteLevel(add_prefix_space=False, use_regex=True), None, True),
    ("llama3", (2, 0, 0), lambda: pt.Sequence([pt.Split(Regex(LLAMA3), "isolated"),
                                               pt.ByteLevel(add_prefix_space=False, use_regex=False)]), None, True),
    ("qwen2", (3, 0, 0), lambda: pt.Sequence([pt.Split(Regex(QWEN2), "isolated"),
                                              pt.ByteLevel(add_prefix_space=False, use_regex=False)]), None, True),
    ("metaspace-always", (4, 2, 0), lambda: pt.Metaspace(prepend_scheme="always", split=True), None, False),
    ("metaspace-first", (4, 2, 1), lambda: pt.Metaspace(prepend_scheme="first", split=True), None, False),
    ("metaspace-never", (4, 0, 0), lambda: pt.Metaspace(prepend_scheme="never", split=True), None, False),
    ("metaspace-nosplit-first", (5, 2, 1), lambda: pt.Metaspace(prepend_scheme="first", split=False), None, False),
    ("bytelevel-noregex", (5, 0, 0), lambda: pt.ByteLevel(add_prefix_space=False, use_regex=False), None, True),
    ("sentencepiece-normalizer", (4, 1, 0), lambda: pt.Metaspace(prepend_scheme="never", split=True),
     lambda: normalizers.Sequence([normalizers.Prepend(META), normalizers.Replace(" ", META)]), False),
]
SAMPLES = [
    "Hello world! It's 2024, I'M here  \t\n\r\n ok", "   leading spaces", "trailing  ", "a\u00a0b\u3000c  d",
    "don'T 'S 'ſ 're'VE'll 'd'm", "12345678 x1y22 ١٢٣٤٥", "😀😀 ab😀 🇫🇷!", "\r\n\r\n  x\n \n", "▁a b▁▁c ▁",
    " ", "x", "a  \n\n  b", "'", "Ünïcödé 東京 가나다", "...!!! ?? ¿¡ a-b_c", "\t\tx\t", "word" * 20,
    "x\x00y \x00", "€100 ≥ 99%",
]
#: Added tokens: overlapping contents, one a prefix of another, and adjacent matches.
ADDED = ["<|eot|>", "<|eot|>x", "<|e", "ab", "bc", "[X]", "東京", " sp"]


def _bytes2unicode() -> dict[int, str]:
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), 256))
    cs = bs[:]
    extra = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + extra)
            extra += 1
    return dict(zip(bs, map(chr, cs)))


B2U = _bytes2unicode()


def _nodes(n: int, a: int, l: int, params):
    s1, s2, shift = class_table()
    chars = spec((n,), DType.INT32, 0)
    return (make_node(OpCode.UTF8_CHARS, [spec((n,), DType.INT8, 0)], chars),
            make_node(OpCode.CHAR_MAP, [chars, spec(s1.shape, DType.INT32, 0), spec(s2.shape, DType.INT32, 0)],
                      spec((n, 1), DType.INT32, 0), (shift,)),
            make_node(OpCode.ADDED_TOKENS, [chars, spec((a, l + 1), DType.INT32, 0)], chars),
            make_node(OpCode.PRETOKENIZE, [spec((n, 1), DType.INT32, 0), chars], spec((n, 2), DType.INT32, 0),
                      params))


def front(raw: bytes, n: int, table: np.ndarray, params, check_all: bool = False):
    """The graph's front (UTF8_CHARS -> CHAR_MAP -> ADDED_TOKENS -> PRETOKENIZE) on ``raw`` padded to n bytes."""
    s1, s2, _ = class_table()
    x = np.frombuffer(raw.ljust(n, b"\0"), dtype=np.uint8).astype(np.int8)
    u, cm, ad, pr = _nodes(n, table.shape[0], table.shape[1] - 1, params)
    ops = [get_op(node.op) for node in (u, cm, ad, pr)]
    chars = ops[0].forward([x], u)
    stream = ops[1].forward([chars, s1, s2], cm)
    added = ops[2].forward([chars, table], ad)
    pretok = ops[3].forward([stream, added], pr)
    if check_all:
        check_elements(u, [x], range(n))
        check_elements(ad, [chars, table], range(n))
        check_elements(pr, [stream, added], range(2 * n))
    return chars, stream, added, pretok


def words_of(chars, added, pretok, kind: int, table: np.ndarray) -> list[str]:
    """The words the PRETOKENIZE output describes (added tokens as their contents), virtual char included."""
    content = {int(r[0]): "".join(chr(c) for c in r[1:] if c >= 0) for r in table}
    virtual = META if kind in (4, 5) else " "
    words: list[str] = []
    for i, c in enumerate(chars):
        if added[i] >= 0:
            words.append(content[int(added[i])])
            continue
        if pretok[i, 1] == -1:
            continue
        if pretok[i, 0] == 1:
            words.append(virtual)
            if pretok[i, 1] == 1:
                words.append("")
        elif pretok[i, 1] == 1:
            words.append("")
        words[-1] += chr(c)
    return words


def _table(tokens: list[str], first_id: int = 1) -> np.ndarray:
    width = max([len(t) for t in tokens], default=1)
    table = np.full((len(tokens), width + 1), -1, dtype=np.int32)
    for r, t in enumerate(tokens):
        table[r, 0] = first_id + r
        table[r, 1:1 + len(t)] = [ord(c) for c in t]
    return table


def _tokenizer(config, tokens: list[str]) -> Tokenizer:
    """A real tokenizers pipeline: WordLevel over the words we predict, so each word comes back as itself only if
    tokenizers' own pre-tokenization produced exactly that word."""
    _, _, pre, norm, _ = config
    tok = Tokenizer(models.WordLevel({"[UNK]": 0}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre()
    if norm is not None:
        tok.normalizer = norm()
    tok.add_tokens([AddedToken(t, normalized=False, special=True) for t in tokens])
    return tok


def _surface(word: str, config) -> str:
    _, (kind, _, _), _, _, byte_level = config
    if byte_level:
        return "".join(B2U[b] for b in word.encode())
    return word.replace(" ", META) if kind in (4, 5) else word


def assert_matches_tokenizers(text: str, config, tokens: list[str], n: int | None = None) -> None:
    raw = text.encode()
    n = n or max(8, len(raw) + 3)
    table = _table(tokens) if tokens else np.full((0, 2), -1, dtype=np.int32)
    chars, _, added, pretok = front(raw, n, table, config[1])
    mine = words_of(chars, added, pretok.reshape(n, 2), config[1][0], table)
    tok = _tokenizer(config, tokens)
    ids = {t: 1 + k for k, t in enumerate(tokens)}
    vocab = {"[UNK]": 0, **ids}
    for w in mine:
        if w not in ids:
            vocab.setdefault(_surface(w, config), len(vocab) + 1000)
    tok.model = models.WordLevel(vocab, unk_token="[UNK]")
    got = tok.encode(text.rstrip("\0"), add_special_tokens=False).tokens   # trailing NULs are padding
    want = [w if w in ids else _surface(w, config) for w in mine]
    assert got == want, (config[0], text, got, want)


# ------------------------------------------------------------------------------------------------- UTF-8

EDGE_BYTES = [0x00, 0x41, 0x27, 0x20, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1, 0xC2, 0xDF, 0xE0,
              0xE1, 0xED, 0xEE, 0xEF, 0xF0, 0xF1, 0xF4, 0xF5, 0xFF]
BYTES = st.lists(st.one_of(st.sampled_from(EDGE_BYTES), st.integers(0, 255)), min_size=0, max_size=40).map(bytes)


def _decoded(raw: bytes, n: int) -> list[int]:
    out = get_op(OpCode.UTF8_CHARS).forward([np.frombuffer(raw.ljust(n, b"\0"), dtype=np.uint8).astype(np.int8)],
                                             _nodes(n, 0, 1, (1, 0, 0))[0])
    return [int(c) for c in out]


@SETTINGS
@given(BYTES, st.integers(0, 5))
def test_utf8_chars_equals_python_replace_decode(raw, pad):
    n = len(raw) + pad
    if n == 0:
        return
    out = _decoded(raw, n)
    assert [c for c in out if c >= 0] == list(map(ord, raw.rstrip(b"\0").decode("utf-8", "replace")))
    x = np.frombuffer(raw.ljust(n, b"\0"), dtype=np.uint8).astype(np.int8)
    check_elements(_nodes(n, 0, 1, (1, 0, 0))[0], [x], range(n))


@pytest.mark.parametrize("raw", [
    b"\xe2\x82", b"\xe2\x82\xac", b"\xc0\xaf", b"\xe0\x80\xaf", b"\xf0\x80\x80\xaf",       # truncated, overlongs
    b"\xed\xa0\x80", b"\xed\xbf\xbf", b"\xf4\x90\x80\x80", b"\xf5\x80\x80\x80", b"\xff\xfe",   # surrogates, > U+10FFFF
    b"\x80\x80\x80\x80\x80", b"a\xf0\x9f\x98", b"\xf0\x9f\x98\x80\x80", b"a\x00b\x00\x00", b"\x00\x00", b"\x00a",
    b"\xe1\x80\x00\x80", b"\xef\xbf\xbd", b"\xf4\x8f\xbf\xbf",
])
def test_utf8_chars_edge_sequences(raw):
    for pad in (0, 3):
        n = len(raw) + pad
        out = _decoded(raw, n)
        assert [c for c in out if c >= 0] == list(map(ord, raw.rstrip(b"\0").decode("utf-8", "replace"))), raw
        assert all(c == -1 for c in out[len(raw.rstrip(b"\0")):])


def test_utf8_chars_positions():
    # One U+FFFD per maximal subpart, at its first byte; -1 inside units.
    assert _decoded(b"\xe2\x82a\xf0\x9f\x98\x80\x80b", 12) == [0xFFFD, -1, 0x61, 0x1F600, -1, -1, -1, 0xFFFD, 0x62,
                                                                -1, -1, -1]


# ------------------------------------------------------------------------------------------- class table


def test_class_table_is_tokenizers_classes_and_fast():
    start = time.time()
    code_point_classes.cache_clear()
    s1, s2, shift = class_table()
    assert time.time() - start < 60
    cls = code_point_classes()
    probe = "aZé東가1٣Ⅻ \t\n\r\u00a0\u3000\u2028!'▁😀\x00"
    want = [0, 0, 0, 0, 0, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3]
    assert [int(cls[ord(c)]) for c in probe] == want
    # Spot-check against tokenizers' regex on 2,000 random code points through the CHAR_MAP tables.
    rng = np.random.default_rng(7)
    cps = [int(c) for c in rng.integers(0, 0x110000, 2000) if not 0xD800 <= c <= 0xDFFF]
    for pattern, value in ((r"\p{L}", 0), (r"\p{N}", 1), (r"\s", 2)):
        split = pt.Split(Regex(pattern), "removed")
        for c in cps:
            hit = not split.pre_tokenize_str(chr(c))
            assert hit == (cls[c] == value), (hex(c), pattern)
    node = _nodes(4, 0, 1, (1, 0, 0))[1]
    out = get_op(OpCode.CHAR_MAP).forward([np.array([0x41, 0x20, -1, 0x10FFFF], dtype=np.int32), s1, s2], node)
    assert out.reshape(-1).tolist() == [4 * 0x41, 4 * 0x20 + 2, 0, 4 * 0x10FFFF + 3]


# ---------------------------------------------------------------------------------------- pretokenize


@pytest.mark.parametrize("config", CONFIGS, ids=[c[0] for c in CONFIGS])
def test_pretokenize_equals_tokenizers_on_samples(config):
    for text in SAMPLES:
        assert_matches_tokenizers(text, config, [])


@pytest.mark.parametrize("config", CONFIGS, ids=[c[0] for c in CONFIGS])
def test_pretokenize_with_added_tokens_equals_tokenizers(config):
    for text in ["x<|eot|>y<|eot|>xab c", "<|eot|>  hello", "abc bcab<|e<|eot|", "東京 東京東京", " sp sp x",
                 "[X][X] [X]", "hi <|eot|>x there"] + SAMPLES[:6]:
        assert_matches_tokenizers(text, config, ADDED)


TEXT = st.text(alphabet=st.one_of(st.sampled_from(list(" \t\n\r\u00a0\u3000'sStTlLdDmMvVrReE1234567890.,!?-_"
                                                        "aé東▁😀ſ\x00")), st.characters(blacklist_categories=("Cs",))), max_size=30)


@SETTINGS
@given(TEXT, st.sampled_from(CONFIGS), st.booleans())
def test_pretokenize_random_text_equals_tokenizers(text, config, with_added):
    assert_matches_tokenizers(text, config, ADDED if with_added else [])


@SETTINGS
@given(BYTES, st.sampled_from([c[1] for c in CONFIGS]))
def test_forward_equals_element_on_random_bytes(raw, params):
    n = len(raw) + 2
    front(raw, n, _table(ADDED), params, check_all=True)


def test_forward_equals_element_at_the_cap_edges():
    # Interior and trailing NULs, emoji, a long word and added tokens at both ends.
    raw = "<|eot|>ab\x00 c  \U0001F600\r\n".encode() + b"x" * 30 + "東京<|eot|>".encode()
    for params in ((1, 2, 0), (2, 1, 1), (3, 0, 0), (4, 2, 1), (5, 1, 0)):
        front(raw, len(raw) + 4, _table(ADDED), params, check_all=True)


# ------------------------------------------------------------------------------------------ added tokens


def _hf_matches(text: str, tokens: list[str]) -> list[tuple[int, int, int]]:
    tok = Tokenizer(models.WordLevel({"[UNK]": 0}, unk_token="[UNK]"))
    tok.add_tokens([AddedToken(t, normalized=False, special=True) for t in tokens])
    enc = tok.encode(text.rstrip("\0"), add_special_tokens=False)
    return [(s, e, i) for i, (s, e) in zip(enc.ids, enc.offsets) if i != 0]


def _my_matches(text: str, tokens: list[str]) -> list[tuple[int, int, int]]:
    table = _table(tokens)
    raw = text.encode()
    chars, _, added, _ = front(raw, len(raw) + 1, table, (5, 0, 0))
    text_index = np.cumsum(chars >= 0) - 1
    out = []
    for i in np.flatnonzero(added >= 0):
        k = int(text_index[i])
        out.append((k, k + len(tokens[int(added[i]) - 1]), int(added[i])))
    return out


@SETTINGS
@given(st.text(alphabet=list("<|eot>xabc[X] 東京sp"), max_size=30))
def test_added_tokens_equal_tokenizers_split(text):
    assert _my_matches(text, ADDED) == _hf_matches(text, ADDED)


def test_added_tokens_overlaps_prefixes_and_adjacency():
    for text in ["<|eot|>x<|eot|>", "<|e<|eot|>", "abc", "bcab", "abab", "<|eot|><|eot|>", "東京東京", ""]:
        assert _my_matches(text, ADDED) == _hf_matches(text, ADDED), text
    assert _my_matches("<|eot|>x", ADDED) == [(0, 8, 2)]          # longest wins over its prefix
    assert _my_matches("abc", ADDED) == [(0, 2, 4)]               # leftmost wins over the overlapping "bc"


def test_added_tokens_rows_that_never_match():
    # A row with a negative id or empty content never matches; on ties the first row wins.
    table = np.array([[-5, 97, -1], [7, -1, 98], [8, 97, 98], [9, 97, 98]], dtype=np.int32)
    chars, _, added, _ = front(b"ab a", 6, table, (5, 0, 0), check_all=True)
    assert added.tolist() == [8, -2, -1, -1, -1, -1]


def test_added_table_from_tokenizer_json():
    table = added_table("offchain/models/llm_tiny_sp/tokenizer.json")
    assert table.tolist()[1] == [1] + [ord(c) for c in "<|bos|>"]
    assert table.tolist()[0] == [0] + [ord(c) for c in "<unk>"] + [-1, -1]
    spec_ = {"normalizer": None, "added_tokens": [{"id": 5, "content": "<a>", "lstrip": True}]}
    with pytest.raises(TokenizerTableError, match="lstrip"):
        added_table(spec_)
    mixed = {"normalizer": None, "added_tokens": [{"id": 1, "content": "ab", "normalized": True},
                                                  {"id": 2, "content": "bc", "normalized": False}]}
    with pytest.raises(TokenizerTableError, match="overlap"):
        added_table(mixed)
    with pytest.raises(TokenizerTableError, match="normalized"):
        added_table({"normalizer": {"type": "NFC"}, "added_tokens": [{"id": 1, "content": "x", "normalized": True}]})
    assert added_table({"added_tokens": []}).shape == (0, 2)


# ------------------------------------------------------------------------------------------------ checks


def test_checks_refuse_sizes_over_the_caps_and_bad_params():
    u, _, ad, pr = _nodes(MAX_CHARS + 1, 1, 1, (1, 0, 0))
    for node in (u, pr):
        with pytest.raises(ParamError, match="MAX_CHARS"):
            get_op(node.op).check(node)
    for a, l in ((10, 16), (8, 24), (1, 304)):   # exactly at the cap
        assert added_work(MAX_CHARS, a, l) == MAX_ADDED_WORK
        get_op(OpCode.ADDED_TOKENS).check(_nodes(MAX_CHARS, a, l, (1, 0, 0))[2])
        for bigger in ((a + 1, l), (a, l + 8)):
            with pytest.raises(ParamError, match="MAX_ADDED_WORK"):
                get_op(OpCode.ADDED_TOKENS).check(_nodes(MAX_CHARS, *bigger, (1, 0, 0))[2])
    for params in ((0, 0, 0), (6, 0, 0), (1, 3, 0), (1, 0, 2)):
        with pytest.raises(ParamError):
            get_op(OpCode.PRETOKENIZE).check(_nodes(8, 1, 1, params)[3])
    bad = make_node(OpCode.UTF8_CHARS, [spec((8,), DType.INT32, 0)], spec((8,), DType.INT32, 0))
    with pytest.raises(DtypeMismatchError):
        get_op(OpCode.UTF8_CHARS).check(bad)
    bad = make_node(OpCode.PRETOKENIZE, [spec((8, 1), DType.INT32, 0), spec((7,), DType.INT32, 0)],
                    spec((8, 2), DType.INT32, 0), (1, 0, 0))
    with pytest.raises(ShapeMismatchError):
        get_op(OpCode.PRETOKENIZE).check(bad)
    for node in _nodes(MAX_CHARS, 10, 16, (4, 2, 1)):
        get_op(node.op).check(node)

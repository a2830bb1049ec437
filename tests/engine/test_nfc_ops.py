"""NFC_COMPOSE (59) and NFC_COMPACT (60), offchain/engine/ops/nfc.py, with the tables of
offchain/models/nfc_tables.py: forward equals the element rule (hypothesis texts, int32 junk in every operand);
the chain UTF8_CHARS -> CHAR_MAP(NFD) -> NFC_COMPOSE -> NFC_COMPACT gives tokenizers' NFC of the text on
combining-heavy hypothesis text, every decomposable code point, singletons, composition exclusions, canonical
reordering, Hangul, ill-formed UTF-8; added-token chars stay raw and cut the text into separately normalized
pieces; the one documented deviation (a run's marks from index C on are neither reordered nor composed) holds
exactly; NFC never gives more
code points than the text has UTF-8 bytes (brute force over every decomposable char followed by every mark);
check() refuses sizes over the caps and bad params."""

from __future__ import annotations

import unicodedata

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from offchain.engine.dtypes import DType
from offchain.engine.errors import ParamError, ShapeMismatchError
from offchain.engine.ops import OpCode, get_op
from offchain.engine.ops.nfc import COMP_ROW, MAX_LINK, MAX_RUN_TRIES, entry_value
from offchain.models import nfc_tables

from .op_harness import check_elements, make_node, spec

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
I32_MIN, I32_MAX = -(2**31), 2**31 - 1
K = 4


def i32(shape):
    return spec(shape, DType.INT32, 0)


def tok_nfc(text: str) -> str:
    from tokenizers import normalizers

    return normalizers.NFC().normalize_str(text)


def compose_node(n: int, rows: int, window: int, salt: int, tries: int = MAX_RUN_TRIES, k: int = K):
    return make_node(OpCode.NFC_COMPOSE, (i32((n, k)), i32((n,)), i32((n,)), i32((rows, COMP_ROW))), i32((n, k)),
                     (window, salt, tries))


def compact_node(n: int, mode: int, k: int = K):
    return make_node(OpCode.NFC_COMPACT, (i32((n, k)), i32((n,))), i32((n,)), (mode,))


def nfd_of(data: bytes, n: int, added: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(nfd [n, K], chars [n], added [n]) of request bytes ``data`` zero-padded to n: UTF8_CHARS -> CHAR_MAP(NFD),
    added all -1 unless given (the NFC chains' common start)."""
    raw = np.zeros(n, dtype=np.int8)
    raw[:len(data)] = np.frombuffer(data, dtype=np.uint8).astype(np.int8)
    chars_node = make_node(OpCode.UTF8_CHARS, (spec((n,), DType.INT8, 0),), i32((n,)))
    chars = get_op(OpCode.UTF8_CHARS).forward([raw], chars_node)
    s1, s2, shift = nfc_tables.nfd_table()
    map_node = make_node(OpCode.CHAR_MAP, (i32((n,)), i32(s1.shape), i32(s2.shape)), i32((n, K)), (shift,))
    nfd = get_op(OpCode.CHAR_MAP).forward([chars, s1, s2], map_node)
    return nfd, chars, np.full(n, -1, dtype=np.int32) if added is None else added


def run_chain(data: bytes, n: int, added: np.ndarray | None = None, check: bool | str = "some",
              tries: int = MAX_RUN_TRIES) -> tuple[list[int], list[int]]:
    """(chars', added') of the NFC chain on request bytes ``data`` zero-padded to n; forward == element on every
    element of the two new ops (``check`` True), a sample of them ("some"), or none."""
    nfd, chars, added = nfd_of(data, n, added)
    rows, window, salt = nfc_tables.comp_table()
    pick = range(n * K) if check is True else (range(0, n * K, 7) if check == "some" else [])
    comp = check_elements(compose_node(n, rows.shape[0], window, salt, tries), [nfd, chars, added, rows], pick)
    pick_n = range(n) if check is True else (range(0, n, 5) if check == "some" else [])
    out0 = check_elements(compact_node(n, 0), [comp, added], pick_n)
    out1 = check_elements(compact_node(n, 1), [comp, added], pick_n)
    return [int(v) for v in out0], [int(v) for v in out1]


def longest_run(text: str) -> int:
    """The most non-starters in a row in tokenizers' NFD of ``text`` (the op is exact up to MAX_RUN_TRIES)."""
    from tokenizers import normalizers

    best = run = 0
    for ch in normalizers.NFD().normalize_str(text):
        run = run + 1 if nfc_tables.rank_of(ord(ch)) > 0 else 0
        best = max(best, run)
    return best


def chain_text(text: str, check: bool | str = "some", slack: int = 0) -> str:
    data = text.encode("utf-8", "surrogatepass")
    cps, _ = run_chain(data, max(1, len(data) + slack), check=check)
    return "".join(chr(c) for c in cps if c >= 0)


MARKS = [0x0300, 0x0301, 0x0302, 0x0303, 0x0307, 0x0308, 0x030A, 0x030C, 0x0313, 0x0316, 0x031B, 0x0323, 0x0327,
         0x0328, 0x0334, 0x0342, 0x0344, 0x0345, 0x05B0, 0x05BC, 0x05C1, 0x093C, 0x0F71, 0x0F72, 0x0F74, 0x0F80,
         0x1DFA, 0x20D2, 0x302A, 0x3099, 0x309A]
BASES = [ord(c) for c in "aeiouAEOUcgknrsyzω\u03b1\u03b9\u0391\u03c5\u0418\u0415\u0647\u0915\u0B47\u0CC6\u0DD9"
         "\u304b\u30cf\u1100\u1112\u1161\u1175\u11a8\u11c2\uac00\uac01\ud7a3\u212b\u2126\u1f82\u0958\u2adc"
         "\U0001d15e\U0001d160\U00011099\U00011131"] + [ord(c) for c in "\u0CC2\u0CD5\u0DCF\u0DCA\u1B35\u0BBE"]


@st.composite
def combining_text(draw, max_len: int = 40):
    """Text of bases, marks (many per base), Hangul jamo and syllables, singletons and exclusions."""
    pool = st.one_of(st.sampled_from(MARKS), st.sampled_from(BASES),
                     st.integers(0x20, 0x7E), st.integers(0x1100, 0x11FF), st.integers(0xAC00, 0xD7A3),
                     st.integers(0x0300, 0x036F), st.integers(0x0080, 0x10FFFF).filter(lambda c: not 0xD800 <= c <= 0xDFFF))
    return "".join(map(chr, draw(st.lists(pool, max_size=max_len))))


@given(combining_text())
@SETTINGS
def test_chain_equals_tokenizers_nfc_on_combining_text(text):
    assume(longest_run(text) <= MAX_RUN_TRIES)
    assert chain_text(text) == tok_nfc(text.rstrip("\0"))   # trailing NULs are padding


@given(st.text(max_size=30))
@SETTINGS
def test_chain_equals_tokenizers_nfc_on_any_text(text):
    assume(longest_run(text) <= MAX_RUN_TRIES)
    assert chain_text(text, slack=3) == tok_nfc(text.rstrip("\0"))


@given(st.text(max_size=20).map(lambda t: unicodedata.normalize("NFD", t)))
@SETTINGS
def test_chain_recomposes_nfd_text(text):
    assume(longest_run(text) <= MAX_RUN_TRIES)
    assert chain_text(text) == tok_nfc(text.rstrip("\0"))   # trailing NULs are padding


@given(st.binary(max_size=40))
@SETTINGS
def test_chain_on_ill_formed_utf8(data):
    assume(longest_run(data.rstrip(b"\0").decode("utf-8", "replace")) <= MAX_RUN_TRIES)
    cps, added = run_chain(data, max(1, len(data)))
    # inside the text, entries of CHAR_MAP's NFD output lie at most MAX_LINK flat slots apart (no cut)
    raw = np.frombuffer(data, np.uint8).astype(np.int8)
    chars = get_op(OpCode.UTF8_CHARS).forward([raw], make_node(OpCode.UTF8_CHARS, (spec((len(data),), DType.INT8, 0),),
                                                                 i32((len(data),)))) if data else np.zeros(0)
    s1, s2, shift = nfc_tables.nfd_table()
    flat = [i * K + j for i, c in enumerate(chars) if c >= 0
            for j, e in enumerate(nfc_tables.decompositions().get(int(c), chr(int(c))) if int(c) < 0xAC00
                                  or int(c) > 0xD7A3 else chr(int(c)))]
    assert all(b - a <= MAX_LINK for a, b in zip(flat, flat[1:]))
    want = tok_nfc(data.rstrip(b"\0").decode("utf-8", "replace"))
    assert "".join(chr(c) for c in cps if c >= 0) == want
    assert cps[len(want):] == [-1] * (len(cps) - len(want)) and added == [-1] * len(cps)


def test_every_decomposable_char_and_composite():
    """Each code point tokenizers' NFD changes, each composite, alone and as its NFD."""
    cps = sorted(set(nfc_tables.decompositions()) | set(nfc_tables.composition_pairs().values()))
    for start in range(0, len(cps), 20):
        chunk = cps[start:start + 20]
        text = "\n".join(map(chr, chunk))
        assert chain_text(text, check=False) == tok_nfc(text)
        nfd = "\n".join(nfc_tables.decompositions().get(c, chr(c)) for c in chunk)
        assert chain_text(nfd, check=False) == tok_nfc(nfd)


@pytest.mark.parametrize("text, want", [
    ("\u212b", "\u00c5"),                    # singleton ANGSTROM SIGN -> A with ring
    ("\u2126", "\u03a9"),                    # singleton OHM SIGN
    ("\u0958", "\u0915\u093c"),             # composition exclusion: stays decomposed
    ("\u2adc", "\u2add\u0338"),             # exclusion (FORKING)
    ("q\u0307\u0323", "q\u0323\u0307"),      # canonical reordering, nothing composes
    ("a\u0301\u0323", "\u1ea1\u0301"),       # reorder then compose both ways
    ("\u1e0b\u0323", "\u1e0d\u0307"),        # d-dot-above + dot-below -> d-dot-below + dot-above
    ("\u1100\u1161\u11a8", "\uac01"),        # Hangul L V T
    ("\uac00\u11a8", "\uac01"),              # LV + T
    ("\uac01\u11a8", "\uac01\u11a8"),        # LVT + T: nothing
    ("\u1161\u1161\u1100", "\u1161\u1161\u1100"),
    ("\u0cc6\u0cc2\u0cd5", "\u0ccb"),        # a chain of two starter compositions (Kannada)
    ("\u0dd9\u0dcf\u0dca", "\u0ddd"),        # Sinhala: starter + starter, then a mark
    ("\u0301a", "\u0301a"),                  # a leading mark
    ("\u1f82", "\u1f82"),                    # 3 bytes, NFD of 4
    ("\U0001d160", "\U0001d158\U0001d165\U0001d16e"),
    ("\u0344", "\u0308\u0301"),
    ("e\u0301\u0301", "\u00e9\u0301"),        # the second acute is blocked
    ("\u1dfa\u0345", "\u1dfa\u0345"),        # a mark newer than tokenizers' Unicode: a starter to it
])
def test_edge_cases(text, want):
    assert tok_nfc(text) == want
    assert chain_text(text, check=True) == want


def test_deviation_marks_past_c_are_not_composed():
    """tokenizers composes a with the acute after any number of lower-class marks; the op reorders and tries only
    the first C marks of a run, so the acute at run index C stays."""
    c = MAX_RUN_TRIES
    for count in range(c - 2, c + 2):
        text = "a" + "\u0316" * count + "\u0301"
        got = chain_text(text)
        if count < c:
            assert got == tok_nfc(text) == "\u00e1" + "\u0316" * count
        else:
            assert got == "a" + "\u0316" * count + "\u0301" != tok_nfc(text)
    text = "a" + "\u0316" * 3 + "\u0301"
    assert chain_text(text, check=True) == tok_nfc(text)
    # past C a run is not reordered either: the dot below at run index C stays last (tokenizers moves it first)
    text = "a" + "\u0301" * c + "\u0323"
    assert tok_nfc(text) == "\u1ea1" + "\u0301" * c
    assert chain_text(text, check=True) == "\u00e1" + "\u0301" * (c - 1) + "\u0323"
    text = "a" + "\u0301" * (c - 1) + "\u0323"
    assert chain_text(text) == tok_nfc(text) == "\u1ea1" + "\u0301" * (c - 1)
    short = "a\u0316\u0316\u0301"
    cps, _ = run_chain(short.encode(), 8, tries=2)
    assert "".join(chr(v) for v in cps if v >= 0) == "a\u0316\u0316\u0301"


def test_added_token_chars_stay_raw_and_cut_the_text():
    """tokenizers matches non-normalized added tokens on the raw text and normalizes the pieces between them:
    '>' + U+0338 would compose to U+226F, but '>' ends an added token, so both stay; e + acute across a token
    do not compose."""
    text = "e<|x|>\u0301 \u212b>\u0338"
    data = text.encode()
    chars_node = make_node(OpCode.UTF8_CHARS, (spec((len(data),), DType.INT8, 0),), i32((len(data),)))
    chars = get_op(OpCode.UTF8_CHARS).forward([np.frombuffer(data, np.uint8).astype(np.int8)], chars_node)
    table = np.array([[900] + [ord(ch) for ch in "<|x|>"]], dtype=np.int32)
    added_node = make_node(OpCode.ADDED_TOKENS, (i32((len(data),)), i32(table.shape)), i32((len(data),)))
    added = get_op(OpCode.ADDED_TOKENS).forward([chars, table], added_node)
    cps, moved = run_chain(data, len(data), added=added, check=True)
    kept = [(chr(c), a) for c, a in zip(cps, moved) if c >= 0]
    assert "".join(c for c, _ in kept) == "e<|x|>\u0301 \u00c5\u226f"
    assert [a for _, a in kept] == [-1, 900, -2, -2, -2, -2] + [-1] * 4
    assert moved[len(kept):] == [-1] * (len(moved) - len(kept))
    # and the reference: the pieces between added tokens normalized on their own
    assert tok_nfc("e") + "<|x|>" + tok_nfc("\u0301 \u212b>\u0338") == "".join(c for c, _ in kept)
    # without the match, the token's '>' would compose with the mark
    cps2, _ = run_chain("e<|x|>\u0338".encode(), 10)
    assert "".join(chr(c) for c in cps2 if c >= 0) == "e<|x|\u226f"


def test_nfc_never_outgrows_the_utf8_bytes():
    """Every code point, and every decomposable char followed by every char tokenizers calls a non-starter
    (the only way a composite can fail to recompose): NFC has at most as many code points as UTF-8 bytes."""
    from tokenizers import normalizers

    nfc = normalizers.NFC()
    singles = [c for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF and c != 0x0A]
    parts = nfc.normalize_str("\n".join(map(chr, singles))).split("\n")
    assert all(len(p) <= len(chr(c).encode()) for c, p in zip(singles, parts))
    heads = sorted(nfc_tables.decompositions())
    marks = sorted(nfc_tables.combining_classes()) + [c for c, d in nfc_tables.decompositions().items()
                                                     if nfc_tables.rank_of(ord(d[0])) > 0]
    worst = 0.0
    for h in heads:
        strs = [chr(h) + chr(m) for m in marks]
        got = nfc.normalize_str("\n".join(strs)).split("\n")
        for s, g in zip(strs, got):
            assert len(g) <= len(s.encode()), (s, g)
            worst = max(worst, len(g) / len(s.encode()))
    assert worst <= 1.0


@given(st.data())
@SETTINGS
def test_forward_equals_element_on_int32_junk(data):
    """Any int32 values in every operand (entries with huge ranks / cps, negative chars, odd added values) and a
    hand-made table with colliding homes: forward == element, compaction of both modes too."""
    n = data.draw(st.integers(1, 12))
    k = data.draw(st.integers(1, 4))
    val = st.one_of(st.integers(I32_MIN, I32_MAX), st.sampled_from([0, 1, -1, I32_MIN, I32_MAX]),
                    st.builds(entry_value, st.sampled_from([0x41, 0x301, 0x1100, 0x1161, 0xAC00, 0x11A8, 7]),
                              st.integers(0, 3)))
    nfd = np.array(data.draw(st.lists(val, min_size=n * k, max_size=n * k)), dtype=np.int64).astype(np.int32).reshape(n, k)
    chars = np.array(data.draw(st.lists(st.one_of(val, st.just(-1)), min_size=n, max_size=n)), dtype=np.int32)
    added = np.array(data.draw(st.lists(st.sampled_from([-1, -1, -1, -2, 5, I32_MIN]), min_size=n, max_size=n)),
                     dtype=np.int32)
    rows = np.array(data.draw(st.lists(st.lists(st.sampled_from([0x41, 0x301, 7, -1, 0x1100, I32_MAX]),
                                                min_size=3, max_size=3), min_size=4, max_size=8)), dtype=np.int32)
    window = data.draw(st.integers(1, rows.shape[0]))
    node = compose_node(n, rows.shape[0], window, data.draw(st.integers(0, 2**32 - 1)),
                        data.draw(st.integers(1, MAX_RUN_TRIES)), k)
    out = check_elements(node, [nfd, chars, added, rows], range(n * k))
    x = np.where(np.arange(n * k).reshape(n, k) % 3 == 0, out, nfd)
    for mode in (0, 1):
        check_elements(compact_node(n, mode, k), [x, added], range(n))


def test_check_refuses():
    rows, window, salt = nfc_tables.comp_table()
    op = get_op(OpCode.NFC_COMPOSE)
    op.check(compose_node(256, rows.shape[0], window, salt))
    for bad in (compose_node(257, rows.shape[0], window, salt), compose_node(4, rows.shape[0], window, salt, 0),
                compose_node(4, rows.shape[0], window, salt, MAX_RUN_TRIES + 1),
                compose_node(4, rows.shape[0], 9, salt), compose_node(4, rows.shape[0], window, 2**32)):
        with pytest.raises(ParamError):
            op.check(bad)
    with pytest.raises(ShapeMismatchError):
        op.check(compose_node(4, rows.shape[0], window, salt, k=5))
    cop = get_op(OpCode.NFC_COMPACT)
    cop.check(compact_node(256, 1))
    for bad in (compact_node(257, 0), compact_node(4, 2)):
        with pytest.raises(ParamError):
            cop.check(bad)

"""NFC_REORDER (68) and NFC_STAGE (69), offchain/engine/ops/nfc_runs.py: forward equals the element rule on every
element (texts with long mark runs, staged runs with any prev, int32 junk in every operand, colliding table
homes); the chain
UTF8_CHARS -> CHAR_MAP(NFD) -> NFC_REORDER -> NFC_COMPOSE -> NFC_STAGE x S -> NFC_COMPACT equals tokenizers' NFC
on runs of 4, 5, 8, 17, 128 marks, mixed and equal ranks (blocking), Hangul, added-token rows, segment gaps and
hypothesis text; no code point's NFD has more non-starters than UTF-8 bytes (so S = ceil((N - C) / D) stages
cover every text of N bytes); check() refuses sizes over the caps."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from offchain.engine.dtypes import DType
from offchain.engine.errors import ParamError, ShapeMismatchError
from offchain.engine.ops import OpCode, get_op
from offchain.engine.ops.nfc import COMP_ROW, MAX_LINK, MAX_RUN_TRIES, entry_value
from offchain.engine.ops.nfc_runs import MAX_RUN_MARKS, MAX_STAGE_TRIES, stages_for
from offchain.models import nfc_tables

from .op_harness import check_elements, make_node, spec
from .test_nfc_ops import BASES, MARKS, combining_text, compact_node, compose_node, i32, nfd_of, tok_nfc

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
I32_MIN, I32_MAX = -(2**31), 2**31 - 1
K = 4
D = MAX_STAGE_TRIES


def reorder_node(n: int, k: int = K):
    return make_node(OpCode.NFC_REORDER, (i32((n, k)), i32((n,)), i32((n,))), i32((n, k)))


def stage_node(n: int, rows: int, window: int, salt: int, frm: int, width: int = D, k: int = K):
    return make_node(OpCode.NFC_STAGE, (i32((n, k)), i32((n,)), i32((n,)), i32((rows, COMP_ROW)), i32((n, k))),
                     i32((n, k)), (window, salt, frm, width))


def _pick(size: int, check) -> range | list:
    stride = {"some": 7, "few": 29}.get(check) if check is not True else 1
    return range(0, size, stride) if stride else []


def run_chain(data: bytes, n: int, added: np.ndarray | None = None, check: bool | str = "some",
              stages: int | None = None) -> tuple[list[int], list[int]]:
    """(chars', added') of the full-run NFC chain on ``data`` zero-padded to n (forward == element on all
    (``True``), every 7th (``"some"``), every 29th (``"few"``) or none of the new ops' elements)."""
    nfd, chars, added = nfd_of(data, n, added)
    rows, window, salt = nfc_tables.comp_table()
    x = check_elements(reorder_node(n), [nfd, chars, added], _pick(n * K, check))
    y = get_op(OpCode.NFC_COMPOSE).forward([x, chars, added, rows],
                                           compose_node(n, rows.shape[0], window, salt))
    for s in range(stages_for(n) if stages is None else stages):
        y = check_elements(stage_node(n, rows.shape[0], window, salt, MAX_RUN_TRIES + s * D),
                           [x, chars, added, rows, y], _pick(n * K, check))
    out0 = get_op(OpCode.NFC_COMPACT).forward([y, added], compact_node(n, 0))
    out1 = get_op(OpCode.NFC_COMPACT).forward([y, added], compact_node(n, 1))
    return [int(v) for v in out0], [int(v) for v in out1]


def chain_text(text: str, check: bool | str = "some", slack: int = 0) -> str:
    data = text.encode("utf-8", "surrogatepass")
    cps, _ = run_chain(data, max(1, len(data) + slack), check=check)
    return "".join(chr(c) for c in cps if c >= 0)


@pytest.mark.parametrize("count", [3, 4, 5, 8, 17])
def test_long_runs_compose_past_c(count):
    """a + count lower-class marks + acute: tokenizers composes a with the acute after any number of them."""
    for text in ("a" + "\u0316" * count + "\u0301", "a" + "\u0301" * count + "\u0323",
                 "a" + "\u0316\u0301" * count + "\u0323", "o" + "\u0308\u0301" * count + "x\u0323\u0302"):
        assert chain_text(text, check=True) == tok_nfc(text), text


def test_run_of_128_marks():
    """128 marks in one run (U+0344 is 2 bytes and 2 marks): the diaeresis (from U+0344) composes with a after 60
    lower-class marks; a run filling the whole N = 256 input, every element checked."""
    text = "a" + "\u0316" * 60 + "\u0344" * 34
    assert len(tok_nfc(text)) == 1 + 60 + 67 and tok_nfc(text)[0] == "\u00e4"
    assert chain_text(text, check="some") == tok_nfc(text)
    full = "\u0344" * 16 + "e" + "\u0316\u0344" * 52 + "\u0323" * 6 + "\u0345"
    assert len(full.encode()) <= 256
    # 126 stages at N = 256: every 29th element of each (every element kind still met: 29 is odd, coprime to K)
    assert chain_text(full, check="few", slack=256 - len(full.encode())) == tok_nfc(full)


def test_runs_past_max_run_marks_keep_their_order():
    """A run of MAX_RUN_MARKS + 1 entries (only int32 junk, no text of N <= 256 bytes, has one) keeps its values;
    one of MAX_RUN_MARKS is sorted."""
    n = 80
    high, low = entry_value(0x0301, 9), entry_value(0x0316, 3)
    chars = np.zeros(n, dtype=np.int32)
    added = np.full(n, -1, dtype=np.int32)
    for length in (MAX_RUN_MARKS, MAX_RUN_MARKS + 1):
        flat = np.zeros(n * K, dtype=np.int64)
        flat[0] = entry_value(0x61, 0)
        flat[1:1 + length] = [high if j % 2 == 0 else low for j in range(length)]
        nfd = flat.astype(np.int32).reshape(n, K)
        x = check_elements(reorder_node(n), [nfd, chars, added], list(range(0, n * K, 3)) + [length]).reshape(-1)
        if length > MAX_RUN_MARKS:
            assert (x == flat).all()
        else:
            assert list(x[1:1 + length]) == [low] * (length // 2) + [high] * (length // 2)


def test_mixed_and_equal_ranks_block():
    """Equal ranks block (the second acute stays), a lower rank kept in between does not; Hangul jamo after a
    long run start fresh; an added-token row cuts a run; a gap of more than MAX_LINK slots cuts a segment."""
    for text in ("e" + "\u0301" * 9, "e" + "\u0316" * 5 + "\u0301\u0301\u0302",
                 "\u1100\u1161" + "\u0316" * 6 + "\u11a8", "\u1100" + "\u0301" * 5 + "\u1161\u11a8",
                 "\u0301" * 6 + "a\u0301", "\u0cc6\u0cc2\u0cd5" + "\u0316" * 5 + "\u0301",
                 "\u0dd9\u0dcf" + "\u0316" * 5 + "\u0dca", "a" + "\u05b0\u0316" * 4 + "\u0301\u0345\u0301"):
        assert chain_text(text, check=True) == tok_nfc(text), ascii(text)


def test_added_token_row_cuts_a_long_run():
    text = "e" + "\u0316" * 5 + "<|x|>" + "\u0316" * 5 + "\u0301"
    data = text.encode()
    n = len(data)
    chars_node = make_node(OpCode.UTF8_CHARS, (spec((n,), DType.INT8, 0),), i32((n,)))
    chars = get_op(OpCode.UTF8_CHARS).forward([np.frombuffer(data, np.uint8).astype(np.int8)], chars_node)
    table = np.array([[900] + [ord(ch) for ch in "<|x|>"]], dtype=np.int32)
    added_node = make_node(OpCode.ADDED_TOKENS, (i32((n,)), i32(table.shape)), i32((n,)))
    added = get_op(OpCode.ADDED_TOKENS).forward([chars, table], added_node)
    cps, moved = run_chain(data, n, added=added, check=True)
    got = "".join(chr(c) for c in cps if c >= 0)
    assert got == tok_nfc("e" + "\u0316" * 5) + "<|x|>" + tok_nfc("\u0316" * 5 + "\u0301")
    assert [a for c, a in zip(cps, moved) if c >= 0][6:11] == [900, -2, -2, -2, -2]


@pytest.mark.parametrize("gap", [MAX_LINK, MAX_LINK + 1])
def test_segment_gap_cuts_the_run(gap):
    """Hand-made entries: a + 5 marks, then an acute ``gap`` flat slots after the last: linked (gap <= MAX_LINK)
    it is run index 5 and composes with a; one slot further it starts a segment of its own and stays."""
    n = 24
    nfd = np.zeros((n, K), dtype=np.int32)
    r_low, r_acute = nfc_tables.rank_of(0x0316), nfc_tables.rank_of(0x0301)
    flat = nfd.reshape(-1)
    flat[0] = entry_value(0x61, 0)
    for j in range(1, 6):
        flat[j] = entry_value(0x0316, r_low)
    flat[5 + gap] = entry_value(0x0301, r_acute)
    chars = np.arange(n, dtype=np.int32)
    added = np.full(n, -1, dtype=np.int32)
    rows, window, salt = nfc_tables.comp_table()
    x = check_elements(reorder_node(n), [nfd, chars, added], range(n * K))
    y = get_op(OpCode.NFC_COMPOSE).forward([x, chars, added, rows], compose_node(n, rows.shape[0], window, salt))
    y = check_elements(stage_node(n, rows.shape[0], window, salt, 4), [x, chars, added, rows, y], range(n * K))
    yf = y.reshape(-1)
    assert list(yf[1:6]) == [0x0316] * 5
    if gap <= MAX_LINK:
        assert yf[0] == 0xE1 and yf[5 + gap] == -1
    else:
        assert yf[0] == 0x61 and yf[5 + gap] == 0x0301


@given(combining_text(max_len=60))
@SETTINGS
def test_chain_equals_tokenizers_nfc_on_combining_text(text):
    assert chain_text(text) == tok_nfc(text.rstrip("\0"))


@st.composite
def zalgo(draw):
    """Zalgo-like text: bases each followed by long runs of mixed-class marks."""
    parts = []
    for _ in range(draw(st.integers(1, 4))):
        parts.append(chr(draw(st.sampled_from(BASES))))
        parts.extend(map(chr, draw(st.lists(st.sampled_from(MARKS), max_size=24))))
    return "".join(parts)


@given(zalgo())
@SETTINGS
def test_chain_equals_tokenizers_nfc_on_zalgo_text(text):
    assert chain_text(text) == tok_nfc(text)


@given(st.text(max_size=30))
@SETTINGS
def test_chain_equals_tokenizers_nfc_on_any_text(text):
    assert chain_text(text, slack=3) == tok_nfc(text.rstrip("\0"))


def test_no_code_point_has_more_marks_than_utf8_bytes():
    """The stage count's premise: a run in N bytes holds at most N marks, as no code point's NFD has more
    non-starters than its UTF-8 length (a non-starter without decomposition is >= 2 bytes)."""
    worst = 0.0
    for c, d in nfc_tables.decompositions().items():
        marks = sum(1 for ch in d if nfc_tables.rank_of(ord(ch)) > 0)
        worst = max(worst, marks / len(chr(c).encode()))
    assert worst == 1.0   # U+0344: 2 bytes, 2 marks
    assert all(len(chr(c).encode()) >= 2 for c in nfc_tables.combining_classes())
    assert stages_for(256) == -(-(256 - MAX_RUN_TRIES) // D) and stages_for(4) == 0


@given(st.data())
@SETTINGS
def test_forward_equals_element_on_int32_junk(data):
    """Any int32 values in every operand (huge ranks / cps, odd added values, any prev), a hand-made table with
    colliding homes and real ones: forward == element for both ops on every element."""
    n = data.draw(st.integers(1, 10))
    k = data.draw(st.integers(1, 4))
    val = st.one_of(st.integers(I32_MIN, I32_MAX), st.sampled_from([0, 1, -1, I32_MIN, I32_MAX]),
                    st.builds(entry_value, st.sampled_from([0x41, 0x301, 0x1100, 0x1161, 0xAC00, 0x11A8, 7]),
                              st.integers(0, 3)))
    nfd = np.array(data.draw(st.lists(val, min_size=n * k, max_size=n * k)),
                   dtype=np.int64).astype(np.int32).reshape(n, k)
    chars = np.array(data.draw(st.lists(st.one_of(val, st.just(-1)), min_size=n, max_size=n)), dtype=np.int32)
    added = np.array(data.draw(st.lists(st.sampled_from([-1, -1, -1, -2, 5, I32_MIN]), min_size=n, max_size=n)),
                     dtype=np.int32)
    rows = np.array(data.draw(st.lists(st.lists(st.sampled_from([0x41, 0x301, 7, -1, 0x1100, 0xAC00, I32_MAX]),
                                                min_size=3, max_size=3), min_size=4, max_size=8)), dtype=np.int32)
    window = data.draw(st.integers(1, rows.shape[0]))
    x = check_elements(reorder_node(n, k), [nfd, chars, added], range(n * k))
    prev = np.array(data.draw(st.lists(st.one_of(val, st.just(-1), st.just(-1)), min_size=n * k,
                                       max_size=n * k)), dtype=np.int64).astype(np.int32).reshape(n, k)
    node = stage_node(n, rows.shape[0], window, data.draw(st.integers(0, 2**32 - 1)),
                      data.draw(st.integers(1, n * k)), data.draw(st.integers(1, D)), k)   # n * k <= 40
    check_elements(node, [x, chars, added, rows, prev], range(n * k))
    check_elements(node, [nfd, chars, added, rows, prev], range(n * k))


def test_check_refuses():
    rows, window, salt = nfc_tables.comp_table()
    m = rows.shape[0]
    get_op(OpCode.NFC_REORDER).check(reorder_node(256))
    get_op(OpCode.NFC_STAGE).check(stage_node(256, m, window, salt, MAX_RUN_MARKS - D))
    with pytest.raises(ParamError):
        get_op(OpCode.NFC_REORDER).check(reorder_node(257))
    with pytest.raises(ShapeMismatchError):
        get_op(OpCode.NFC_REORDER).check(reorder_node(4, k=5))
    for bad in (stage_node(257, m, window, salt, 4), stage_node(4, m, window, salt, 0),
                stage_node(4, m, window, salt, MAX_RUN_MARKS - D + 1), stage_node(4, m, window, salt, 4, 0),
                stage_node(4, m, window, salt, 4, D + 1), stage_node(4, m, 9, salt, 4),
                stage_node(4, m, window, 2**32, 4)):
        with pytest.raises(ParamError):
            get_op(OpCode.NFC_STAGE).check(bad)


@st.composite
def staged_runs(draw):
    """Starter chains and runs of 0..12 marks with ranks 1..3 (cps that compose with the starters in a hand-made
    table, Hangul jamo among them), an added-token row now and then, any prev (-1 often): the owner / blocking /
    last-kept paths of NFC_STAGE on every element."""
    k = draw(st.integers(1, 4))
    flat: list[int] = []
    added: list[int] = []
    for _ in range(draw(st.integers(1, 4))):
        for _ in range(draw(st.integers(1, 3))):
            flat.append(entry_value(draw(st.sampled_from([0x41, 0x1100, 0xAC00, 0x61])), 0))
        for _ in range(draw(st.integers(0, 12))):
            flat.append(entry_value(draw(st.sampled_from([0x301, 0x316, 0x1161, 0x11A8])), draw(st.integers(1, 3))))
    n = -(-len(flat) // k)
    flat += [0] * (n * k - len(flat))
    added = [draw(st.sampled_from([-1] * 9 + [7])) for _ in range(n)]
    prev = [draw(st.sampled_from([-1, -1, 0x41, 0xC1, 0xAC00, 5])) for _ in range(n * k)]
    return n, k, flat, added, prev


@given(staged_runs(), st.integers(1, 8), st.integers(1, D))
@SETTINGS
def test_forward_equals_element_on_staged_runs(case, frm, width):
    n, k, flat, added, prev = case
    nfd = np.array(flat, dtype=np.int64).astype(np.int32).reshape(n, k)
    chars = np.full(n, 0x41, dtype=np.int32)
    added = np.array(added, dtype=np.int32)
    rows = np.array([[0x41, 0x301, 0xC1], [0xC1, 0x316, 0x1E00], [0x61, 0x316, 0x1E01], [-1, -1, -1],
                     [0x1100, 0x301, 0x42]], dtype=np.int32)
    x = check_elements(reorder_node(n, k), [nfd, chars, added], range(n * k))
    y = get_op(OpCode.NFC_COMPOSE).forward([x, chars, added, rows], compose_node(n, 5, 5, 0, MAX_RUN_TRIES, k))
    for p in (y, np.array(prev, dtype=np.int32).reshape(n, k)):
        check_elements(stage_node(n, 5, 5, 0, frm, width, k), [x, chars, added, rows, p], range(n * k))

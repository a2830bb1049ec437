"""ADDED_MATCH (57) and ADDED_RESOLVE (58), offchain/engine/ops/added.py: forward equals the element rule on
hypothesis draws (texts built from token contents, overlapping tokens, prefixes of tokens, holes, int32 extremes in
chars and table); ADDED_MATCH then ADDED_RESOLVE equals ADDED_TOKENS (41) on the same chars and tokens, through the
table builder ``bpe_merges.added_match_table`` (which leaves out rows ADDED_TOKENS never matches and keeps the first
of equal contents); a hand-made table with negative ids / colliding keys still gives forward == element; check()
refuses sizes over the caps and bad params."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from offchain.engine.errors import DtypeMismatchError, ParamError, ShapeMismatchError
from offchain.engine.dtypes import DType
from offchain.engine.ops import OpCode, get_op
from offchain.engine.ops.added import (
    MAX_ADDED_CHARS,
    MAX_ADDED_LENGTHS,
    MAX_ADDED_ROWS,
    MAX_ADDED_WINDOW,
    MAX_CHARS,
    length_groups,
    resolve,
)
from offchain.engine.ops.pretok import added_matches
from offchain.engine.ops.wordvocab import VOCAB_ROW, hash_words, symbols_hash, vocab_home
from offchain.models import bpe_merges

from .op_harness import check_elements, make_node, spec

I32_MIN, I32_MAX = -(2**31), 2**31 - 1
SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def i32(shape):
    return spec(shape, DType.INT32, 0)


def match_node(n: int, rows: int, window: int, salt: int, lengths, prev: bool = False):
    ins = (i32((n,)), i32((rows, VOCAB_ROW))) + ((i32((n, 2)),) if prev else ())
    return make_node(OpCode.ADDED_MATCH, ins, i32((n, 2)), (window, salt, *lengths))


def resolve_node(n: int):
    return make_node(OpCode.ADDED_RESOLVE, (i32((n, 2)), i32((n,))), i32((n,)))


def added_rows(tokens: list[list[int]], ids: list[int] | None = None) -> np.ndarray:
    """ADDED_TOKENS' table [A, L+1] of these contents (ids 100, 101, .. unless given)."""
    width = max([len(t) for t in tokens], default=1)
    table = np.full((max(1, len(tokens)), width + 1), -1, dtype=np.int32)
    for r, t in enumerate(tokens):
        table[r, 0] = 100 + r if ids is None else ids[r]
        table[r, 1:1 + len(t)] = t
    return table


def two_ops(chars: np.ndarray, rows: np.ndarray, check_all: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(cand, out) of ADDED_MATCH (a chain of nodes over ``length_groups``) -> ADDED_RESOLVE on ``chars`` with the
    hashed table built from ``rows``, each op's forward checked against its element rule on every element when
    ``check_all``."""
    n = chars.size
    table, window, salt, lengths = bpe_merges.added_match_table(rows)
    cand = None
    for group in length_groups(lengths):
        m = match_node(n, table.shape[0], window, salt, group, prev=cand is not None)
        cand = check_elements(m, [chars, table] + ([cand] if cand is not None else []),
                              range(2 * n) if check_all else [])
    out = check_elements(resolve_node(n), [cand, chars], range(n) if check_all else [])
    return cand, out


ALPHABET = [ord(c) for c in "<|>ab_"] + [0x2581, 0x1F600]


@st.composite
def texts_and_tokens(draw, max_n: int = 40):
    """Tokens over a small alphabet (so they overlap and prefix each other), and chars [N] built from token
    contents, prefixes of tokens and other chars, with holes (-1 and other negatives) between chars."""
    tokens = draw(st.lists(st.lists(st.sampled_from(ALPHABET), min_size=1, max_size=6), min_size=0, max_size=8))
    pieces = []
    for _ in range(draw(st.integers(0, 10))):
        kind = draw(st.integers(0, 2))
        if kind == 0 and tokens:
            pieces += draw(st.sampled_from(tokens))
        elif kind == 1 and tokens:
            t = draw(st.sampled_from(tokens))
            pieces += t[:draw(st.integers(0, len(t)))]
        else:
            pieces.append(draw(st.sampled_from(ALPHABET)))
    chars = []
    for c in pieces:
        chars.append(c)
        chars += [draw(st.sampled_from([-1, -1, -2, I32_MIN]))] * draw(st.sampled_from([0, 0, 0, 1, 3]))
    chars += [-1] * draw(st.integers(0, 3))
    chars = (chars or [-1])[:max_n]
    return np.array(chars, dtype=np.int32), tokens


@SETTINGS
@given(case=texts_and_tokens())
def test_match_then_resolve_equals_added_tokens(case):
    chars, tokens = case
    rows = added_rows(tokens)
    _, out = two_ops(chars, rows)
    want = added_matches(chars.tolist(), rows.reshape(-1).tolist(), rows.shape[1])
    assert out.tolist() == want


@SETTINGS
@given(case=texts_and_tokens(), ids=st.lists(st.sampled_from([-1, -5, I32_MIN, 0, 7, I32_MAX]), min_size=8,
                                             max_size=8))
def test_rows_never_matching_and_repeated_contents_equal_added_tokens(case, ids):
    """Negative ids never match, the first of two equal contents wins, id 0 and int32 max are ids like others."""
    chars, tokens = case
    tokens = tokens + tokens[:2]
    rows = added_rows(tokens, (ids * 3)[:len(tokens)])
    _, out = two_ops(chars, rows)
    assert out.tolist() == added_matches(chars.tolist(), rows.reshape(-1).tolist(), rows.shape[1])


def test_longest_match_leftmost_and_ends():
    lt, bar, gt, a, b = (ord(c) for c in "<|>ab")
    tokens = [[lt, bar], [lt, bar, a, bar, gt], [a, bar, gt, b], [b]]
    chars = np.array([a, lt, -1, bar, a, -1, -1, bar, gt, b, lt, bar, -1, -1], dtype=np.int32)
    cand, out = two_ops(chars, added_rows(tokens))
    # text: a < | a | > b < |   (positions 0 1 3 4 7 8 9 10 11)
    assert cand[1].tolist() == [101, 9]          # '<|a|>' ends before 'b' at position 9
    assert cand[4].tolist() == [102, 10]         # 'a|>b' starts inside it (resolve drops it)
    assert cand[10].tolist() == [100, 14]        # '<|' ends the text: end = N
    assert cand[9].tolist() == [103, 10] and cand[0].tolist() == [-1, -1] and cand[2].tolist() == [-1, -1]
    assert out.tolist() == [-1, 101, -1, -2, -2, -1, -1, -2, -2, 103, 100, -2, -1, -1]


@SETTINGS
@given(data=st.data(), n=st.integers(1, 24), window=st.integers(1, 4), salt=st.sampled_from([0, 1, 2**32 - 1]),
       lengths=st.lists(st.integers(1, 5), min_size=1, max_size=4, unique=True))
def test_match_forward_equals_element_on_arbitrary_tables(data, n, window, salt, lengths):
    """Any int32 chars and table rows (random, extremes, keys of the text's own substrings at their homes with any
    id, colliding windows): forward == element at every element, and every (id, end) has id >= 0 and a valid end
    exactly when the position holds a char that some length's window matches."""
    lengths = sorted(lengths, reverse=True)
    chars = np.array(data.draw(st.lists(st.sampled_from([-1, 0, 1, 2, I32_MAX, I32_MIN, -2]), min_size=n,
                                        max_size=n)), dtype=np.int32)
    rows = 16
    table = np.array(data.draw(st.lists(st.sampled_from([-1, 0, I32_MAX, I32_MIN, 5]), min_size=rows * VOCAB_ROW,
                                        max_size=rows * VOCAB_ROW)), dtype=np.int32).reshape(rows, VOCAB_ROW)
    text = [int(c) for c in chars if c >= 0]
    for k in range(len(text)):
        for length in lengths:
            if k + length <= len(text) and data.draw(st.booleans()):
                h = symbols_hash(text[k:k + length])
                slot = vocab_home(h, salt, rows - window + 1) + data.draw(st.integers(0, window - 1))
                table[slot] = (*hash_words(h), data.draw(st.sampled_from([-1, 0, 9, I32_MAX, I32_MIN])))
    cand = check_elements(match_node(n, rows, window, salt, lengths), [chars, table], range(2 * n))
    for i in range(n):
        tid, end = cand[i].tolist()
        assert (tid, end) == (-1, -1) or (chars[i] >= 0 and tid >= 0 and i < end <= n)


@SETTINGS
@given(data=st.data(), n=st.integers(1, 24))
def test_resolve_forward_equals_element_on_any_candidates(data, n):
    """Any int32 candidates (ends before, at, past the position, past N, negative) and chars."""
    vals = st.one_of(st.integers(-3, n + 2), st.sampled_from([I32_MIN, I32_MAX]))
    cand = np.array(data.draw(st.lists(vals, min_size=2 * n, max_size=2 * n)), dtype=np.int32).reshape(n, 2)
    chars = np.array(data.draw(st.lists(st.sampled_from([-1, 5, 0, I32_MIN, I32_MAX]), min_size=n, max_size=n)),
                     dtype=np.int32)
    out = check_elements(resolve_node(n), [cand, chars], range(n))
    assert out.tolist() == resolve(cand.reshape(-1).tolist(), chars.tolist())


def test_llama3_specials_at_the_cap():
    """256 reserved specials + 12 named ones (lengths 10..30) at N = MAX_CHARS: the same matches as ADDED_TOKENS
    on a text that packs specials, their prefixes and plain chars."""
    named = ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>",
             "<|eom_id|>", "<|python_tag|>", "<|finetune_right_pad_id|>", "<|step_id|>", "<|image|>"]
    specials = named + [f"<|reserved_special_token_{k}|>" for k in range(256)]
    rows = added_rows([[ord(c) for c in t] for t in specials])
    text = "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nhi <|reserved_special_token_17|>" \
           "<|reserved_special_token_1<|eot_id|><|reserved_special_token_255|>x<|reserved_special_token_2"
    cps = [ord(c) for c in text][:MAX_CHARS]
    chars = np.array(cps + [-1] * (MAX_CHARS - len(cps)), dtype=np.int32)
    table, window, salt, lengths = bpe_merges.added_match_table(rows)
    assert window <= MAX_ADDED_WINDOW and len(lengths) == len({len(t) for t in specials})
    idx = list(range(0, 2 * MAX_CHARS, 7))
    n = MAX_CHARS
    m = match_node(n, table.shape[0], window, salt, lengths)
    cand = check_elements(m, [chars, table], idx)
    out = check_elements(resolve_node(n), [cand, chars], range(0, n, 5))
    assert out.tolist() == added_matches(chars.tolist(), rows.reshape(-1).tolist(), rows.shape[1])
    assert sorted(int(v) for v in out if v >= 0) == sorted([100, 102, 103, 104, 110 + 17, 110 + 255])


def test_checks_refuse_sizes_over_the_caps_and_bad_params():
    op, res = get_op(OpCode.ADDED_MATCH), get_op(OpCode.ADDED_RESOLVE)
    op.check(match_node(MAX_CHARS, MAX_ADDED_ROWS, MAX_ADDED_WINDOW, 2**32 - 1,
                        list(range(MAX_ADDED_CHARS, MAX_ADDED_CHARS - MAX_ADDED_LENGTHS, -1))))
    res.check(resolve_node(MAX_CHARS))
    bad = [
        (MAX_CHARS + 1, 16, 4, 0, [3]),                          # N over the cap
        (8, MAX_ADDED_ROWS + 1, 4, 0, [3]),                      # H over the cap
        (8, 16, MAX_ADDED_WINDOW + 1, 0, [3]),                   # window over the cap
        (8, 4, 5, 0, [3]),                                       # window over H
        (8, 16, 0, 0, [3]),                                      # window 0
        (8, 16, 4, -1, [3]), (8, 16, 4, 2**32, [3]),             # salt outside uint32
        (8, 16, 4, 0, []),                                       # no length
        (8, 16, 4, 0, [2, 3]), (8, 16, 4, 0, [3, 3]),            # not strictly decreasing
        (8, 16, 4, 0, [0]), (8, 16, 4, 0, [MAX_ADDED_CHARS + 1]),  # length outside [1, MAX_ADDED_CHARS]
        (8, 16, 4, 0, list(range(MAX_ADDED_LENGTHS + 1, 0, -1))),  # too many lengths
    ]
    with pytest.raises(ShapeMismatchError):
        op.check(make_node(OpCode.ADDED_MATCH, (i32((8,)), i32((16, 9)), i32((8, 3))), i32((8, 2)), (4, 0, 3)))
    for n, rows, window, salt, lengths in bad:
        with pytest.raises(ParamError):
            op.check(match_node(n, rows, window, salt, lengths))
    with pytest.raises(ShapeMismatchError):
        op.check(make_node(OpCode.ADDED_MATCH, (i32((8,)), i32((16, 8))), i32((8, 2)), (4, 0, 3)))
    with pytest.raises(ShapeMismatchError):
        op.check(make_node(OpCode.ADDED_MATCH, (i32((8,)), i32((16, 9))), i32((8,)), (4, 0, 3)))
    with pytest.raises(DtypeMismatchError):
        op.check(make_node(OpCode.ADDED_MATCH, (spec((8,), DType.INT16, 0), i32((16, 9))), i32((8, 2)), (4, 0, 3)))
    with pytest.raises(ParamError):
        res.check(resolve_node(MAX_CHARS + 1))
    with pytest.raises(ShapeMismatchError):
        res.check(make_node(OpCode.ADDED_RESOLVE, (i32((8, 2)), i32((9,))), i32((8,))))
    with pytest.raises(ParamError):
        res.check(make_node(OpCode.ADDED_RESOLVE, (i32((8, 2)), i32((8,))), i32((8,)), (1,)))


def test_table_builder_refuses_what_the_op_cannot_hold():
    from offchain.models.text_tables import TableError

    with pytest.raises(TableError, match="MAX_ADDED_CHARS"):
        bpe_merges.added_match_table(added_rows([[65] * (MAX_ADDED_CHARS + 1)]))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), cut=st.integers(1, 6))
def test_a_chain_over_many_lengths_equals_added_tokens(data, cut):
    """Tokens of every length 1 .. MAX_ADDED_LENGTHS + 8 over a two-letter alphabet (prefixes of each other): the
    chain of ADDED_MATCH nodes (the second reads the first's output as prev) then ADDED_RESOLVE == ADDED_TOKENS;
    texts hold whole tokens, cut tokens and holes."""
    a, b = ord("a"), ord("b")
    tokens = [[a] * (k - 1) + [b] for k in range(1, MAX_ADDED_LENGTHS + 9)] + [[a] * cut]
    assert len(length_groups([len(t) for t in tokens])) == 2
    pieces = data.draw(st.lists(st.sampled_from(tokens), max_size=5))
    chars = []
    for t in pieces:
        keep = data.draw(st.integers(1, len(t)))
        for c in t[:keep]:
            chars += [c] + [-1] * data.draw(st.sampled_from([0, 0, 1]))
    chars = np.array((chars or [-1])[:MAX_CHARS], dtype=np.int32)
    rows = added_rows(tokens)
    _, out = two_ops(chars, rows)
    assert out.tolist() == added_matches(chars.tolist(), rows.reshape(-1).tolist(), rows.shape[1])


@SETTINGS
@given(data=st.data(), n=st.integers(1, 16))
def test_match_with_prev_forward_equals_element(data, n):
    """Any prev (int32 extremes, negative ids with any end): a row with prev id >= 0 is copied as is, the others
    are looked up."""
    chars = np.array(data.draw(st.lists(st.sampled_from([-1, 0, 1]), min_size=n, max_size=n)), dtype=np.int32)
    prev = np.array(data.draw(st.lists(st.sampled_from([-1, -2, 0, 3, I32_MIN, I32_MAX]), min_size=2 * n,
                                       max_size=2 * n)), dtype=np.int32).reshape(n, 2)
    table, window, salt = bpe_merges.place_words([([0, 0], 40), ([1, 1], 40), ([0], 41), ([1], 41)])
    rows = table.shape[0]
    out = check_elements(match_node(n, rows, window, salt, (2, 1), prev=True), [chars, table, prev], range(2 * n))
    for i in range(n):
        if prev[i, 0] >= 0:
            assert out[i].tolist() == prev[i].tolist()
        else:
            assert (out[i, 0] in (40, 41)) == (chars[i] >= 0)

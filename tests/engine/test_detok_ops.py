"""The detokenizer (offchain/engine/ops/detok.py, offchain/models/bpe_detok.py): each op's forward equals its
element rule on any int32 operands, and the two-node graph's text equals tokenizers' ``decode(ids,
skip_special_tokens=True)`` for both committed tokenizer.json files and for Metaspace decoders, on random ids
(special tokens, ids outside the vocabulary, byte tokens forming valid and ill-formed UTF-8) and on the ids of
encoded adversarial text. Where tokenizers differs (an ill-formed run of <0xNN> byte tokens) the exact rule is
asserted: tokenizers emits one U+FFFD per byte token of the run."""

from __future__ import annotations

import copy
import json
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tokenizers import Tokenizer

from offchain.engine.dtypes import DType
from offchain.engine.errors import DtypeMismatchError, ParamError, ShapeMismatchError
from offchain.engine.executor import run
from offchain.engine.ops import OpCode, get_op
from offchain.engine.ops.detok import MARK, MAX_TEXT_BYTES, MAX_TOKEN_BYTES, MAX_TOKENS
from offchain.models.bpe_detok import UnsupportedTokenizerError, detok_model, detok_table, text_of

from .op_harness import check_elements, make_node, spec

SMALL = "offchain/models/llm_small/tokenizer.json"    # ByteLevel
TINY_SP = "offchain/models/llm_tiny_sp/tokenizer.json"  # [Replace, ByteFallback, Fuse, Strip]
T = 32
INT32_EDGES = [-(2**31), -(2**31) + 1, -1, 0, 1, 2**31 - 2, 2**31 - 1]


# ------------------------------------------------------------------------------------------- forward == element


def _nodes(t: int, v: int, width: int, b: int, strip: int):
    ids, table = spec((t,), DType.INT32, 0), spec((v, width), DType.INT32, 0)
    lens = spec((t,), DType.INT32, 0)
    length = make_node(OpCode.DETOK_LEN, [ids, table], lens)
    text = make_node(OpCode.DETOK_BYTES, [ids, lens, table], spec((b,), DType.INT8, 0), (strip,))
    return length, text


@st.composite
def _operands(draw):
    t = draw(st.integers(1, 12))
    v = draw(st.integers(1, 6))
    width = draw(st.integers(2, 6))
    b = draw(st.integers(1, 40))
    max_len = width - 1
    id_ = st.one_of(st.integers(0, v - 1), st.integers(-3, v + 3), st.sampled_from(INT32_EDGES))
    len_ = st.one_of(st.integers(0, max_len), st.integers(-2, max_len + 2), st.sampled_from(INT32_EDGES))
    entry = st.one_of(st.sampled_from([0x20, 0x120, 0x20 | MARK | 0x200, 0x41, 0xE2, 0x80, 0xFF, 0x1FF, 0]),
                      st.integers(-(2**31), 2**31 - 1))
    ids = np.array(draw(st.lists(id_, min_size=t, max_size=t)), dtype=np.int32)
    lens = np.array(draw(st.lists(len_, min_size=t, max_size=t)), dtype=np.int32)
    table = np.array(draw(st.lists(entry, min_size=v * width, max_size=v * width)), dtype=np.int32).reshape(v, width)
    return t, v, width, b, ids, lens, table


@settings(max_examples=150, deadline=None)
@given(case=_operands(), strip=st.sampled_from([0, 1, 2]))
def test_every_element_equals_forward_on_any_int32_operands(case, strip):
    t, v, width, b, ids, lens, table = case
    length, text = _nodes(t, v, width, b, strip)
    got_lens = check_elements(length, [ids, table], range(t))
    # DETOK_BYTES on arbitrary lens (not only DETOK_LEN's) and on DETOK_LEN's.
    check_elements(text, [ids, lens, table], range(b))
    check_elements(text, [ids, got_lens, table], range(b))
    # DETOK_LEN: the table's length when it lies in [0, L] and the id in [0, V), else 0.
    for k in range(t):
        want = table[ids[k], 0] if 0 <= ids[k] < v and 0 <= table[ids[k], 0] <= width - 1 else 0
        assert got_lens[k] == want


def test_forward_edge_rules():
    """Strip 1 drops a leading 0x20 whatever its mark; strip 2 drops only the first non-empty token's marked
    entries (wherever they sit in it); ids outside the table give zero bytes for a lens that claims some."""
    v, width = 4, 4
    table = np.array([[0, 0, 0, 0], [3, 0x120, 0x41, 0x120], [2, 0x120, 0x42, 0], [1, 0x20, 0, 0]], dtype=np.int32)
    op = get_op(OpCode.DETOK_BYTES)

    def text(ids, lens, strip, b=8):
        node = _nodes(len(ids), v, width, b, strip)[1]
        out = op.forward([np.array(ids, np.int32), np.array(lens, np.int32), table], node)
        return bytes(int(x) & 0xFF for x in out)

    lens = [0, 3, 2, 1]
    assert text([0, 1, 2, 3], lens, 0) == b" A  B \0\0"
    assert text([0, 1, 2, 3], lens, 1) == b"A  B \0\0\0"
    assert text([0, 1, 2, 3], lens, 2) == b"A B \0\0\0\0"      # token 1 loses both marks, token 2 keeps its
    assert text([3, 1], [1, 3], 2) == b"  A \0\0\0\0"            # token 3's 0x20 is not marked
    assert text([9, 1], [2, 3], 2) == b"\0\0 A \0\0\0"                # id 9 is outside: 2 zero bytes, unmarked
    assert text([1, 2, 3], [3, 2, 1], 0, b=3) == b" A "       # truncated to B
    assert text([1], [4], 0) == b"\0" * 8                     # a length over L counts as 0


def test_check_enforces_the_caps_and_the_layout():
    length, text = _nodes(MAX_TOKENS, 4, MAX_TOKEN_BYTES + 1, MAX_TEXT_BYTES, 2)
    get_op(OpCode.DETOK_LEN).check(length)
    get_op(OpCode.DETOK_BYTES).check(text)
    for bad, what in ((_nodes(MAX_TOKENS + 1, 4, 4, 8, 0), "T = "), (_nodes(4, 4, MAX_TOKEN_BYTES + 2, 8, 0), "L = "),
                      (_nodes(4, 4, 4, MAX_TEXT_BYTES + 1, 0), "B = ")):
        with pytest.raises(ParamError, match=what):
            get_op(bad[1].op).check(bad[1])
    with pytest.raises(ParamError, match="strip mode 3"):
        get_op(OpCode.DETOK_BYTES).check(_nodes(4, 4, 4, 8, 3)[1])
    with pytest.raises(ShapeMismatchError):
        get_op(OpCode.DETOK_LEN).check(_nodes(4, 4, 1, 8, 0)[0])
    ids, lens, table = spec((4,), DType.INT32, 0), spec((4,), DType.INT32, 0), spec((3, 3), DType.INT32, 0)
    with pytest.raises(DtypeMismatchError):
        get_op(OpCode.DETOK_BYTES).check(make_node(OpCode.DETOK_BYTES, [ids, lens, table], spec((8,), DType.INT32, 0), (0,)))
    with pytest.raises(ShapeMismatchError):
        get_op(OpCode.DETOK_BYTES).check(make_node(OpCode.DETOK_BYTES, [ids, spec((5,), DType.INT32, 0), table],
                                                   spec((8,), DType.INT8, 0), (0,)))
    assert get_op(OpCode.DETOK_LEN).input_domain(length, 0) is None      # total: no request is refused
    assert get_op(OpCode.DETOK_BYTES).input_domain(text, 0) is None


# ------------------------------------------------------------------------------------ equality with tokenizers


def _load(path: str) -> dict:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


class _Pair:
    """A tokenizer.json as tokenizers runs it and as the detok graph (T ids -> T * L bytes) decodes it."""

    def __init__(self, spec_json: dict):
        self.hf = Tokenizer.from_str(json.dumps(spec_json))
        table, self.strip = detok_table(spec_json)
        self.vocab, self.max_len = table.shape[0], table.shape[1] - 1
        # Room for a substituted sequence (3 byte tokens per byte token).
        self.model = detok_model(spec_json, 3 * T, 3 * T * self.max_len)
        self.special = {int(a["id"]) for a in spec_json["added_tokens"] if a["special"]}
        byte_ids = {i: self.hf.id_to_token(i) for i in range(self.vocab)}
        # Byte tokens are bytes only under a ByteFallback decoder (otherwise their text is "<0xNN>").
        fallback = "ByteFallback" in json.dumps(spec_json["decoder"])
        self.byte_of = {i: int(s[3:5], 16) for i, s in byte_ids.items()
                        if fallback and s and re.fullmatch(r"<0x[0-9A-F]{2}>", s)}
        self.fffd = [self.hf.token_to_id(f"<0x{b:02X}>") for b in (0xEF, 0xBF, 0xBD)]

    def ours(self, ids: list[int], elements: bool = False) -> tuple[str, bytes]:
        x = np.array(ids + [next(iter(self.special))] * (3 * T - len(ids)), dtype=np.int32)
        trace = run(self.model, [x])
        if elements:   # forward == element on the real table too (a spread of elements)
            for index, node in enumerate(self.model.graph.nodes):
                check_elements(node, trace.operands(self.model, index), range(0, node.output.size, 29))
        out = trace.output
        return text_of(out), bytes(int(v) & 0xFF for v in out.reshape(-1))

    def theirs(self, ids: list[int]) -> str:
        # tokenizers takes u32 ids: a negative id cannot be given to it; DETOK treats it as no token, as
        # tokenizers treats an id past its vocabulary.
        return self.hf.decode([i for i in ids if i >= 0], skip_special_tokens=True)

    def substituted(self, ids: list[int]) -> list[int]:
        """The ids tokenizers' decoder sees (no special tokens, no ids outside the vocabulary), with every maximal
        run of byte tokens that is not valid UTF-8 replaced by one <0xEF><0xBF><0xBD> (U+FFFD) per byte token."""
        seen = [i for i in ids if 0 <= i < self.vocab and i not in self.special]
        out: list[int] = []
        k = 0
        while k < len(seen):
            if seen[k] not in self.byte_of:
                out.append(seen[k])
                k += 1
                continue
            end = k
            while end < len(seen) and seen[end] in self.byte_of:
                end += 1
            run_ids = seen[k:end]
            try:
                bytes(self.byte_of[i] for i in run_ids).decode("utf-8")
                out.extend(run_ids)
            except UnicodeDecodeError:
                out.extend(self.fffd * len(run_ids))
            k = end
        return out

    def assert_equal(self, ids: list[int], elements: bool = False) -> None:
        got, _ = self.ours(ids, elements)
        want = self.theirs(ids)
        fixed = self.substituted(ids)
        clean = fixed == [i for i in ids if 0 <= i < self.vocab and i not in self.special]
        if clean:
            # Trailing NULs of a text cannot be told from the zero padding (the only other difference).
            assert got == want.rstrip("\0"), (ids, got, want)
        else:
            # The one difference: tokenizers renders an ill-formed byte run as one U+FFFD per byte token.
            assert want == self.theirs(fixed)
            assert self.ours(fixed)[0] == want.rstrip("\0"), (ids, fixed, want)


@pytest.fixture(scope="module")
def small():
    return _Pair(_load(SMALL))


@pytest.fixture(scope="module")
def tiny_sp():
    return _Pair(_load(TINY_SP))


def _ids(pair: _Pair):
    """Random ids: ordinary and special tokens, byte tokens (valid and ill-formed runs), ids outside the table."""
    byte_ids = sorted(pair.byte_of) or [0]
    utf8_runs = st.text(min_size=1, max_size=3).map(
        lambda s: [pair.hf.token_to_id(f"<0x{b:02X}>") for b in s.encode("utf-8")] if pair.byte_of else [])
    one = st.one_of(st.integers(0, pair.vocab - 1).map(lambda i: [i]), st.sampled_from(sorted(pair.special)).map(lambda i: [i]),
                    st.sampled_from(byte_ids).map(lambda i: [i]), utf8_runs,
                    st.sampled_from([-1, pair.vocab, pair.vocab + 7, 2**31 - 1, -(2**31)]).map(lambda i: [i]))
    return st.lists(one, max_size=14).map(lambda parts: [i for p in parts for i in p][:T])


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_bytelevel_decode_equals_tokenizers_on_random_ids(small, data):
    small.assert_equal(data.draw(_ids(small)), elements=True)


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_llama2_legacy_decode_equals_tokenizers_on_random_ids(tiny_sp, data):
    tiny_sp.assert_equal(data.draw(_ids(tiny_sp)), elements=True)


ADVERSARIAL = ["", " ", "  x", "\u2581", "\u2581\u2581a \u2581", "<0x20>", "<|bos|> <|eos|>", "<unk>", "a\0b",
               "\t\n\r\x0b\x0c", "é\u0301 中文 🙂 \U0010FFFF", "\ufffd", "  leading and trailing  ", "a" * 40,
               "'s 're 123456 ..."]


@settings(max_examples=40, deadline=None)
@given(text=st.one_of(st.text(max_size=24), st.sampled_from(ADVERSARIAL)))
def test_round_trip_of_encoded_text(small, tiny_sp, text):
    for pair in (small, tiny_sp):
        ids = pair.hf.encode(text).ids[:T]
        pair.assert_equal(ids)
    ids = small.hf.encode(text).ids
    if len(ids) <= T and not text.endswith("\0") and "<|bos|>" not in text and "<|eos|>" not in text:
        assert small.ours(ids)[0] == text   # byte-level BPE round-trips any text without special-token text


def test_ill_formed_byte_runs_follow_the_documented_rule(tiny_sp):
    b = lambda *xs: [tiny_sp.hf.token_to_id(f"<0x{x:02X}>") for x in xs]  # noqa: E731
    a = tiny_sp.hf.token_to_id("a")
    cases = [
        (b(0xE2, 0x82) + [a], "\ufffd\ufffda", "\ufffda"),        # truncated sequence: 2 vs 1 U+FFFD
        (b(0x20, 0x80), "\ufffd\ufffd", "\ufffd"),                # strip sees U+FFFD in tokenizers, a space here
        (b(0xE2, 0x82, 0xAC), "€", "€"),                          # a valid run agrees
        (b(0xC0, 0xAF, 0x41), "\ufffd\ufffd\ufffd", "\ufffd\ufffdA"),
    ]
    for ids, hf_text, our_text in cases:
        assert tiny_sp.theirs(ids) == hf_text
        assert tiny_sp.ours(ids)[0] == our_text
        tiny_sp.assert_equal(ids)


# --------------------------------------------------------------------------------- Metaspace and other decoders


def _with_decoder(decoder) -> dict:
    spec_json = copy.deepcopy(_load(TINY_SP))
    spec_json["decoder"] = decoder
    return spec_json


def _metaspace(scheme: str) -> dict:
    return {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": scheme, "split": True}


DECODERS = {
    "metaspace-first": (_metaspace("first"), 2),
    "metaspace-always+bytefallback+fuse": ({"type": "Sequence", "decoders": [
        _metaspace("always"), {"type": "ByteFallback"}, {"type": "Fuse"}]}, 2),
    "metaspace-never+bytefallback+fuse": ({"type": "Sequence", "decoders": [
        _metaspace("never"), {"type": "ByteFallback"}, {"type": "Fuse"}]}, 0),
    "fuse+metaspace-first": ({"type": "Sequence", "decoders": [{"type": "Fuse"}, _metaspace("first")]}, 0),
    "replace+bytefallback+fuse": ({"type": "Sequence", "decoders": [
        {"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "}, {"type": "ByteFallback"},
        {"type": "Fuse"}]}, 0),
}


@pytest.fixture(scope="module")
def variants():
    return {name: _Pair(_with_decoder(decoder)) for name, (decoder, _) in DECODERS.items()}


@pytest.mark.parametrize("name", sorted(DECODERS))
def test_decoder_variants_equal_tokenizers(variants, name):
    pair = variants[name]
    assert pair.strip == DECODERS[name][1]
    sp = pair.hf
    words = [sp.token_to_id(t) for t in ("\u2581", "\u2581w", "or", "l", "d", "a")]
    lead = [sp.token_to_id("\u2581")] * 2 + [sp.token_to_id("\u2581w")]
    cases = [words, lead, [1] + lead, [-5, 99999] + lead, [sp.token_to_id("<0x20>")] + words, words[2:] + lead]
    rng = np.random.default_rng(14)
    cases += [[int(i) for i in rng.integers(-3, pair.vocab + 3, size=int(rng.integers(0, T)))] for _ in range(40)]
    for ids in cases:
        pair.assert_equal(ids)


def test_metaspace_after_bytefallback_keeps_a_byte_spelled_u2581():
    """Documented difference: tokenizers' Metaspace also rewrites a U+2581 that a byte run spells; we keep it."""
    pair = _Pair(_with_decoder({"type": "Sequence", "decoders": [{"type": "ByteFallback"}, _metaspace("never")]}))
    ids = [pair.hf.token_to_id(f"<0x{x:02X}>") for x in (0xE2, 0x96, 0x81)] + [pair.hf.token_to_id("a")]
    assert pair.theirs(ids) == " a"
    assert pair.ours(ids)[0] == "\u2581a"


@pytest.mark.parametrize("decoder, named", [
    (None, "None"),
    ({"type": "WordPiece", "prefix": "##", "cleanup": True}, "'WordPiece'"),
    ({"type": "BPEDecoder", "suffix": "</w>"}, "'BPEDecoder'"),
    ({"type": "Sequence", "decoders": [{"type": "ByteFallback"}, {"type": "Strip", "content": " ", "start": 1,
                                                                   "stop": 0}]}, "Strip before Fuse"),
    ({"type": "Sequence", "decoders": [{"type": "Replace", "pattern": {"String": "x"}, "content": "y"}]}, "Replace"),
    ({"type": "Sequence", "decoders": [{"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 2,
                                                         "stop": 0}]}, "Strip"),
    ({"type": "Sequence", "decoders": [{"type": "CTC"}]}, "'CTC' inside a Sequence"),
])
def test_unsupported_decoders_are_refused_by_name(decoder, named):
    with pytest.raises(UnsupportedTokenizerError, match=re.escape(named)):
        detok_table(_with_decoder(decoder))


def test_tables_of_the_committed_tokenizers():
    table, strip = detok_table(SMALL)
    assert strip == 0 and table.shape == (4096, 74)
    assert table[0, 0] == table[1, 0] == 0                 # <|bos|>, <|eos|> are special
    table, strip = detok_table(TINY_SP)
    assert strip == 1 and table.shape[0] == 512
    hf = Tokenizer.from_file(TINY_SP)
    assert list(table[hf.token_to_id("<0xE2>"), :2]) == [1, 0xE2]
    assert list(table[hf.token_to_id("\u2581w"), :3]) == [2, 0x20, ord("w")]


def test_detok_graph_decodes_a_front_models_ids(tiny_sp):
    """detok_graph splices DETOK_LEN and DETOK_BYTES behind a model whose output is ids (here a RESHAPE of [1, T]
    ids to [T]): its output is their text."""
    from offchain.engine.graph import Graph, Node, TensorKind, TensorRef, TensorSpec
    from offchain.engine.model import Model
    from offchain.models.bpe_detok import detok_graph

    src = TensorSpec((1, T), DType.INT32, 0, 5, "ids2d")
    flat = TensorSpec((T,), DType.INT32, 0, 5, "ids")
    node = Node(int(OpCode.RESHAPE), (TensorRef(TensorKind.INPUT, 0),), (src,), flat, (), "flatten")
    front = Model(Graph([src], [], [node]), [], {"name": "ids"})
    front.validate()
    model = detok_graph(front, TINY_SP, 96)
    assert [n.op for n in model.graph.nodes] == [OpCode.RESHAPE, OpCode.DETOK_LEN, OpCode.DETOK_BYTES]
    ids = tiny_sp.hf.encode("Spliced behind a front model: ok €").ids
    x = np.array([ids + [1] * (T - len(ids))], dtype=np.int32)
    assert text_of(run(model, [x]).output) == tiny_sp.theirs(ids) == "Spliced behind a front model: ok €"
    bad = Model(Graph([src], [], [Node(int(OpCode.RESHAPE), (TensorRef(TensorKind.INPUT, 0),), (src,),
                                      TensorSpec((T,), DType.INT16, 0, 5), (), "to int16")]), [], {})
    with pytest.raises(DtypeMismatchError, match="ids must be INT32 with frac 0, got INT16"):
        detok_graph(bad, TINY_SP, 96)

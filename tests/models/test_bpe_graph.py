"""The BPE tokenizer graph (offchain/models/bpe.py) equals the ``tokenizers`` library's ``encode`` for every supported
family, on sample sentences, hypothesis-random Unicode, emoji, whitespace runs, very long words and arbitrary bytes;
detokenization equals ``decode``; unsupported tokenizer.json files are refused by name."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from offchain.engine.executor import run
from offchain.engine.ops.nfc import MAX_RUN_TRIES
from offchain.models import bpe
from offchain.models.bpe_errors import UnsupportedTokenizerError
from offchain.models.text_tables import text_input

from . import _bpe_variants as V

MAX_BYTES, SEQ = 48, 64

SAMPLES = [
    "Hello, world!", "The quick brown fox jumps over the lazy dog.", "def add(a, b):\n    return a + b\n",
    "I'm sure they'll say it's fine, DON'T YOU'D?", "naïve café — “quoted” ‘text’", "日本語のテキスト、한국어",
    "emoji 😀👍🏽👨‍👩‍👧 flags 🇫🇷", "   leading and trailing   ", "tabs\tand\r\nnewlines\n\n\nend",
    "numbers 1234567 and 3.14159 ١٢٣", "\u00a0nbsp\u3000ideographic space", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "<|bos|>special<|eos|> in text", "<|im_start|>user\nhi<|im_end|>", "<|begin_of_text|><|start_header_id|>x",
    "", " ", "\n", "'", "''s", "x's 's", "▁meta▁space", "\u2581", "a\u0000b",
]
BAD_BYTES = [b"\x80", b"\xe2\x82", b"abc\xff\xfe", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xc0\xaf",
             b"ok\xe2\x82\xacok\xe2\x28\xa1", b"\xf0\x9f\x98", b"\x00\x00x\x00"]

WHITESPACE = st.text(st.sampled_from(" \t\n\r\u00a0\u3000\u2581x"), max_size=12)
UNICODE = st.text(max_size=24)
EMOJI = st.text(st.sampled_from(["😀", "👍", "🏽", "\u200d", "🇫", "🇷", "é", "e", "\u0301", " "]), max_size=10)


@pytest.fixture(scope="module", params=V.ALL)
def family(request):
    text = V.variant(request.param)
    spec = bpe.read_tokenizer(json.loads(text))
    tok = V.tokenizer(request.param)
    model = bpe.tokenizer_model(spec, MAX_BYTES, SEQ)
    return request.param, spec, tok, model


def _fits(data: bytes) -> bytes:
    return data[:MAX_BYTES]


def _graph_ids(model, data: bytes) -> list[int]:
    return [int(v) for v in run(model, [text_input(data, MAX_BYTES)]).output.reshape(-1)]


def _check(family, data: bytes) -> None:
    name, spec, tok, model = family
    data = _fits(data)
    want = bpe.reference_ids(tok, spec, data, SEQ, model.meta["pad_id"])
    got = _graph_ids(model, data)
    assert got == want, (name, data, tok.encode(bpe.text_of(data)).tokens)


def test_sample_sentences(family):
    for text in SAMPLES:
        _check(family, text.encode("utf-8"))


def test_ill_formed_utf8(family):
    for data in BAD_BYTES:
        _check(family, data)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.one_of(UNICODE, WHITESPACE, EMOJI))
def test_random_text(family, text):
    _check(family, text.encode("utf-8"))


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=MAX_BYTES))
def test_arbitrary_bytes(family, data):
    _check(family, data)


def test_long_words_fill_the_input(family):
    for unit in ("a", "ab", "Ġ", " ", "é", "😀", "1", "'s", "\n"):
        _check(family, (unit * MAX_BYTES).encode("utf-8"))


def test_model_meta_and_truncation(family):
    name, spec, tok, model = family
    assert model.meta["tokenizer"]["family"] in ("byte-level", "sentencepiece")
    text = ("word " * 40).encode()
    _check(family, text)


# ------------------------------------------------------------------------------------------- refusals


def _mutated(base: str, path: tuple, value) -> dict:
    spec = json.loads(V.variant(base))
    node = spec
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return spec


@pytest.mark.parametrize("base, path, value, needle", [
    ("llm_small", ("model", "type"), "WordPiece", "model.type 'WordPiece'"),
    ("llm_small", ("model", "dropout"), 0.1, "model.dropout 0.1"),
    ("llm_tiny_sp", ("model", "ignore_merges"), True, "model.ignore_merges true with a SentencePiece"),
    ("llm_small", ("model", "continuing_subword_prefix"), "##", "continuing_subword_prefix"),
    ("llm_small", ("normalizer",), {"type": "NFKC"}, "normalizer 'NFKC'"),
    ("llm_small", ("pre_tokenizer",), {"type": "Whitespace"}, "pre_tokenizer 'Whitespace'"),
    ("llm_small", ("decoder",), {"type": "WordPiece", "prefix": "##", "cleanup": True}, "decoder.type 'WordPiece'"),
    ("llm_small", ("post_processor",), {"type": "BertProcessing", "sep": ["x", 1], "cls": ["y", 0]},
     "post_processor.type 'BertProcessing'"),
    ("llm_small", ("added_tokens", 0, "lstrip"), True, "lstrip"),
    ("llm_tiny_sp", ("model", "byte_fallback"), False, "model.byte_fallback false"),
    ("llm_tiny_sp", ("pre_tokenizer", "replacement"), "_", "Metaspace replacement"),
])
def test_unsupported_tokenizers_are_refused_by_name(base, path, value, needle):
    with pytest.raises(UnsupportedTokenizerError, match=None) as info:
        bpe.read_tokenizer(_mutated(base, path, value))
    assert needle in str(info.value)


def test_an_unknown_split_regex_is_refused():
    spec = json.loads(V.variant("llama3"))
    spec["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = r"\w+|\s+"
    with pytest.raises(UnsupportedTokenizerError, match="Split regex"):
        bpe.read_tokenizer(spec)


def test_a_unigram_model_is_refused():
    with pytest.raises(UnsupportedTokenizerError, match="model.type 'Unigram'"):
        bpe.read_tokenizer({"model": {"type": "Unigram", "vocab": []}})


def test_a_vocabulary_without_every_byte_is_refused():
    spec = json.loads(V.variant("llm_tiny_sp"))
    del spec["model"]["vocab"]["<0x41>"]
    with pytest.raises(UnsupportedTokenizerError, match="0x41|<0x41>"):
        bpe.tokenizer_model(bpe.read_tokenizer(spec), MAX_BYTES, SEQ)


# ---- tokenizer: added (issue 14)
RESERVED_SAMPLES = [
    "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>",
    "x<|reserved_special_token_0|><|reserved_special_token_255|>y", "<|reserved_special_token_25|>5|>",
    "<|reserved_special_token_2<|eom_id|>", "<|reserved_special_token_|>", "<|python_tag|>call()<|eom_id|>",
    "<|<|step_id|>|>", "a <|image|> b", "<|finetune_right_pad_id|><|finetune_right_pad_id",
    "<|reserved_special_token_100|><|reserved_special_token_10|><|reserved_special_token_1|>",
]
SPECIAL_PIECES = st.sampled_from(["<|reserved_special_token_", "1", "9|>", "25", "0|>", "|>", "<|", "eot_id|>",
                                  "<|eot_id|>", "<|begin_of_text|>", "<|start_header_id|>", " ", "a", "é", "\n"])


@pytest.fixture(scope="module")
def reserved():
    """Llama-3-style with 266 added specials (256 reserved): over ADDED_TOKENS' cap, so the hashed ops run."""
    spec = bpe.read_tokenizer(json.loads(V.variant("llama3_reserved")))
    model = bpe.tokenizer_model(spec, MAX_BYTES, SEQ)
    return "llama3_reserved", spec, V.tokenizer("llama3_reserved"), model


def test_hundreds_of_added_tokens_compile_to_the_hashed_ops(reserved):
    """Llama-3's 256 reserved specials: the graph uses a chain of ADDED_MATCH nodes and ADDED_RESOLVE instead of
    ADDED_TOKENS (whose cap would leave 6 prompt bytes), while the other variants keep ADDED_TOKENS."""
    from offchain.engine.ops import OpCode

    _, spec, tok, model = reserved
    ops = [n.op for n in model.graph.nodes]
    assert OpCode.ADDED_TOKENS not in ops and ops.count(OpCode.ADDED_RESOLVE) == 1
    assert ops.count(OpCode.ADDED_MATCH) == 1 and len(spec.added) == 266 and tok.get_vocab_size() == 700 + 261
    assert model.meta["tokenizer"]["added_hashed"]["tokens"] == 266
    plain = bpe.tokenizer_model(bpe.read_tokenizer(json.loads(V.variant("llama3"))), MAX_BYTES, SEQ)
    assert OpCode.ADDED_TOKENS in [n.op for n in plain.graph.nodes]
    assert OpCode.ADDED_MATCH not in [n.op for n in plain.graph.nodes]


@pytest.mark.parametrize("text", RESERVED_SAMPLES)
def test_hundreds_of_added_tokens_equal_tokenizers(reserved, text):
    _check(reserved, text.encode())


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(pieces=st.lists(SPECIAL_PIECES, max_size=8))
def test_hundreds_of_added_tokens_random_texts_equal_tokenizers(reserved, pieces):
    """Texts glued from specials, their prefixes and suffixes, and plain chars."""
    _check(reserved, "".join(pieces).encode())


def test_hundreds_of_added_tokens_at_256_bytes():
    """The whole graph at N = 256 request bytes (the new ops' cap) equals tokenizers' encode."""
    spec = bpe.read_tokenizer(json.loads(V.variant("llama3_reserved")))
    tok = V.tokenizer("llama3_reserved")
    model = bpe.tokenizer_model(spec, 256, 128)
    text = ("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are kind.<|eot_id|>"
            "<|reserved_special_token_7|><|reserved_special_token_250|>x<|reserved_special_token_2 "
            "<|start_header_id|>user<|end_header_id|>\n\nhé!<|eot_id|>")
    data = text.encode()[:256]
    want = bpe.reference_ids(tok, spec, data, 128, model.meta["pad_id"])
    got = [int(v) for v in run(model, [text_input(data, 256)]).output.reshape(-1)]
    assert got == want


def test_added_tokens_past_the_new_caps_are_refused():
    """A content over MAX_ADDED_CHARS = 64 chars (with more added-token work than ADDED_TOKENS' cap) is refused by
    name; the same tokens at a prompt ADDED_TOKENS' cap fits still compile to ADDED_TOKENS."""
    spec = json.loads(V.variant("llama3_reserved"))
    base = max(t["id"] for t in spec["added_tokens"]) + 1
    spec["added_tokens"].append({"id": base, "content": "<|" + "x" * 70 + "|>", "single_word": False,
                                 "lstrip": False, "rstrip": False, "normalized": False, "special": True})
    with pytest.raises(UnsupportedTokenizerError, match=r"267 added tokens of up to 74 characters.*MAX_ADDED_CHARS"):
        bpe.tokenizer_model(bpe.read_tokenizer(spec), MAX_BYTES, SEQ)
    assert bpe.tokenizer_model(bpe.read_tokenizer(spec), 2, 4).meta["max_bytes"] == 2

# ---- tokenizer: nfc (issue 14)
NFC_SAMPLES = [
    "cafe\u0301 nai\u0308ve re\u0301sume\u0301", "\u212b\u2126 \u0958 \u2adc", "q\u0307\u0323 a\u0301\u0323 \u1e0b\u0323",
    "\u1100\u1161\u11a8\u1100\u1161 \uac00\u11a8 \u1161\u1161", "\u1f82\u0316 \U0001d160", "<|im_start|>\u0301e\u0301<|im_end|>\u0338",
    "<|endoftext|>>\u0338 =\u0338 <\u0338", "\u0301\u0301\u0301", "\u0cc6\u0cc2\u0cd5 \u0dd9\u0dcf\u0dca",
    "a" + "\u0316" * 3 + "\u0301", "\u1dfa\u0345x",
]
MARKED = st.lists(st.sampled_from(list("aeoAEO <|>=") + ["\u0301", "\u0308", "\u0323", "\u0338", "\u0345", "\u1100",
                                                           "\u1161", "\u11a8", "\uac00", "\u212b", "<|im_end|>"]),
                  max_size=16).map("".join)


@pytest.fixture(scope="module")
def qwen2_nfc():
    spec = bpe.read_tokenizer(json.loads(V.variant("qwen2_nfc")))
    return "qwen2_nfc", spec, V.tokenizer("qwen2_nfc"), bpe.tokenizer_model(spec, MAX_BYTES, SEQ)


def test_nfc_graph_has_the_chain_and_other_graphs_keep_theirs(qwen2_nfc):
    """Qwen2 with NFC: CHAR_MAP(NFD) -> NFC_REORDER -> NFC_COMPOSE -> ceil((N - C) / D) x NFC_STAGE (from C, C + D,
    ..) -> 2 x NFC_COMPACT right after the added-token match; Qwen2 without it compiles to the same graph as before
    (no NFC node, unchanged node list)."""
    from offchain.engine.ops import OpCode
    from offchain.engine.ops.nfc_runs import MAX_STAGE_TRIES, stages_for

    _, spec, _, model = qwen2_nfc
    ops = [n.op for n in model.graph.nodes]
    assert spec.nfc and model.meta["tokenizer"]["normalizer"] == "NFC"
    stages = stages_for(MAX_BYTES)
    assert stages == -(-(MAX_BYTES - MAX_RUN_TRIES) // MAX_STAGE_TRIES)
    assert ops[:8 + stages] == ([OpCode.UTF8_CHARS, OpCode.ADDED_TOKENS, OpCode.CHAR_MAP, OpCode.NFC_REORDER,
                                 OpCode.NFC_COMPOSE] + [OpCode.NFC_STAGE] * stages
                                + [OpCode.NFC_COMPACT, OpCode.NFC_COMPACT, OpCode.CHAR_MAP])
    starts = [n.params[2] for n in model.graph.nodes if n.op == OpCode.NFC_STAGE]
    assert starts == [MAX_RUN_TRIES + s * MAX_STAGE_TRIES for s in range(stages)]
    assert starts[-1] + MAX_STAGE_TRIES >= MAX_BYTES
    plain = bpe.tokenizer_model(bpe.read_tokenizer(json.loads(V.variant("qwen2"))), MAX_BYTES, SEQ)
    plain_ops = [n.op for n in plain.graph.nodes]
    assert OpCode.NFC_COMPOSE not in plain_ops and plain_ops[:3] == [OpCode.UTF8_CHARS, OpCode.CHAR_MAP,
                                                                     OpCode.ADDED_TOKENS]
    assert len(plain.weights) == len(model.weights) - 3


@pytest.mark.parametrize("text", NFC_SAMPLES)
def test_nfc_samples_equal_tokenizers(qwen2_nfc, text):
    assert V.tokenizer("qwen2_nfc").normalizer is not None
    _check(qwen2_nfc, text.encode())


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(text=st.one_of(MARKED, UNICODE, UNICODE.map(lambda t: __import__("unicodedata").normalize("NFD", t))))
def test_nfc_random_and_nfd_text_equals_tokenizers(qwen2_nfc, text):
    """Combining-heavy text, any Unicode, and NFD input (which NFC recomposes), runs of marks of any length."""
    _check(qwen2_nfc, text.encode())


ZALGO_MARKS = [chr(c) for c in (0x0300, 0x0301, 0x0308, 0x0316, 0x0323, 0x0327, 0x0338, 0x0344, 0x0345, 0x05B0,
                                0x0F71, 0x0F72, 0x302A, 0x3099)]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(text=st.lists(st.tuples(st.sampled_from(list("aeoAEO <|>") + ["<|im_end|>", "\u1100", "\u304b"]),
                               st.lists(st.sampled_from(ZALGO_MARKS), max_size=24).map("".join)),
                     max_size=4).map(lambda parts: "".join(b + m for b, m in parts)))
def test_nfc_zalgo_text_equals_tokenizers(qwen2_nfc, text):
    """Zalgo-like text: long runs of mixed-class marks (up to the whole input) after bases and added tokens."""
    _check(qwen2_nfc, text.encode())


def test_nfc_first_then_sentencepiece_normalizers_equal_tokenizers():
    """NFC first in a Sequence with the SentencePiece normalizers (Prepend, Replace) on llama2_legacy's model."""
    from tokenizers import Tokenizer

    raw = json.loads(V.variant("llama2_legacy"))
    raw["normalizer"] = {"type": "Sequence", "normalizers": [{"type": "NFC"}] + raw["normalizer"]["normalizers"]}
    spec = bpe.read_tokenizer(raw)
    assert spec.nfc and spec.mode == bpe.MODE_SENTENCEPIECE
    family = ("llama2_nfc", spec, Tokenizer.from_str(json.dumps(raw)), bpe.tokenizer_model(spec, MAX_BYTES, SEQ))
    for text in NFC_SAMPLES + ["caf\u00e9 cafe\u0301", "\u212b ngstr\u00f6m", "</s>e\u0301"]:
        _check(family, text.encode())


@pytest.mark.parametrize("count", [4, 5, 8, 17, 22])
def test_nfc_long_runs_equal_tokenizers(qwen2_nfc, count):
    """Runs past C = 4 marks (formerly a documented deviation): the acute after ``count`` lower-class marks
    composes with a, the dot below after ``count`` acutes moves first and composes; a run filling the input."""
    for text in ("a" + "\u0316" * count + "\u0301", "a" + "\u0301" * count + "\u0323",
                 "e" + "\u0344" * count, "\u0344" * (MAX_BYTES // 2), "\u0301" + "\u0316" * 22 + "a"):
        assert len(text.encode()) <= MAX_BYTES
        _check(qwen2_nfc, text.encode())


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(jamo=st.lists(st.integers(0x1100, 0x11FF), max_size=14))
def test_nfc_hangul_jamo_equal_tokenizers(qwen2_nfc, jamo):
    _check(qwen2_nfc, "".join(map(chr, jamo)).encode())


def test_nfc_normalized_added_tokens_are_refused():
    """tokenizers matches a normalized: true added token on the NFC text; the graph matches added tokens on the raw
    text (as tokenizers does for normalized: false), so such a token is refused by name."""
    spec = json.loads(V.variant("qwen2_nfc"))
    spec["added_tokens"].append({"id": 900, "content": "e\u0301", "single_word": False, "lstrip": False,
                                 "rstrip": False, "normalized": True, "special": False})
    with pytest.raises(UnsupportedTokenizerError, match="normalized: true"):
        bpe.read_tokenizer(spec)
    spec["added_tokens"][-1]["special"] = True
    with pytest.raises(UnsupportedTokenizerError, match="normalized"):
        bpe.tokenizer_model(bpe.read_tokenizer(spec), MAX_BYTES, SEQ)


def test_nfc_after_another_normalizer_is_refused():
    spec = json.loads(V.variant("qwen2_nfc"))
    spec["normalizer"] = {"type": "Sequence", "normalizers": [{"type": "Lowercase"}, {"type": "NFC"}]}
    with pytest.raises(UnsupportedTokenizerError, match="normalizer 'Lowercase'"):
        bpe.read_tokenizer(spec)
    spec["normalizer"] = {"type": "Sequence", "normalizers": [{"type": "NFC"}, {"type": "NFC"}]}
    with pytest.raises(UnsupportedTokenizerError, match="NFC after another"):
        bpe.read_tokenizer(spec)

"""Our WordPiece tokenizer gives Hugging Face's ids (within the documented limits)."""

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from offchain.models.minilm import sample_sentences
from offchain.models.wordpiece import (
    MAX_WORD_CHARS,
    TokenizerError,
    WordPieceTokenizer,
    normalize,
    pre_tokenize,
)

TRICKY = [
    "",
    "   \t\n  ",
    "Hello, world!",
    "don't stop-believing... (ok?) [yes] {no} <maybe>",
    "$5 + 3 = 8 ^ 2 | ~x `code` @user #tag %p &a *b _c",
    "Café naïve résumé façade jalapeño Ångström Øresund",
    "İstanbul ΣΟΦΟΣ Ǆemal ǅ ǆ ß ẞ",
    "ﬁne ﬂow ½ ² ℌ ™ №",
    "3.14159 1,000,000 2025-01-31 10:30 +1-555-0100 0x1F",
    "“smart” ‘quotes’ — dashes – … «guillemets» ¡hola! ¿qué?",
    "中文字符 and 日本語のテキスト 한국어",
    "😀 🎉 🚀 👍🏽 ❤️ €100 £5 ¥9 ©®",
    "zero\u200bwidth soft\u00adhyphen bom\ufeffmark",
    "nbsp\u00a0ideographic\u3000space em\u2003space line\u2028sep",
    "ctrl\x01\x07\x1b chars\x0b\x0c\x85 here\x00\ufffd",
    "supercalifragilisticexpialidocious antidisestablishmentarianism",
    "a" * MAX_WORD_CHARS,
    "b" * (MAX_WORD_CHARS + 1),
    "xqzvkjwpfhgmb qqqqqqqqq zzzzzzzz",
    "UPPER lower MiXeD CaSe",
    "e\u0301 (decomposed) vs \u00e9 (composed)",
    "tab\tseparated\nnew\r\nlines",
]


def hf_ids(hf_tokenizer, text):
    return hf_tokenizer.encode(text).ids


def our_ids(ours, text):
    return [ours.cls_id] + [ours.vocab[p] for p in ours.tokenize(text)] + [ours.sep_id]


@pytest.mark.parametrize("text", sample_sentences())
def test_sample_sentences_match_hf(ours, hf_tokenizer, text):
    assert our_ids(ours, text) == hf_ids(hf_tokenizer, text)


@pytest.mark.parametrize("text", TRICKY)
def test_tricky_strings_match_hf(ours, hf_tokenizer, text):
    assert our_ids(ours, text) == hf_ids(hf_tokenizer, text)


@pytest.mark.parametrize("max_len", [2, 5, 16, 64])
def test_truncation_and_padding_match_hf(ours, hf_tokenizer, max_len):
    hf = hf_tokenizer.__class__.from_str(hf_tokenizer.to_str())
    hf.enable_truncation(max_length=max_len)
    hf.enable_padding(length=max_len, pad_id=ours.pad_id, pad_token="[PAD]")
    for text in sample_sentences()[:12] + TRICKY[:6]:
        expected = hf.encode(text)
        got = ours.encode(text, max_len)
        assert list(got.input_ids) == expected.ids
        assert list(got.attention_mask) == expected.attention_mask


def test_special_token_strings_are_plain_text(ours, hf_tokenizer):
    """Documented difference: we match HF only with encode_special_tokens=True."""
    text = "hello [SEP] world [PAD][CLS] [MASK] [UNK]"
    hf = hf_tokenizer.__class__.from_str(hf_tokenizer.to_str())
    hf.encode_special_tokens = True
    assert our_ids(ours, text) == hf.encode(text).ids
    assert ours.pad_id not in our_ids(ours, text)


def _stable_char(ch: str) -> bool:
    """Assigned in Unicode 3.2 with the same category today: both tables agree on it."""
    old = unicodedata.ucd_3_2_0.category(ch)
    return old != "Cn" and old == unicodedata.category(ch) and not 0xD800 <= ord(ch) <= 0xDFFF


stable_text = st.text(
    alphabet=st.one_of(
        st.sampled_from("abcdefghij XYZ.,!?'-\t\n0123"),
        st.characters(max_codepoint=0x2FFFF).filter(_stable_char),
    ),
    max_size=24,
)


@settings(max_examples=300, deadline=None)
@given(text=stable_text)
def test_random_text_matches_hf(ours, hf_tokenizer, text):
    assert our_ids(ours, text) == hf_ids(hf_tokenizer, text)


def test_encode_layout(ours):
    enc = ours.encode("Hello world", 6)
    assert enc.input_ids == (ours.cls_id, 7592, 2088, ours.sep_id, ours.pad_id, ours.pad_id)
    assert enc.attention_mask == (1, 1, 1, 1, 0, 0)


def test_truncation_keeps_head(ours):
    long = " ".join(["word"] * 50)
    enc = ours.encode(long, 8)
    assert enc.input_ids == (ours.cls_id,) + (ours.vocab["word"],) * 6 + (ours.sep_id,)
    assert enc.attention_mask == (1,) * 8


def test_pipeline_steps():
    assert normalize("Ça\u00a0va?\u200b 東京") == "ca va?  東  京 "
    assert pre_tokenize("ca va?  東  京 ") == ["ca", "va", "?", "東", "京"]


def test_unknown_piece_makes_whole_word_unk(ours):
    assert ours.word_pieces("hello") == ["hello"]
    assert ours.word_pieces("hello\u0fff") == ["[UNK]"]
    assert ours.word_pieces("x" * (MAX_WORD_CHARS + 1)) == ["[UNK]"]


def test_max_len_below_two_is_rejected(ours):
    with pytest.raises(TokenizerError, match="max_len=1"):
        ours.encode("hi", 1)


def test_vocab_without_special_tokens_is_rejected():
    with pytest.raises(TokenizerError, match=r"\[UNK\]"):
        WordPieceTokenizer({"[PAD]": 0, "[CLS]": 1, "[SEP]": 2, "a": 3})


def test_duplicate_vocab_line_is_rejected(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_text("[PAD]\n[UNK]\n[CLS]\n[SEP]\nhi\nhi\n", encoding="utf-8")
    with pytest.raises(TokenizerError, match="line 6"):
        WordPieceTokenizer.from_file(path)

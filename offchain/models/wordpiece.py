"""BERT WordPiece tokenizer for all-MiniLM-L6-v2, in plain deterministic Python.

Who may call: anyone turning text into the token ids that the MiniLM graph
takes (request builders, submitter and challenger nodes, tests). The
algorithm is written out step by step so it can be re-implemented as a
disputable step; it reads nothing but ``vocab.txt`` (one token per line, the
id is the 0-based line number).

Algorithm (exactly what ``encode`` does, in this order)
-------------------------------------------------------
Text is a sequence of Unicode code points (Python ``str``).

1. Clean. Drop every code point that is U+0000, U+FFFD, or a "control" code
   point: general category Cc, Cf, Cs or Co, except TAB, LF and CR.
   Unassigned code points (Cn) are kept.
   Then replace every remaining White_Space code point (``WHITESPACE`` below:
   TAB, LF, CR, SPACE, U+00A0, U+1680, U+2000..U+200A, U+2028, U+2029,
   U+202F, U+205F, U+3000) with SPACE.
2. CJK. Put one SPACE before and after every code point in the CJK
   ideograph blocks listed in ``CJK_RANGES``.
3. Strip accents. Replace each code point by its full canonical decomposition
   (NFD of that one code point), then drop every code point of general category
   Mn (non-spacing mark). Decomposing code point by code point skips NFD's
   canonical reordering of adjacent combining marks; that only differs from
   whole-string NFD when two combining marks that are not Mn (25 Mc code
   points, e.g. U+302E, U+1D165) meet in a non-canonical order, and it makes
   steps 1-4 a per-code-point table (the disputable tokenizer's CHAR_MAP).
4. Lowercase. Replace each code point by its full Unicode lowercase mapping,
   one code point at a time (no context rules: a final capital sigma becomes
   U+03C3, not U+03C2).
5. Pre-tokenise. Split on SPACE (runs of SPACE separate words and vanish).
   Inside each word, every punctuation code point becomes a word of its own.
   Punctuation = general category Pc, Pd, Pe, Pf, Pi, Po or Ps, or any ASCII
   code point in ``!"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~`` (so ASCII symbols such
   as ``$ + < = > ^ ` | ~`` split, but non-ASCII symbols such as ``€`` or
   emoji stay inside their word).
6. WordPiece. For each word: if it has more than 100 code points it becomes
   ``[UNK]``. Otherwise, from position 0, take the longest prefix of the rest
   that is in the vocabulary (spelled ``"##" + piece`` when it does not start
   the word), emit it, and continue after it. If at some position no prefix
   (not even one code point) is in the vocabulary, the whole word becomes one
   ``[UNK]`` and the pieces found so far are discarded.
7. Frame. Keep the first ``max_len - 2`` pieces (truncation drops the tail),
   emit ``[CLS] pieces [SEP]``, then pad with ``[PAD]`` up to ``max_len``.
   The attention mask is 1 on ``[CLS]``, pieces and ``[SEP]``, 0 on padding.

Limits
------
- Unicode data (categories, NFD, lowercase) is Python 3.11's ``unicodedata``
  (Unicode 14.0.0); an on-chain re-implementation must use the same tables.
  Hugging Face's Rust tokenizer takes categories from an older table (it
  predates Unicode 9.0), so the two disagree on code points assigned or
  re-categorised since then: e.g. U+08D8 and U+0D00 are Mn (stripped) here
  but unassigned (kept, so the word becomes ``[UNK]``) there, and U+2E49 is
  punctuation here but not there. Fuzzing against Hugging Face found no other
  kind of difference; the tests compare on code points whose category is the
  same in Unicode 3.2 and 14.0.
- The CJK ranges are Hugging Face's (its fourth-from-last range starts at
  U+2B920, not U+2B820 as in Google's original BERT code).
- Literal special-token strings in the text (``"[SEP]"``, ``"[PAD]"``...) are
  ordinary text here: they tokenise to ``[``, ``sep``, ``]``. The Hugging Face
  tokenizer maps them to the special ids unless ``split_special_tokens=True``;
  treating them as text keeps user text from forging control tokens and keeps
  the attention mask a function of position only.
- Only single sentences (no sentence pairs, token type ids are all 0).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from pathlib import Path

PAD, UNK, CLS, SEP = "[PAD]", "[UNK]", "[CLS]", "[SEP]"
CONTINUATION_PREFIX = "##"
# Hugging Face's BERT limit: longer words are one [UNK] without a search.
MAX_WORD_CHARS = 100

WHITESPACE = frozenset(
    "\t\n\r \u00a0\u1680\u2028\u2029\u202f\u205f\u3000"
    + "".join(chr(c) for c in range(0x2000, 0x200B))
)
# U+000B, U+000C and U+0085 are White_Space too, but they are Cc, so step 1
# drops them as control characters before whitespace mapping sees them.
_KEPT_CONTROLS = frozenset("\t\n\r")
_CONTROL_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co"})
_PUNCTUATION_CATEGORIES = frozenset({"Pc", "Pd", "Pe", "Pf", "Pi", "Po", "Ps"})
ASCII_PUNCTUATION = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")

CJK_RANGES: tuple[tuple[int, int], ...] = (
    (0x4E00, 0x9FFF),
    (0x3400, 0x4DBF),
    (0x20000, 0x2A6DF),
    (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F),
    (0x2B920, 0x2CEAF),
    (0xF900, 0xFAFF),
    (0x2F800, 0x2FA1F),
)


class TokenizerError(ValueError):
    """Bad tokenizer input: an unreadable vocabulary or an impossible length."""


def is_control(ch: str) -> bool:
    """True for code points that step 1 deletes (besides U+0000 and U+FFFD)."""
    return ch not in _KEPT_CONTROLS and unicodedata.category(ch) in _CONTROL_CATEGORIES


def is_cjk(ch: str) -> bool:
    """True for code points that step 2 surrounds with spaces."""
    cp = ord(ch)
    return any(lo <= cp <= hi for lo, hi in CJK_RANGES)


def is_punctuation(ch: str) -> bool:
    """True for code points that step 5 splits off as words of their own."""
    return ch in ASCII_PUNCTUATION or unicodedata.category(ch) in _PUNCTUATION_CATEGORIES


def normalize(text: str) -> str:
    """Steps 1-4: clean, space out CJK, strip accents, lowercase."""
    cleaned = []
    for ch in text:
        if ch in ("\x00", "\ufffd") or is_control(ch):
            continue
        cleaned.append(" " if ch in WHITESPACE else ch)
    spaced = []
    for ch in cleaned:
        spaced.append(f" {ch} " if is_cjk(ch) else ch)
    decomposed = "".join(unicodedata.normalize("NFD", piece) for piece in spaced)
    stripped = (ch for ch in decomposed if unicodedata.category(ch) != "Mn")
    return "".join(ch.lower() for ch in stripped)


def pre_tokenize(normalized: str) -> list[str]:
    """Step 5: split normalised text into words and single punctuation marks."""
    words: list[str] = []
    for chunk in normalized.split(" "):
        current = ""
        for ch in chunk:
            if is_punctuation(ch):
                if current:
                    words.append(current)
                    current = ""
                words.append(ch)
            else:
                current += ch
        if current:
            words.append(current)
    return words


@dataclass(frozen=True)
class Encoding:
    """Fixed-length model input for one sentence.

    input_ids: ``max_len`` vocabulary ids, ``[CLS] pieces [SEP] [PAD]...``.
    attention_mask: ``max_len`` values, 1 for real tokens and 0 for padding.
    """

    input_ids: tuple[int, ...]
    attention_mask: tuple[int, ...]


class WordPieceTokenizer:
    """Uncased BERT WordPiece tokenizer over a fixed ``vocab.txt``."""

    def __init__(self, vocab: dict[str, int]):
        for token in (PAD, UNK, CLS, SEP):
            if token not in vocab:
                raise TokenizerError(f"vocabulary lacks the special token {token}")
        self.vocab = vocab
        self.pad_id, self.unk_id = vocab[PAD], vocab[UNK]
        self.cls_id, self.sep_id = vocab[CLS], vocab[SEP]

    @classmethod
    def from_file(cls, path: str | Path) -> "WordPieceTokenizer":
        """Read ``vocab.txt``: token on line i (0-based) has id i."""
        lines = Path(path).read_text(encoding="utf-8").split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        vocab: dict[str, int] = {}
        for i, token in enumerate(lines):
            if token in vocab:
                raise TokenizerError(f"{path}: token {token!r} repeats on line {i + 1}")
            vocab[token] = i
        return cls(vocab)

    def word_pieces(self, word: str) -> list[str]:
        """Step 6 for one pre-tokenised word: greedy longest-match-first pieces."""
        if len(word) > MAX_WORD_CHARS:
            return [UNK]
        pieces: list[str] = []
        start = 0
        while start < len(word):
            end = len(word)
            while end > start:
                piece = word[start:end] if start == 0 else CONTINUATION_PREFIX + word[start:end]
                if piece in self.vocab:
                    break
                end -= 1
            if end == start:
                return [UNK]
            pieces.append(piece)
            start = end
        return pieces

    def tokenize(self, text: str) -> list[str]:
        """Steps 1-6: the word pieces of ``text`` without framing or limits."""
        return [p for word in pre_tokenize(normalize(text)) for p in self.word_pieces(word)]

    def encode(self, text: str, max_len: int) -> Encoding:
        """Steps 1-7: ``[CLS] pieces [SEP]`` truncated and padded to ``max_len`` ids."""
        if max_len < 2:
            raise TokenizerError(f"max_len={max_len} leaves no room for [CLS] and [SEP] (need >= 2)")
        pieces = self.tokenize(text)[: max_len - 2]
        ids = [self.cls_id] + [self.vocab[p] for p in pieces] + [self.sep_id]
        n_real = len(ids)
        ids += [self.pad_id] * (max_len - n_real)
        return Encoding(tuple(ids), tuple([1] * n_real + [0] * (max_len - n_real)))

"""Weight tables of the BPE tokenizer graph (issue 14; the graph itself is offchain/models/bpe.py).

``class_table()``: the CHAR_MAP tables (K = 1) that turn a code point into the pre-tokenizer's class stream value
``4 * cp + cls`` (cls 0 = \\p{L}, 1 = \\p{N}, 2 = \\s, 3 = anything else). The classes are not taken from Python's
unicodedata but from the ``tokenizers`` library's own regex engine (Oniguruma, as its Split / ByteLevel
pre-tokenizers use it): \\p{L}+, \\p{N}+ and \\s+ are split out of one string holding every code point, so a char
is in the class exactly when tokenizers' regex says so (surrogates, which no UTF-8 text holds, are "other").
Every stage-2 entry is relative (``4 + cls``: bit 2 set, offset 0), so CHAR_MAP gives ``4 * cp + cls`` and
blocks of 2^SHIFT code points with the same classes share one stage-2 block.

``added_table(tokenizer_json)``: the ADDED_TOKENS table [A, L+1], rows (id, code points, -1 padding).
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np

from offchain.engine.ops.text import MAX_CODE_POINT

#: Code points per stage-2 block of the class table.
CLASS_SHIFT = 8
CLS_L, CLS_N, CLS_S, CLS_O = 0, 1, 2, 3


class TokenizerTableError(ValueError):
    """A tokenizer.json the graph cannot represent (the message names the offending token)."""


@lru_cache(maxsize=1)
def code_point_classes() -> np.ndarray:
    """cls of every code point 0 .. 0x10FFFF, as tokenizers' regex engine classifies it (about 3 s, once)."""
    from tokenizers import Regex, pre_tokenizers

    cps = np.array([c for c in range(MAX_CODE_POINT + 1) if not 0xD800 <= c <= 0xDFFF], dtype=np.int64)
    text = "".join(map(chr, cps.tolist()))
    cls = np.full(MAX_CODE_POINT + 1, CLS_O, dtype=np.int8)
    for pattern, value in ((r"\p{L}+", CLS_L), (r"\p{N}+", CLS_N), (r"\s+", CLS_S)):
        # 'removed' drops the matches and keeps the gaps (char offsets): a char matches iff no gap holds it.
        matched = np.ones(len(cps), dtype=bool)
        for _, (start, end) in pre_tokenizers.Split(Regex(pattern), "removed").pre_tokenize_str(text):
            matched[start:end] = False
        cls[cps[matched]] = value
    return cls


@lru_cache(maxsize=1)
def _class_table() -> tuple[np.ndarray, np.ndarray, int]:
    entries = (4 + code_point_classes().astype(np.int32)).reshape(-1, 1 << CLASS_SHIFT)
    blocks, stage1 = np.unique(entries, axis=0, return_inverse=True)
    stage1 = np.asarray(stage1, dtype=np.int32).reshape(-1)
    stage2 = blocks.astype(np.int32).reshape(-1, 1)
    stage1.setflags(write=False)
    stage2.setflags(write=False)
    return stage1, stage2, CLASS_SHIFT


def class_table() -> tuple[np.ndarray, np.ndarray, int]:
    """(stage1 [0x10FFFF >> shift + 1], stage2 [R, 1], shift): CHAR_MAP's tables and its param giving
    ``4 * cp + cls`` for every code point (cached in memory; read-only arrays)."""
    return _class_table()


def added_table(tokenizer_json: str | Path | dict) -> np.ndarray:
    """ADDED_TOKENS' table [A, L+1] of a tokenizer.json (a path, its text or the parsed dict): one row
    (id, code points of its content, -1 padding) per added token, L the longest content (L = 1 when A = 0).

    Refuses (TokenizerTableError naming the token) an added token with lstrip, rstrip or single_word set (the
    graph matches contents exactly), an empty content, and a mix of ``normalized`` true and false tokens when
    the tokenizer has a normalizer (tokenizers matches those on normalized text), and two tokens that differ in
    ``normalized`` and can overlap in a text (tokenizers matches the two kinds in two passes, the graph in one
    leftmost-longest pass; without an overlap both give the same matches).
    """
    if isinstance(tokenizer_json, dict):
        spec = tokenizer_json
    else:
        text = str(tokenizer_json)
        spec = json.loads(text if text.lstrip().startswith("{") else Path(text).read_text(encoding="utf-8"))
    tokens = spec.get("added_tokens") or []
    for tok in tokens:
        for flag in ("lstrip", "rstrip", "single_word"):
            if tok.get(flag):
                raise TokenizerTableError(f"added token {tok['content']!r} (id {tok['id']}) has {flag} set; "
                                          f"only exact-content added tokens are supported")
        if not tok["content"]:
            raise TokenizerTableError(f"added token id {tok['id']} has empty content")
    if spec.get("normalizer") is not None and any(t.get("normalized") for t in tokens):
        bad = next(t for t in tokens if t.get("normalized"))
        raise TokenizerTableError(f"added token {bad['content']!r} (id {bad['id']}) is matched on normalized text "
                                  f"(normalized = true with a normalizer); not supported")
    for a in tokens:
        for b in tokens:
            if bool(a.get("normalized")) != bool(b.get("normalized")) and _overlap(a["content"], b["content"]):
                raise TokenizerTableError(
                    f"added tokens {a['content']!r} (id {a['id']}) and {b['content']!r} (id {b['id']}) differ in "
                    f"'normalized' and can overlap: tokenizers matches them in two passes, the graph in one")
    width = max([len(t["content"]) for t in tokens], default=1)
    table = np.full((len(tokens), width + 1), -1, dtype=np.int32)
    for r, tok in enumerate(tokens):
        table[r, 0] = tok["id"]
        table[r, 1:1 + len(tok["content"])] = [ord(c) for c in tok["content"]]
    return table


def _overlap(a: str, b: str) -> bool:
    """Whether matches of ``a`` and ``b`` can overlap in some text: one contains the other, or a suffix of one
    is a prefix of the other."""
    if a in b or b in a:
        return True
    return any(a.endswith(b[:k]) or b.endswith(a[:k]) for k in range(1, min(len(a), len(b))))

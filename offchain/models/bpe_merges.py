"""Tables of the BPE ops (offchain/engine/ops/bpe.py) built from a Hugging Face ``tokenizer.json`` (BPE model).

Who may call: the tokenizer graph builder (offchain/models/bpe.py), tests and benchmarks.

* ``merges_table``: PAIR_RANK's open-addressed merges table (rows (left, right, rank, new_id)), its probe window
  and salt: every merge sits within W rows of its home ``pair_hash(left, right, salt) % (M - W + 1)``, so one
  probe window settles whether a pair merges. It refuses merges lists the BPE rounds cannot equal (``check_rank_order``).
* ``check_rank_order``: the property under which one BPE_MERGE round per pending rank equals tokenizers' BPE.
* ``byte_ids``: the ids of the 256 byte tokens (byte-level alphabet chars, or ``<0xNN>`` pieces with byte fallback).
* ``char_vocab_table``: CHAR_MAP tables giving a SentencePiece vocabulary's single-char pieces (4 * id + 1).
* ``word_vocab_table``: WORD_VOCAB's hashed vocabulary (ignore_merges): rows (8 key words, token id) keyed by
  keccak256 of each non-added vocabulary token's byte-token ids, with its probe window and salt.
* ``rounds_needed``: R, the PAIR_RANK/BPE_MERGE rounds after which every word of N positions is finished.
* ``added_match_table``: ADDED_MATCH's hashed added tokens (WORD_VOCAB's rows keyed by the tokens' code points).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from offchain.engine.ops.bpe import (
    BYTE_TOKENS,
    MAX_WINDOW,
    MERGE_ROW,
    MODE_BYTE_LEVEL,
    MODE_SENTENCEPIECE,
    SPACE,
    pair_hash,
)
from offchain.engine.ops.text import MAX_CODE_POINT
from offchain.engine.ops.wordvocab import (
    MAX_VOCAB_ROWS,
    MAX_VOCAB_WINDOW,
    VOCAB_ROW,
    hash_words,
    symbols_hash,
    vocab_home,
)
from offchain.models.text_tables import SHIFT, TableError, two_stage

#: SentencePiece's word-boundary char, which replaces ' ' (Metaspace, the Replace normalizer).
METASPACE = 0x2581
#: Most symbols one text position can start: an ill-formed byte decodes to U+FFFD, whose 3 UTF-8 bytes become
#: three byte tokens when U+FFFD is not a piece of its own.
SYMBOLS_PER_POSITION = 3
#: Salts tried per window size before a larger window is tried.
SALTS = 64


class MergeOrderError(TableError):
    """A merges list without the rank-order property the BPE rounds need (names the offending merge)."""


def load(tokenizer_json: str | Path | Mapping[str, Any]) -> Mapping[str, Any]:
    """A tokenizer.json as a dict (a path, its text, or the dict); refuses a model that is not BPE."""
    if isinstance(tokenizer_json, Mapping):
        data = tokenizer_json
    else:
        text = str(tokenizer_json)
        data = json.loads(Path(text).read_text(encoding="utf-8") if not text.lstrip().startswith("{") else text)
    if data.get("model", {}).get("type") != "BPE":
        raise TableError(f"tokenizer model is {data.get('model', {}).get('type')!r}, not BPE")
    return data


def _vocab(data: Mapping[str, Any]) -> dict[str, int]:
    """The BPE model's own vocabulary: what tokenizers' BPE looks chars, bytes and merges up in (added tokens that
    are not in it are matched before the model, by ADDED_TOKENS)."""
    return dict(data["model"]["vocab"])


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's byte -> printable char map (the byte-level alphabet)."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAC + 1)) + list(range(0xAE, 0xFF + 1))
    chars = list(keep)
    extra = 0
    for b in range(BYTE_TOKENS):
        if b not in keep:
            keep.append(b)
            chars.append(BYTE_TOKENS + extra)
            extra += 1
    return {b: chr(c) for b, c in zip(keep, chars)}


def mode(tokenizer_json) -> int:
    """BPE_SYMBOLS' mode: 1 (SentencePiece: chars are pieces, bytes fall back to <0xNN>) when the model has
    byte_fallback, else 0 (byte-level: every char is its UTF-8 bytes in GPT-2's alphabet)."""
    return MODE_SENTENCEPIECE if load(tokenizer_json)["model"].get("byte_fallback") else MODE_BYTE_LEVEL


def byte_ids(tokenizer_json) -> np.ndarray:
    """int32 [256]: the token id of each byte: ``<0xNN>`` for a byte-fallback model, the byte-level alphabet char
    otherwise. Raises TableError naming the bytes whose token the vocabulary lacks."""
    data = load(tokenizer_json)
    vocab = _vocab(data)
    if mode(data) == MODE_SENTENCEPIECE:
        names = {b: f"<0x{b:02X}>" for b in range(BYTE_TOKENS)}
    else:
        names = bytes_to_unicode()
    missing = [names[b] for b in range(BYTE_TOKENS) if names[b] not in vocab]
    if missing:
        raise TableError(f"the vocabulary lacks {len(missing)} of the 256 byte tokens: {missing[:8]}")
    return np.array([vocab[names[b]] for b in range(BYTE_TOKENS)], dtype=np.int32)


def merges(tokenizer_json) -> list[tuple[int, int, int]]:
    """The merges as (left id, right id, new id) in rank order; raises TableError naming a merge whose tokens or
    result are not in the vocabulary, or a pair listed twice."""
    data = load(tokenizer_json)
    vocab = _vocab(data)
    out: list[tuple[int, int, int]] = []
    seen: dict[tuple[int, int], int] = {}
    for rank, entry in enumerate(data["model"].get("merges", [])):
        pair = entry.split(" ") if isinstance(entry, str) else list(entry)
        if len(pair) != 2:
            raise TableError(f"merge {rank} {entry!r} is not a pair of tokens")
        a, b = pair
        for token in (a, b, a + b):
            if token not in vocab:
                raise TableError(f"merge {rank} ({a!r}, {b!r}): {token!r} is not in the vocabulary")
        key = (vocab[a], vocab[b])
        if key in seen:
            raise TableError(f"merge {rank} ({a!r}, {b!r}) repeats merge {seen[key]}")
        seen[key] = rank
        out.append((vocab[a], vocab[b], vocab[a + b]))
    return out


def check_rank_order(merge_ids: Sequence[tuple[int, int, int]], names: Mapping[int, str] | None = None) -> None:
    """Raise MergeOrderError unless every merge (a, b) of rank r has r greater than the rank of every merge whose
    output is a or b (``merge_ids``: (left, right, new) in rank order; ``names``: id -> token, for the message).
    Under this property a merge never creates a pair of rank <= its own, so tokenizers' min-heap order (least
    rank, then leftmost) equals BPE_MERGE's rounds: per word, all leftmost non-overlapping occurrences of the
    least-rank pair at once."""
    last_made: dict[int, int] = {}
    for rank, (_, _, new) in enumerate(merge_ids):
        last_made[new] = rank
    name = (lambda t: repr(names.get(t, t))) if names else repr
    for rank, (a, b, _) in enumerate(merge_ids):
        for side in (a, b):
            made = last_made.get(side, -1)
            if made >= rank:
                raise MergeOrderError(f"merge {rank} ({name(a)}, {name(b)}) uses {name(side)}, which merge {made} "
                                      f"makes at a rank >= {rank}: BPE rounds would not equal the BPE model")


def place_hashed(items: Sequence[Any], rows_count: int, row_width: int, home: Callable[[Any, int, int], int],
                 row: Callable[[Any], Sequence[int]], max_window: int, salts: int,
                 tiebreak: Callable[[int, Any], Any] = lambda k, item: k) -> tuple[np.ndarray, int, int] | None:
    """The open-addressed tables the hashed-probe operators read (PAIR_RANK's merges, WORD_VOCAB's and
    ADDED_MATCH's words, NFC_COMPOSE's pairs): ``(table int32 [rows_count, row_width], window W, salt)`` for the
    smallest W of 4, 8, .., ``max_window`` and the first salt < ``salts`` that place every item within W rows of
    ``home(item, salt, homes)`` (homes = rows_count - W + 1), unused rows -1; None when none does.

    Items go in order of (home, ``tiebreak(index, item)``), each in the first free row at or after its home: the
    earliest-deadline greedy, which places every item within its window whenever any placement does."""
    window = 4
    while window <= max_window:
        homes = rows_count - window + 1
        for salt in range(salts):
            placed = sorted((home(item, salt, homes), tiebreak(k, item), k) for k, item in enumerate(items))
            table = np.full((rows_count, row_width), -1, dtype=np.int32)
            last = -1
            for h, _, k in placed:
                slot = max(h, last + 1)
                if slot >= h + window:
                    break
                table[slot] = row(items[k])
                last = slot
            else:
                return table, window, salt
        window *= 2
    return None


def merges_table(tokenizer_json, spread: int = 2) -> tuple[np.ndarray, int, int]:
    """(table int32 [M, 4], window W, salt): PAIR_RANK's merges table. M is the power of two at or above
    ``spread`` rows per merge (at least 16); the smallest W of 4, 8, .., MAX_WINDOW and the first salt that place
    every merge within W rows of its home. Checks the rank order first (MergeOrderError)."""
    data = load(tokenizer_json)
    merge_ids = merges(data)
    check_rank_order(merge_ids, {v: k for k, v in _vocab(data).items()})
    rows_count = 1 << max(4, (spread * max(1, len(merge_ids)) - 1).bit_length())
    items = [(a, b, rank, new) for rank, (a, b, new) in enumerate(merge_ids)]
    placed = place_hashed(items, rows_count, MERGE_ROW, lambda m, salt, homes: pair_hash(m[0], m[1], salt) % homes,
                          lambda m: m, MAX_WINDOW, SALTS, tiebreak=lambda k, m: m)
    if placed is not None:
        return placed
    raise TableError(f"no window <= {MAX_WINDOW} and salt < {SALTS} places {len(merge_ids)} merges in "
                     f"{rows_count} rows")


def char_vocab_table(tokenizer_json) -> tuple[np.ndarray, np.ndarray]:
    """CHAR_MAP's (stage1, stage2 [rows, 1]) at ``text_tables.SHIFT``: code point c maps to 4 * id + 1 when the
    single-char piece chr(c) is in the vocabulary (' ' looked up as U+2581, as the Replace normalizer has it),
    0 otherwise. Entries are absolute (bit 2 clear), so the blocks without pieces share one zero block."""
    vocab = _vocab(load(tokenizer_json))
    rows = np.zeros((MAX_CODE_POINT + 1, 1), dtype=np.int32)

    def entry(tid: int) -> int:
        if not 0 <= tid < 1 << 27:
            raise TableError(f"token id {tid} does not fit a CHAR_MAP entry (8 * id + 1 < 2^31)")
        return 8 * tid + 1

    for token, tid in vocab.items():
        if len(token) == 1 and ord(token) != SPACE:
            rows[ord(token), 0] = entry(tid)
    if chr(METASPACE) in vocab:
        rows[SPACE, 0] = entry(vocab[chr(METASPACE)])
    return two_stage(rows, SHIFT)


def rounds_needed(n: int, mode: int) -> int:
    """R: PAIR_RANK/BPE_MERGE rounds that finish every word of a text of ``n`` positions. A word holds at most
    3n + 1 symbols (3 byte tokens per position from U+FFFD in either mode, plus one virtual prefix char), and
    each round with a pending merge removes at least one symbol of the word."""
    if mode not in (MODE_BYTE_LEVEL, MODE_SENTENCEPIECE) or n < 1:
        raise TableError(f"rounds_needed takes n >= 1 and mode 0 or 1, got n={n}, mode={mode}")
    return SYMBOLS_PER_POSITION * n


def word_vocab_table(tokenizer_json, spread: int = 2) -> tuple[np.ndarray, int, int]:
    """(table int32 [M, 9], window W, salt): WORD_VOCAB's vocabulary of a byte-level model (ignore_merges). Keys:
    every token of the model's vocabulary that is not an added token and has at least two chars, all of them in
    the byte-level alphabet, as keccak256 of its chars' byte-token ids (int32 big-endian); a word of BPE_SYMBOLS'
    byte tokens equals such a token's byte string exactly when its symbols are those ids. M is the power of two at
    or above ``spread`` rows per key (at least 16); the smallest W of 4, 8, .., MAX_VOCAB_WINDOW and the first salt
    that place every key within W rows of its home ``vocab_home``. Raises TableError when none does."""
    data = load(tokenizer_json)
    if mode(data) != MODE_BYTE_LEVEL:
        raise TableError("word_vocab_table (ignore_merges) takes byte-level models only")
    vocab = _vocab(data)
    alphabet = set(bytes_to_unicode().values())
    added = {t["content"] for t in data.get("added_tokens") or []}
    words = [([vocab[ch] for ch in token], int(tid)) for token, tid in sorted(vocab.items(), key=lambda kv: kv[1])
             if len(token) >= 2 and token not in added and set(token) <= alphabet]
    return place_words(words, spread)


def place_words(words: Sequence[tuple[Sequence[int], int]], spread: int = 2) -> tuple[np.ndarray, int, int]:
    """(table int32 [M, 9], window W, salt) holding each (symbols, token id) of ``words`` keyed by
    keccak256(symbols as int32 big-endian) within W rows of its home (see ``word_vocab_table``)."""
    keys = []
    for symbols, tid in words:
        h = symbols_hash(symbols)
        keys.append((h, hash_words(h), int(tid)))
    rows_count = 1 << max(4, (spread * max(1, len(keys)) - 1).bit_length())
    if rows_count > MAX_VOCAB_ROWS:
        raise TableError(f"{len(keys)} vocabulary keys need {rows_count} rows > MAX_VOCAB_ROWS = {MAX_VOCAB_ROWS}")
    placed = place_hashed(keys, rows_count, VOCAB_ROW, lambda key, salt, homes: vocab_home(key[0], salt, homes),
                          lambda key: (*key[1], key[2]), MAX_VOCAB_WINDOW, SALTS)
    if placed is not None:
        return placed
    raise TableError(f"no window <= {MAX_VOCAB_WINDOW} and salt < {SALTS} places {len(keys)} vocabulary keys in "
                     f"{rows_count} rows")


# ---- tokenizer: added (issue 14)
def added_match_table(added: np.ndarray) -> tuple[np.ndarray, int, int, list[int]]:
    """(table int32 [H, 9], window W, salt, lengths): ADDED_MATCH's hashed table (ops/added.py) of ADDED_TOKENS'
    table ``added`` [A, L+1] (rows (id, code points, -1 padding), ``bpe_tables.added_table``). Keys: each row's
    content (its code points up to the first negative entry) as keccak256 of the code points (int32 big-endian,
    WORD_VOCAB's ``symbols_hash``), placed by ``place_words``; ``lengths`` = the distinct content lengths, longest
    first. Rows ADDED_TOKENS never matches (negative id, empty content) are left out, and of rows with the same
    content only the first is kept (ADDED_TOKENS takes the first row on ties), so ADDED_MATCH then ADDED_RESOLVE
    equal ADDED_TOKENS on every text. The spread doubles until the window fits MAX_ADDED_WINDOW; raises
    TableError when no table within MAX_ADDED_ROWS does, or a content is longer than MAX_ADDED_CHARS;
    ``lengths`` may exceed MAX_ADDED_LENGTHS: the graph chains ADDED_MATCH nodes over ``added.length_groups``."""
    from offchain.engine.ops.added import MAX_ADDED_CHARS, MAX_ADDED_ROWS, MAX_ADDED_WINDOW

    words: list[tuple[list[int], int]] = []
    seen: set[tuple[int, ...]] = set()
    for row in np.asarray(added, dtype=np.int64).tolist():
        content = []
        for c in row[1:]:
            if c < 0:
                break
            content.append(int(c))
        if row[0] < 0 or not content or tuple(content) in seen:
            continue
        if len(content) > MAX_ADDED_CHARS:
            raise TableError(f"added token id {row[0]} has {len(content)} chars > MAX_ADDED_CHARS = {MAX_ADDED_CHARS}")
        seen.add(tuple(content))
        words.append((content, int(row[0])))
    lengths = sorted({len(c) for c, _ in words}, reverse=True) or [1]
    spread = 2
    while True:
        table, window, salt = place_words(words, spread)
        if window <= MAX_ADDED_WINDOW:
            return table, window, salt, lengths
        spread *= 2
        if len(table) * 2 > MAX_ADDED_ROWS:
            raise TableError(f"no table of <= {MAX_ADDED_ROWS} rows places {len(words)} added tokens within "
                             f"{MAX_ADDED_WINDOW} rows of their homes")

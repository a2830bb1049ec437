"""BPE ops: the byte-pair-encoding model of a Hugging Face ``tokenizer.json`` as graph operators (issue 14).

The shared interface is tokspec (the tokenizer graph: UTF8_CHARS -> CHAR_MAP -> ADDED_TOKENS -> PRETOKENIZE ->
these ops). N = text positions (one per request byte), every tensor INT32 frac 0. A *slot* is one of the five
symbol places of a position: slot (i, 0) holds the virtual prefix char that pre-tokenization puts before char i,
slots (i, 1..4) the symbols of char i; ``s = 5 * i + k`` is the slot's flat index. -1 is "no symbol".

A *word-start slot* is (i, 0) when ``pretok[i, 0] == 1`` and (i, 1) when ``pretok[i, 1] == 1``; slot 0 also
starts a word (only holes can precede the first real word start, so this only makes the rule total). A word is
the run of slots from one word-start slot up to the next. ``next(s)`` is the first slot after s (flat order)
holding a symbol. Merges never cross words.

BPE_SYMBOLS (42)
    inputs: chars [N] (code points, -1 empty), pretok [N, 2], added [N], charids [N, 1], byte_ids [256].
    params: (mode, prefix_id, space_cp). out symbols [N, 5]:
    (i, 0) = prefix_id if pretok[i, 0] == 1 else -1. (i, 1..4): if added[i] >= 0, (added[i], -1, -1, -1) (an
    added token's start); else all -1 when added[i] == -2 (inside an added token) or chars[i] < 0; else, with
    c = chars[i]: mode 1 (SentencePiece) and charids[i, 0] > 0: (charids[i, 0] >> 2, -1, -1, -1) (CHAR_MAP's
    4 * id + 1 of a single-char piece); otherwise byte_ids[b] for each byte b of utf8(c') then -1, where
    c' = space_cp if mode 1 and c == 0x20 else c, and utf8 is the UTF-8 bit pattern for c' <= 0x10FFFF (1 to 4
    bytes; a surrogate takes the 3-byte pattern) and EF BF BD (U+FFFD) above. Total on every int32 input.
    Element (i, k) reads chars[i], pretok[i, 0], added[i], charids[i] and the whole byte_ids.

PAIR_RANK (43)
    inputs: symbols [N, 5], pretok [N, 2], merges [M, 4] (rows (left, right, rank, new_id), empty rows all -1).
    params: (window W, salt). out ranks [5N, 2]: ranks[s] = (rank, new_id) of the first row (left, right) ==
    (symbols[s], symbols[next(s)]) among rows h .. h + W - 1, h = pair_hash(left, right, salt) mod (M - W + 1),
    when s holds a symbol, next(s) exists and is not a word-start slot; (INF, -1) otherwise (INF = 2^31 - 1;
    also when no row of the window matches). Data-dependent ranges: symbols[s:] (whole from s), then
    pretok[q, 0..1] for q = next(s) // 5 (empty if s holds nothing or has no next), then the probe window of
    4W elements (empty unless the pair is looked up).

BPE_MERGE (44)
    inputs: symbols [N, 5], ranks [5N, 2], pretok [N, 2]. params: none. out symbols' [N, 5]: per word, its pairs
    are (s, next(s)) for the slots s of the word holding a symbol whose next(s) lies in the same word, ranked
    ranks[s, 0]; m = their least rank. If m < INF the pairs are walked left to right and each of rank m is
    selected unless its left slot is the right slot of the pair selected just before; a selected pair writes
    ranks[s, 1] at s and -1 at next(s). Every other slot is copied. One element reads all three inputs whole.

BPE_IDS (45)
    inputs: symbols [N, 5], frame [F] (optional: without it F = 0). params: (n_before, pad_id). out ids [T] (any
    shape): frame[:n_before] ++ (the symbols != -1 in flat order, the first T - F of them) ++ frame[n_before:]
    ++ pad_id up to T. One element reads symbols and frame whole.

Size caps (``check`` refuses larger nodes with ParamError): the worst one-step transaction of each op stays under
2,000,000 gas, measured with bench/bench_ops_gas.py (``bpe_cases``) at the caps: N <= MAX_POSITIONS for every op,
W <= MAX_WINDOW, M <= 2^24 rows, F <= MAX_FRAME.

Equality with tokenizers' BPE model (min rank first, leftmost first) holds when every merge (a, b) of rank r has
r greater than the rank of every merge whose output is a or b (then a merge never creates a pair of rank <= its
own, so all leftmost non-overlapping occurrences of a word's least-rank pair merge in one round):
``offchain/models/bpe_merges.py: check_rank_order`` refuses merges lists without it, and ``rounds_needed`` gives
the number of PAIR_RANK/BPE_MERGE rounds that finish every word of N positions.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from offchain.engine.errors import ParamError, ShapeMismatchError
from offchain.engine.graph import Node
from offchain.engine.ops.base import Op, Range, expect_inputs, expect_params, expect_shape
from offchain.engine.ops.codes import OpCode
from offchain.engine.ops.text import HASH_CHAR, HASH_MASK, HASH_NODE, MAX_CODE_POINT, _int32

#: Symbol slots per position: the virtual prefix char, then up to four symbols of the char (its UTF-8 bytes).
SLOTS = 5
#: Merge table row: (left, right, rank, new_id).
MERGE_ROW = 4
#: The rank of "no merge" (int32 max).
INF_RANK = 2**31 - 1
NO_SYMBOL = -1
#: ADDED_TOKENS' mark of a char covered by an added token that started earlier.
COVERED = -2
BYTE_TOKENS = 256
MODE_BYTE_LEVEL, MODE_SENTENCEPIECE = 0, 1
SPACE = 0x20
REPLACEMENT = 0xFFFD
#: Largest N (text positions) any BPE op takes: BPE_MERGE's step reads 17 N int32 operands (bench_ops_gas).
MAX_POSITIONS = 256
#: Largest merges probe window (rows) and table (rows).
MAX_WINDOW = 64
MAX_MERGE_ROWS = 1 << 24
#: Largest BPE_IDS frame (template tokens around the pieces).
MAX_FRAME = 64
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


def _positions(symbols_shape: tuple[int, ...]) -> int:
    """N of a symbols tensor [N, 5], refusing other shapes and N above the cap."""
    if len(symbols_shape) != 2 or symbols_shape[1] != SLOTS or symbols_shape[0] < 1:
        raise ShapeMismatchError(f"symbols must be [N, {SLOTS}] with N >= 1, got {symbols_shape}")
    n = symbols_shape[0]
    if n > MAX_POSITIONS:
        raise ParamError(f"N = {n} text positions exceeds MAX_POSITIONS = {MAX_POSITIONS} (the largest N whose "
                         f"one-step proof stays under 2,000,000 gas)")
    return n


def check_hashed_table(node: Node, what: str, row: int, max_window: int, max_rows: int) -> int:
    """The graph check shared by the ops that probe an open-addressed table (PAIR_RANK's merges, WORD_VOCAB's
    words): operands (symbols [N, 5], pretok [N, 2], table [M, row]) all INT32, params (window, salt) with
    1 <= window <= min(M, max_window), M <= max_rows, salt a uint32. Returns N."""
    expect_inputs(node, (3,))
    expect_params(node, 2)
    symbols, pretok, table = node.in_specs
    for name, spec in (("symbols", symbols), ("pretok", pretok), (what, table), ("output", node.output)):
        _int32(name, spec)
    n = _positions(symbols.shape)
    expect_shape("pretok", pretok.shape, (n, 2))
    if len(table.shape) != 2 or table.shape[1] != row:
        raise ShapeMismatchError(f"{what} must be [M, {row}], got {table.shape}")
    rows = table.shape[0]
    window, salt = node.params
    if not 1 <= window <= min(rows, max_window) or rows > max_rows:
        raise ParamError(f"window {window} must lie in [1, min(M = {rows}, {max_window})] and M <= {max_rows}")
    if not 0 <= salt <= HASH_MASK:
        raise ParamError(f"salt {salt} must lie in [0, 2^32 - 1]")
    return n


def pair_hash(left: int, right: int, salt: int) -> int:
    """31-bit hash of a symbol pair (the same mix as TRIE_MATCH's ``trie_child``): its probe window starts at
    ``pair_hash % (M - W + 1)``. Defined for every int32 pair (two's complement, mod 2^32)."""
    return ((left * HASH_NODE + right * HASH_CHAR + salt) & HASH_MASK) >> 1


def _pair_hash_array(left: np.ndarray, right: np.ndarray, salt: int) -> np.ndarray:
    # uint64 arithmetic wraps mod 2^64, which keeps the residue mod 2^32 the hash takes.
    with np.errstate(over="ignore"):
        mixed = (left.astype(np.int64).astype(np.uint64) * np.uint64(HASH_NODE)
                 + right.astype(np.int64).astype(np.uint64) * np.uint64(HASH_CHAR) + np.uint64(salt))
    return ((mixed & np.uint64(HASH_MASK)) >> np.uint64(1)).astype(np.int64)


# ------------------------------------------------------------------------------------------------ symbols


def utf8_pattern(cp: int) -> list[int]:
    """The UTF-8 bytes of ``cp`` >= 0: the bit pattern for its range (1 to 4 bytes; surrogates take the 3-byte
    pattern, as no well-formed text holds one), U+FFFD's bytes above U+10FFFF."""
    if cp > MAX_CODE_POINT:
        cp = REPLACEMENT
    if cp < 0x80:
        return [cp]
    if cp < 0x800:
        return [0xC0 | cp >> 6, 0x80 | cp & 0x3F]
    if cp < 0x10000:
        return [0xE0 | cp >> 12, 0x80 | (cp >> 6) & 0x3F, 0x80 | cp & 0x3F]
    return [0xF0 | cp >> 18, 0x80 | (cp >> 12) & 0x3F, 0x80 | (cp >> 6) & 0x3F, 0x80 | cp & 0x3F]


def initial_symbol(cp: int, prefix: int, added: int, charid: int, byte_ids: Sequence[int],
                   params: Sequence[int], k: int) -> int:
    """Slot k of one position (BPE_SYMBOLS): its char ``cp``, ``pretok[i, 0]``, ``added[i]``, ``charids[i]``."""
    mode, prefix_id, space_cp = params
    if k == 0:
        return prefix_id if prefix == 1 else NO_SYMBOL
    if added >= 0:
        return added if k == 1 else NO_SYMBOL
    if added == COVERED or cp < 0:
        return NO_SYMBOL
    if mode == MODE_SENTENCEPIECE:
        if charid > 0:
            return charid >> 2 if k == 1 else NO_SYMBOL
        if cp == SPACE:
            cp = space_cp
    pattern = utf8_pattern(cp)
    return int(byte_ids[pattern[k - 1]]) if k - 1 < len(pattern) else NO_SYMBOL


class BpeSymbols(Op):
    """Chars, pre-tokenization, added tokens and char ids -> initial symbols [N, 5]."""

    code = OpCode.BPE_SYMBOLS
    name = "BPE_SYMBOLS"

    def check(self, node: Node) -> None:
        expect_inputs(node, (5,))
        expect_params(node, 3)
        chars, pretok, added, charids, byte_ids = node.in_specs
        for what, spec in (("chars", chars), ("pretok", pretok), ("added", added), ("charids", charids),
                           ("byte_ids", byte_ids), ("output", node.output)):
            _int32(what, spec)
        n = _positions(node.output.shape)
        expect_shape("chars", chars.shape, (n,))
        expect_shape("pretok", pretok.shape, (n, 2))
        expect_shape("added", added.shape, (n,))
        expect_shape("charids", charids.shape, (n, 1))
        expect_shape("byte_ids", byte_ids.shape, (BYTE_TOKENS,))
        mode, prefix_id, space_cp = node.params
        if mode not in (MODE_BYTE_LEVEL, MODE_SENTENCEPIECE):
            raise ParamError(f"mode {mode} must be {MODE_BYTE_LEVEL} (byte-level) or {MODE_SENTENCEPIECE} "
                             f"(SentencePiece)")
        if not INT32_MIN <= prefix_id <= INT32_MAX:
            raise ParamError(f"prefix_id {prefix_id} is not an int32")
        if not 0 <= space_cp <= MAX_CODE_POINT:
            raise ParamError(f"space_cp {space_cp} is not a code point")

    def forward(self, inputs: Sequence[np.ndarray], node: Node) -> np.ndarray:
        chars, pretok, added, charids, byte_ids = (np.asarray(a).reshape(-1).tolist() for a in inputs)
        n = len(chars)
        out = [initial_symbol(chars[i], pretok[2 * i], added[i], charids[i], byte_ids, node.params, k)
               for i in range(n) for k in range(SLOTS)]
        return np.array(out, dtype=np.int32).reshape(n, SLOTS)

    def operand_ranges(self, node: Node, out_index: int, inputs=None) -> list[Range]:
        i = out_index // SLOTS
        return [(0, i, 1), (1, 2 * i, 1), (2, i, 1), (3, i, 1), (4, 0, BYTE_TOKENS)]

    def element(self, node: Node, operands: Sequence[Sequence[int]], out_index: int) -> int:
        (cp,), (prefix,), (added,), (charid,), byte_ids = operands
        return initial_symbol(cp, prefix, added, charid, byte_ids, node.params, out_index % SLOTS)


# ------------------------------------------------------------------------------------------------ pair rank


def is_word_start(pretok: Sequence[int], slot: int) -> bool:
    """Whether ``slot`` starts a word: (i, 0) with pretok[i, 0] == 1 or (i, 1) with pretok[i, 1] == 1."""
    i, k = divmod(slot, SLOTS)
    return k < 2 and pretok[2 * i + k] == 1


def next_symbol(symbols: Sequence[int], s: int) -> int:
    """The first slot after ``s`` holding a symbol, -1 if none (``symbols``: flat, indexed from slot 0)."""
    q = s + 1
    while q < len(symbols) and symbols[q] == NO_SYMBOL:
        q += 1
    return q if q < len(symbols) else -1


def find_merge(window: Sequence[int], left: int, right: int) -> tuple[int, int]:
    """(rank, new_id) of the first row of ``window`` (flat rows of 4) that is the pair; (INF, -1) if none."""
    for r in range(0, len(window) - MERGE_ROW + 1, MERGE_ROW):
        if window[r] == left and window[r + 1] == right:
            return int(window[r + 2]), int(window[r + 3])
    return INF_RANK, NO_SYMBOL


def _start_mask(pretok: np.ndarray, n: int) -> np.ndarray:
    """Word-start flag per slot [5N] (slot 0 included, for BPE_MERGE; PAIR_RANK never asks about slot 0)."""
    p = np.asarray(pretok).reshape(n, 2)
    start = np.zeros((n, SLOTS), dtype=bool)
    start[:, :2] = p == 1
    return start.reshape(-1)


def _pairs(symbols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(s, next(s)) for every slot s holding a symbol that has a next one, as two arrays of flat slots."""
    filled = np.flatnonzero(symbols != NO_SYMBOL)
    return filled[:-1], filled[1:]


class PairRank(Op):
    """Symbols -> (rank, new_id) of the merge of each symbol with the next one of its word."""

    code = OpCode.PAIR_RANK
    name = "PAIR_RANK"
    data_dependent = True

    def check(self, node: Node) -> None:
        n = check_hashed_table(node, "merges", MERGE_ROW, MAX_WINDOW, MAX_MERGE_ROWS)
        expect_shape("output", node.output.shape, (SLOTS * n, 2))

    @staticmethod
    def _homes(node: Node) -> int:
        return node.in_specs[2].shape[0] - node.params[0] + 1

    def forward(self, inputs: Sequence[np.ndarray], node: Node) -> np.ndarray:
        symbols = np.asarray(inputs[0]).reshape(-1).astype(np.int64)
        n = symbols.size // SLOTS
        table = np.asarray(inputs[2]).astype(np.int64)
        window, salt = node.params
        out = np.empty((symbols.size, 2), dtype=np.int64)
        out[:, 0], out[:, 1] = INF_RANK, NO_SYMBOL
        left, right = _pairs(symbols)
        keep = ~_start_mask(inputs[1], n)[right]
        left, right = left[keep], right[keep]
        a, b = symbols[left], symbols[right]
        home = _pair_hash_array(a, b, salt) % self._homes(node)
        found = np.zeros(left.size, dtype=bool)
        for j in range(window):
            rows = table[home + j]
            hit = ~found & (rows[:, 0] == a) & (rows[:, 1] == b)
            out[left[hit]] = rows[hit][:, 2:4]
            found |= hit
        return out.astype(np.int32)

    def operand_ranges(self, node: Node, out_index: int, inputs=None) -> list[Range]:
        if inputs is None:
            raise ShapeMismatchError("PAIR_RANK operand ranges need the symbols and pretok (inputs)")
        symbols = np.asarray(inputs[0]).reshape(-1)
        s = out_index // 2
        ranges: list[Range] = [(0, s, symbols.size - s)]
        q = next_symbol([int(v) for v in symbols], s) if symbols[s] != NO_SYMBOL else -1
        if q < 0:
            return ranges + [(1, 0, 0), (2, 0, 0)]
        pos = q // SLOTS
        ranges.append((1, 2 * pos, 2))
        pretok = [int(v) for v in np.asarray(inputs[1]).reshape(-1)[2 * pos:2 * pos + 2]]
        if q % SLOTS < 2 and pretok[q % SLOTS] == 1:
            return ranges + [(2, 0, 0)]
        window, salt = node.params
        home = pair_hash(int(symbols[s]), int(symbols[q]), salt) % self._homes(node)
        return ranges + [(2, home * MERGE_ROW, window * MERGE_ROW)]

    def element(self, node: Node, operands: Sequence[Sequence[int]], out_index: int) -> int:
        tail, pretok, window = operands
        column = out_index % 2
        if len(window) == 0:
            return (INF_RANK, NO_SYMBOL)[column]
        q = next_symbol(tail, 0)
        return find_merge(window, int(tail[0]), int(tail[q]))[column]


# ------------------------------------------------------------------------------------------------ merge


def merged_slot(symbols: Sequence[int], ranks: Sequence[int], pretok: Sequence[int], t: int) -> int:
    """Slot t after one BPE_MERGE round (flat symbols [5N], ranks [10N], pretok [2N])."""
    size = len(symbols)
    ws = t
    while ws > 0 and not is_word_start(pretok, ws):
        ws -= 1
    we = t + 1
    while we < size and not is_word_start(pretok, we):
        we += 1
    pairs: list[tuple[int, int]] = []
    s = ws if symbols[ws] != NO_SYMBOL else next_symbol(symbols, ws)
    while 0 <= s < we:
        q = next_symbol(symbols, s)
        if q < 0 or q >= we:
            break
        pairs.append((s, q))
        s = q
    m = min((ranks[2 * s] for s, _ in pairs), default=INF_RANK)
    if m >= INF_RANK:
        return symbols[t]
    previous_right = -1
    for s, q in pairs:
        if s > t:
            break
        if ranks[2 * s] == m and s != previous_right:
            if s == t:
                return ranks[2 * s + 1]
            if q == t:
                return NO_SYMBOL
            previous_right = q
    return symbols[t]


class BpeMerge(Op):
    """One BPE round: in every word, merge each leftmost non-overlapping occurrence of its least-rank pair."""

    code = OpCode.BPE_MERGE
    name = "BPE_MERGE"

    def check(self, node: Node) -> None:
        expect_inputs(node, (3,))
        expect_params(node, 0)
        symbols, ranks, pretok = node.in_specs
        for what, spec in (("symbols", symbols), ("ranks", ranks), ("pretok", pretok), ("output", node.output)):
            _int32(what, spec)
        n = _positions(symbols.shape)
        expect_shape("ranks", ranks.shape, (SLOTS * n, 2))
        expect_shape("pretok", pretok.shape, (n, 2))
        expect_shape("output", node.output.shape, (n, SLOTS))

    def forward(self, inputs: Sequence[np.ndarray], node: Node) -> np.ndarray:
        symbols = np.asarray(inputs[0]).reshape(-1).astype(np.int64)
        ranks = np.asarray(inputs[1]).reshape(-1, 2).astype(np.int64)
        n = symbols.size // SLOTS
        start = _start_mask(inputs[2], n)
        start[0] = True
        word = np.cumsum(start) - 1
        left, right = _pairs(symbols)
        out = symbols.copy()
        if left.size:
            inword = word[left] == word[right]
            rank = np.where(inword, ranks[left, 0], INF_RANK)
            least = np.full(int(word[-1]) + 1, INF_RANK, dtype=np.int64)
            np.minimum.at(least, word[left], rank)
            m = least[word[left]]
            cand = inword & (rank == m) & (m < INF_RANK)
            # Runs of consecutive candidate pairs share slots; the leftmost-first walk takes every other one.
            idx = np.arange(cand.size)
            run_start = np.maximum.accumulate(np.where(cand & ~np.r_[False, cand[:-1]], idx, 0))
            sel = cand & ((idx - run_start) % 2 == 0)
            out[left[sel]] = ranks[left[sel], 1]
            out[right[sel]] = NO_SYMBOL
        return out.astype(np.int32).reshape(n, SLOTS)

    def operand_ranges(self, node: Node, out_index: int, inputs=None) -> list[Range]:
        n = node.in_specs[0].shape[0]
        return [(0, 0, SLOTS * n), (1, 0, 2 * SLOTS * n), (2, 0, 2 * n)]

    def element(self, node: Node, operands: Sequence[Sequence[int]], out_index: int) -> int:
        return merged_slot(operands[0], operands[1], operands[2], out_index)


# ------------------------------------------------------------------------------------------------ ids


def framed_ids(symbols: Sequence[int], frame: Sequence[int], params: Sequence[int], length: int, t: int) -> int:
    """Element t of frame[:n_before] ++ pieces[:T - F] ++ frame[n_before:] ++ [pad_id] * ..."""
    n_before, pad_id = params
    f = len(frame)
    if t < n_before:
        return int(frame[t])
    want = t - n_before   # the piece this element is, if there are that many
    room = length - f
    count = 0
    for v in symbols:
        if count >= room:
            break
        if v != NO_SYMBOL:
            if count == want:
                return int(v)
            count += 1
    if t < f + count:
        return int(frame[t - count])
    return pad_id


class BpeIds(Op):
    """Final symbols -> the post-processor's framed, padded ids [T]."""

    code = OpCode.BPE_IDS
    name = "BPE_IDS"

    def check(self, node: Node) -> None:
        expect_inputs(node, (1, 2))
        expect_params(node, 2)
        for what, spec in zip(("symbols", "frame"), node.in_specs):
            _int32(what, spec)
        _int32("output", node.output)
        _positions(node.in_specs[0].shape)
        f = self._frame(node)
        if len(node.in_specs) == 2:
            if len(node.in_specs[1].shape) != 1:
                raise ShapeMismatchError(f"frame must be [F], got {node.in_specs[1].shape}")
            if not 1 <= f <= MAX_FRAME:
                raise ParamError(f"frame of {f} ids must hold 1 to MAX_FRAME = {MAX_FRAME} (leave it out for none)")
        n_before, pad_id = node.params
        if not 0 <= n_before <= f:
            raise ParamError(f"n_before {n_before} must lie in [0, F = {f}]")
        if not INT32_MIN <= pad_id <= INT32_MAX:
            raise ParamError(f"pad_id {pad_id} is not an int32")
        if node.output.size < f:
            raise ShapeMismatchError(f"output of {node.output.size} ids leaves no room for the frame of {f}")

    @staticmethod
    def _frame(node: Node) -> int:
        return node.in_specs[1].size if len(node.in_specs) == 2 else 0

    def forward(self, inputs: Sequence[np.ndarray], node: Node) -> np.ndarray:
        symbols = np.asarray(inputs[0]).reshape(-1)
        frame = np.asarray(inputs[1]).reshape(-1) if len(inputs) == 2 else np.zeros(0, dtype=np.int32)
        n_before, pad_id = node.params
        length = node.output.size
        pieces = symbols[symbols != NO_SYMBOL][:length - frame.size]
        ids = np.full(length, pad_id, dtype=np.int64)
        body = np.concatenate([frame[:n_before], pieces, frame[n_before:]]).astype(np.int64)
        ids[:body.size] = body
        return ids.astype(np.int32).reshape(node.output.shape)

    def operand_ranges(self, node: Node, out_index: int, inputs=None) -> list[Range]:
        ranges: list[Range] = [(0, 0, node.in_specs[0].size)]
        return ranges + [(1, 0, self._frame(node))] if len(node.in_specs) == 2 else ranges

    def element(self, node: Node, operands: Sequence[Sequence[int]], out_index: int) -> int:
        frame = operands[1] if len(operands) == 2 else []
        return framed_ids(operands[0], frame, node.params, node.output.size, out_index)

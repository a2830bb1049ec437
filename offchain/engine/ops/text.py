"""Text ops: UTF-8 bytes in, WordPiece token ids out, every step disputable element by element.

A text model's input tensor is its request's UTF-8 bytes (INT8, zero-padded); four ops turn them into the
token ids the encoder embeds, and each output element has a one-step check that reads a bounded, proven part
of its operands (DESIGN.md section 4), like every other op. The tokenizer is therefore part of the committed
graph, not trusted off-chain code. The tables (Unicode normalisation, the vocabulary trie) are weight tensors
committed under the weights root; ``offchain/models/text_tables.py`` builds them from ``vocab.txt`` and
Python's Unicode data and documents why the composition equals ``offchain/models/wordpiece.py``.

Stream values: the normalised text is a stream of int32 slots ``v = cp * 4 + cls`` where ``cls`` is
0 = empty slot (nothing; ``v`` is 0), 1 = word character, 2 = separator (U+0020 SPACE),
3 = punctuation (a word of its own). ``cp`` is a code point.

UTF8_DECODE (22)
    inputs: bytes [N] (INT8, frac 0; byte value = q & 0xFF). params: none. out [N] INT32:
    out[i] = the code point of the well-formed UTF-8 sequence starting at byte i (Unicode Table 3-7: no
    overlongs, no surrogates, nothing above U+10FFFF, continuation bytes 80..BF, all within the tensor), or
    -1 if byte i starts none (a continuation byte, a byte that cannot lead, a broken or truncated sequence).
    Equivalent to Python's ``decode('utf-8', 'replace')`` once U+FFFD is dropped, which the char map does.
    One element reads bytes i .. min(i + 4, N) - 1.

CHAR_MAP (23)
    inputs: cps [N] (INT32), stage1 [P] (INT32 block numbers), stage2 [R, K] (INT32 stream values).
    params: (shift,). out [N, K] INT32: for c = cps[i] in [0, 0x10FFFF], with
    e = stage2[(stage1[c >> shift] << shift) + (c & (2^shift - 1)), k]:
    out[i, k] = 0 if e == 0, else 4 * ((e >> 3) + ((e >> 2) & 1) * c) + (e & 3)
    (an entry is a class plus a code point that is absolute, or relative to c when bit 2 is set, so blocks
    of code points that map alike, e.g. to themselves or to their lowercase, share one stage-2 block);
    out[i, k] = 0 for any other c. Data-dependent: ranges are cps[i], then stage1[c >> shift], then the
    stage2 element; a code point outside the Unicode range reads two empty ranges.

TRIE_MATCH (24)
    inputs: stream [S] (any shape, INT32 stream values), trie [M, 3] (INT32 rows (parent, char, token): the edge
    from node ``parent`` by code point ``char`` and the token id of the node it reaches, -1 if that prefix is not
    a piece; parent -1 marks an empty row). params: (word_root, cont_root, window W, depth D, salt).
    out [S, 2] INT32: for slot i, (end, token) of the longest vocabulary piece that starts at i, found by
    walking the trie: the walk starts at ``word_root`` when i starts a word (cls 3, or the previous non-empty
    slot is a separator or punctuation or there is none) and at ``cont_root`` ("##" pieces) otherwise, and
    follows the word's characters (the punctuation character alone; else the class-1 slots from i, skipping
    empty ones, up to the first separator or punctuation), at most D + 1 of them, while an edge exists.
    ``end`` = one past the slot of the last character of the longest accepted prefix, ``token`` its id;
    (i, -1) when no prefix is a piece or slot i holds no word character.
    Node ids are hashes of the path: child(n, c) = ((n * 2654435761 + c * 2246822519 + salt) mod 2^32) >> 1,
    so the node before each character follows from the stream alone. The edge (n, c) is looked up in rows
    h .. h + W - 1 with h = child(n, c) mod (M - W + 1): the row whose (parent, char) is (n, c), none if no
    row matches. Data-dependent ranges: the whole stream, then D + 1 probe windows of 3W elements, one per
    character of the path (empty past the word's end); each window's position depends only on the stream.

WORDPIECE (25)
    inputs: stream [S], match [S, 2] (TRIE_MATCH's output). params: (cls, sep, pad, unk, max_word_chars).
    out [T] (any shape, INT32): ``[cls] pieces[:T-2] [sep] [pad]...``. pieces: for each word in stream order
    (a punctuation slot alone; else a maximal run of class-1 and empty slots), [unk] when it has more than
    ``max_word_chars`` characters; else follow match from the word's first slot (next piece at the first
    non-empty slot at or after ``end``) and take every token, or one [unk] for the whole word if some piece
    has token -1. One element reads both inputs whole.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from offchain.engine.dtypes import DType
from offchain.engine.errors import DtypeMismatchError, GraphError, ParamError, ShapeMismatchError
from offchain.engine.graph import Node
from offchain.engine.ops.base import Op, Range, expect_inputs, expect_params, expect_shape
from offchain.engine.ops.codes import OpCode

MAX_CODE_POINT = 0x10FFFF
CLS_EMPTY, CLS_WORD, CLS_SPACE, CLS_PUNCT = 0, 1, 2, 3
HASH_NODE, HASH_CHAR, HASH_MASK = 2654435761, 2246822519, 0xFFFFFFFF
#: Trie row columns: (parent node, code point, token of the child or -1).
ROW = 3


def _int32(what: str, spec) -> None:
    if spec.dtype != DType.INT32 or spec.frac != 0:
        raise DtypeMismatchError(f"{what} must be INT32 with frac 0, got {spec.dtype.name}/f{spec.frac}")


# --------------------------------------------------------------------------------------------------- UTF-8


def decode_at(b: Sequence[int]) -> int:
    """The code point of the well-formed UTF-8 sequence at the start of ``b`` (bytes as ints; signed int8
    values are read as ``& 0xFF``), or -1. ``b`` holds at most the next 4 bytes of the tensor."""
    n = len(b)
    if n == 0:
        return -1
    b0 = b[0] & 0xFF
    if b0 < 0x80:
        return b0
    if 0xC2 <= b0 <= 0xDF:
        need, lo, hi, cp = 1, 0x80, 0xBF, b0 & 0x1F
    elif 0xE0 <= b0 <= 0xEF:
        need, cp = 2, b0 & 0x0F
        lo, hi = (0xA0, 0xBF) if b0 == 0xE0 else (0x80, 0x9F) if b0 == 0xED else (0x80, 0xBF)
    elif 0xF0 <= b0 <= 0xF4:
        need, cp = 3, b0 & 0x07
        lo, hi = (0x90, 0xBF) if b0 == 0xF0 else (0x80, 0x8F) if b0 == 0xF4 else (0x80, 0xBF)
    else:
        return -1
    if n < 1 + need:
        return -1
    for j in range(1, 1 + need):
        bj = b[j] & 0xFF
        if not (lo <= bj <= hi if j == 1 else 0x80 <= bj <= 0xBF):
            return -1
        cp = (cp << 6) | (bj & 0x3F)
    return cp


class Utf8Decode(Op):
    """Bytes -> code point per byte position (-1 where no well-formed sequence starts)."""

    code = OpCode.UTF8_DECODE
    name = "UTF8_DECODE"

    def check(self, node: Node) -> None:
        expect_inputs(node, (1,))
        expect_params(node, 0)
        (src,) = node.in_specs
        if src.dtype != DType.INT8 or src.frac != 0:
            raise DtypeMismatchError(f"bytes must be INT8 with frac 0, got {src.dtype.name}/f{src.frac}")
        _int32("output", node.output)
        expect_shape("output", node.output.shape, (src.size,))

    def forward(self, inputs: Sequence[np.ndarray], node: Node) -> np.ndarray:
        b = [int(v) & 0xFF for v in np.asarray(inputs[0]).reshape(-1)]
        return np.array([decode_at(b[i:i + 4]) for i in range(len(b))], dtype=np.int32)

    def operand_ranges(self, node: Node, out_index: int, inputs=None) -> list[Range]:
        n = node.in_specs[0].size
        return [(0, out_index, min(4, n - out_index))]

    def element(self, node: Node, operands: Sequence[Sequence[int]], out_index: int) -> int:
        return decode_at(operands[0])


# ------------------------------------------------------------------------------------------------ char map


def char_value(e: int, cp: int) -> int:
    """Stream value of stage-2 entry ``e`` for code point ``cp`` (see CHAR_MAP)."""
    if e == 0:
        return 0
    return 4 * ((e >> 3) + ((e >> 2) & 1) * cp) + (e & 3)


def char_entry(value: int, cp: int) -> int:
    """The stage-2 entry for stream value ``value`` of code point ``cp``: relative unless it is SPACE."""
    if value == 0:
        return 0
    out_cp, cls = value >> 2, value & 3
    if out_cp == 0x20:
        return 8 * out_cp + cls
    return 8 * (out_cp - cp) + 4 + cls


class CharMap(Op):
    """Code point -> K normalised stream values through a two-stage table."""

    code = OpCode.CHAR_MAP
    name = "CHAR_MAP"
    data_dependent = True

    def check(self, node: Node) -> None:
        expect_inputs(node, (3,))
        expect_params(node, 1)
        cps, stage1, stage2 = node.in_specs
        for what, spec in (("code points", cps), ("stage1", stage1), ("stage2", stage2), ("output", node.output)):
            _int32(what, spec)
        if len(stage1.shape) != 1 or len(stage2.shape) != 2 or stage2.shape[1] == 0:
            raise ShapeMismatchError(f"tables must be stage1 [P] and stage2 [R, K], got {stage1.shape}, {stage2.shape}")
        shift = node.params[0]
        if not 0 <= shift <= 20 or stage1.shape[0] != (MAX_CODE_POINT >> shift) + 1:
            raise ParamError(f"shift {shift} needs stage1 of {(MAX_CODE_POINT >> shift) + 1 if 0 <= shift <= 20 else '?'}"
                             f" entries, got {stage1.shape[0]}")
        if stage2.shape[0] % (1 << shift):
            raise ShapeMismatchError(f"stage2 rows {stage2.shape[0]} are not whole blocks of {1 << shift}")
        expect_shape("output", node.output.shape, (cps.size, stage2.shape[1]))

    @staticmethod
    def _stage2_row(node: Node, cp: int, block: int) -> int:
        shift = node.params[0]
        row = (block << shift) + (cp & ((1 << shift) - 1))
        if block < 0 or row >= node.in_specs[2].shape[0]:
            raise ParamError(f"stage1 block {block} for code point {cp} lies outside stage2")
        return row

    def forward(self, inputs: Sequence[np.ndarray], node: Node) -> np.ndarray:
        cps, stage1, stage2 = (np.asarray(a) for a in inputs)
        cps = cps.reshape(-1).astype(np.int64)
        valid = (cps >= 0) & (cps <= MAX_CODE_POINT)
        safe = np.where(valid, cps, 0)
        shift = node.params[0]
        blocks = stage1.astype(np.int64)[safe >> shift]
        rows = (blocks << shift) + (safe & ((1 << shift) - 1))
        if np.any(valid & ((blocks < 0) | (rows >= stage2.shape[0]))):
            raise ParamError("a stage1 block lies outside stage2")
        e = stage2[np.where(valid, rows, 0)].astype(np.int64)
        out = 4 * ((e >> 3) + ((e >> 2) & 1) * safe[:, None]) + (e & 3)
        out[(e == 0) | ~valid[:, None]] = 0
        return out.astype(np.int32)

    def input_domain(self, node: Node, slot: int) -> tuple[int, int] | None:
        # Any code point has a result (none outside the Unicode range); a stage-1 block must lie in stage 2.
        return (0, (node.in_specs[2].shape[0] >> node.params[0]) - 1) if slot == 1 else None

    def operand_ranges(self, node: Node, out_index: int, inputs=None) -> list[Range]:
        if inputs is None:
            raise ShapeMismatchError("CHAR_MAP operand ranges need the code points (inputs)")
        k_count = node.in_specs[2].shape[1]
        pos, k = divmod(out_index, k_count)
        cp = int(np.asarray(inputs[0]).reshape(-1)[pos])
        if not 0 <= cp <= MAX_CODE_POINT:
            return [(0, pos, 1), (1, 0, 0), (2, 0, 0)]
        shift = node.params[0]
        block = int(np.asarray(inputs[1]).reshape(-1)[cp >> shift])
        return [(0, pos, 1), (1, cp >> shift, 1), (2, self._stage2_row(node, cp, block) * k_count + k, 1)]

    def element(self, node: Node, operands: Sequence[Sequence[int]], out_index: int) -> int:
        if len(operands[2]) == 0:
            return 0
        return char_value(int(operands[2][0]), int(operands[0][0]))


# ---------------------------------------------------------------------------------------------- trie match


def trie_child(node_id: int, cp: int, salt: int) -> int:
    """Id of the trie node reached from ``node_id`` by code point ``cp``: a 31-bit hash of the path, so the
    node after k characters follows from the characters alone (the table builder picks a salt that keeps the
    ids of all vocabulary prefixes distinct)."""
    return ((node_id * HASH_NODE + cp * HASH_CHAR + salt) & HASH_MASK) >> 1


def trie_home(node_id: int, cp: int, salt: int, homes: int) -> int:
    """First row of the probe window of the edge (node, cp)."""
    return trie_child(node_id, cp, salt) % homes


def word_start(stream: Sequence[int], i: int) -> bool:
    """True when a piece starting at slot i starts its word (see TRIE_MATCH)."""
    if stream[i] & 3 == CLS_PUNCT:
        return True
    j = i - 1
    while j >= 0 and stream[j] & 3 == CLS_EMPTY:
        j -= 1
    return j < 0 or stream[j] & 3 in (CLS_SPACE, CLS_PUNCT)


def next_char(stream: Sequence[int], i: int, pos: int) -> int:
    """Slot of the next character of the word that starts its walk at slot i, at or after ``pos``; -1 if none."""
    if stream[i] & 3 == CLS_PUNCT:
        return i if pos == i else -1
    q = pos
    while q < len(stream) and stream[q] & 3 == CLS_EMPTY:
        q += 1
    if q == len(stream) or stream[q] & 3 != CLS_WORD:
        return -1
    return q


def walk_path(stream: Sequence[int], i: int, params: Sequence[int]) -> list[tuple[int, int, int]]:
    """The path slot i's walk may take: (slot, code point, node before it) for up to depth + 1 characters of the
    word, following the characters only. Empty when slot i holds no word character."""
    if stream[i] & 3 not in (CLS_WORD, CLS_PUNCT):
        return []
    word_root, cont_root, _, depth, salt = params
    node_id = word_root if word_start(stream, i) else cont_root
    path = []
    pos = i
    while len(path) < depth + 1:
        q = next_char(stream, i, pos)
        if q < 0:
            break
        cp = stream[q] >> 2
        path.append((q, cp, node_id))
        node_id = trie_child(node_id, cp, salt)
        pos = q + 1
    return path


def find_edge(window: Sequence[int], node_id: int, cp: int) -> int | None:
    """Token of the row of ``window`` (flat rows of ROW) whose (parent, char) is (node, cp); None if no row."""
    for r in range(0, len(window) - ROW + 1, ROW):
        if window[r] == node_id and window[r + 1] == cp:
            return int(window[r + 2])
    return None


def walk(path: Sequence[tuple[int, int, int]], i: int, windows: Sequence[Sequence[int]]) -> tuple[int, int]:
    """(end, token) of slot i along its ``walk_path``, given the probe window of each step (``windows[k]``)."""
    best = (i, -1)
    for k, (q, cp, node_id) in enumerate(path):
        token = find_edge(windows[k], node_id, cp)
        if token is None:
            break
        if token >= 0:
            best = (q + 1, token)
    return best


class TrieMatch(Op):
    """Longest vocabulary piece starting at each stream slot."""

    code = OpCode.TRIE_MATCH
    name = "TRIE_MATCH"
    data_dependent = True

    def check(self, node: Node) -> None:
        expect_inputs(node, (2,))
        expect_params(node, 5)
        stream, trie = node.in_specs
        for what, spec in (("stream", stream), ("trie", trie), ("output", node.output)):
            _int32(what, spec)
        if len(trie.shape) != 2 or trie.shape[1] != ROW:
            raise ShapeMismatchError(f"trie must be [M, {ROW}], got {trie.shape}")
        word_root, cont_root, window, depth, salt = node.params
        if not 1 <= window <= trie.shape[0] or not 0 <= depth <= 64 or not 0 <= salt <= HASH_MASK:
            raise ParamError(f"window {window}, depth {depth} or salt {salt} out of range for {trie.shape[0]} rows")
        if not (0 <= word_root <= HASH_MASK >> 1 and 0 <= cont_root <= HASH_MASK >> 1):
            raise ParamError(f"roots {word_root}, {cont_root} must be 31-bit node ids")
        expect_shape("output", node.output.shape, (stream.size, 2))

    def _homes(self, node: Node) -> int:
        return node.in_specs[1].shape[0] - node.params[2] + 1

    def forward(self, inputs: Sequence[np.ndarray], node: Node) -> np.ndarray:
        stream = [int(v) for v in np.asarray(inputs[0]).reshape(-1)]
        trie = np.asarray(inputs[1])
        window, salt, homes = node.params[2], node.params[4], self._homes(node)
        cache: dict[tuple[int, int], list[int]] = {}

        def window_of(node_id: int, cp: int) -> list[int]:
            if (node_id, cp) not in cache:
                h = trie_home(node_id, cp, salt, homes)
                cache[(node_id, cp)] = [int(v) for v in trie[h:h + window].reshape(-1)]
            return cache[(node_id, cp)]

        out = []
        for i in range(len(stream)):
            path = walk_path(stream, i, node.params)
            out.append(walk(path, i, [window_of(n, cp) for _, cp, n in path]))
        return np.array(out, dtype=np.int32).reshape(len(stream), 2)

    def operand_ranges(self, node: Node, out_index: int, inputs=None) -> list[Range]:
        if inputs is None:
            raise ShapeMismatchError("TRIE_MATCH operand ranges need the stream (inputs)")
        stream = [int(v) for v in np.asarray(inputs[0]).reshape(-1)]
        window, depth, salt = node.params[2], node.params[3], node.params[4]
        path = walk_path(stream, out_index // 2, node.params)
        ranges: list[Range] = [(0, 0, len(stream))]
        for k in range(depth + 1):
            if k < len(path):
                _, cp, node_id = path[k]
                ranges.append((1, trie_home(node_id, cp, salt, self._homes(node)) * ROW, window * ROW))
            else:
                ranges.append((1, 0, 0))
        return ranges

    def element(self, node: Node, operands: Sequence[Sequence[int]], out_index: int) -> int:
        i, column = divmod(out_index, 2)
        return walk(walk_path(operands[0], i, node.params), i, operands[1:])[column]


# ---------------------------------------------------------------------------------------------- wordpiece


def wordpiece_ids(stream: Sequence[int], match: Sequence[int], params: Sequence[int], length: int,
                  stop_at: int | None = None) -> list[int]:
    """The framed ids (``length`` of them, or the first ``stop_at + 1`` when given)."""
    cls_id, sep_id, pad_id, unk_id, max_chars = params
    room = length - 2
    want = length if stop_at is None else stop_at + 1
    pieces: list[int] = []
    n = len(stream)
    p = 0
    while p < n and len(pieces) < min(room, want):
        c = stream[p] & 3
        if c in (CLS_EMPTY, CLS_SPACE):
            p += 1
            continue
        if c == CLS_PUNCT:
            w_end, chars = p + 1, 1
        else:
            w_end, chars = p, 0
            while w_end < n and stream[w_end] & 3 in (CLS_EMPTY, CLS_WORD):
                chars += stream[w_end] & 3 == CLS_WORD
                w_end += 1
        if chars > max_chars:
            pieces.append(unk_id)
        else:
            word: list[int] = []
            q = p
            while q < w_end:
                end, token = match[2 * q], match[2 * q + 1]
                if token < 0:
                    word = [unk_id]
                    break
                word.append(token)
                if end <= q:
                    raise ParamError(f"match at slot {q} ends at {end}, not after it")
                q = end
                while q < w_end and stream[q] & 3 == CLS_EMPTY:
                    q += 1
            pieces.extend(word)
        p = w_end
    pieces = pieces[:room]
    ids = [cls_id] + pieces + [sep_id] + [pad_id] * (room - len(pieces))
    return ids[:want]


class WordPiece(Op):
    """Stream + longest matches -> framed, padded token ids."""

    code = OpCode.WORDPIECE
    name = "WORDPIECE"

    def check(self, node: Node) -> None:
        expect_inputs(node, (2,))
        expect_params(node, 5)
        stream, match = node.in_specs
        for what, spec in (("stream", stream), ("match", match), ("output", node.output)):
            _int32(what, spec)
        expect_shape("match", match.shape, (stream.size, 2))
        if node.output.size < 2:
            raise ShapeMismatchError(f"output {node.output.shape} leaves no room for [CLS] and [SEP] (need >= 2)")
        if node.params[4] < 1:
            raise ParamError(f"max_word_chars {node.params[4]} must be >= 1")

    def forward(self, inputs: Sequence[np.ndarray], node: Node) -> np.ndarray:
        stream = [int(v) for v in np.asarray(inputs[0]).reshape(-1)]
        match = [int(v) for v in np.asarray(inputs[1]).reshape(-1)]
        ids = wordpiece_ids(stream, match, node.params, node.output.size)
        return np.array(ids, dtype=np.int32).reshape(node.output.shape)

    def input_domain(self, node: Node, slot: int) -> tuple[int, int] | None:
        if slot == 1:
            raise GraphError("WORDPIECE refuses match tensors with a piece that does not end after it starts; no "
                             "value range describes the valid ones, so its match operand must be a TRIE_MATCH "
                             "output, not the request input")
        return None

    def operand_ranges(self, node: Node, out_index: int, inputs=None) -> list[Range]:
        s = node.in_specs[0].size
        return [(0, 0, s), (1, 0, 2 * s)]

    def element(self, node: Node, operands: Sequence[Sequence[int]], out_index: int) -> int:
        return wordpiece_ids(operands[0], operands[1], node.params, node.output.size, stop_at=out_index)[out_index]

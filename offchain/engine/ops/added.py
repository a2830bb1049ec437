"""ADDED_MATCH (57) and ADDED_RESOLVE (58): the tokenizer graph's added-token matching for many added tokens
(issue 14; Llama-3's 256 reserved specials). Together they equal ADDED_TOKENS (41, ops/pretok.py) on every input
(``tests/engine/test_added_ops.py``), but no element tries every added token: ADDED_MATCH looks the text at one
position up in a hashed table, once per distinct token length, and ADDED_RESOLVE picks the leftmost-longest
non-overlapping matches from those candidates.

ADDED_MATCH (57)
    inputs: chars [N] (UTF8_CHARS' output: a code point, or any value < 0 for a position holding no char),
    table [H, 9] (WORD_VOCAB's row layout, ops/wordvocab.py: the 8 big-endian 32-bit words of keccak256 over a
    token's code points, each as int32 big-endian bytes (``symbols_hash``), then the token id; empty rows all -1;
    built by ``offchain.models.bpe_merges.added_match_table`` with WORD_VOCAB's ``place_words``), and optionally
    prev [N, 2] (an earlier ADDED_MATCH's output over longer lengths: a chain of nodes splits more than
    MAX_ADDED_LENGTHS lengths, longest first, and the last node's output is the longest match over all).
    params: (W, salt, l_1, .., l_D): probe window W rows, salt (0 <= salt < 2^32), and the D >= 1 distinct token
    lengths in code points, strictly decreasing, each in [1, MAX_ADDED_CHARS].
    The text is the chars >= 0 in order; pos(k) is the position of its k-th char. For a position i with
    chars[i] >= 0 (text index k, pos(k) = i) and each l = l_1, l_2, .. (longest first) with k + l <= len(text):
    h = keccak256(text[k .. k+l-1] as int32 big-endian), home = ((first 32 bits of h) XOR salt) mod (H - W + 1)
    (``vocab_home``); the first row of rows home .. home + W - 1 whose 8 key words equal h is the candidate; it
    matches when its id is >= 0 (a row with a negative id never matches, as in ADDED_TOKENS). The first length
    with a match gives out[i] = (id, end), end = pos(k + l) (the position of the char after the match) or N when
    the match ends the text. out[i] = (-1, -1) when no length matches or chars[i] < 0. With prev:
    out[i] = prev[i] (both entries, whatever they hold) when prev[i, 0] >= 0, else the lookup above.
    Ranges of element e = 2i + c: chars whole, (with prev) prev[i] (2 elements), then one range per length l_r: the
    probe window (9W elements from row home) of the text's l_r chars at i, or an empty range when chars[i] < 0,
    fewer than l_r chars remain, or prev[i, 0] >= 0. Data-dependent (the windows follow the chars). Total: every
    int32 chars/table/prev has one result.
ADDED_RESOLVE (58)
    inputs: cand [N, 2] (ADDED_MATCH's output), chars [N] (the same UTF8_CHARS output: the covered positions that
    hold no char stay -1, as ADDED_TOKENS has them, and cand alone does not tell them apart). params: none.
    out [N], ADDED_TOKENS' format: scan p = 0, 1, .. < N: a candidate is taken at p when chars[p] >= 0,
    cand[p, 0] >= 0 and p < cand[p, 1] <= N: out[p] = cand[p, 0], every q with p < q < cand[p, 1] gets -2 when
    chars[q] >= 0 and -1 otherwise, and the scan continues at cand[p, 1]; otherwise out[p] = -1 and the scan moves
    to p + 1 (leftmost-longest non-overlapping, as tokenizers' AddedVocabulary). Element q reads cand and chars
    whole. Total.

Size caps (``check`` refuses larger nodes with ParamError): N <= MAX_CHARS = 256, W <= MAX_ADDED_WINDOW,
H <= MAX_ADDED_ROWS, D <= MAX_ADDED_LENGTHS, l <= MAX_ADDED_CHARS, so the worst one-step transaction stays under
2,000,000 gas (bench/bench_ops_gas.py ``added_cases``: position 0's char, then holes, then the 64 chars the longest
length needs, so every range call's scan walks all N positions; every window full of other keys, the shortest
length's key in its window's last row; H = 2^16 rows (the deepest range proofs), with prev. At D = 12 that is
1.40M gas for a recompute tx; each length costs ~110k, so D = 16 reached 1.84M (~2.03M as a game step) and 40
lengths in one node 3.9M+: hence the chain through prev). ADDED_RESOLVE's worst step (the scan over all 256
positions) costs 0.54M.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from offchain.engine.errors import ParamError, ShapeMismatchError
from offchain.engine.graph import Node
from offchain.engine.ops.base import Op, Range, expect_inputs, expect_params, expect_shape
from offchain.engine.ops.bpe import HASH_MASK
from offchain.engine.ops.codes import OpCode
from offchain.engine.ops.pretok import MAX_CHARS, _size_cap
from offchain.engine.ops.text import _int32
from offchain.engine.ops.wordvocab import VOCAB_ROW, find_word, hash_words, symbols_hash, vocab_home

#: Largest probe window (rows), table (rows), number of distinct token lengths and token length (code points)
#: of an ADDED_MATCH node (bench_ops_gas ``added_cases``: the worst step at these caps stays under 2M gas).
MAX_ADDED_WINDOW = 8
MAX_ADDED_ROWS = 1 << 16
MAX_ADDED_LENGTHS = 12
MAX_ADDED_CHARS = 64
#: Column of out: (id, end).
MATCH_COLS = 2
NONE = -1
COVERED = -2


def match_params(node: Node) -> tuple[int, int, list[int]]:
    """(W, salt, lengths) of an ADDED_MATCH node."""
    return node.params[0], node.params[1], list(node.params[2:])


def length_groups(lengths: Sequence[int]) -> list[list[int]]:
    """The distinct token lengths, longest first, cut into the params of a chain of ADDED_MATCH nodes (each at
    most MAX_ADDED_LENGTHS lengths; each node after the first reads the previous one's output as prev)."""
    ordered = sorted(set(int(v) for v in lengths), reverse=True)
    return [ordered[k:k + MAX_ADDED_LENGTHS] for k in range(0, len(ordered), MAX_ADDED_LENGTHS)]


def text_positions(chars: Sequence[int]) -> list[int]:
    """The positions holding a char (value >= 0), in order."""
    return [i for i, c in enumerate(chars) if c >= 0]


def _key(chars: Sequence[int], pos: Sequence[int], k: int, length: int) -> bytes:
    return symbols_hash([chars[pos[q]] for q in range(k, k + length)])


def _home(h: bytes, salt: int, rows: int, window: int) -> int:
    return vocab_home(h, salt, rows - window + 1)


def match_at(chars: Sequence[int], windows: Sequence[Sequence[int]], lengths: Sequence[int], i: int) -> tuple[int, int]:
    """(id, end) of ADDED_MATCH at position i from the whole chars and the D probe windows (an empty window: that
    length does not fit the text from i)."""
    n = len(chars)
    if chars[i] < 0:
        return NONE, NONE
    pos = text_positions(chars)
    k = pos.index(i)
    for length, window in zip(lengths, windows):
        if k + length > len(pos) or len(window) == 0:
            continue
        tid = find_word(window, hash_words(_key(chars, pos, k, length)))
        if tid is not None and tid >= 0:
            return tid, pos[k + length] if k + length < len(pos) else n
    return NONE, NONE


def resolve(cand: Sequence[int], chars: Sequence[int]) -> list[int]:
    """ADDED_RESOLVE's whole output from the flat cand [2N] and chars [N]."""
    n = len(chars)
    out = [NONE] * n
    p = 0
    while p < n:
        tid, end = cand[2 * p], cand[2 * p + 1]
        if chars[p] >= 0 and tid >= 0 and p < end <= n:
            out[p] = tid
            for q in range(p + 1, end):
                out[q] = COVERED if chars[q] >= 0 else NONE
            p = end
        else:
            p += 1
    return out


def resolve_at(cand: Sequence[int], chars: Sequence[int], q: int) -> int:
    """Element q of ADDED_RESOLVE (the scan stops once it reaches q)."""
    n = len(chars)
    p = 0
    while p <= q:
        tid, end = cand[2 * p], cand[2 * p + 1]
        if chars[p] >= 0 and tid >= 0 and p < end <= n:
            if p == q:
                return tid
            if q < end:
                return COVERED if chars[q] >= 0 else NONE
            p = end
        else:
            p += 1
    return NONE


class AddedMatch(Op):
    """Chars -> (id, end) of the longest added token starting at each char, one hashed probe per token length."""

    code = OpCode.ADDED_MATCH
    name = "ADDED_MATCH"
    data_dependent = True

    def check(self, node: Node) -> None:
        expect_inputs(node, (2, 3))
        chars, table = node.in_specs[:2]
        for what, spec in (("chars", chars), ("table", table), ("output", node.output)) + tuple(
                ("prev", p) for p in node.in_specs[2:]):
            _int32(what, spec)
        if len(chars.shape) != 1 or len(table.shape) != 2 or table.shape[1] != VOCAB_ROW:
            raise ShapeMismatchError(f"need chars [N] and table [H, {VOCAB_ROW}], got {chars.shape}, {table.shape}")
        n, rows = chars.shape[0], table.shape[0]
        if n < 1:
            raise ShapeMismatchError("chars must hold at least one position")
        _size_cap(n)
        if len(node.in_specs) == 3:
            expect_shape("prev", node.in_specs[2].shape, (n, MATCH_COLS))
        if len(node.params) < 3:
            raise ParamError(f"takes params (W, salt, l_1, .., l_D) with D >= 1, got {node.params}")
        window, salt, lengths = match_params(node)
        if not 1 <= window <= min(rows, MAX_ADDED_WINDOW) or rows > MAX_ADDED_ROWS:
            raise ParamError(f"window {window} must lie in [1, min(H = {rows}, {MAX_ADDED_WINDOW})] and "
                             f"H <= {MAX_ADDED_ROWS}")
        if not 0 <= salt <= HASH_MASK:
            raise ParamError(f"salt {salt} must lie in [0, 2^32 - 1]")
        if len(lengths) > MAX_ADDED_LENGTHS:
            raise ParamError(f"{len(lengths)} distinct token lengths exceed MAX_ADDED_LENGTHS = {MAX_ADDED_LENGTHS}")
        for a, b in zip([MAX_ADDED_CHARS + 1] + lengths, lengths):
            if not 1 <= b < a:
                raise ParamError(f"token lengths {lengths} must be strictly decreasing, each in "
                                 f"[1, MAX_ADDED_CHARS = {MAX_ADDED_CHARS}]")
        expect_shape("output", node.output.shape, (n, MATCH_COLS))

    def forward(self, inputs: Sequence[np.ndarray], node: Node) -> np.ndarray:
        chars = [int(v) for v in np.asarray(inputs[0]).reshape(-1)]
        table = np.asarray(inputs[1]).astype(np.int64)
        window, salt, lengths = match_params(node)
        rows = table.shape[0]
        pos = text_positions(chars)
        out = np.full((len(chars), MATCH_COLS), NONE, dtype=np.int32)
        prev = np.asarray(inputs[2]).reshape(-1, MATCH_COLS) if len(inputs) == 3 else None
        for k, i in enumerate(pos):
            if prev is not None and prev[i, 0] >= 0:
                continue
            for length in lengths:
                if k + length > len(pos):
                    continue
                h = _key(chars, pos, k, length)
                home = _home(h, salt, rows, window)
                tid = find_word(table[home:home + window].reshape(-1).tolist(), hash_words(h))
                if tid is not None and tid >= 0:
                    out[i] = (tid, pos[k + length] if k + length < len(pos) else len(chars))
                    break
        if prev is not None:
            taken = prev[:, 0] >= 0
            out[taken] = prev[taken]
        return out

    def operand_ranges(self, node: Node, out_index: int, inputs=None) -> list[Range]:
        n, rows = node.in_specs[0].shape[0], node.in_specs[1].shape[0]
        window, salt, lengths = match_params(node)
        ranges: list[Range] = [(0, 0, n)]
        if inputs is None:
            raise ShapeMismatchError("ADDED_MATCH operand ranges need the chars (inputs)")
        chars = [int(v) for v in np.asarray(inputs[0]).reshape(-1)]
        i = out_index // MATCH_COLS
        pos = text_positions(chars)
        k = pos.index(i) if chars[i] >= 0 else None
        if len(node.in_specs) == 3:
            ranges.append((2, MATCH_COLS * i, MATCH_COLS))
            if int(np.asarray(inputs[2]).reshape(-1)[MATCH_COLS * i]) >= 0:
                k = None
        for length in lengths:
            if k is None or k + length > len(pos):
                ranges.append((1, 0, 0))
            else:
                home = _home(_key(chars, pos, k, length), salt, rows, window)
                ranges.append((1, home * VOCAB_ROW, window * VOCAB_ROW))
        return ranges

    def element(self, node: Node, operands: Sequence[Sequence[int]], out_index: int) -> int:
        _, _, lengths = match_params(node)
        chars = [int(v) for v in operands[0]]
        windows = operands[1:]
        if len(node.in_specs) == 3:
            prev, windows = operands[1], operands[2:]
            if prev[0] >= 0:
                return int(prev[out_index % MATCH_COLS])
        return match_at(chars, windows, lengths, out_index // MATCH_COLS)[out_index % MATCH_COLS]


class AddedResolve(Op):
    """(id, end) candidates -> leftmost-longest non-overlapping matches in ADDED_TOKENS' format."""

    code = OpCode.ADDED_RESOLVE
    name = "ADDED_RESOLVE"

    def check(self, node: Node) -> None:
        expect_inputs(node, (2,))
        expect_params(node, 0)
        cand, chars = node.in_specs
        for what, spec in (("cand", cand), ("chars", chars), ("output", node.output)):
            _int32(what, spec)
        if len(chars.shape) != 1 or chars.shape[0] < 1:
            raise ShapeMismatchError(f"chars must be [N] with N >= 1, got {chars.shape}")
        n = chars.shape[0]
        _size_cap(n)
        expect_shape("cand", cand.shape, (n, MATCH_COLS))
        expect_shape("output", node.output.shape, (n,))

    def forward(self, inputs: Sequence[np.ndarray], node: Node) -> np.ndarray:
        cand = [int(v) for v in np.asarray(inputs[0]).reshape(-1)]
        chars = [int(v) for v in np.asarray(inputs[1]).reshape(-1)]
        return np.array(resolve(cand, chars), dtype=np.int32)

    def operand_ranges(self, node: Node, out_index: int, inputs=None) -> list[Range]:
        n = node.in_specs[1].shape[0]
        return [(0, 0, MATCH_COLS * n), (1, 0, n)]

    def element(self, node: Node, operands: Sequence[Sequence[int]], out_index: int) -> int:
        return resolve_at([int(v) for v in operands[0]], [int(v) for v in operands[1]], out_index)


__all__ = ["AddedMatch", "AddedResolve", "MAX_ADDED_CHARS", "MAX_ADDED_LENGTHS", "MAX_ADDED_ROWS",
           "MAX_ADDED_WINDOW", "MAX_CHARS", "length_groups", "match_at", "resolve", "resolve_at"]

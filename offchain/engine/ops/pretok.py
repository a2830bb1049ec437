"""Tokenizer front end for Hugging Face BPE tokenizers (issue 14): UTF-8 bytes -> characters -> added-token
matches -> word boundaries, every step disputable element by element (the shared spec is the tokenizer graph's,
see offchain/models/bpe.py; the pattern is ops/text.py). All tensors are INT32 frac 0 except the INT8 bytes.

UTF8_CHARS (39)
    inputs: bytes [N] (INT8, byte value = q & 0xFF, trailing zero bytes are padding). params: none. out [N]:
    out[i] = the code point of the well-formed UTF-8 sequence starting at byte i; 0xFFFD where byte i starts a
    maximal ill-formed subpart (Unicode's "substitution of maximal subparts", what Python's
    ``bytes.decode('utf-8', 'replace')`` does); -1 where byte i lies inside a sequence or subpart started
    earlier, or at or after the last non-zero byte + 1 (padding). So ``[c for c in out if c >= 0]`` is
    ``list(map(ord, raw.rstrip(b'\\0').decode('utf-8', 'replace')))``. A byte outside 80..BF always starts a unit;
    a continuation byte is inside the unit of the nearest non-continuation byte j in [i-3, i-1] iff that unit
    reaches i, else it is a unit (U+FFFD) of its own. Element i reads the whole bytes tensor (the padding rule
    needs the last non-zero byte). Total: every byte string has one result. Cap: N <= MAX_CHARS = 256 (the
    pipeline's; this op's own worst step costs 0.14M gas there).

ADDED_TOKENS (41)
    inputs: chars [N] (UTF8_CHARS' output), table [A, L+1] (rows (id, cp_1 .. cp_L), -1 padding; A may be 0).
    params: none. out [N]: the text is the chars >= 0 in order. Scanning it from the left, at each text position
    the longest row content that matches there (the first such row on ties) is taken and the scan resumes after
    it; with none the scan moves one char on (tokenizers' LeftmostLongest Aho-Corasick). out[i] = the row's id at
    the position where a match starts, -2 at the other positions of chars it covers, -1 elsewhere (empty
    positions too). A row's content is cp_1 .. up to its first negative entry; a row with id < 0 or empty content
    never matches. Element i reads chars and table whole. Total.
    Cap: N <= MAX_CHARS = 256 and N * A * (ceil(L / 8) + 2) <= MAX_ADDED_WORK = 10,240 (e.g. 10 tokens of <= 16
    chars, 8 of <= 24, 4 of <= 64 at N = 256): the worst step, every row failing on its last char at every
    position, costs at most 1.52M gas (bench/bench_ops_gas.py ``pretok_cases``).

PRETOKENIZE (40)
    inputs: stream [N, 1] (CHAR_MAP with the class table: 4 * cp + cls, 0 for empty; cls 0 letter, 1 number,
    2 whitespace, 3 other), added [N] (ADDED_TOKENS' output). params: (kind, prefix_rule, first_only).
    out [N, 2]: position i is empty when stream[i] == 0: (0, -1); else an added-token start when added[i] >= 0:
    (0, 1); else covered when added[i] < -1: (0, -1); else it belongs to a segment: a maximal run of such
    positions (empty positions skipped) between added-token positions. Each segment is pre-tokenized on its own:
    a virtual char (' ' = 4*0x20+2 for kinds 1-3, U+2581 = 4*0x2581+2 for kinds 4-5) is prepended when
    prefix_rule == 1, or prefix_rule == 2 and the first char is not a prefix char (' '; also U+2581 for kinds
    4-5); first_only == 1 keeps it only on a segment with no non-empty position before it. Word starts:
      kind 1 GPT-2   's|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+
      kind 2 Llama-3 (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|
                     \\s*[\\r\\n]+|\\s+(?!\\S)|\\s+
      kind 3 Qwen2   kind 2 with \\p{N} for \\p{N}{1,3}
      kind 4 Metaspace split: a word starts at the segment's first element and at every ' ' or U+2581
      kind 5 no split: the segment is one word
    (every pattern matches at every position, so its matches tile the segment; a match starts a word; the case
    fold of (?i) is A-Z plus U+017F for 's', as Oniguruma's). out[i, 0] = 1 iff the virtual char precedes char i;
    out[i, 1] = 1 iff char i starts a word (after the virtual char when there is one), else 0.
    Element i reads stream and added whole. Total. Cap: N <= MAX_CHARS = 256 (worst step 0.88M gas).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from offchain.engine.dtypes import DType
from offchain.engine.errors import DtypeMismatchError, ParamError, ShapeMismatchError
from offchain.engine.graph import Node
from offchain.engine.ops.base import Op, Range, expect_inputs, expect_params, expect_shape
from offchain.engine.ops.codes import OpCode
from offchain.engine.ops.text import _int32  # the one INT32/frac-0 operand check

#: Largest N (bytes / chars) any of the three ops accepts: the worst PRETOKENIZE step at N = 256 costs 0.88M gas
#: (bench/bench_ops_gas.py ``pretok_cases``: one 256-char segment of one-char words, kind 1), about 2.7k gas per
#: char of the segment, so 512 would pass 1.9M.
MAX_CHARS = 256
#: Largest ``added_work(N, A, L) = N * A * (ceil(L / 8) + 2)`` of an ADDED_TOKENS node: its worst step tries every
#: row at every position, a row costing ~210 gas plus ~134 gas per 32-byte word of its content (8 chars), on top of
#: ~141k + 453 * N. At 12,288 the worst case cost 1.78M as a recompute tx (~1.96M as a game step, too close to
#: 2M); at this cap the worst measured is 1.52M (8 rows of 24 chars at N = 256; ``make bench-llm`` case tokenizer).
MAX_ADDED_WORK = 10_240


def added_work(n: int, a: int, l: int) -> int:
    """The ADDED_TOKENS cost measure capped by MAX_ADDED_WORK."""
    return n * a * (-(-l // 8) + 2)
CLS_L, CLS_N, CLS_S, CLS_O = 0, 1, 2, 3
SPACE, META = 0x20, 0x2581
KINDS = (1, 2, 3, 4, 5)


def _size_cap(n: int) -> None:
    if n > MAX_CHARS:
        raise ParamError(f"N = {n} exceeds the largest size MAX_CHARS = {MAX_CHARS} whose one-step proof fits 2M gas")


# --------------------------------------------------------------------------------------------------- UTF-8


def unit_at(b: Sequence[int], j: int, end: int) -> tuple[int, int]:
    """(value, length) of the UTF-8 unit starting at byte j of ``b`` (ints, & 0xFF) that ends before ``end``:
    a well-formed sequence's code point, or 0xFFFD for a maximal ill-formed subpart."""
    b0 = b[j] & 0xFF
    if b0 < 0x80:
        return b0, 1
    if 0xC2 <= b0 <= 0xDF:
        need, lo, hi, cp = 1, 0x80, 0xBF, b0 & 0x1F
    elif 0xE0 <= b0 <= 0xEF:
        need, cp = 2, b0 & 0x0F
        lo, hi = (0xA0, 0xBF) if b0 == 0xE0 else (0x80, 0x9F) if b0 == 0xED else (0x80, 0xBF)
    elif 0xF0 <= b0 <= 0xF4:
        need, cp = 3, b0 & 0x07
        lo, hi = (0x90, 0xBF) if b0 == 0xF0 else (0x80, 0x8F) if b0 == 0xF4 else (0x80, 0xBF)
    else:
        return 0xFFFD, 1
    for k in range(1, need + 1):
        if j + k >= end:
            return 0xFFFD, k
        bk = b[j + k] & 0xFF
        if not (lo <= bk <= hi if k == 1 else 0x80 <= bk <= 0xBF):
            return 0xFFFD, k
        cp = (cp << 6) | (bk & 0x3F)
    return cp, need + 1


def utf8_char(b: Sequence[int], i: int) -> int:
    """UTF8_CHARS element i of the whole byte tensor ``b``."""
    end = len(b)
    while end > 0 and b[end - 1] & 0xFF == 0:
        end -= 1
    if i >= end:
        return -1
    if not 0x80 <= b[i] & 0xFF <= 0xBF:
        return unit_at(b, i, end)[0]
    j = i - 1
    while j >= 0 and j >= i - 3 and 0x80 <= b[j] & 0xFF <= 0xBF:
        j -= 1
    if j >= 0 and j >= i - 3 and j + unit_at(b, j, end)[1] > i:
        return -1
    return 0xFFFD


class Utf8Chars(Op):
    """Bytes -> one code point per UTF-8 unit start, U+FFFD per maximal ill-formed subpart, -1 elsewhere."""

    code = OpCode.UTF8_CHARS
    name = "UTF8_CHARS"

    def check(self, node: Node) -> None:
        expect_inputs(node, (1,))
        expect_params(node, 0)
        (src,) = node.in_specs
        if src.dtype != DType.INT8 or src.frac != 0:
            raise DtypeMismatchError(f"bytes must be INT8 with frac 0, got {src.dtype.name}/f{src.frac}")
        _size_cap(src.size)
        _int32("output", node.output)
        expect_shape("output", node.output.shape, (src.size,))

    def forward(self, inputs: Sequence[np.ndarray], node: Node) -> np.ndarray:
        b = [int(v) & 0xFF for v in np.asarray(inputs[0]).reshape(-1)]
        end = len(b)
        while end > 0 and b[end - 1] == 0:
            end -= 1
        out = [-1] * len(b)
        p = 0
        while p < end:
            out[p], step = unit_at(b, p, end)
            p += step
        return np.array(out, dtype=np.int32)

    def operand_ranges(self, node: Node, out_index: int, inputs=None) -> list[Range]:
        return [(0, 0, node.in_specs[0].size)]

    def element(self, node: Node, operands: Sequence[Sequence[int]], out_index: int) -> int:
        return utf8_char([int(v) & 0xFF for v in operands[0]], out_index)


# ---------------------------------------------------------------------------------------------- added tokens


def added_matches(chars: Sequence[int], table: Sequence[int], width: int) -> list[int]:
    """ADDED_TOKENS' whole output from chars and the flat table of rows of ``width`` = L + 1."""
    pos = [i for i, c in enumerate(chars) if c >= 0]
    text = [chars[i] for i in pos]
    rows = []
    for r in range(0, len(table), width) if width else ():
        content = []
        for c in table[r + 1:r + width]:
            if c < 0:
                break
            content.append(c)
        rows.append((table[r], content))
    out = [-1] * len(chars)
    p = 0
    while p < len(text):
        best, best_len = -1, 0
        for token_id, content in rows:
            n = len(content)
            if token_id >= 0 and n > best_len and p + n <= len(text) and text[p:p + n] == content:
                best, best_len = token_id, n
        if best_len:
            out[pos[p]] = best
            for q in range(p + 1, p + best_len):
                out[pos[q]] = -2
            p += best_len
        else:
            p += 1
    return out


class AddedTokens(Op):
    """Chars -> leftmost-longest matches of the added tokens (id at a match start, -2 on the rest)."""

    code = OpCode.ADDED_TOKENS
    name = "ADDED_TOKENS"

    def check(self, node: Node) -> None:
        expect_inputs(node, (2,))
        expect_params(node, 0)
        chars, table = node.in_specs
        for what, spec in (("chars", chars), ("table", table), ("output", node.output)):
            _int32(what, spec)
        if len(chars.shape) != 1 or len(table.shape) != 2 or table.shape[1] < 2:
            raise ShapeMismatchError(f"need chars [N] and table [A, L+1] with L >= 1, got {chars.shape}, {table.shape}")
        n, a, l = chars.shape[0], table.shape[0], table.shape[1] - 1
        _size_cap(n)
        if added_work(n, a, l) > MAX_ADDED_WORK:
            raise ParamError(f"N * A * (ceil(L / 8) + 2) = {n} * {a} * {-(-l // 8) + 2} = {added_work(n, a, l)} "
                             f"exceeds MAX_ADDED_WORK = {MAX_ADDED_WORK} (the worst one-step proof would pass 2M gas)")
        expect_shape("output", node.output.shape, (n,))

    def forward(self, inputs: Sequence[np.ndarray], node: Node) -> np.ndarray:
        chars = [int(v) for v in np.asarray(inputs[0]).reshape(-1)]
        table = [int(v) for v in np.asarray(inputs[1]).reshape(-1)]
        return np.array(added_matches(chars, table, node.in_specs[1].shape[1]), dtype=np.int32)

    def operand_ranges(self, node: Node, out_index: int, inputs=None) -> list[Range]:
        return [(0, 0, node.in_specs[0].size), (1, 0, node.in_specs[1].size)]

    def element(self, node: Node, operands: Sequence[Sequence[int]], out_index: int) -> int:
        return added_matches(operands[0], operands[1], node.in_specs[1].shape[1])[out_index]


# ---------------------------------------------------------------------------------------------- pretokenize


def _is_cls(seq: Sequence[int], p: int, cls: int) -> bool:
    return p < len(seq) and seq[p] & 3 == cls


def _run(seq: Sequence[int], p: int, cls: int) -> int:
    """Length of the run of class ``cls`` values from p."""
    q = p
    while q < len(seq) and seq[q] & 3 == cls:
        q += 1
    return q - p


def _cp(seq: Sequence[int], p: int) -> int:
    return seq[p] >> 2 if p < len(seq) else -1


def _fold(cp: int) -> int:
    """Oniguruma's case fold for the contraction letters: A-Z -> a-z, U+017F (long s) -> 's'."""
    if 0x41 <= cp <= 0x5A:
        return cp + 0x20
    return 0x73 if cp == 0x17F else cp


def _contraction(seq: Sequence[int], p: int, fold: bool) -> int:
    """Length of 's|'t|'re|'ve|'m|'ll|'d at p (case-folded when ``fold``), 0 if none."""
    if _cp(seq, p) != 0x27:
        return 0
    f = _fold if fold else (lambda c: c)
    c1, c2 = f(_cp(seq, p + 1)), f(_cp(seq, p + 2))
    if c1 in (0x73, 0x74, 0x6D, 0x64):                      # s t m d
        return 2
    if (c1, c2) in ((0x72, 0x65), (0x76, 0x65), (0x6C, 0x6C)):  # re ve ll
        return 3
    return 0


def _space_tail(seq: Sequence[int], p: int) -> int:
    """\\s+(?!\\S)|\\s+ at a whitespace position p."""
    k = _run(seq, p, CLS_S)
    return k - 1 if p + k < len(seq) and k >= 2 else k


def match_len(seq: Sequence[int], p: int, kind: int) -> int:
    """Length (>= 1) of the regex match of ``kind`` (1, 2 or 3) at p of the class stream ``seq``."""
    cls, cp = seq[p] & 3, seq[p] >> 2
    if kind == 1:
        k = _contraction(seq, p, False)
        if k:
            return k
        for c in (CLS_L, CLS_N, CLS_O):                       # ' ?\p{L}+', ' ?\p{N}+', ' ?[^\s\p{L}\p{N}]+'
            if cp == SPACE and _is_cls(seq, p + 1, c):
                return 1 + _run(seq, p + 1, c)
            if cls == c:
                return _run(seq, p, c)
        return _space_tail(seq, p)
    k = _contraction(seq, p, True)
    if k:
        return k
    crlf = lambda q: _cp(seq, q) in (0x0A, 0x0D)  # noqa: E731
    if cls in (CLS_S, CLS_O) and not crlf(p) and _is_cls(seq, p + 1, CLS_L):   # [^\r\n\p{L}\p{N}]?\p{L}+
        return 1 + _run(seq, p + 1, CLS_L)
    if cls == CLS_L:
        return _run(seq, p, CLS_L)
    if cls == CLS_N:                                           # \p{N}{1,3} or \p{N}
        return min(3, _run(seq, p, CLS_N)) if kind == 2 else 1
    start = p + 1 if cp == SPACE and _is_cls(seq, p + 1, CLS_O) else p    # ' ?[^\s\p{L}\p{N}]+[\r\n]*'
    if _is_cls(seq, start, CLS_O):
        q = start + _run(seq, start, CLS_O)
        while crlf(q):
            q += 1
        return q - p
    k = _run(seq, p, CLS_S)                                    # \s*[\r\n]+: up to the run's last \r or \n
    last = max((j for j in range(k) if crlf(p + j)), default=-1)
    if last >= 0:
        return last + 1
    return _space_tail(seq, p)


def word_starts(seq: Sequence[int], kind: int) -> list[bool]:
    """Which elements of one segment's class stream (virtual char included) start a word."""
    n = len(seq)
    starts = [False] * n
    if kind in (1, 2, 3):
        p = 0
        while p < n:
            starts[p] = True
            p += match_len(seq, p, kind)
    elif kind == 4:
        for p in range(n):
            starts[p] = p == 0 or (seq[p] >> 2) in (SPACE, META)
    elif n:
        starts[0] = True
    return starts


def pretokenize(stream: Sequence[int], added: Sequence[int], params: Sequence[int]) -> list[int]:
    """PRETOKENIZE's whole output (flat [N, 2])."""
    kind, rule, first_only = params
    n = len(stream)
    out = [0, -1] * n
    seen = False   # a non-empty position precedes
    i = 0
    while i < n:
        if stream[i] == 0:
            i += 1
            continue
        if added[i] != -1:
            out[2 * i + 1] = 1 if added[i] >= 0 else -1
            seen = True
            i += 1
            continue
        members = []
        j = i
        while j < n and (stream[j] == 0 or added[j] == -1):
            if stream[j] != 0:
                members.append(j)
            j += 1
        first = stream[members[0]] >> 2
        prefix_chars = (SPACE, META) if kind in (4, 5) else (SPACE,)
        prefix = rule == 1 or (rule == 2 and first not in prefix_chars)
        if first_only == 1 and seen:
            prefix = False
        seq = ([4 * (META if kind in (4, 5) else SPACE) + CLS_S] if prefix else []) + [stream[m] for m in members]
        starts = word_starts(seq, kind)
        off = 1 if prefix else 0
        for k, m in enumerate(members):
            out[2 * m + 1] = int(starts[k + off])
        if prefix:
            out[2 * members[0]] = 1
        seen = True
        i = j
    return out


class Pretokenize(Op):
    """Class stream + added-token matches -> (virtual prefix before, word start) per position."""

    code = OpCode.PRETOKENIZE
    name = "PRETOKENIZE"

    def check(self, node: Node) -> None:
        expect_inputs(node, (2,))
        expect_params(node, 3)
        stream, added = node.in_specs
        for what, spec in (("stream", stream), ("added", added), ("output", node.output)):
            _int32(what, spec)
        n = stream.size
        _size_cap(n)
        expect_shape("added", added.shape, (n,))
        kind, rule, first_only = node.params
        if kind not in KINDS or rule not in (0, 1, 2) or first_only not in (0, 1):
            raise ParamError(f"(kind, prefix_rule, first_only) = {tuple(node.params)}: kind must be 1-5, rule 0-2, "
                             f"first_only 0-1")
        expect_shape("output", node.output.shape, (n, 2))

    def forward(self, inputs: Sequence[np.ndarray], node: Node) -> np.ndarray:
        stream = [int(v) for v in np.asarray(inputs[0]).reshape(-1)]
        added = [int(v) for v in np.asarray(inputs[1]).reshape(-1)]
        return np.array(pretokenize(stream, added, node.params), dtype=np.int32).reshape(node.output.shape)

    def operand_ranges(self, node: Node, out_index: int, inputs=None) -> list[Range]:
        n = node.in_specs[0].size
        return [(0, 0, n), (1, 0, n)]

    def element(self, node: Node, operands: Sequence[Sequence[int]], out_index: int) -> int:
        return pretokenize(operands[0], operands[1], node.params)[out_index]

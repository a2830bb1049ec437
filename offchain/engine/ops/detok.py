"""Detokenizer ops: token ids in, the UTF-8 bytes of their text out, every byte disputable on its own.

The decoding half of the tokenizer graph (issue 14, docs: tokspec): a BPE model's output ids become the bytes
a consumer reads, through a per-token byte table committed under the weights root
(``offchain/models/bpe_detok.py`` builds it from a ``tokenizer.json``). Every tensor is INT32 frac 0 except
the text, which is INT8 (byte value = ``q & 0xFF``, the request bytes' convention).

Table ``[V, L + 1]``: row v = (length, e_1 .. e_L). ``length`` is token v's byte count (0 for special tokens,
which decode skips); ``e_k`` are its bytes: the byte is ``e_k & 0xFF``; bit 8 (``e_k & 0x100``) marks a space
that came from a Metaspace replacement char (U+2581), which strip mode 2 drops from the text's first token.
Every int32 a table or operand may hold has a result: an effective length is ``len`` if ``0 <= len <= L``
else 0, an id outside ``[0, V)`` has length 0 and bytes 0.

DETOK_LEN (46)
    inputs: ids [T] (any shape), table [V, L + 1]. params: none. out: same shape as ids.
    out[t] = the effective length of table[ids[t], 0] when 0 <= ids[t] < V, else 0.
    Data-dependent ranges: ids[t], then table[ids[t], 0] (an empty range for an id outside [0, V)).

DETOK_BYTES (47)
    inputs: ids [T], lens [T] (same shape), table [V, L + 1]. params: (strip,). out: text [B] INT8 (any shape).
    The text is the concatenation over t of the first ``lens'[t]`` entries of row ids[t] (``lens'`` the
    effective lengths; zeros for an id outside [0, V)), then:
      strip 0: unchanged;
      strip 1: its first entry is dropped when its byte is 0x20 (a Strip(' ', 1, 0) decoder after Fuse);
      strip 2: the marked entries of its first token (the first t with lens'[t] > 0) are dropped (the Metaspace
               decoder, which removes every U+2581 of the first token when prepend_scheme is first / always).
    out[b] = the byte of entry b of that text as int8, 0 past its end (a longer text is truncated to B).
    Data-dependent ranges of element b: the whole lens; for strip 1 / 2 the first token's id ids[t0] and the
    first 1 (strip 1) or lens'[t0] (strip 2) entries of its row (the "head"); then ids[t] of the token t covering
    the entry before stripping, and that one table entry (empty ranges where there is none: no first token, an
    id outside [0, V), b past the text). Strip 2 locates entry b through the head alone: the first token starts
    at entry 0, and with no head nothing is marked.

Caps (``check`` refuses larger nodes with a ParamError naming the size): T <= MAX_TOKENS = 1,024,
L <= MAX_TOKEN_BYTES = 1,024, B <= MAX_TEXT_BYTES = 65,536. Measured with ``bench/bench_ops_gas.py``'s
``detok_cases`` at each op's costliest element: the whole one-step transaction (``OneStepProver.recompute``) is
126k gas for DETOK_LEN and 0.58 M / 0.89 M / 1.26 M for DETOK_BYTES in strip mode 0 / 1 / 2 (1.44 M as the
game's ``step``), under the 2,000,000 bound; T = 2,048 would give 1.89 M in strip mode 2.
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

#: Largest ids / lens tensor: a DETOK_BYTES step carries the whole lens (T int32) and its range calls scan it up to
#: four times (~140 gas per length each): 1.26 M gas for the whole step at T = 1024, L = 1024 (1.89 M at T = 2048).
MAX_TOKENS = 1024
#: Largest token byte length L: strip mode 2 reads and walks up to L entries of the first token's row.
MAX_TOKEN_BYTES = 1024
#: Largest text B: only the depth of the output's tree grows with it.
MAX_TEXT_BYTES = 1 << 16
#: The byte whose first occurrence strip mode 1 drops.
SPACE = 0x20
#: Bit of a table entry that marks a space from U+2581 (strip mode 2 drops it from the first token).
MARK = 0x100
STRIP_NONE, STRIP_FIRST_SPACE, STRIP_FIRST_TOKEN_MARKS = 0, 1, 2


def _check_table(spec) -> tuple[int, int]:
    """(V, L) of a [V, L + 1] table; raises for a bad shape or an L over the cap."""
    _int32("table", spec)
    if len(spec.shape) != 2 or spec.shape[0] < 1 or spec.shape[1] < 2:
        raise ShapeMismatchError(f"table must be [V, L + 1] with V >= 1, L >= 1, got {spec.shape}")
    vocab, width = spec.shape
    if width - 1 > MAX_TOKEN_BYTES:
        raise ParamError(f"token byte length L = {width - 1} exceeds the cap {MAX_TOKEN_BYTES}")
    return vocab, width - 1


def _check_ids(spec) -> int:
    _int32("ids", spec)
    if not 1 <= spec.size <= MAX_TOKENS:
        raise ParamError(f"T = {spec.size} token ids: must be 1 .. {MAX_TOKENS}")
    return spec.size


def effective_len(value: int, max_len: int) -> int:
    """A length as DETOK reads it: ``value`` if it lies in [0, L], else 0."""
    return value if 0 <= value <= max_len else 0


def to_int8(byte: int) -> int:
    """Byte 0..255 as the int8 whose ``& 0xFF`` it is."""
    return byte - 256 if byte >= 128 else byte


def first_token(lens: Sequence[int], max_len: int) -> int:
    """Index of the first token with a non-zero effective length, -1 if none."""
    for t, value in enumerate(lens):
        if effective_len(value, max_len):
            return t
    return -1


def locate(lens: Sequence[int], max_len: int, p: int) -> tuple[int, int]:
    """(token, offset in it) of entry ``p`` of the unstripped concatenation; (-1, 0) past its end."""
    start = 0
    for t, value in enumerate(lens):
        n = effective_len(value, max_len)
        if p < start + n:
            return t, p - start
        start += n
    return -1, 0


def source_entry(strip: int, lens: Sequence[int], max_len: int, head: Sequence[int], b: int) -> int:
    """Entry of the unstripped concatenation that becomes text byte ``b`` (maybe past its end). ``head``: the
    first token's entries as DETOK_BYTES reads them (1 for strip 1, its whole length for strip 2; empty when
    there is no first token or its id is outside the table)."""
    if strip == STRIP_FIRST_SPACE:
        return b + (1 if head and head[0] & 0xFF == SPACE else 0)
    if strip == STRIP_FIRST_TOKEN_MARKS:
        # The head is the first token's row (len(head) is its length), which starts at entry 0: every token before
        # it is empty. Without a head (no first token, or its id outside the table) nothing is marked: entry b.
        kept = [k for k in range(len(head)) if not head[k] & MARK]
        return kept[b] if b < len(kept) else b - len(kept) + len(head)
    return b


class DetokLen(Op):
    """Byte length of each token's text (0 for special tokens and ids outside the table)."""

    code = OpCode.DETOK_LEN
    name = "DETOK_LEN"
    data_dependent = True

    def check(self, node: Node) -> None:
        expect_inputs(node, (2,))
        expect_params(node, 0)
        ids, table = node.in_specs
        _check_ids(ids)
        _check_table(table)
        _int32("output", node.output)
        expect_shape("output", node.output.shape, ids.shape)

    def forward(self, inputs: Sequence[np.ndarray], node: Node) -> np.ndarray:
        ids = np.asarray(inputs[0]).astype(np.int64).reshape(-1)
        table = np.asarray(inputs[1]).astype(np.int64)
        vocab, width = table.shape
        valid = (ids >= 0) & (ids < vocab)
        lens = table[np.where(valid, ids, 0), 0]
        lens = np.where(valid & (lens >= 0) & (lens <= width - 1), lens, 0)
        return lens.astype(np.int32).reshape(node.output.shape)

    def operand_ranges(self, node: Node, out_index: int, inputs=None) -> list[Range]:
        if inputs is None:
            raise ShapeMismatchError("DETOK_LEN operand ranges need the ids (inputs)")
        vocab, width = node.in_specs[1].shape
        v = int(np.asarray(inputs[0]).reshape(-1)[out_index])
        return [(0, out_index, 1), (1, v * width, 1) if 0 <= v < vocab else (1, 0, 0)]

    def element(self, node: Node, operands: Sequence[Sequence[int]], out_index: int) -> int:
        if len(operands[1]) == 0:
            return 0
        return effective_len(int(operands[1][0]), node.in_specs[1].shape[1] - 1)


class DetokBytes(Op):
    """The text's bytes: the tokens' table entries concatenated, optionally stripped, truncated / 0-padded."""

    code = OpCode.DETOK_BYTES
    name = "DETOK_BYTES"
    data_dependent = True

    def check(self, node: Node) -> None:
        expect_inputs(node, (3,))
        expect_params(node, 1)
        ids, lens, table = node.in_specs
        _check_ids(ids)
        _int32("lens", lens)
        expect_shape("lens", lens.shape, ids.shape)
        _check_table(table)
        if node.params[0] not in (STRIP_NONE, STRIP_FIRST_SPACE, STRIP_FIRST_TOKEN_MARKS):
            raise ParamError(f"strip mode {node.params[0]} must be 0, 1 or 2")
        out = node.output
        if out.dtype != DType.INT8 or out.frac != 0:
            raise DtypeMismatchError(f"text must be INT8 with frac 0, got {out.dtype.name}/f{out.frac}")
        if not 1 <= out.size <= MAX_TEXT_BYTES:
            raise ParamError(f"B = {out.size} text bytes: must be 1 .. {MAX_TEXT_BYTES}")

    def forward(self, inputs: Sequence[np.ndarray], node: Node) -> np.ndarray:
        ids = [int(v) for v in np.asarray(inputs[0]).reshape(-1)]
        lens = [int(v) for v in np.asarray(inputs[1]).reshape(-1)]
        table = np.asarray(inputs[2])
        vocab, width = table.shape
        max_len = width - 1
        strip = node.params[0]
        entries: list[int] = []
        first = True
        for v, value in zip(ids, lens):
            n = effective_len(value, max_len)
            if n == 0:
                continue
            row = [int(e) for e in table[v, 1:1 + n]] if 0 <= v < vocab else [0] * n
            if first and strip == STRIP_FIRST_TOKEN_MARKS:
                row = [e for e in row if not e & MARK]
            first = False
            entries.extend(row)
        if strip == STRIP_FIRST_SPACE and entries and entries[0] & 0xFF == SPACE:
            entries = entries[1:]
        size = node.output.size
        text = [to_int8(e & 0xFF) for e in entries[:size]] + [0] * max(0, size - len(entries))
        return np.array(text, dtype=np.int8).reshape(node.output.shape)

    def operand_ranges(self, node: Node, out_index: int, inputs=None) -> list[Range]:
        if inputs is None:
            raise ShapeMismatchError("DETOK_BYTES operand ranges need the ids and lens (inputs)")
        ids = np.asarray(inputs[0]).reshape(-1)
        lens = [int(v) for v in np.asarray(inputs[1]).reshape(-1)]
        table = np.asarray(inputs[2]).reshape(-1)
        vocab, width = node.in_specs[2].shape
        max_len, strip = width - 1, node.params[0]
        ranges: list[Range] = [(1, 0, len(lens))]
        head: list[int] = []
        if strip != STRIP_NONE:
            t0 = first_token(lens, max_len)
            v0 = int(ids[t0]) if t0 >= 0 else -1
            ranges.append((0, t0, 1) if t0 >= 0 else (0, 0, 0))
            if 0 <= v0 < vocab:
                count = 1 if strip == STRIP_FIRST_SPACE else effective_len(lens[t0], max_len)
                ranges.append((2, v0 * width + 1, count))
                head = [int(e) for e in table[v0 * width + 1:v0 * width + 1 + count]]
            else:
                ranges.append((2, 0, 0))
        t, k = locate(lens, max_len, source_entry(strip, lens, max_len, head, out_index))
        v = int(ids[t]) if t >= 0 else -1
        ranges.append((0, t, 1) if t >= 0 else (0, 0, 0))
        ranges.append((2, v * width + 1 + k, 1) if 0 <= v < vocab else (2, 0, 0))
        return ranges

    def element(self, node: Node, operands: Sequence[Sequence[int]], out_index: int) -> int:
        entry = operands[-1]
        return to_int8(int(entry[0]) & 0xFF) if len(entry) else 0

"""WORD_VOCAB (48): BPE's ``ignore_merges`` (Llama-3) as one graph operator (issue 14).

tokenizers' BPE model with ``ignore_merges: true`` first looks the whole pre-token (its byte-level string) up in
the vocabulary and, when it is there, emits that one token and skips the merges. In the tokenizer graph this op
sits between BPE_SYMBOLS and the first PAIR_RANK (byte-level mode only).

inputs: symbols [N, 5] (BPE_SYMBOLS' output), pretok [N, 2], table [M, 9] (rows: the 8 big-endian 32-bit words of
keccak256 over a vocabulary token's byte-token ids, each as int32 big-endian bytes, read as int32, then the token
id; empty rows all -1). params: (window W, salt). out symbols' [N, 5].

Words, word-start slots and slots are those of ops/bpe.py (slot 0 also starts a word). For each word with at least
two symbols (the non -1 slots of the word in flat order) let h = keccak256(those symbols as int32 big-endian) and
home = ((first 32 bits of h) XOR salt) mod (M - W + 1). If one of the rows home .. home + W - 1 holds h in its
first 8 entries, the first such row's token id goes to the word's first symbol slot and the word's other slots
become -1; otherwise (and for words of zero or one symbol, e.g. an added token) the word is copied. Total on every
int32 input. Element t reads symbols and pretok whole, then the probe window of 9W elements of t's word (empty
when the word holds fewer than two symbols): data-dependent.

Size caps (``check`` refuses larger nodes with ParamError): N <= bpe.MAX_POSITIONS, W <= MAX_VOCAB_WINDOW,
M <= MAX_VOCAB_ROWS, so the worst one-step transaction stays under 2,000,000 gas (bench_ops_gas ``word_vocab_cases``).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from offchain.commit import keccak256
from offchain.engine.graph import Node
from offchain.engine.errors import ShapeMismatchError
from offchain.engine.ops.base import Op, Range, expect_shape
from offchain.engine.ops.bpe import NO_SYMBOL, SLOTS, check_hashed_table, is_word_start
from offchain.engine.ops.codes import OpCode

#: Table row: the 8 words of the token's key hash, then its id.
VOCAB_ROW = 9
HASH_WORDS = 8
#: Largest probe window (rows) and table (rows).
MAX_VOCAB_WINDOW = 64
MAX_VOCAB_ROWS = 1 << 24


def symbols_hash(symbols: Sequence[int]) -> bytes:
    """keccak256 of the symbols, each as 4 big-endian bytes of its int32 two's complement."""
    return keccak256(b"".join((int(v) & 0xFFFFFFFF).to_bytes(4, "big") for v in symbols))


def hash_words(h: bytes) -> list[int]:
    """The 8 big-endian 32-bit words of a hash as int32 (a table row's key)."""
    return [int.from_bytes(h[4 * j:4 * j + 4], "big", signed=True) for j in range(HASH_WORDS)]


def vocab_home(h: bytes, salt: int, homes: int) -> int:
    """First probe row of a key: (first 32 bits of h XOR salt) mod homes (= M - W + 1)."""
    return (int.from_bytes(h[:4], "big") ^ salt) % homes


def word_bounds(pretok: Sequence[int], t: int, size: int) -> tuple[int, int]:
    """[ws, we): the word-start slot at or before t (0 if none) and the next one after t (size = 5N if none)."""
    ws = t
    while ws > 0 and not is_word_start(pretok, ws):
        ws -= 1
    we = t + 1
    while we < size and not is_word_start(pretok, we):
        we += 1
    return ws, we


def _word_filled(symbols: Sequence[int], ws: int, we: int) -> list[int]:
    return [q for q in range(ws, we) if symbols[q] != NO_SYMBOL]


def find_word(window: Sequence[int], key: Sequence[int]) -> int | None:
    """Token id of the first row of ``window`` (flat rows of 9) whose first 8 entries are ``key``; None if none."""
    for r in range(0, len(window) - VOCAB_ROW + 1, VOCAB_ROW):
        if [int(v) for v in window[r:r + HASH_WORDS]] == list(key):
            return int(window[r + HASH_WORDS])
    return None


def word_vocab_slot(symbols: Sequence[int], pretok: Sequence[int], window: Sequence[int], t: int) -> int:
    """Slot t of WORD_VOCAB's output from the whole symbols [5N], pretok [2N] and t's word's probe window."""
    ws, we = word_bounds(pretok, t, len(symbols))
    filled = _word_filled(symbols, ws, we)
    if len(filled) < 2 or len(window) == 0:
        return int(symbols[t])
    tid = find_word(window, hash_words(symbols_hash([symbols[q] for q in filled])))
    if tid is None:
        return int(symbols[t])
    return tid if t == filled[0] else NO_SYMBOL


class WordVocab(Op):
    """Symbols -> symbols with every word that is a whole vocabulary token replaced by that token."""

    code = OpCode.WORD_VOCAB
    name = "WORD_VOCAB"
    data_dependent = True

    def check(self, node: Node) -> None:
        n = check_hashed_table(node, "table", VOCAB_ROW, MAX_VOCAB_WINDOW, MAX_VOCAB_ROWS)
        expect_shape("output", node.output.shape, (n, SLOTS))

    @staticmethod
    def _homes(node: Node) -> int:
        return node.in_specs[2].shape[0] - node.params[0] + 1

    def forward(self, inputs: Sequence[np.ndarray], node: Node) -> np.ndarray:
        symbols = [int(v) for v in np.asarray(inputs[0]).reshape(-1)]
        pretok = [int(v) for v in np.asarray(inputs[1]).reshape(-1)]
        table = np.asarray(inputs[2]).astype(np.int64)
        window, salt = node.params
        homes = self._homes(node)
        size = len(symbols)
        out = list(symbols)
        ws = 0
        while ws < size:
            _, we = word_bounds(pretok, ws, size)
            filled = _word_filled(symbols, ws, we)
            if len(filled) >= 2:
                h = symbols_hash([symbols[q] for q in filled])
                home = vocab_home(h, salt, homes)
                tid = find_word(table[home:home + window].reshape(-1).tolist(), hash_words(h))
                if tid is not None:
                    for q in filled:
                        out[q] = NO_SYMBOL
                    out[filled[0]] = tid
            ws = we
        return np.array(out, dtype=np.int32).reshape(size // SLOTS, SLOTS)

    def operand_ranges(self, node: Node, out_index: int, inputs=None) -> list[Range]:
        n = node.in_specs[0].shape[0]
        ranges: list[Range] = [(0, 0, SLOTS * n), (1, 0, 2 * n)]
        if inputs is None:
            raise ShapeMismatchError("WORD_VOCAB operand ranges need the symbols and pretok (inputs)")
        symbols = [int(v) for v in np.asarray(inputs[0]).reshape(-1)]
        pretok = [int(v) for v in np.asarray(inputs[1]).reshape(-1)]
        ws, we = word_bounds(pretok, out_index, len(symbols))
        filled = _word_filled(symbols, ws, we)
        if len(filled) < 2:
            return ranges + [(2, 0, 0)]
        window, salt = node.params
        home = vocab_home(symbols_hash([symbols[q] for q in filled]), salt, self._homes(node))
        return ranges + [(2, home * VOCAB_ROW, window * VOCAB_ROW)]

    def element(self, node: Node, operands: Sequence[Sequence[int]], out_index: int) -> int:
        symbols, pretok, window = operands
        return word_vocab_slot(symbols, pretok, window, out_index)

"""The disputable tokenizer: its committed tables and its four-node graph (offchain/engine/ops/text.py).

Who may call: model builders that put a text front on an encoder (``offchain.models.minilm.build_text_model``),
tests and benchmarks.

Why the graph equals ``WordPieceTokenizer.encode(data.decode('utf-8', 'replace'), T)``:

- UTF8_DECODE yields, at the first byte of every well-formed sequence, its code point, and -1 elsewhere;
  Python's replacing decoder yields the same code points in the same order plus U+FFFD for ill-formed
  parts, and step 1 drops U+FFFD and U+0000 (the zero padding), so both see the same text.
- Steps 1-4 of wordpiece.py act on each code point alone (cleaning, whitespace and CJK spacing, per-code-
  point NFD, Mn stripping and lowercase), so they are a table from a code point to its normalised string:
  ``char_tables`` stores ``normalize(chr(c))`` for every c (at most 3 code points; CJK ideographs become
  " c ") as stream values, classed for step 5 (SPACE separates, punctuation stands alone).
- Step 6's greedy longest-match-first search starting at a word position is the longest accepted prefix
  on a trie of the vocabulary (``word_root`` for first pieces, ``cont_root`` for "##" pieces); TRIE_MATCH
  finds it for every slot and WORDPIECE follows the matches word by word with the [UNK] rules and step 7's
  framing. Tests compare the graph with ``encode`` on the sample sentences and on random text.

Tables are weight tensors committed in 32-byte chunks, so a one-step proof reads one small window of them.
Building the Unicode table takes seconds (1.1 M code points), so it is cached under ``build/text-tables``
keyed by the Unicode version and this package's source.
"""

from __future__ import annotations

import hashlib
import os
import unicodedata
import dataclasses
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from offchain.engine.dtypes import DType
from offchain.engine.graph import DEFAULT_CHUNK_LOG2, Graph, Node, TensorKind, TensorRef, TensorSpec
from offchain.engine.model import Model
from offchain.engine.ops import OpCode
from offchain.engine.ops.text import CLS_PUNCT, CLS_SPACE, CLS_WORD, MAX_CODE_POINT, ROW, char_entry, trie_child
from offchain.models import wordpiece

#: Code points per stage-2 block.
SHIFT = 7
#: Stream slots per code point: the longest ``normalize(chr(c))`` (a Hangul syllable's three jamo, " c ").
SLOTS = 3
#: Rows in each trie probe window (with two table rows per edge rounded up to a power of two, the vocabulary
#: of all-MiniLM-L6-v2 places within 8 rows, and within 6, but not within 4; at one row per edge not within 8).
WINDOW = 8
#: Table tensors are committed in 32-byte chunks (a probe window of 8 rows of 12 bytes spans 3 or 4 chunks).
TABLE_CHUNK_LOG2 = 5


class TableError(ValueError):
    """A table cannot be built (a vocabulary too large for the trie table, an expansion over SLOTS)."""


def _cache_dir() -> Path:
    root = Path(os.environ.get("VOAI_BUILD_DIR", Path(__file__).resolve().parents[2] / "build"))
    return root / "text-tables"


def _source_key() -> str:
    h = hashlib.sha256(unicodedata.unidata_version.encode())
    for module in (wordpiece.__file__, __file__):
        h.update(Path(module).read_bytes())
    return h.hexdigest()[:16]


def stream_value(ch: str) -> int:
    """The stream value of one normalised code point: cp * 4 + class."""
    if ch == " ":
        cls = CLS_SPACE
    elif wordpiece.is_punctuation(ch):
        cls = CLS_PUNCT
    else:
        cls = CLS_WORD
    return ord(ch) * 4 + cls


def _char_rows() -> np.ndarray:
    rows = np.zeros((MAX_CODE_POINT + 1, SLOTS), dtype=np.int32)
    for c in range(MAX_CODE_POINT + 1):
        ch = chr(c)
        norm = wordpiece.normalize(ch)
        if len(norm) > SLOTS:
            raise TableError(f"U+{c:04X} normalises to {len(norm)} code points > SLOTS={SLOTS}")
        for k, out in enumerate(norm):
            rows[c, k] = char_entry(stream_value(out), c)
    return rows


@lru_cache(maxsize=1)
def char_tables() -> tuple[np.ndarray, np.ndarray]:
    """(stage1 int32 [0x110000 >> SHIFT + 1], stage2 int32 [blocks * 2^SHIFT, SLOTS]): CHAR_MAP's tables,
    whose entries give ``normalize(chr(c))`` as stream values (``char_entry`` encodes, text.char_value decodes)."""
    path = _cache_dir() / f"chars-{_source_key()}.npz"
    if path.exists():
        with np.load(path) as z:
            return z["stage1"], z["stage2"]
    stage1, stage2 = two_stage(_char_rows())
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, stage1=stage1, stage2=stage2)
    tmp.replace(path)
    return stage1, stage2


def two_stage(rows: np.ndarray, shift: int = SHIFT) -> tuple[np.ndarray, np.ndarray]:
    """CHAR_MAP's (stage1, stage2) for per-code-point stage-2 entries ``rows`` [0x110000, K]: blocks of
    2^shift code points with equal entries are stored once in stage2, stage1 numbers each block."""
    size = 1 << shift
    blocks: dict[bytes, int] = {}
    stage1 = np.zeros((MAX_CODE_POINT >> shift) + 1, dtype=np.int32)
    chunks = []
    for b in range(stage1.size):
        block = rows[b * size:(b + 1) * size]
        key = block.tobytes()
        if key not in blocks:
            blocks[key] = len(chunks)
            chunks.append(block)
        stage1[b] = blocks[key]
    return stage1, np.concatenate(chunks).astype(np.int32)


@dataclass(frozen=True)
class Trie:
    """TRIE_MATCH's table and params: rows [M, 3] = (parent, char, token), roots, depth, salt, window."""

    rows: np.ndarray
    word_root: int
    cont_root: int
    depth: int
    salt: int
    window: int = WINDOW

    @property
    def params(self) -> tuple[int, int, int, int, int]:
        return (self.word_root, self.cont_root, self.window, self.depth, self.salt)


def build_trie(vocab: dict[str, int], window: int = WINDOW, spread: int = 2) -> Trie:
    """The vocabulary trie as an open-addressed hash table (TRIE_MATCH): node ids are path hashes
    (``trie_child``), rows (parent, char, token) sit within WINDOW rows of their home. Tries salts until the ids
    of all prefixes are distinct and every edge is placed; the table has the next power of two at or above
    ``spread`` rows per edge. Roots: 0 for first pieces, 1 for "##" pieces."""
    prefixes: dict[tuple[int, str], int] = {}
    depth = 0
    for token, tid in vocab.items():
        prefixes[(0, token)] = tid
        depth = max(depth, len(token))
        if token.startswith(wordpiece.CONTINUATION_PREFIX) and len(token) > len(wordpiece.CONTINUATION_PREFIX):
            prefixes[(1, token[len(wordpiece.CONTINUATION_PREFIX):])] = tid
    edges: dict[tuple[int, str], int] = {}  # (root, prefix) -> token of that prefix or -1
    for (root, text), tid in prefixes.items():
        for k in range(1, len(text) + 1):
            edges.setdefault((root, text[:k]), -1)
        edges[(root, text)] = tid
    rows_count = 1 << max(4, (spread * len(edges) - 1).bit_length())
    homes = rows_count - window + 1
    by_depth = sorted(edges, key=lambda e: (e[0], len(e[1]), e[1]))   # every prefix after its parent
    for salt in range(64):
        ids: dict[tuple[int, str], int] = {}
        placed = []
        for root, text in by_depth:
            parent = ids[(root, text[:-1])] if len(text) > 1 else root
            ids[(root, text)] = child = trie_child(parent, ord(text[-1]), salt)
            placed.append((child % homes, parent, ord(text[-1]), edges[(root, text)]))   # trie_home's row
        if len(set(ids.values()) | {0, 1}) != len(ids) + 2:
            continue
        placed.sort()
        # Edges in order of home row, each in the first free row at or after its home: the earliest-deadline
        # greedy, which places every edge within its window whenever any placement does.
        rows = np.full((rows_count, ROW), -1, dtype=np.int32)
        last = -1
        for h, parent, cp, tid in placed:
            slot = max(h, last + 1)
            if slot >= h + window:
                break
            rows[slot] = (parent, cp, tid)
            last = slot
        else:
            return Trie(rows, 0, 1, depth, salt, window)
    raise TableError(f"no salt < 64 gives distinct node ids and places {len(edges)} trie edges within windows "
                     f"of {window} rows")


def tokenizer_graph(max_bytes: int, seq_len: int, tokenizer: wordpiece.WordPieceTokenizer, trie: Trie,
                    stage1_rows: int, stage2_rows: int, trie_rows: int) -> Graph:
    """Input bytes int8 [max_bytes] -> ids int32 [1, seq_len]; weights 0..2 = stage1, stage2, trie."""
    if max_bytes < 1 or seq_len < 2:
        raise TableError(f"max_bytes={max_bytes} must be >= 1 and seq_len={seq_len} >= 2")
    i32 = DType.INT32
    c = DEFAULT_CHUNK_LOG2[TensorKind.ACTIVATION]
    byte_spec = TensorSpec((max_bytes,), DType.INT8, 0, DEFAULT_CHUNK_LOG2[TensorKind.INPUT], "utf8")
    weights = [
        TensorSpec((stage1_rows,), i32, 0, TABLE_CHUNK_LOG2, "tokenizer.stage1"),
        TensorSpec((stage2_rows, SLOTS), i32, 0, TABLE_CHUNK_LOG2, "tokenizer.stage2"),
        TensorSpec((trie_rows, ROW), i32, 0, TABLE_CHUNK_LOG2, "tokenizer.trie"),
    ]
    cps = TensorSpec((max_bytes,), i32, 0, c, "code_points")
    stream = TensorSpec((max_bytes, SLOTS), i32, 0, c, "stream")
    match = TensorSpec((max_bytes * SLOTS, 2), i32, 0, c, "matches")
    ids = TensorSpec((1, seq_len), i32, 0, c, "input_ids")
    w = lambda j: TensorRef(TensorKind.WEIGHT, j)  # noqa: E731
    a = lambda j: TensorRef(TensorKind.ACTIVATION, j)  # noqa: E731
    special = (tokenizer.cls_id, tokenizer.sep_id, tokenizer.pad_id, tokenizer.unk_id, wordpiece.MAX_WORD_CHARS)
    nodes = [
        Node(OpCode.UTF8_DECODE, (TensorRef(TensorKind.INPUT, 0),), (byte_spec,), cps, (), "tokenizer.utf8"),
        Node(OpCode.CHAR_MAP, (a(0), w(0), w(1)), (cps, weights[0], weights[1]), stream, (SHIFT,),
             "tokenizer.normalise"),
        Node(OpCode.TRIE_MATCH, (a(1), w(2)), (stream, weights[2]), match, trie.params, "tokenizer.match"),
        Node(OpCode.WORDPIECE, (a(1), a(2)), (stream, match), ids, special, "tokenizer.wordpiece"),
    ]
    graph = Graph([byte_spec], weights, nodes)
    graph.validate()
    return graph


def tokenizer_model(max_bytes: int, seq_len: int, tokenizer: wordpiece.WordPieceTokenizer) -> Model:
    """The tokenizer alone as a model: UTF-8 bytes in, ``[1, seq_len]`` ids out."""
    stage1, stage2 = char_tables()
    trie = build_trie(tokenizer.vocab)
    graph = tokenizer_graph(max_bytes, seq_len, tokenizer, trie, stage1.shape[0], stage2.shape[0],
                            trie.rows.shape[0])
    model = Model(graph, [stage1, stage2, trie.rows], {"name": "wordpiece", "input_encoding": "utf-8"})
    model.validate()
    return model


def splice(front: Model, back: Model) -> Model:
    """``back`` fed by ``front``'s output: back's input 0 becomes front's last node, indices shift.

    The front's output and the back's input must have the same layout (shape, dtype, frac, chunk size).
    """
    fg, bg = front.graph, back.graph
    if len(bg.inputs) != 1 or not fg.output.same_layout(bg.inputs[0]):
        raise TableError(f"front output {fg.output} does not fit back input {bg.inputs}")
    n_nodes, n_weights = len(fg.nodes), len(fg.weights)
    last = n_nodes - 1

    def move(ref: TensorRef) -> TensorRef:
        if ref.kind == TensorKind.INPUT:
            return TensorRef(TensorKind.ACTIVATION, last)
        if ref.kind == TensorKind.WEIGHT:
            return TensorRef(TensorKind.WEIGHT, ref.index + n_weights)
        return TensorRef(TensorKind.ACTIVATION, ref.index + n_nodes)

    nodes = list(fg.nodes) + [
        dataclasses.replace(n, inputs=tuple(move(r) for r in n.inputs)) for n in bg.nodes
    ]
    graph = Graph(list(fg.inputs), list(fg.weights) + list(bg.weights), nodes)
    model = Model(graph, list(front.weights) + list(back.weights), {**back.meta, "input_encoding": "utf-8"})
    model.validate()
    return model


def text_input(text: str | bytes, max_bytes: int) -> np.ndarray:
    """A text model's input tensor: the UTF-8 bytes zero-padded to ``max_bytes`` (int8). Raises TableError
    when the text is longer than the model takes."""
    data = text.encode("utf-8") if isinstance(text, str) else bytes(text)
    if len(data) > max_bytes:
        raise TableError(f"text has {len(data)} UTF-8 bytes; the model takes at most {max_bytes}")
    return np.frombuffer(data + bytes(max_bytes - len(data)), dtype=np.uint8).astype(np.int8)


__all__ = ["SHIFT", "SLOTS", "WINDOW", "TableError", "Trie", "build_trie", "char_tables",
           "splice", "text_input", "tokenizer_graph", "tokenizer_model", "two_stage"]

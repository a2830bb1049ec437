"""Shared by the BPE op tests (engine, Solidity parity, disputes, prover) and the game fuzzer: a tokenizer.json's BPE tables, the op chain
BPE_SYMBOLS -> R x (PAIR_RANK, BPE_MERGE) -> BPE_IDS run through each op's forward, and a small hand-built graph
of the four ops (the request input is the text's code points; pre-tokenization and the other tables are
weights) for dispute and prover tests."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

from offchain.engine.dtypes import DType
from offchain.engine.graph import Graph, Node, TensorKind, TensorRef, TensorSpec
from offchain.engine.model import Model
from offchain.engine.ops import OpCode, get_op
from offchain.engine.ops.bpe import SLOTS
from offchain.models import bpe_merges
from offchain.models.text_tables import SHIFT



def spec(shape, dtype: DType, frac: int) -> TensorSpec:
    return TensorSpec(tuple(int(d) for d in shape), dtype, int(frac))


def make_node(op: int, in_specs, out: TensorSpec, params=()) -> Node:
    """A node whose operands are graph inputs 0..n-1 (enough to run one op's forward)."""
    refs = tuple(TensorRef(TensorKind.INPUT, k) for k in range(len(in_specs)))
    return Node(int(op), refs, tuple(in_specs), out, tuple(int(p) for p in params))

ROOT = Path(__file__).resolve().parents[1]
BYTE_LEVEL = ROOT / "offchain/models/llm_small/tokenizer.json"
SENTENCEPIECE = ROOT / "offchain/models/llm_tiny_sp/tokenizer.json"
I32 = DType.INT32


def i32(shape):
    return spec(shape, I32, 0)


# ------------------------------------------------------------------------------------ the rounds vs tokenizers


class Bpe:
    """A tokenizer.json's BPE tables and the op chain BPE_SYMBOLS -> R x (PAIR_RANK, BPE_MERGE) -> BPE_IDS run
    through each op's forward (the executor's path)."""

    def __init__(self, path: Path | Tokenizer):
        self.hf = path if isinstance(path, Tokenizer) else Tokenizer.from_file(str(path))
        self.data = json.loads(self.hf.to_str())
        self.vocab = self.hf.get_vocab()
        self.mode = bpe_merges.mode(self.data)
        self.table, self.window, self.salt = bpe_merges.merges_table(self.data)
        self.byte_ids = bpe_merges.byte_ids(self.data)
        self.stage1, self.stage2 = bpe_merges.char_vocab_table(self.data)
        self.alphabet = {c: b for b, c in bpe_merges.bytes_to_unicode().items()}
        self.space_token = "Ġ" if self.mode == 0 else "\u2581"

    def words(self, text: str) -> list[str]:
        """The text pre-tokenized by the tokenizer's own normalizer and pre_tokenizer."""
        normalized = self.hf.normalizer.normalize_str(text) if self.hf.normalizer else text
        return [w for w, _ in self.hf.pre_tokenizer.pre_tokenize_str(normalized)]

    def expected(self, words: list[str]) -> list[int]:
        return [t.id for w in words for t in self.hf.model.tokenize(w)]

    def chars_of(self, word: str) -> list[int]:
        """The word's code points as UTF8_CHARS gives them (byte-level words are mapped back to their text)."""
        if self.mode == 0:
            return list(map(ord, bytes(self.alphabet[c] for c in word).decode("utf-8")))
        return list(map(ord, word))

    def layout(self, words: list[str], rng: np.random.Generator, virtual: bool = True, gaps: bool = True):
        """chars [N], pretok [N, 2], added [N], charids [N, 1] holding the words one after the other: a word's
        leading space becomes the virtual prefix char half the time, empty positions (-1) sit between chars."""
        chars, pretok = [], []
        for word in words:
            cps = self.chars_of(word)
            prefix = 0
            if virtual and len(cps) > 1 and chr(cps[0]) in (" ", "\u2581") and rng.random() < 0.5:
                cps, prefix = cps[1:], 1
            for k, cp in enumerate(cps):
                chars.append(cp)
                pretok.append((prefix if k == 0 else 0, 1 if k == 0 and not prefix else 0))
                if gaps and rng.random() < 0.3:
                    chars.append(-1)
                    pretok.append((0, -1))
        n = max(1, len(chars))
        chars += [-1] * (n - len(chars))
        pretok += [(0, -1)] * (n - len(pretok))
        return self.inputs(np.array(chars, dtype=np.int32), np.array(pretok, dtype=np.int32).reshape(n, 2))

    def inputs(self, chars, pretok, added=None):
        n = chars.size
        added = np.full(n, -1, dtype=np.int32) if added is None else added
        if self.mode == 1:
            node = make_node(OpCode.CHAR_MAP, (i32((n,)), i32(self.stage1.shape), i32(self.stage2.shape)),
                             i32((n, 1)), (SHIFT,))
            charids = get_op(OpCode.CHAR_MAP).forward([chars, self.stage1, self.stage2], node)
        else:
            charids = np.zeros((n, 1), dtype=np.int32)
        return chars, pretok, added, charids

    def symbols_node(self, n: int):
        prefix = self.vocab[self.space_token]
        return make_node(OpCode.BPE_SYMBOLS, (i32((n,)), i32((n, 2)), i32((n,)), i32((n, 1)), i32((256,))),
                         i32((n, SLOTS)), (self.mode, prefix, 0x2581))

    def rank_node(self, n: int):
        return make_node(OpCode.PAIR_RANK, (i32((n, SLOTS)), i32((n, 2)), i32(self.table.shape)),
                         i32((SLOTS * n, 2)), (self.window, self.salt))

    @staticmethod
    def merge_node(n: int):
        return make_node(OpCode.BPE_MERGE, (i32((n, SLOTS)), i32((SLOTS * n, 2)), i32((n, 2))), i32((n, SLOTS)))

    def run(self, chars, pretok, added, charids, rounds: int | None = None, frame=(7,), length: int = 0):
        n = chars.size
        symbols = get_op(OpCode.BPE_SYMBOLS).forward([chars, pretok, added, charids, self.byte_ids],
                                                     self.symbols_node(n))
        rank_node, merge_node = self.rank_node(n), self.merge_node(n)
        for _ in range(bpe_merges.rounds_needed(n, self.mode) if rounds is None else rounds):
            ranks = get_op(OpCode.PAIR_RANK).forward([symbols, pretok, self.table], rank_node)
            symbols = get_op(OpCode.BPE_MERGE).forward([symbols, ranks, pretok], merge_node)
        length = length or len(frame) + int((symbols != -1).sum()) + 2
        ids_node = make_node(OpCode.BPE_IDS, (i32((n, SLOTS)), i32((len(frame),))), i32((length,)), (1, -5))
        return symbols, get_op(OpCode.BPE_IDS).forward([symbols, np.array(frame, dtype=np.int32)], ids_node)




def bpe_graph(path: Path = SENTENCEPIECE, text: str = "the cat ate", rounds: int = 3,
              length: int = 12) -> tuple[Model, np.ndarray]:
    """(model, input): code points [N] int32 in; BPE_SYMBOLS, ``rounds`` x (PAIR_RANK, BPE_MERGE), BPE_IDS
    [length] (frame [bos] before) out. Weights: pretok, added, charids, byte_ids, merges, frame."""
    bpe = Bpe(path)
    chars, pretok, added, charids = bpe.layout(bpe.words(text), np.random.default_rng(3), virtual=True, gaps=True)
    n = chars.size
    frame = np.array([1], dtype=np.int32)
    c = 5
    sp = lambda shape, name: TensorSpec(tuple(shape), DType.INT32, 0, c, name)  # noqa: E731
    x_spec = sp((n,), "chars")
    weights = [pretok, added, charids, bpe.byte_ids, bpe.table, frame]
    w_specs = [sp(w.shape, name) for w, name in zip(weights, ("pretok", "added", "charids", "byte_ids", "merges",
                                                              "frame"))]
    w = lambda j: TensorRef(TensorKind.WEIGHT, j)  # noqa: E731
    a = lambda j: TensorRef(TensorKind.ACTIVATION, j)  # noqa: E731
    sym, rank = sp((n, SLOTS), "symbols"), sp((SLOTS * n, 2), "ranks")
    prefix = bpe.vocab[bpe.space_token]
    nodes = [Node(OpCode.BPE_SYMBOLS, (TensorRef(TensorKind.INPUT, 0), w(0), w(1), w(2), w(3)),
                  (x_spec, *w_specs[:4]), sym, (bpe.mode, prefix, 0x2581), "bpe.symbols")]
    for r in range(rounds):
        last = len(nodes) - 1
        nodes.append(Node(OpCode.PAIR_RANK, (a(last), w(0), w(4)), (sym, w_specs[0], w_specs[4]), rank,
                          (bpe.window, bpe.salt), f"bpe.rank{r}"))
        nodes.append(Node(OpCode.BPE_MERGE, (a(last), a(last + 1), w(0)), (sym, rank, w_specs[0]), sym, (),
                          f"bpe.merge{r}"))
    nodes.append(Node(OpCode.BPE_IDS, (a(len(nodes) - 1), w(5)), (sym, w_specs[5]), sp((length,), "ids"), (1, 2),
                      "bpe.ids"))
    model = Model(Graph([x_spec], w_specs, nodes), weights, {"name": "bpe-test"})
    model.validate()
    return model, chars


def word_vocab_graph(text: str = "the cat ate hello") -> tuple[Model, np.ndarray]:
    """(model, input): WORD_VOCAB (ignore_merges) alone: symbols [N, 5] in (BPE_SYMBOLS' output for ``text`` under
    the byte-level tokenizer, with virtual prefix chars and holes), symbols' out. Weights: pretok and a table
    holding the byte-token strings of every other word of the text (ids 9000 + k), so some words become one token
    and the rest are copied."""
    from offchain.models.bpe_merges import place_words

    bpe = Bpe(BYTE_LEVEL)
    chars, pretok, added, charids = bpe.layout(bpe.words(text), np.random.default_rng(3), virtual=True, gaps=True)
    n = chars.size
    symbols = get_op(OpCode.BPE_SYMBOLS).forward([chars, pretok, added, charids, bpe.byte_ids], bpe.symbols_node(n))
    flat, p = symbols.reshape(-1), pretok.reshape(-1)
    starts = [s for s in range(SLOTS * n) if s == 0 or (s % SLOTS < 2 and p[2 * (s // SLOTS) + s % SLOTS] == 1)]
    bounds = list(zip(starts, starts[1:] + [SLOTS * n]))
    words = [[int(v) for v in flat[a:b] if v != -1] for a, b in bounds]
    table, window, salt = place_words([(w, 9000 + k) for k, w in enumerate(words) if k % 2 == 0 and len(w) > 1])
    c = 5
    sp = lambda shape, name: TensorSpec(tuple(shape), DType.INT32, 0, c, name)  # noqa: E731
    x_spec = sp((n, SLOTS), "symbols")
    w_specs = [sp(pretok.shape, "pretok"), sp(table.shape, "word_vocab")]
    node = Node(int(OpCode.WORD_VOCAB), (TensorRef(TensorKind.INPUT, 0), TensorRef(TensorKind.WEIGHT, 0),
                                         TensorRef(TensorKind.WEIGHT, 1)),
                (x_spec, *w_specs), sp((n, SLOTS), "words"), (window, salt), "word_vocab")
    graph = Graph([x_spec], w_specs, [node])
    graph.validate()
    model = Model(graph, [pretok, table], {"name": "word-vocab"})
    model.validate()
    return model, symbols

"""Gas of the one-step operators: `element` of every operator family, and the whole one step through the
prover (operand roots, range proofs, the operator) for the widest rows.

Run: ``python -m bench.bench_ops_gas`` (writes ``bench/results/ops_gas.json``; starts its own anvil).

Figures, each from eth_estimateGas on a local anvil (deterministic: one run each):
* ``element_exec_gas``: a transaction calling the operator's ``element`` directly, minus the 21000 base and
  the calldata's intrinsic gas: what the prover's call to the operator costs in execution.
* ``one_step_tx_gas``: a transaction calling ``OneStepProver.recompute`` with an honest step proof (roots,
  range proofs with their chunks, the operator call), calldata included: what a challenger's step costs.
Compared with the 2,000,000-gas bound every one-step must stay well under (and DESIGN.md's ~1M aim).
Rows: 4096 = Llama-2-7B's d_model (norms) and a 4096-token attention row (softmax); 384 = MiniLM's width;
the tokenizer's ops at the oracle MiniLM's input size (``text_cases``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
from rich.console import Console

from bench._results import Result, write_results
from offchain.dispute.claimed_tree import ClaimedTree
from offchain.dispute.commitment import ExecutionCommitment, ModelCommitment
from offchain.dispute.operators import (
    OPERATOR_CONTRACTS,
    descriptor_tuple,
    operand_tuple,
    operator_families,
    prover_args,
)
from offchain.dispute.proofs import build_step_proof
from offchain.engine.descriptor import encode_node
from offchain.engine.dtypes import DType
from offchain.engine.executor import run
from offchain.engine.graph import Graph, Node, TensorKind, TensorRef, TensorSpec
from offchain.engine.model import Model
from offchain.engine.ops import OpCode, get_op

STEP_BOUND = 2_000_000
SEED = 20240601


@dataclass
class Case:
    """One operator application: a one-node model (input 0 and weights 0..) and the output element to prove."""

    name: str
    op: OpCode
    x: np.ndarray
    x_spec: TensorSpec
    weights: list[tuple[np.ndarray, TensorSpec]]
    out: TensorSpec
    params: tuple[int, ...] = ()
    element: int = -1  # -1: the last element (the longest causal row, the last channel)
    whole_step: bool = True  # False where the step cannot run inside a block (a note says why)
    # ---- generation: cache (issue 15)
    #: Unread one-byte weights after the node's, so each weight operand's root proof has as many siblings as an
    #: activation's in a big graph's trace tree (a KV-cache block is an earlier node's output).
    padding_weights: int = 0

    def model(self) -> Model:
        refs = (TensorRef(TensorKind.INPUT, 0),) + tuple(TensorRef(TensorKind.WEIGHT, k) for k in range(len(self.weights)))
        specs = (self.x_spec,) + tuple(s for _, s in self.weights)
        node = Node(int(self.op), refs, specs, self.out, self.params, self.name)
        pad = _spec((1,), DType.INT8, 0)
        model = Model(Graph([self.x_spec], [s for _, s in self.weights] + [pad] * self.padding_weights, [node]),
                      [w for w, _ in self.weights] + [np.zeros(1, np.int8)] * self.padding_weights, {})
        model.validate()
        return model

    @property
    def weight_count(self) -> int:
        """Weights of the case's model (the node's and the padding)."""
        return len(self.weights) + self.padding_weights


def _spec(shape: Sequence[int], dtype: DType, frac: int, chunk_log2: int = 5) -> TensorSpec:
    return TensorSpec(tuple(shape), dtype, frac, chunk_log2)


def _ints(rng: np.random.Generator, shape, lo: int, hi: int, dtype: DType) -> np.ndarray:
    return rng.integers(lo, hi, size=shape).astype(dtype.numpy)


def cases() -> list[Case]:
    rng = np.random.default_rng(SEED)
    out: list[Case] = []
    for n in (384, 1024, 2048, 4096):
        x = _ints(rng, (1, n), -(8 << 12), 8 << 12, DType.INT32)
        out.append(Case(f"softmax n={n} (int32 f12 -> int16 f14)", OpCode.SOFTMAX, x, _spec((1, n), DType.INT32, 12),
                        [], _spec((1, n), DType.INT16, 14), (0,)))
    for n in (384, 4096):
        x = _ints(rng, (1, n), -(4 << 16), 4 << 16, DType.INT32)
        gamma = (_ints(rng, (n,), 8000, 24000, DType.INT16), _spec((n,), DType.INT16, 14))
        beta = (_ints(rng, (n,), -4000, 4000, DType.INT16), _spec((n,), DType.INT16, 14))
        eps = (round(1e-5 * 4**16),)
        out.append(Case(f"layernorm n={n} (int32 f16 -> int16 f10)", OpCode.LAYERNORM, x, _spec((1, n), DType.INT32, 16),
                        [gamma, beta], _spec((1, n), DType.INT16, 10), eps))
        out.append(Case(f"rmsnorm n={n} (int32 f16 -> int16 f10)", OpCode.RMSNORM, x, _spec((1, n), DType.INT32, 16),
                        [gamma], _spec((1, n), DType.INT16, 10), eps))
    act = _ints(rng, (1, 64), -(4 << 10), 4 << 10, DType.INT16)
    for name, op, params in (("gelu erf", OpCode.GELU, (0,)), ("gelu tanh", OpCode.GELU, (1,)), ("silu", OpCode.SILU, ())):
        out.append(Case(f"{name} (int16 f10)", op, act, _spec((1, 64), DType.INT16, 10), [], _spec((1, 64), DType.INT16, 10),
                        params))
    for c in (4, 64, 512):
        x = _ints(rng, (1, c, 8, 8), -128, 128, DType.INT8)
        w = (_ints(rng, (16, c, 3, 3), -128, 128, DType.INT8), _spec((16, c, 3, 3), DType.INT8, 6, 12))
        b = (_ints(rng, (16,), -5000, 5000, DType.INT32), _spec((16,), DType.INT32, 10))
        out.append(Case(f"conv2d 3x3x{c} pad 1 (int8)", OpCode.CONV2D, x, _spec((1, c, 8, 8), DType.INT8, 4), [w, b],
                        _spec((1, 16, 8, 8), DType.INT8, 4), (1, 1, 1, 1), element=16 * 64 - 1 - 8 * 4 - 4,
                        whole_step=c < 512))
    x = _ints(rng, (1, 4096), -(1 << 15), 1 << 15, DType.INT16)
    out.append(Case("mean n=4096 (int16)", OpCode.MEAN, x, _spec((1, 4096), DType.INT16, 8), [],
                    _spec((1,), DType.INT16, 8), (round((1 << 24) / 4096), 24), element=0))
    ids = _ints(rng, (1, 8), 0, 32000, DType.INT32)
    table = (_ints(rng, (32000, 64), -128, 128, DType.INT8), _spec((32000, 64), DType.INT8, 6, 12))
    out.append(Case("embedding V=32000 (int8 table)", OpCode.EMBEDDING, ids, _spec((1, 8), DType.INT32, 0), [table],
                    _spec((1, 8, 64), DType.INT16, 6)))
    q = _ints(rng, (1, 16, 64), -(1 << 15), 1 << 15, DType.INT16)
    cos = (_ints(rng, (16, 64), -(1 << 14), 1 << 14, DType.INT16), _spec((16, 64), DType.INT16, 14))
    sin = (_ints(rng, (16, 64), -(1 << 14), 1 << 14, DType.INT16), _spec((16, 64), DType.INT16, 14))
    out.append(Case("rope (int16)", OpCode.ROPE, q, _spec((1, 16, 64), DType.INT16, 8), [cos, sin],
                    _spec((1, 16, 64), DType.INT16, 8)))
    bias = (_ints(rng, (64,), -(1 << 15), 1 << 15, DType.INT16), _spec((64,), DType.INT16, 6))
    out.append(Case("add, broadcast (int16)", OpCode.ADD, q, _spec((1, 16, 64), DType.INT16, 8), [bias],
                    _spec((1, 16, 64), DType.INT16, 8)))
    out.append(Case("permute (0, 2, 1)", OpCode.PERMUTE, q, _spec((1, 16, 64), DType.INT16, 8), [],
                    _spec((1, 64, 16), DType.INT16, 8), (0, 2, 1)))
    # ---------------------------------------------------------------- pooling and reductions (issue 13)
    # ResNet-50's shapes: the stem's 3x3/2 max pool over 64x112x112, a 7x7 average over the last 2048x7x7 map
    # (the full window of the centre element: 7 rows of 7), and a 4096-wide amax row.
    x = _ints(rng, (1, 64, 112, 112), -128, 128, DType.INT8)
    out.append(Case("maxpool2d 3x3/2 pad 1 over 64x112x112 (int8)", OpCode.MAXPOOL2D, x,
                    _spec((1, 64, 112, 112), DType.INT8, 4), [], _spec((1, 64, 56, 56), DType.INT8, 4),
                    (3, 3, 2, 2, 1, 1), element=64 * 56 * 56 - 56 * 28 - 28))
    x = _ints(rng, (1, 2048, 7, 7), -(1 << 15), 1 << 15, DType.INT16)
    for name, op, params in (("maxpool2d", OpCode.MAXPOOL2D, (7, 7, 1, 1, 3, 3)),
                             ("avgpool2d", OpCode.AVGPOOL2D, (7, 7, 1, 1, 3, 3, 0))):
        out.append(Case(f"{name} 7x7 pad 3 over 2048x7x7 (int16)", op, x, _spec((1, 2048, 7, 7), DType.INT16, 8), [],
                        _spec((1, 2048, 7, 7), DType.INT16, 8), params, element=2048 * 49 - 25))
    x = _ints(rng, (1, 4096), -(1 << 15), 1 << 15, DType.INT16)
    out.append(Case("amax n=4096 (int16)", OpCode.AMAX, x, _spec((1, 4096), DType.INT16, 8), [],
                    _spec((1,), DType.INT16, 8), element=0))
    return (out + text_cases() + act_cases() + broadcast_cases() + conv_cases() + detok_cases() + bpe_cases()
            + word_vocab_cases() + pretok_cases() + sample_cases() + cache_cases()  # sample, cache: issue 15
            + added_cases()  # added: issue 14
            + nfc_cases()  # nfc: issue 14
            + image_cases()  # image: issue 16
            + stat_cases()  # image: sd-unet-block (issue 16)
            + nfc_run_cases())  # nfc runs: issue 14


def conv_cases() -> list[Case]:
    """CONV2D's long form at MobileNet/ResNet sizes: depthwise 3x3 over 1024 channels (plain and dilated "same"),
    and a ResNet stem (7x7 stride 2 pad 3 over a 224x224 RGB image). A depthwise element reads 3 runs whatever
    the channel count; the dense 3x3 over 512 channels is the ``conv2d 3x3x512`` case above (its 1,536 runs do
    not fit a block)."""
    rng = np.random.default_rng(SEED + 13)
    out = []
    c = 1024
    x = _ints(rng, (1, c, 8, 8), -128, 128, DType.INT8)
    w = (_ints(rng, (c, 1, 3, 3), -128, 128, DType.INT8), _spec((c, 1, 3, 3), DType.INT8, 6, 12))
    b = (_ints(rng, (c,), -5000, 5000, DType.INT32), _spec((c,), DType.INT32, 10))
    for name, params in (("pad 1", (1, 1, 1, 1, 1, 1, 1, 1, c)), ("dilation 2 same", (1, 1, 2, 2, 2, 2, 2, 2, c))):
        out.append(Case(f"conv2d depthwise 3x3x{c} {name} (int8)", OpCode.CONV2D, x, _spec((1, c, 8, 8), DType.INT8, 4),
                        [w, b], _spec((1, c, 8, 8), DType.INT8, 4), params, element=c * 64 - 1 - 8 * 4 - 4))
    x = _ints(rng, (1, 3, 224, 224), -128, 128, DType.INT8)
    w = (_ints(rng, (64, 3, 7, 7), -128, 128, DType.INT8), _spec((64, 3, 7, 7), DType.INT8, 6, 12))
    out.append(Case("conv2d stem 7x7x3 stride 2 pad 3, 224x224 (int8)", OpCode.CONV2D, x,
                    _spec((1, 3, 224, 224), DType.INT8, 4), [w], _spec((1, 64, 112, 112), DType.INT8, 4), (2, 2, 3, 3),
                    element=64 * 112 * 112 - 1 - 56 * 112 - 56))
    return out


def text_cases() -> list[Case]:
    """The tokenizer's four ops at the oracle MiniLM's size (256 UTF-8 bytes, 768 stream slots, 128 tokens), on
    a text that makes each step do its most work: the longest vocabulary word (18 characters, 19 trie probes) at
    slot 0, and enough words to fill all 128 token positions (the last one walks the whole stream)."""
    from offchain.models.minilm import TEXT_BYTES, TEXT_SEQ_LEN, load_tokenizer
    from offchain.models.text_tables import text_input, tokenizer_model

    tok = tokenizer_model(TEXT_BYTES, TEXT_SEQ_LEN, load_tokenizer())
    text = ("telecommunications " + "a b c d e f g h i j k l m n o p q r s t u v w x y z " * 10)[:TEXT_BYTES]
    x = text_input(text, TEXT_BYTES)
    trace = run(tok, [x])
    g, w = tok.graph, tok.weights
    n = g.nodes
    ws = g.weights
    act = lambda i: n[i].output  # noqa: E731
    return [
        Case("utf8_decode (256 bytes)", OpCode.UTF8_DECODE, x, g.inputs[0], [], act(0), element=0),
        Case("char_map (Unicode table)", OpCode.CHAR_MAP, trace.outputs[0], act(0), [(w[0], ws[0]), (w[1], ws[1])],
             act(1), (n[1].params), element=0),
        Case("trie_match 19 probes (MiniLM vocab)", OpCode.TRIE_MATCH, trace.outputs[1], act(1), [(w[2], ws[2])],
             act(2), n[2].params, element=0),
        Case("wordpiece token 128 of 768 slots", OpCode.WORDPIECE, trace.outputs[1], act(1),
             [(trace.outputs[2], TensorSpec(act(2).shape, DType.INT32, 0, act(2).chunk_log2))], act(3), n[3].params),
    ]


# ---------------------------------------------------------------- activations (issue 13)

#: (name, op, params, x frac, out frac) of the issue-13 activations' cases: the params torch's defaults give.
ACT_OPS = (("tanh", OpCode.TANH, (), 10, 14), ("sigmoid", OpCode.SIGMOID, (), 10, 14),
           ("softplus", OpCode.SOFTPLUS, (), 10, 10), ("clamp relu6", OpCode.CLAMP, (0, 6 << 10), 10, 10),
           ("leaky_relu 0.01", OpCode.LEAKY_RELU, (167772, 24), 10, 10), ("hardswish", OpCode.HARDSWISH, (), 10, 10),
           ("hardsigmoid", OpCode.HARDSIGMOID, (), 10, 14))


def act_cases() -> list[Case]:
    """Issue 13's activations on a 4096-wide int32 row (the widest hidden state; int32 makes the chunk the
    costliest to prove), at the last element. Each element reads one input element, so the width only adds
    Merkle siblings."""
    rng = np.random.default_rng(SEED + 13)
    x = _ints(rng, (1, 4096), -(8 << 10), 8 << 10, DType.INT32)
    return [Case(f"{name} n=4096 (int32 f{fx} -> int16 f{fo})", op, x, _spec((1, 4096), DType.INT32, fx), [],
                 _spec((1, 4096), DType.INT16, fo), params) for name, op, params, fx, fo in ACT_OPS]
# ---------------------------------------------------------------- attention and shape functions (issue 13)
def broadcast_cases() -> list[Case]:
    """EXPAND and WHERE at their widest: 4096-wide rows broadcast over 64 rows of 4 heads (rank 4, the deepest
    unravel the compiler emits for attention), every operand in a tree of 2^20+ bytes."""
    rng = np.random.default_rng(SEED + 37)
    row = _ints(rng, (1, 1, 1, 4096), -(1 << 15), 1 << 15, DType.INT16)
    cases_ = [Case("expand [1,1,1,4096] -> [4,64,1,4096] (int16)", OpCode.EXPAND, row,
                   _spec((1, 1, 1, 4096), DType.INT16, 8), [], _spec((4, 64, 1, 4096), DType.INT16, 8))]
    cond = _ints(rng, (4, 64, 4096), 0, 2, DType.INT8)
    x = (_ints(rng, (4, 64, 4096), -(1 << 30), 1 << 30, DType.INT32), _spec((4, 64, 4096), DType.INT32, 16))
    y = (_ints(rng, (64, 1), -(1 << 30), 1 << 30, DType.INT32), _spec((64, 1), DType.INT32, 16))
    cases_.append(Case("where [4,64,4096] (int8 cond, int32 x, y [64,1])", OpCode.WHERE, cond,
                       _spec((4, 64, 4096), DType.INT8, 0), [x, y], _spec((4, 64, 4096), DType.INT32, 16)))
    return cases_


# ---- tokenizer: detok (issue 14)
def detok_case(tokens: int, max_len: int, strip: int, out_bytes: int, vocab: int = 512, seed: int = SEED + 46) -> list[Case]:
    """DETOK_LEN and DETOK_BYTES over ``tokens`` ids, a [vocab, max_len + 1] table and ``out_bytes`` text bytes,
    at DETOK_BYTES' costliest element: a step scans lens up to the first non-empty token twice (its id, its row)
    and up to the token holding the byte twice (its id, its entry), so every token but the last is empty (special
    id 0) and the last is ``max_len`` bytes long, every other entry marked (strip 2 reads and walks its whole
    row); the element is the text's last byte."""
    rng = np.random.default_rng(seed)
    width = max_len + 1
    table = rng.integers(0x20, 0x7F, size=(vocab, width)).astype(np.int32)
    table[:, 0] = rng.integers(1, max_len + 1, size=vocab)
    table[0, 0] = 0
    table[1, 0] = max_len
    table[1, 1::2] |= 0x100 if strip == 2 else 0
    table[1, 1] = 0x20 | (0x100 if strip == 2 else 0)
    ids = np.zeros((tokens,), dtype=np.int32)
    ids[-1] = 1
    lens = np.where(ids == 1, max_len, 0).astype(np.int32)
    ids_spec, lens_spec = _spec((tokens,), DType.INT32, 0), _spec((tokens,), DType.INT32, 0)
    table_spec = _spec((vocab, width), DType.INT32, 0)
    dropped = (max_len + 1) // 2 if strip == 2 else (1 if strip == 1 else 0)
    last = min(out_bytes, max_len - dropped) - 1
    tag = f"T={tokens} L={max_len} B={out_bytes} V={vocab}"
    return [
        Case(f"detok_len {tag}", OpCode.DETOK_LEN, ids, ids_spec, [(table, table_spec)], lens_spec, element=tokens - 1),
        Case(f"detok_bytes strip {strip} {tag}", OpCode.DETOK_BYTES, ids, ids_spec,
             [(lens, lens_spec), (table, table_spec)], _spec((out_bytes,), DType.INT8, 0), (strip,), element=last),
    ]


def detok_cases() -> list[Case]:
    """The detokenizer at its caps (offchain/engine/ops/detok.py: MAX_TOKENS ids, MAX_TOKEN_BYTES per token,
    MAX_TEXT_BYTES of text) in each strip mode, and at smaller sizes for bench_move_gas's per-element slope."""
    from offchain.engine.ops.detok import MAX_TEXT_BYTES, MAX_TOKEN_BYTES, MAX_TOKENS

    out: list[Case] = []
    for strip in (0, 1, 2):
        out += detok_case(MAX_TOKENS, MAX_TOKEN_BYTES, strip, MAX_TEXT_BYTES)[1 if strip else 0:]
    out += detok_case(256, 64, 2, 4096)
    out += detok_case(MAX_TOKENS // 2, 256, 1, 16384)[1:]
    out += detok_case(MAX_TOKENS, 16, 2, 4096)[1:]      # T and L apart, so the per-element fit sees each
    out += detok_case(128, MAX_TOKEN_BYTES, 2, 4096)[1:]
    out += detok_case(64, 8, 0, 256)[1:]
    return out
# ---- tokenizer: bpe (issue 14)
def bpe_worst(op: OpCode, n: int, name: str) -> Case:
    """One BPE op at N = ``n`` positions on the input that makes its step do the most work: one word over every
    slot (all 5N filled: BPE_MERGE walks it twice to the last slot, BPE_IDS counts every piece), PAIR_RANK at slot 0
    whose next symbol is the last slot and whose pair misses a full window of MAX_WINDOW rows."""
    from offchain.engine.ops.bpe import MAX_FRAME, MAX_WINDOW

    rng = np.random.default_rng(SEED + 14)
    i32 = lambda shape: _spec(shape, DType.INT32, 0)  # noqa: E731
    pretok = np.zeros((n, 2), dtype=np.int32)
    pretok[0, 1] = 1
    full = rng.integers(0, 4096, size=(n, 5)).astype(np.int32)
    if op == OpCode.BPE_SYMBOLS:
        chars = np.full(n, 0x10FFFF, dtype=np.int32)
        byte_ids = np.arange(256, dtype=np.int32)
        weights = [(pretok, i32((n, 2))), (np.full(n, -1, dtype=np.int32), i32((n,))),
                   (np.zeros((n, 1), dtype=np.int32), i32((n, 1))), (byte_ids, i32((256,)))]
        return Case(name, op, chars, i32((n,)), weights, i32((n, 5)), (0, 5, 0x2581), element=5 * n - 1)
    if op == OpCode.PAIR_RANK:
        lone = np.full((n, 5), -1, dtype=np.int32)
        lone[0, 0], lone[n - 1, 4] = 7, 8
        table = np.full((8192, 4), 9, dtype=np.int32)
        return Case(name, op, lone, i32((n, 5)), [(pretok, i32((n, 2))), (table, i32((8192, 4)))], i32((5 * n, 2)),
                    (MAX_WINDOW, 12345), element=0)
    if op == OpCode.BPE_MERGE:
        ranks = np.stack([np.full(5 * n, 3), np.arange(5 * n)], axis=1).astype(np.int32)
        return Case(name, op, full, i32((n, 5)), [(ranks, i32((5 * n, 2))), (pretok, i32((n, 2)))], i32((n, 5)),
                    element=5 * n - 1)
    frame = np.arange(MAX_FRAME, dtype=np.int32)
    length = 5 * n + MAX_FRAME
    return Case(name, op, full, i32((n, 5)), [(frame, i32((MAX_FRAME,)))], i32((length,)), (1, 0),
                element=5 * n)


def bpe_cases() -> list[Case]:
    """The four BPE ops at the largest N their check() allows (MAX_POSITIONS), worst inputs (``bpe_worst``)."""
    from offchain.engine.ops.bpe import MAX_POSITIONS

    n = MAX_POSITIONS
    return [bpe_worst(op, n, f"{OpCode(op).name.lower()} N={n} worst") for op in
            (OpCode.BPE_SYMBOLS, OpCode.PAIR_RANK, OpCode.BPE_MERGE, OpCode.BPE_IDS)]


def word_vocab_worst(n: int, name: str, rows: int = 8192) -> Case:
    """WORD_VOCAB at N = ``n`` on its costliest element: one word over every slot (all 5N filled, so the element at
    the last slot scans back to slot 0 and hashes 5N symbols) whose key sits in the last row of a full
    MAX_VOCAB_WINDOW window (every row compared)."""
    from offchain.engine.ops.wordvocab import MAX_VOCAB_WINDOW, VOCAB_ROW, hash_words, symbols_hash, vocab_home

    rng = np.random.default_rng(SEED + 48)
    i32 = lambda shape: _spec(shape, DType.INT32, 0)  # noqa: E731
    pretok = np.zeros((n, 2), dtype=np.int32)
    full = rng.integers(0, 4096, size=(n, 5)).astype(np.int32)
    salt = 12345
    table = rng.integers(-(2**31), 2**31 - 1, size=(rows, VOCAB_ROW), dtype=np.int64).astype(np.int32)
    h = symbols_hash(full.reshape(-1).tolist())
    table[vocab_home(h, salt, rows - MAX_VOCAB_WINDOW + 1) + MAX_VOCAB_WINDOW - 1] = (*hash_words(h), 77)
    return Case(name, OpCode.WORD_VOCAB, full, i32((n, 5)), [(pretok, i32((n, 2))), (table, i32((rows, VOCAB_ROW)))],
                i32((n, 5)), (MAX_VOCAB_WINDOW, salt), element=5 * n - 1)


def word_vocab_cases() -> list[Case]:
    """WORD_VOCAB (BPE ignore_merges) at the cap N = MAX_POSITIONS, window MAX_VOCAB_WINDOW (``word_vocab_worst``)."""
    from offchain.engine.ops.bpe import MAX_POSITIONS

    return [word_vocab_worst(MAX_POSITIONS, f"word_vocab N={MAX_POSITIONS} worst")]


def bpe_extra_cases() -> list[Case]:
    """The BPE ops at N = 16 and 96 as well (bench_move_gas fits each op's per-element cost)."""
    return [bpe_worst(op, n, f"{OpCode(op).name.lower()} N={n}") for n in (16, 96)
            for op in (OpCode.BPE_SYMBOLS, OpCode.PAIR_RANK, OpCode.BPE_MERGE, OpCode.BPE_IDS)]


def _calldata_gas(data: bytes) -> int:
    zeros = data.count(0)
    return 4 * zeros + 16 * (len(data) - zeros)


def element_exec_gas(contract: Any, case: Case, sender: Any) -> int:
    """Execution gas of ``element`` for the case's element; checks the value against Python's first."""
    model = case.model()
    node = model.graph.nodes[0]
    inputs = [case.x] + [w for w, _ in case.weights]
    op = get_op(node.op)
    e = case.element % node.output.size
    values = [[int(v) for v in np.asarray(inputs[s]).reshape(-1)[a:a + n]] for s, a, n in op.operand_ranges(node, e, inputs)]
    operands = [operand_tuple(v, int(node.in_specs[s].dtype)) for v, (s, _, _) in zip(values, op.operand_ranges(node, e, inputs))]
    nd = descriptor_tuple(encode_node(node, 0))
    want = op.element(node, values, e)
    got = contract.element(nd, operands, e)
    if got != want:
        raise AssertionError(f"{case.name}: contract gives {got}, Python {want}")
    total = contract.element.estimate_gas_cost(nd, operands, e, sender=sender)
    data = bytes(contract.element.as_transaction(nd, operands, e, sender=sender).data)
    return total - 21000 - _calldata_gas(data)


def one_step_tx_gas(prover: Any, case: Case, sender: Any) -> tuple[int, int]:
    """Gas of a ``recompute`` transaction with an honest step proof for the case's element, and the part of it
    spent inside the operator contract (its rangeCount, range and element calls, from anvil's call tracer)."""
    commitment = ModelCommitment(case.model())
    honest = ExecutionCommitment(commitment, run(commitment.model, [case.x]))
    tree = honest.trace_tree
    claimed = ClaimedTree(tree, honest.trace_root)
    claimed.add_reveal(0, 0, [tree.node(tree.depth, k) for k in range(1 << tree.depth)])
    e = case.element % commitment.model.graph.nodes[0].output.size
    step = build_step_proof(honest, claimed, 0, e)
    ctx = (commitment.graph_tree.root, 1, commitment.weights_tree.root, case.weight_count, honest.input_root,
           honest.trace_root, 0, e)
    got = prover.recompute(ctx, commitment.descriptor(0), step.proof)
    if got != step.value:
        raise AssertionError(f"{case.name}: prover gives {got}, Python {step.value}")
    total = prover.recompute.estimate_gas_cost(ctx, commitment.descriptor(0), step.proof, sender=sender)
    data = prover.recompute.encode_input(ctx, commitment.descriptor(0), step.proof)
    call = {"from": sender.address, "to": prover.address, "data": data, "gas": hex(30_000_000)}
    trace = prover.provider.make_request("debug_traceCall", [call, "latest", {"tracer": "callTracer"}])
    inside = sum(int(c["gasUsed"], 16) for c in trace.get("calls", []))
    return total, inside


def main() -> None:
    from ape import accounts, networks, project

    console = Console()
    results: list[Result] = []
    with networks.parse_network_choice("ethereum:local:foundry"):
        sender = accounts.test_accounts[0]
        families = {name: sender.deploy(getattr(project, name)) for name in operator_families()}
        codes, addresses = prover_args({name: c.address for name, c in families.items()})
        prover = sender.deploy(project.OneStepProver, codes, addresses)
        for case in cases():
            contract = families[OPERATOR_CONTRACTS[case.op]]
            exec_gas = element_exec_gas(contract, case, sender)
            note = None if case.whole_step else "whole step not run: its C*KH range proofs exceed a block's gas"
            results.append(Result(case.name, "element_exec_gas", exec_gas, "gas", "one-step bound", STEP_BOUND,
                                  note=note))
            if not case.whole_step:
                console.print(f"{case.name}: element {exec_gas:,} gas; {note}")
                continue
            step_gas, inside = one_step_tx_gas(prover, case, sender)
            results.append(Result(case.name, "one_step_tx_gas", step_gas, "gas", "one-step bound", STEP_BOUND))
            results.append(Result(case.name, "one_step_operator_calls_gas", inside, "gas",
                                  "one_step_tx_gas", step_gas))
            console.print(f"{case.name}: element {exec_gas:,} gas, whole step {step_gas:,} gas "
                          f"(operator calls {inside:,})")
    write_results("ops_gas", results, console)


# ---- tokenizer: pretok (issue 14)
def pretok_cases(n: int | None = None, a: int | None = None, l: int | None = None) -> list[Case]:
    """UTF8_CHARS, ADDED_TOKENS and PRETOKENIZE at the largest sizes their checks allow (N = MAX_CHARS; ADDED_TOKENS
    at N * A * (ceil(L / 8) + 2) = MAX_ADDED_WORK, short and long rows), on inputs that make each step do its most
    work: UTF8_CHARS' last byte after a text of one byte (the padding scan walks every byte); ADDED_TOKENS' last
    char of a text of one repeated char where every row matches all but its last char at every position;
    PRETOKENIZE's last char of one segment of N chars for each regex kind, on texts of the shortest matches
    (one-char words, contractions, digit runs, whitespace)."""
    from offchain.engine.ops.pretok import MAX_CHARS, added_matches
    from offchain.models.bpe_tables import class_table

    n = n or MAX_CHARS
    shapes = [(a, l)] if a else [(10, 16), (8, 24), (5, 48), (4, 64), (13, 1)]
    s1, s2, _ = class_table()
    i32 = lambda shape: _spec(shape, DType.INT32, 0)  # noqa: E731
    out = []
    raw = np.zeros(n, dtype=np.int8)
    raw[0] = 0x41
    out.append(Case(f"utf8_chars n={n} (padding scan)", OpCode.UTF8_CHARS, raw, _spec((n,), DType.INT8, 0), [],
                    i32((n,))))
    raw = np.frombuffer(("\u00e9" * n).encode()[:n], dtype=np.uint8).astype(np.int8)
    out.append(Case(f"utf8_chars n={n} (2-byte chars)", OpCode.UTF8_CHARS, raw, _spec((n,), DType.INT8, 0), [],
                    i32((n,))))
    chars = np.full(n, ord("a"), dtype=np.int32)
    for a_, l_ in shapes:
        table = np.full((a_, l_ + 1), ord("a"), dtype=np.int32)
        table[:, 0] = np.arange(a_)
        table[:, l_] = ord("b")
        assert max(added_matches(chars.tolist(), table.reshape(-1).tolist(), l_ + 1)) == -1
        out.append(Case(f"added_tokens n={n} A={a_} L={l_} (every row fails on its last char)", OpCode.ADDED_TOKENS,
                        chars, i32((n,)), [(table, i32((a_, l_ + 1)))], i32((n,))))
    for kind, text in ((1, "a " * n), (2, "'s" * n), (3, "1" * n), (2, " \t" * n), (4, " a" * n), (1, "a!" * n)):
        cps = np.array([ord(c) for c in text[:n]], dtype=np.int64)
        blocks = s1[cps >> 8].astype(np.int64)
        e = s2[(blocks << 8) + (cps & 255), 0].astype(np.int64)
        stream = (4 * cps + (e & 3)).astype(np.int32).reshape(n, 1)
        added = np.full(n, -1, dtype=np.int32)
        out.append(Case(f"pretokenize n={n} kind {kind} {text[:2]!r}*", OpCode.PRETOKENIZE, stream, i32((n, 1)),
                        [(added, i32((n,)))], i32((n, 2)), (kind, 1, 0)))
    return out


# ---- generation: sample (issue 15)
def sample_cases(topk_shapes: Sequence[tuple[int, int, int, int]] | None = None) -> list[Case]:
    """GEN_PARAMS, TOPK, PRNG, SAMPLE and GEN_STOP at the largest sizes their checks allow
    (offchain/engine/ops/sample.py). TOPK's costliest element is a row's last entry (the k-th largest: a sorted
    array of k slots) on keys in ascending order (every key enters the array: a binary search and a k-word copy
    each); shapes (mode, k, block | group, kin) at the gas model's largest entries for k = 1, 40 and MAX_K in each
    mode, and the 7B vocabulary's tree (32,000 logits, K = 40: block 1,280, then one group of 25 rows). SAMPLE at
    K = MAX_K with every candidate within the exp's range (all K weights computed) and rnd at its top (the running
    sum walks every weight); GEN_STOP with MAX_EOS ids none of which matches."""
    from offchain.engine.ops.sample import MAX_EOS, MAX_K, TOPK_STEP_GAS_BUDGET, request_params, topk_step_gas

    def widest(mode: int, k: int, kin: int = 1) -> int:
        return max(w for w in range(1, 5000) if topk_step_gas(mode, k, w * kin) <= TOPK_STEP_GAS_BUDGET)

    i32 = lambda shape: _spec(shape, DType.INT32, 0)  # noqa: E731
    shapes = topk_shapes or [(0, 1, widest(0, 1), 0), (0, 40, widest(0, 40), 0), (0, MAX_K, widest(0, MAX_K), 0),
                             (1, 1, widest(1, 1), 1), (1, 40, widest(1, 40, 5), 5), (1, MAX_K, widest(1, MAX_K, 4), 4),
                             (0, 40, 1280, 0), (1, 40, 25, 40)]
    out: list[Case] = []
    raw = np.frombuffer(request_params(200, 1.5, 40, 2**32 - 1), dtype=np.int8).copy()
    out.append(Case("gen_params", OpCode.GEN_PARAMS, raw, _spec((16,), DType.INT8, 0), [], i32((4,)), (255, 40)))
    for mode, k, width, kin in shapes:
        if mode == 0:
            n = 2 * width  # two blocks: the step proves the second
            x = np.arange(-n, 0, dtype=np.int32)
            out.append(Case(f"topk blocks k={k} block={width} (int32, ascending)", OpCode.TOPK, x, i32((n,)), [],
                            i32((2, k, 2)), (0, k, width), element=4 * k - 2))
        else:
            c = np.zeros((2 * width, kin, 2), dtype=np.int32)
            c[..., 0] = np.arange(2 * width * kin, dtype=np.int32).reshape(2 * width, kin)
            c[..., 1] = np.arange(2 * width * kin, dtype=np.int32).reshape(2 * width, kin)
            out.append(Case(f"topk merge k={k} group={width} kin={kin} (ascending)", OpCode.TOPK, c,
                            i32(c.shape), [], i32((2, k, 2)), (1, k, width), element=4 * k - 2))
    params4 = np.array([64, 100, MAX_K, 7], dtype=np.int32)
    out.append(Case("prng", OpCode.PRNG, params4, i32((4,)), [], i32((1,)), (2**31 - 1,)))
    cand = np.zeros((1, MAX_K, 2), dtype=np.int32)
    cand[0, :, 0] = -np.arange(MAX_K, dtype=np.int32)
    cand[0, :, 1] = np.arange(MAX_K, dtype=np.int32)
    rnd = np.array([2**31 - 1], dtype=np.int32)
    out.append(Case(f"sample K={MAX_K} (all weights, last candidate)", OpCode.SAMPLE, cand, i32((1, MAX_K, 2)),
                    [(params4, i32((4,))), (rnd, i32((1,)))], i32((1,)), (0,)))
    tok, prev = np.array([5], dtype=np.int32), np.array([6], dtype=np.int32)
    eos = tuple(range(100, 100 + MAX_EOS))
    out.append(Case(f"gen_stop {MAX_EOS} eos", OpCode.GEN_STOP, tok, i32((1,)), [(params4, i32((4,))), (prev, i32((1,)))],
                    i32((1,)), (3, *eos)))
    return out


# ---- tokenizer: added (issue 14)
def added_cases(n: int | None = None, rows: int | None = None, d: int | None = None,
                window: int | None = None) -> list[Case]:
    """ADDED_MATCH and ADDED_RESOLVE at the largest sizes their checks allow, on their costliest element.
    ADDED_MATCH: N = MAX_CHARS positions: a letter, holes (-1), then MAX_ADDED_CHARS letters (so every range call's
    scan for its length's chars walks all N positions), H = MAX_ADDED_ROWS rows (the deepest range proofs),
    W = MAX_ADDED_WINDOW, D = MAX_ADDED_LENGTHS lengths from MAX_ADDED_CHARS down, a prev input without a match
    (a chain's later node); every window is full of other keys except the shortest length's, whose key sits in its
    window's last row, so position 0's end column hashes D keys, compares every row of every window and computes
    the end. ADDED_RESOLVE: the last position of N chars
    without candidates (the scan steps one position at a time over all N)."""
    from offchain.engine.ops.added import MAX_ADDED_CHARS, MAX_ADDED_LENGTHS, MAX_ADDED_ROWS, MAX_ADDED_WINDOW, MAX_CHARS
    from offchain.engine.ops.wordvocab import VOCAB_ROW, hash_words, symbols_hash, vocab_home

    n = n or MAX_CHARS
    rows = rows or MAX_ADDED_ROWS
    rng = np.random.default_rng(SEED + 57)
    i32 = lambda shape: _spec(shape, DType.INT32, 0)  # noqa: E731
    window, salt = window or MAX_ADDED_WINDOW, 12345
    lengths = list(range(MAX_ADDED_CHARS, MAX_ADDED_CHARS - (d or MAX_ADDED_LENGTHS), -1))
    chars = np.full(n, ord("a"), dtype=np.int32)
    chars[1:max(1, n - MAX_ADDED_CHARS)] = -1   # holes: each range call's scan walks every position
    table = rng.integers(-(2**31), 2**31 - 1, size=(rows, VOCAB_ROW), dtype=np.int64).astype(np.int32)
    h = symbols_hash([ord("a")] * lengths[-1])
    table[vocab_home(h, salt, rows - window + 1) + window - 1] = (*hash_words(h), 77)
    prev = np.full((n, 2), -1, dtype=np.int32)
    match = Case(f"added_match n={n} H={rows} W={window} D={len(lengths)} + prev (last row of the last window)",
                 OpCode.ADDED_MATCH, chars, i32((n,)), [(table, i32((rows, VOCAB_ROW))), (prev, i32((n, 2)))],
                 i32((n, 2)), (window, salt, *lengths), element=1)
    cand = np.full((n, 2), -1, dtype=np.int32)
    res = Case(f"added_resolve n={n} (scan over every position)", OpCode.ADDED_RESOLVE, cand, i32((n, 2)),
               [(np.full(n, ord("a"), dtype=np.int32), i32((n,)))], i32((n,)))
    return [match, res]


def added_fit_cases() -> list[Case]:
    """ADDED_MATCH / ADDED_RESOLVE below their caps (bench_move_gas fits their OpCosts on these and ``added_cases``):
    D = 1, 4, 8 lengths on smaller tables and N = 16, 96, 256."""
    out = []
    for n, rows, d in ((16, 64, 1), (96, 1024, 4), (256, 4096, 8)):
        match, res = added_cases(n, rows, d)
        match.name, res.name = f"{match.name} (fit)", f"{res.name} (fit)"
        out.append(match)
        if n < 256:
            out.append(res)
    return out


# ---- generation: cache (issue 15)
#: Padding weights giving each weight operand's root proof 16 siblings: the depth of the trace tree of a 7B
#: generation graph (~20 nodes x 32 layers x 64 decode steps = 41k nodes), where the cache blocks really live.
CACHE_TREE_PADDING = (1 << 15) + 1


def cat_matmul_case(axis: int, blocks: int, heads: int, head_dim: int, prefill: int, a_dtype: DType = DType.INT32,
                    b_dtype: DType = DType.INT16, padding: int = CACHE_TREE_PADDING) -> Case:
    """One decode step's CAT_MATMUL over a KV cache of a ``prefill``-position block and ``blocks - 1`` one-position
    blocks (each its own node in a real graph), ``heads`` heads of ``head_dim``: axis 0 the scores q [H, 1, d] x
    keys [H, N_i, d]; axis 1 the mix probs [H, 1, P] x values^T [H, d, K_i]. The element is the last one (axis 0:
    a column of the last block; axis 1: every block read), its operands at the dtypes' worst bytes (a int32)."""
    rng = np.random.default_rng(SEED + 49 + blocks)
    sizes = [prefill] + [1] * (blocks - 1)
    total = sum(sizes)
    fa, fb = 14, 8
    if axis == 0:
        a_shape, b_shapes, out_shape = (heads, 1, head_dim), [(heads, n, head_dim) for n in sizes], (heads, 1, total)
    else:
        a_shape, b_shapes, out_shape = (heads, 1, total), [(heads, head_dim, k) for k in sizes], (heads, 1, head_dim)
    lim_a, lim_b = 1 << (a_dtype.bits - 2), 1 << (b_dtype.bits - 2)
    a = _ints(rng, a_shape, -lim_a, lim_a, a_dtype)
    weights = [(_ints(rng, sh, -lim_b, lim_b, b_dtype), _spec(sh, b_dtype, fb)) for sh in b_shapes]
    name = (f"cat_matmul axis {axis} m={blocks} H={heads} d={head_dim} T={prefill} "
            f"({a_dtype.name.lower()} x {b_dtype.name.lower()}, root depth {(padding + blocks - 1).bit_length()})")
    return Case(name, OpCode.CAT_MATMUL, a, _spec(a_shape, a_dtype, fa), weights, _spec(out_shape, DType.INT32, 16),
                (axis,), padding_weights=padding)


def cache_cases() -> list[Case]:
    """The KV-cache ops at the caps their checks allow (offchain/engine/ops/cache.py): CAT_MATMUL on both axes at
    MAX_BLOCKS blocks for head_dim 128 and 64 (Llama-2-7B's 32 heads, a 64-position prefill block), axis 1 at
    1..MAX_BLOCKS blocks for the step's growth per block, both axes with rows of MAX_CAT_K (axis 0: head_dim
    MAX_CAT_K; axis 1: MAX_CAT_K cached positions); ATTN_BIAS reading
    MAX_BIAS_KEYS ids that are all pads (the scan runs to the last key); ALIGN_END over MAX_ALIGN_IDS ids that are
    all pads but the first (the trailing scan walks them all)."""
    from offchain.engine.ops.cache import MAX_ALIGN_IDS, MAX_BIAS_KEYS, MAX_BLOCKS, MAX_CAT_K

    out: list[Case] = []
    for d in (128, 64):
        for m in sorted({1, 2, 4, 8, 12, MAX_BLOCKS}):
            out.append(cat_matmul_case(1, m, 32, d, 64))
        out.append(cat_matmul_case(0, MAX_BLOCKS, 32, d, 64))
    out.append(cat_matmul_case(0, MAX_BLOCKS, 32, MAX_CAT_K, 64))
    out.append(cat_matmul_case(1, MAX_BLOCKS, 32, 128, MAX_CAT_K - (MAX_BLOCKS - 1)))
    return out + mask_cases(MAX_BIAS_KEYS, MAX_ALIGN_IDS)


def mask_cases(keys: int, ids: int) -> list[Case]:
    """ATTN_BIAS reading ``keys`` ids that are all pads (the scan runs to the last key) and ALIGN_END over ``ids``
    ids that are all pads but the first (the trailing scan walks them all)."""
    x = np.zeros((1, keys), dtype=np.int32)
    out = [Case(f"attn_bias nk={keys} all pads (scan to key {keys - 1})", OpCode.ATTN_BIAS, x,
                _spec((1, keys), DType.INT32, 0), [], _spec((1, keys), DType.INT16, 1), (0, -20000, keys - 1, 1, 1),
                padding_weights=CACHE_TREE_PADDING)]
    x = np.full((1, ids), 2, dtype=np.int32)
    x[0, 0] = 7
    out.append(Case(f"align_end T={ids} one token, {ids - 1} trailing pads", OpCode.ALIGN_END, x,
                    _spec((1, ids), DType.INT32, 0), [], _spec((1, ids), DType.INT32, 0), (2,),
                    padding_weights=CACHE_TREE_PADDING))
    return out


def cache_extra_cases() -> list[Case]:
    """The KV-cache ops at smaller sizes too, for bench_move_gas's per-element and per-range fit."""
    return (mask_cases(64, 64) + mask_cases(512, 512)
            + [cat_matmul_case(0, m, 32, 128, 64) for m in (1, 4, 8)] + [cat_matmul_case(1, 15, 32, 128, 128)])


# ---- tokenizer: nfc (issue 14)
def nfc_cases(n: int | None = None, tries: int | None = None, rows: int | None = None,
              window: int | None = None) -> list[Case]:
    """NFC_COMPOSE and NFC_COMPACT at the largest sizes their checks allow, on their costliest element.
    NFC_COMPOSE: N = MAX_POSITIONS rows of K = 4 entries, all filled: five starters s0..s4, then one run of 4N - 5
    non-starters whose first C have ranks C..1 (the insertion sort reverses them; each is then unblocked, so
    tried) and the rest rank 255; the element is s2's entry: its window reaches
    back over s0, s1 (two failed tries), forward over s3, s4 (absorbed: (s2, s3) -> X, (X, s4) -> Y, each in the
    last row of its window) and tries C marks (failing after scanning every row of full windows): LB + F + C = 20
    probe windows of W = MAX_COMP_WINDOW rows in a table of MAX_COMP_ROWS rows (the deepest range proofs).
    The same window spread MAX_LINK slots apart (the longest gaps an entry's neighbours may have), on its costliest
    element there: the mark at run index C - 1 (its walk back over the run, then the window, 2 + C tries). NFC_COMPACT: the
    last output of N rows of K entries none of which is kept (the scan walks all 4N)."""
    from offchain.engine.ops.bpe import MAX_POSITIONS, pair_hash
    from offchain.engine.ops.nfc import (
        COMP_ROW, MAX_COMP_ROWS, MAX_COMP_WINDOW, MAX_K, MAX_LINK, MAX_RUN_TRIES, entry_value)

    n, k = n or MAX_POSITIONS, MAX_K
    tries = tries or MAX_RUN_TRIES
    rows = rows or MAX_COMP_ROWS
    window, salt = window or MAX_COMP_WINDOW, 4321
    rng = np.random.default_rng(SEED + 59)
    i32 = lambda shape: _spec(shape, DType.INT32, 0)  # noqa: E731
    starters = [0x4E00 + j for j in range(5)]
    marks = [0x0300 + j for j in range(4 * n - 5)]
    ranks = [tries - j if j < tries else 255 for j in range(len(marks))]
    values = [entry_value(c, 0) for c in starters] + [entry_value(c, r) for c, r in zip(marks, ranks)]
    nfd = np.array(values, dtype=np.int64).astype(np.int32).reshape(n, k)
    chars = np.full(n, 0x41, dtype=np.int32)
    added = np.full(n, -1, dtype=np.int32)
    table = rng.integers(0x10000, 0x20000, size=(rows, COMP_ROW), dtype=np.int64).astype(np.int32)
    homes = rows - window + 1
    x_val, y_val = 0x5E00, 0x5E01
    for a, c, comp in ((starters[2], starters[3], x_val), (x_val, starters[4], y_val)):
        table[pair_hash(a, c, salt) % homes + window - 1] = (a, c, comp)
    compose = Case(f"nfc_compose n={n} K={k} C={tries} W={window} M={rows} (LB + F + C windows, full run)",
                   OpCode.NFC_COMPOSE, nfd, i32((n, k)),
                   [(chars, i32((n,))), (added, i32((n,))), (table, i32((rows, COMP_ROW)))], i32((n, k)),
                   (window, salt, tries), element=2)
    # the same window with every entry MAX_LINK slots after the previous one (15 empty slots between: each
    # navigation step of every range call scans them), the rest of the tensor empty (zero padding)
    spread = np.zeros(n * k, dtype=np.int64)
    for j, v in enumerate(values[:5 + tries + 1]):
        if j * MAX_LINK < n * k:
            spread[j * MAX_LINK] = v
    spread_case = Case(f"nfc_compose n={n} K={k} C={tries} W={window} M={rows} (the window spread {MAX_LINK} slots "
                       f"apart, padding after)", OpCode.NFC_COMPOSE, spread.astype(np.int32).reshape(n, k),
                       i32((n, k)), [(chars, i32((n,))), (added, i32((n,))), (table, i32((rows, COMP_ROW)))],
                       i32((n, k)), (window, salt, tries), element=(5 + tries - 1) * MAX_LINK)
    none = np.full((n, k), -1, dtype=np.int32)
    compact = Case(f"nfc_compact n={n} K={k} mode 1 (scan over every entry)", OpCode.NFC_COMPACT, none, i32((n, k)),
                   [(added, i32((n,)))], i32((n,)), (1,))
    return [compose, spread_case, compact]


def nfc_fit_cases() -> list[Case]:
    """NFC_COMPOSE / NFC_COMPACT below their caps (bench_move_gas fits their OpCosts on these and ``nfc_cases``):
    N = 32, C = 2 and N = 96, C = 4 on tables of 256 and 1024 rows."""
    out = []
    for n, tries, rows, window in ((32, 2, 256, 4), (96, 4, 1024, 8)):
        for case in nfc_cases(n, tries, rows, window):
            case.name = f"{case.name} (fit)"
            out.append(case)
    return out


# ---- image: imgops (issue 16)
def image_cases(n: int | None = None) -> list[Case]:
    """NOISE, DDIM_STEP and PIXELS at n = MAX_NOISE_ELEMENTS = 2^20 elements (NOISE's cap; DDIM_STEP and PIXELS have
    no size cap of their own, like the other elementwise ops: their step grows by one Merkle sibling per doubling of
    n, and 2^20 int16 values are 2 MiB, 16,000x an 8x8 digit) at the last element. Each element's work is fixed
    (NOISE: 8 seed bytes and one splitmix64; DDIM_STEP: x and eps; PIXELS: x), so the costliest step is the one
    with the deepest operand trees: the last element of the largest tensors. NOISE also at the saturating mul
    2^40 - 1; DDIM_STEP with the extreme constants 2^31 - 1, lim 32767 and shift 40 (saturating); eps is a weight
    (a second operand tree of the same depth)."""
    from offchain.engine.ops.image import MAX_NOISE_ELEMENTS, ddim_params, noise_mul, seed_bytes

    n = MAX_NOISE_ELEMENTS if n is None else n
    rng = np.random.default_rng(SEED + 61)
    seed = np.frombuffer(seed_bytes(2**64 - 1), dtype=np.int8).copy()
    seed_spec = _spec((8,), DType.INT8, 0)
    out = [Case(f"noise n={n} f13", OpCode.NOISE, seed, seed_spec, [], _spec((n,), DType.INT16, 13), (noise_mul(13),)),
           Case(f"noise n={n} mul 2^40-1 (saturating)", OpCode.NOISE, seed, seed_spec, [], _spec((n,), DType.INT16, 0),
                (2**40 - 1,))]
    x = _ints(rng, (n,), -(1 << 15), 1 << 15, DType.INT16)
    eps = (_ints(rng, (n,), -(1 << 15), 1 << 15, DType.INT16), _spec((n,), DType.INT16, 12))
    out.append(Case(f"ddim_step n={n} (cosine step, f12)", OpCode.DDIM_STEP, x, _spec((n,), DType.INT16, 12), [eps],
                    _spec((n,), DType.INT16, 12), ddim_params(0.3, 0.5, 12)))
    big = 2**31 - 1
    out.append(Case(f"ddim_step n={n} (extreme constants, shift 40)", OpCode.DDIM_STEP, x, _spec((n,), DType.INT16, 12),
                    [eps], _spec((n,), DType.INT16, -12), (big, -big, big, big, 32767)))
    out.append(Case(f"pixels n={n} f14", OpCode.PIXELS, x, _spec((n,), DType.INT16, 14), [], _spec((n,), DType.INT8, 0)))
    return out


def image_fit_cases() -> list[Case]:
    """The image ops at n = 64 and 4,096 too (bench_move_gas fits their OpCosts on these and ``image_cases``)."""
    out = []
    for n in (64, 4096):
        for case in image_cases(n):
            case.name = f"{case.name} (fit)"
            out.append(case)
    return out


# ---- tokenizer: nfc runs (issue 14)
def nfc_run_cases(n: int | None = None, width: int | None = None, rows: int | None = None,
                  window: int | None = None) -> list[Case]:
    """NFC_REORDER and NFC_STAGE at the largest sizes their checks allow, on their costliest elements: N =
    MAX_POSITIONS rows of K = 4 entries, all filled, one starter then marks (the longest walks: every walk step
    reads an entry). NFC_REORDER: a run of MAX_RUN_MARKS = R marks of one rank, the element its last (walk back
    over the run, rank histogram, the pick walks to its end), and a run of 4N - 1 marks, the element in its middle
    (both walks stop after R: too long, kept). NFC_STAGE with from = R - D on the run of 4N - 1 marks: the element
    is the mark at index R - 1 (every range call walks back R marks); the window's D marks have rising ranks
    (each unblocked, so tried) and no pair is in the table (each try scans a full window of W = MAX_COMP_WINDOW
    rows in a table of MAX_COMP_ROWS rows). Smaller n: the same with R = n."""
    from offchain.engine.ops.bpe import MAX_POSITIONS
    from offchain.engine.ops.nfc import COMP_ROW, MAX_COMP_ROWS, MAX_COMP_WINDOW, MAX_K, entry_value
    from offchain.engine.ops.nfc_runs import MAX_RUN_MARKS, MAX_STAGE_TRIES

    n, k = n or MAX_POSITIONS, MAX_K
    width = width or MAX_STAGE_TRIES
    rows = rows or MAX_COMP_ROWS
    window, salt = window or MAX_COMP_WINDOW, 4321
    rng = np.random.default_rng(SEED + 68)
    i32 = lambda shape: _spec(shape, DType.INT32, 0)  # noqa: E731
    size = n * k
    run_cap = min(MAX_RUN_MARKS, n)
    frm = run_cap - width
    chars = np.full(n, 0x41, dtype=np.int32)
    added = np.full(n, -1, dtype=np.int32)
    mark = lambda j, r: entry_value(0x0300 + j % 0x70, r)  # noqa: E731
    at_cap = [entry_value(0x4E00, 0)] + [mark(j, 200) for j in range(run_cap)]
    at_cap += [entry_value(0x4E00, 0)] * (size - len(at_cap))
    nfd = np.array(at_cap, dtype=np.int64).astype(np.int32).reshape(n, k)
    reorder = Case(f"nfc_reorder n={n} K={k} (a run of {run_cap} marks, its last)", OpCode.NFC_REORDER, nfd,
                   i32((n, k)), [(chars, i32((n,))), (added, i32((n,)))], i32((n, k)), (), element=run_cap)
    long = [entry_value(0x4E00, 0)] + [mark(j, 200) for j in range(size - 1)]
    nfd_long = np.array(long, dtype=np.int64).astype(np.int32).reshape(n, k)
    reorder_long = Case(f"nfc_reorder n={n} K={k} (a run of {size - 1} marks, its middle: both walks stop at "
                        f"{MAX_RUN_MARKS})", OpCode.NFC_REORDER, nfd_long, i32((n, k)),
                        [(chars, i32((n,))), (added, i32((n,)))], i32((n, k)), (), element=size // 2)
    ranks = [1] * frm + [2 + j for j in range(width)] + [200] * (size - 1 - frm - width)
    values = [entry_value(0x4E00, 0)] + [mark(j, r) for j, r in enumerate(ranks)]
    x = np.array(values, dtype=np.int64).astype(np.int32).reshape(n, k)
    table = rng.integers(0x10000, 0x20000, size=(rows, COMP_ROW), dtype=np.int64).astype(np.int32)
    prev = np.array([0x4E00] + [(v >> 2) & 0x1FFFFF for v in values[1:]], dtype=np.int64).astype(np.int32)
    stage = Case(f"nfc_stage n={n} K={k} D={width} W={window} M={rows} from={frm} (a run of {size - 1} marks, "
                 f"the one at index {frm + width - 1}: D failed tries)", OpCode.NFC_STAGE, x, i32((n, k)),
                 [(chars, i32((n,))), (added, i32((n,))), (table, i32((rows, COMP_ROW))),
                  (prev.reshape(n, k), i32((n, k)))], i32((n, k)), (window, salt, frm, width),
                 element=frm + width)
    # the same with one mark per row (slots 1..3 of every row empty): R marks spread over all 4N slots, so each
    # walk step also scans 3 empty slots
    sparse = np.zeros(size, dtype=np.int64)
    sparse[0] = entry_value(0x4E00, 0)
    for j in range(min(run_cap, n - 1)):
        sparse[(j + 1) * k] = mark(j, 200)
    reorder_sparse = Case(f"nfc_reorder n={n} K={k} (a run of {min(run_cap, n - 1)} marks one per row, its last)",
                          OpCode.NFC_REORDER, sparse.astype(np.int32).reshape(n, k), i32((n, k)),
                          [(chars, i32((n,))), (added, i32((n,)))], i32((n, k)), (), element=(n - 1) * k)
    sparse_x = np.zeros(size, dtype=np.int64)
    sparse_x[0] = values[0]
    for j in range(n - 1):
        sparse_x[(j + 1) * k] = values[1 + j]
    sparse_prev = np.where(sparse_x > 0, (sparse_x >> 2) & 0x1FFFFF, -1)
    last_mark = min(frm + width, n - 1)
    stage_sparse = Case(f"nfc_stage n={n} K={k} D={width} W={window} M={rows} from={frm} (marks one per row, "
                        f"the one at index {last_mark - 1})", OpCode.NFC_STAGE,
                        sparse_x.astype(np.int32).reshape(n, k), i32((n, k)),
                        [(chars, i32((n,))), (added, i32((n,))), (table, i32((rows, COMP_ROW))),
                         (sparse_prev.astype(np.int32).reshape(n, k), i32((n, k)))], i32((n, k)),
                        (window, salt, frm, width), element=last_mark * k)
    return [reorder, reorder_long, stage, reorder_sparse, stage_sparse]


def nfc_run_fit_cases() -> list[Case]:
    """NFC_REORDER / NFC_STAGE below their caps (bench_move_gas fits their OpCosts on these and
    ``nfc_run_cases``): N = 32, D = 1 and N = 96, D = 2 on tables of 256 and 1024 rows."""
    out = []
    for n, width, rows, window in ((32, 1, 256, 4), (96, 2, 1024, 8)):
        for case in nfc_run_cases(n, width, rows, window):
            case.name = f"{case.name} (fit)"
            out.append(case)
    return out


def main_slice(which: str) -> None:
    """``python -m bench.bench_ops_gas <slice>``: only one slice's worst cases (bench/results/ops_gas_<slice>.json):
    the operator's own element() gas, the whole one-step transaction and the operator calls inside it."""
    from ape import accounts, networks, project

    slices = {"pretok": pretok_cases, "sample": sample_cases, "cache": cache_cases, "added": added_cases,
              "nfc": nfc_cases, "image": image_cases, "stat": stat_cases, "nfcrun": nfc_run_cases}
    console = Console()
    results: list[Result] = []
    with networks.parse_network_choice("ethereum:local:foundry"):
        sender = accounts.test_accounts[0]
        families = {name: sender.deploy(getattr(project, name)) for name in operator_families()}
        codes, addresses = prover_args({name: c.address for name, c in families.items()})
        prover = sender.deploy(project.OneStepProver, codes, addresses)
        for case in slices[which]():
            exec_gas = element_exec_gas(families[OPERATOR_CONTRACTS[case.op]], case, sender)
            step_gas, inside = one_step_tx_gas(prover, case, sender)
            results.append(Result(case.name, "element_exec_gas", exec_gas, "gas", "one-step bound", STEP_BOUND))
            results.append(Result(case.name, "one_step_tx_gas", step_gas, "gas", "one-step bound", STEP_BOUND))
            results.append(Result(case.name, "one_step_operator_calls_gas", inside, "gas", "one_step_tx_gas",
                                  step_gas))
            console.print(f"{case.name}: element {exec_gas:,} gas, whole step {step_gas:,} gas "
                          f"(operator calls {inside:,})")
    write_results(f"ops_gas_{which}", results, console)


# ---- image: sd-unet-block (issue 16)
def stat_cases() -> list[Case]:
    """RSQRT and EXP (both forms) at their costliest: one element each, so the step grows only with the operand
    trees' depth; int32 operands of 2^22 elements (a quarter of one SD attention head's 4,096 x 4,096 map) and
    the largest frac shifts, last element."""
    rng = np.random.default_rng(SEED + 64)
    rows, n = 1024, 4096
    var = _ints(rng, (1, rows), 0, 1 << 31, DType.INT32)
    x = _ints(rng, (rows, n), -(1 << 31), 1 << 31, DType.INT32)
    m = (_ints(rng, (rows, 1), 0, 1 << 31, DType.INT32), _spec((rows, 1), DType.INT32, 10))
    s = (_ints(rng, (rows, 1), 1 << 18, 1 << 30, DType.INT32), _spec((rows, 1), DType.INT32, 18))
    return [
        Case(f"rsqrt [1, {rows}] (int32 f30 -> int32 f30, eps 2^31 - 1)", OpCode.RSQRT, var,
             _spec((1, rows), DType.INT32, 30), [], _spec((1, rows), DType.INT32, 30), ((1 << 31) - 1,)),
        Case(f"exp [{rows}, {n}] (int32 f24 -> int32 f0)", OpCode.EXP, x, _spec((rows, n), DType.INT32, 24), [],
             _spec((rows, n), DType.INT32, 0)),
        Case(f"exp(x - m) [{rows}, {n}] (int32 f10 -> int32 Q30)", OpCode.EXP, x, _spec((rows, n), DType.INT32, 10),
             [m], _spec((rows, n), DType.INT32, 30)),
        Case(f"exp(x - m) / S [{rows}, {n}] (int32 f10, S int32 f18 -> int16 f14)", OpCode.EXP, x,
             _spec((rows, n), DType.INT32, 10), [m, s], _spec((rows, n), DType.INT16, 14)),
    ]


if __name__ == "__main__":
    import sys

    if sys.argv[1:]:
        main_slice(sys.argv[1])
    else:
        main()

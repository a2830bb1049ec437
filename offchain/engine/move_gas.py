"""Worst-case gas of every move an honest party may have to make in a dispute over a model, and the check that
refuses a model whose honest moves would not fit a block.

An honest party that cannot afford or fit its move loses on its clock, so a model is only safe to serve if, for
every node, the costliest move either side may be forced into stays under a bound:

* ``step``: the challenger's one-step proof of one output element (``DisputeGame.step`` → ``OneStepProver``:
  operand roots, a range proof per operand range, the operator's ``element``);
* ``revealChunk``: the submitter's reveal of one output chunk;
* ``openNode``: the challenger's opening of the node's descriptor;
* ``revealPrivate`` (private nodes only, instead of a step): the submitter's reveal of the node's whole input
  and output, keccak-rooted and Poseidon-hashed on-chain.

The estimates come from a gas model fitted to transactions measured on anvil against the real contracts
(``bench/bench_move_gas.py`` measures and fits; ``tests/dispute_ops/test_move_gas.py`` re-measures and checks
``measured <= estimate <= 1.5 x measured + 100k``). A step's gas is modelled from the proof's structure, which the
op's ``operand_ranges`` fixes::

    step = STEP_BASE + RANGE * R + CHUNK_BYTE * B + SIBLING * S + DESCRIPTOR_BYTE * D
           + op_fixed + op_per_element * E + op_per_range * R

R: operand ranges; B: bytes of the whole chunks they carry; S: Merkle siblings (range proofs plus the operand
roots' proofs against the trace / weights roots); D: descriptor bytes; E: operand elements (what ``element`` loops
over). The costliest element is searched: every element of an output of at most ``EXACT_ELEMENTS``, priced at its
exact chunk alignment; a sample of a larger output, priced at the worst alignment any element could have. Data-
dependent ops (EMBEDDING and the tokenizer's CHAR_MAP, TRIE_MATCH) take the largest ranges any input could give.
Each move's calldata is bounded the same way and checked against ``MAX_MOVE_CALLDATA``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from offchain.engine.descriptor import encode_node
from offchain.engine.errors import EngineError
from offchain.engine.graph import Node, TensorKind, TensorSpec
from offchain.engine.model import Model
from offchain.engine.ops import OpCode, get_op
from offchain.engine.ops.conv import conv_params, conv_taps

#: The most gas one honest move may need. A third of Ethereum's 30 M block gas limit: a move must be includable
#: while its clock runs even when blocks are busy, and most builders will not give one transaction a whole block.
MAX_MOVE_GAS = 10_000_000
#: The most calldata one honest move may carry: geth's transaction pool refuses transactions over 128 KiB
#: (txMaxSize), so a larger move would never reach a block whatever its gas; 8 KiB are left for the envelope.
MAX_MOVE_CALLDATA = 120 * 1024


class MoveGasError(EngineError):
    """A node of the model needs an honest move costlier than the bound: its party could not make it in time."""


@dataclass(frozen=True)
class StepShape:
    """What a one-step proof of the node's worst element carries (each an upper bound over its elements)."""

    ranges: int            # R: operand ranges
    chunk_bytes: int       # B: bytes of whole chunks the ranges carry
    siblings: int          # S: Merkle siblings (range proofs and operand-root proofs)
    descriptor_bytes: int  # D
    elements: int          # E: operand elements
    element: int           # the output element (flat) whose step the search found costliest


@dataclass(frozen=True)
class OpCost:
    """The operator's own share of a step: ``fixed + per_element * E + per_range * R`` (its ``element`` and
    ``range`` calls). ``per_range`` is fitted only for ops whose ``range`` call itself is costly (CONV2D locates
    its receptive field again on each of its many short ranges); 0 elsewhere."""

    fixed: int
    per_element: int
    per_range: int = 0


# ---- fitted constants: `python -m bench.bench_move_gas` (63 one-node games on anvil, eth_estimateGas of the step;
# non-negative least squares, then each op's fixed cost lifted above its largest residual plus 15k) ----
STEP_BASE = 221_763         # tx base, game bookkeeping (move, chunk and descriptor checks, payout, and the void
                            # record: mootCap and voidedBy, two fresh slots = 44.2k), prover setup
RANGE = 24_180              # per range: the op's `range` call (descriptor re-encoded), proof decoding, leaf hashing
CHUNK_BYTE = 17             # per chunk byte: calldata, keccak, copies into the `element` call
SIBLING = 1_547             # per Merkle sibling: calldata and one keccak
DESCRIPTOR_BYTE = 4         # per descriptor byte: calldata, keccak, decoding

#: Each op's own share: (fixed, per operand element). An op measured at one operand count only (the one-element
#: ops) has its whole share in the per-element term.
OP_COSTS: dict[OpCode, OpCost] = {
    OpCode.LINEAR: OpCost(39_000, 59),
    OpCode.CONV2D: OpCost(128_000, 77, 2_729),  # refit alone (`--op CONV2D`, 19 games) for the long form
    OpCode.MATMUL: OpCost(26_000, 99),
    OpCode.ADD: OpCost(16_000, 4_770),
    OpCode.SUB: OpCost(18_000, 3_243),
    OpCode.MUL: OpCost(18_000, 3_231),
    OpCode.RELU: OpCost(17_000, 5_736),
    OpCode.GELU: OpCost(16_000, 12_227),
    OpCode.SILU: OpCost(16_000, 9_291),
    OpCode.NEG: OpCost(17_000, 5_995),
    OpCode.RESCALE: OpCost(16_000, 8_101),
    OpCode.SOFTMAX: OpCost(31_000, 454),
    OpCode.LAYERNORM: OpCost(31_000, 300),
    OpCode.RMSNORM: OpCost(32_000, 302),
    OpCode.EMBEDDING: OpCost(16_000, 3_930),
    OpCode.ROPE: OpCost(16_000, 0),
    OpCode.RESHAPE: OpCost(16_000, 8_362),
    OpCode.PERMUTE: OpCost(16_000, 16_312),
    OpCode.SLICE: OpCost(16_000, 14_699),
    OpCode.CONCAT: OpCost(16_000, 21_071),
    OpCode.MEAN: OpCost(27_000, 99),
    OpCode.UTF8_DECODE: OpCost(16_000, 1_872),
    OpCode.CHAR_MAP: OpCost(16_000, 2_525),
    OpCode.TRIE_MATCH: OpCost(16_000, 251),
    OpCode.WORDPIECE: OpCost(16_000, 323),
    OpCode.LOREFT: OpCost(50_000, 92),
    # ---------------------------------------------------------------- activations (issue 13)
    # Measured on 21 one-node games (bench_move_gas act_extra_cases + bench_ops_gas act_cases, rows of 64, 4,096
    # and 16,384) with the shared constants above held: every step is 316-6,500 gas below the shared part alone,
    # so the fit's rule gives (16_000, 0); the per-element part is set instead to the operator calls' own gas
    # (rangeCount, range, element from anvil's call tracer, rounded up to 1k), so the estimate stays an upper
    # bound if the shared part's slack shrinks. One element per step: E = 1.
    OpCode.TANH: OpCost(16_000, 11_000),
    OpCode.SIGMOID: OpCost(16_000, 10_000),
    OpCode.CLAMP: OpCost(16_000, 13_000),
    OpCode.LEAKY_RELU: OpCost(16_000, 11_000),
    OpCode.HARDSWISH: OpCost(16_000, 10_000),
    OpCode.HARDSIGMOID: OpCost(16_000, 11_000),
    OpCode.SOFTPLUS: OpCost(16_000, 11_000),
    # ---------------------------------------------------------------- attention and shape functions (issue 13)
    # Measured alone (bench_move_gas's "expand"/"where" and bench_ops_gas's broadcast cases): the largest residual
    # over the shared terms per element, the 16,000 fixed margin as the other one-element moves.
    OpCode.EXPAND: OpCost(16_000, 4_683),
    OpCode.WHERE: OpCost(16_000, 6_431),
    # ---------------------------------------------------------------- pooling and reductions (issue 13)
    # fitted against the shared constants above (python -m bench.bench_move_gas --ops MAXPOOL2D,AVGPOOL2D,AMAX)
    OpCode.MAXPOOL2D: OpCost(45_000, 632),
    OpCode.AVGPOOL2D: OpCost(48_000, 682),
    OpCode.AMAX: OpCost(16_000, 113),
    # ---- tokenizer: detok (issue 14)
    # fitted against the shared constants above (python -m bench.bench_move_gas --ops DETOK_LEN,DETOK_BYTES: 10
    # games at each op's costliest element, T 64..1024, L 8..1024, every strip mode). DETOK_BYTES' elements are
    # dominated by the lens, which its range calls scan up to four times.
    OpCode.DETOK_LEN: OpCost(16_000, 376),
    OpCode.DETOK_BYTES: OpCost(194_000, 388),
    # ---- tokenizer: bpe (issue 14)
    # fitted against the shared constants above (python -m bench.bench_move_gas --ops
    # BPE_SYMBOLS,PAIR_RANK,BPE_MERGE,BPE_IDS: bench_ops_gas's BPE worst cases at N = 16, 96 and 256)
    OpCode.BPE_SYMBOLS: OpCost(30_000, 8),
    OpCode.PAIR_RANK: OpCost(185_000, 229),
    OpCode.BPE_MERGE: OpCost(122_000, 173),
    OpCode.BPE_IDS: OpCost(72_000, 177),
    # ---- tokenizer: pretok (issue 14)
    # Upper bounds from bench_ops_gas's `pretok` cases (the operator calls' own gas from anvil's call tracer, each at
    # the op's worst input for its size), not a game fit: every element reads its operands whole, so E is fixed
    # per node. UTF8_CHARS <= 77k at N = 256 (E = 256, ~300 per byte); PRETOKENIZE <= 717k at N = 256 (E = 512,
    # ~1.4k per element: its scan is linear in the segment); ADDED_TOKENS <= 1.61M at its cap (its scan is
    # N * A rows, so the bound per element E = N + A * (L + 1) is set by the cap's cheapest-E shape: 16 one-char
    # rows at N = 256, E = 288, 1.60M <= 16k + 6k * 288 = 1.74M).
    OpCode.UTF8_CHARS: OpCost(16_000, 400),
    OpCode.PRETOKENIZE: OpCost(16_000, 1_600),
    OpCode.ADDED_TOKENS: OpCost(16_000, 6_000),
    # ---- tokenizer: BPE ignore_merges (WORD_VOCAB)
    # Upper bound from bench_ops_gas's `word_vocab` worst case (one word over all 5N slots, key in the last row of a
    # full W = 64 window; operator calls from anvil's call tracer): E = 5N + 2N + 9W; 102k at N = 16 (E = 688),
    # 355k at N = 96 (E = 1,248), 860k at N = 256 (E = 2,368; the game's Step 1.50M) <= 16k + 420 * E.
    OpCode.WORD_VOCAB: OpCost(16_000, 420),
    # ---- generation: sample (issue 15)
    # Against the shared constants above, from bench_move_gas's games on bench_ops_gas `sample_cases` (each op at
    # its caps, TOPK on ascending keys: every key enters the running top k). One-element ops (E fixed per node):
    # per_element covers the operator calls (anvil's call tracer: GEN_PARAMS 22k at E = 16, PRNG 19k at E = 1,
    # GEN_STOP 20k at E = 3 plus its game residual 44k). SAMPLE: residual 621k at K = 256 (E = 517), linear in K
    # (one integer exp per candidate), its fixed part raised to 30k by the K = 2 and K = 40 games (test_move_gas). TOPK: per_element is its k = 1 mode 0 cost per entry; _topk_cost adds
    # TOPK_MERGE_ENTRY (mode 1), TOPK_PROBE * ceil(log2 k) and TOPK_SLOT * k per entry (residuals per entry:
    # mode 0 326 / 967 / 1,935 at k = 1 / 40 / 256, mode 1 450 / 1,091 / 2,061) and halves it in mode 1, whose
    # entries are two operand elements.
    OpCode.GEN_PARAMS: OpCost(16_000, 1_400),
    OpCode.TOPK: OpCost(30_000, 330),
    OpCode.PRNG: OpCost(16_000, 19_000),
    OpCode.SAMPLE: OpCost(30_000, 1_200),
    OpCode.GEN_STOP: OpCost(16_000, 16_000),
    # ---- generation: cache (issue 15)
    # Measured with python -m bench.bench_move_gas --ops CAT_MATMUL,ATTN_BIAS,ALIGN_END (bench_ops_gas's cache
    # cases: 7B shapes H = 32, d = 64 / 128, 1..15 blocks, weight roots 16 siblings deep like a generation graph's
    # trace); ATTN_BIAS / ALIGN_END as fit_one_op gives them. CAT_MATMUL's step is convex in its block count m (each
    # of the prover's m + 3 operator calls re-sends a descriptor that grows with m: 0.36 M at m = 1, 1.73 M at
    # m = 15 on axis 1; axis 0 reads 2 ranges but grows too, 0.38 M to 0.91 M), which no linear term follows:
    # fit_one_op's (263_000, 128, 16_209) is 1.8x the one-block step, so this is the chord instead: the smallest
    # fixed cost and per-range cost with every measured step + 15k under the estimate and the estimate within
    # 1.5x + 100k of it (1.02x at 15 blocks, 1.50x at 1).
    OpCode.CAT_MATMUL: OpCost(142_000, 128, 23_000),
    OpCode.ATTN_BIAS: OpCost(43_000, 132),
    OpCode.ALIGN_END: OpCost(38_000, 158),
    # ---- tokenizer: added (issue 14)
    # fitted against the shared constants above (python -m bench.bench_move_gas --ops ADDED_MATCH,ADDED_RESOLVE:
    # bench_ops_gas's added cases at the caps and D = 1, 4, 8 / N = 16, 96). ADDED_MATCH's worst game step at its
    # caps (N = 256, H = 2^16, W = 8, D = 12, with prev, holes so every range call scans all N) measured 1.58M
    # (E = N + 2 + 72 D); ADDED_RESOLVE 0.72M.
    OpCode.ADDED_MATCH: OpCost(140_000, 444),
    OpCode.ADDED_RESOLVE: OpCost(56_000, 454),
    # ---- tokenizer: nfc (issue 14)
    # fitted against the shared constants above (python -m bench.bench_move_gas --ops NFC_COMPOSE,NFC_COMPACT:
    # bench_ops_gas's nfc cases at the caps and N = 32 / 96 with C = 2 / 4, dense and spread MAX_LINK apart). Worst
    # game steps at the caps (N = 256, K = 4, C = 4, W = 8, M = 4096: 11 ranges, 8 of them probe windows, each
    # range call re-running the window): NFC_COMPOSE 1.63M (window spread 16 slots apart, a mark at run index
    # C - 1; 1.36M dense),
    # NFC_COMPACT 0.94M.
    OpCode.NFC_COMPOSE: OpCost(557_000, 231, 5_128),
    OpCode.NFC_COMPACT: OpCost(165_000, 331),
    # ---- image: imgops (issue 16)
    # Measured with python -m bench.bench_move_gas --ops NOISE,DDIM_STEP,PIXELS (bench_ops_gas's image cases at
    # n = 64, 4,096 and 2^20, honest and saturating params): game steps NOISE 261k, DDIM_STEP 307-342k, PIXELS
    # 256-274k; the residuals over the shared terms are at most 10k / 23k / 2k (fit_one_op: (26_000, 4),
    # (34_000, 2_401), (18_000, 0)). E is fixed per op (8 seed bytes, x and eps, x), so, as for the activations, the
    # per-element part is set to the operator calls' own gas from anvil's call tracer (NOISE 23.5k, DDIM_STEP 42.6k,
    # PIXELS 16.7k at 2^20) per element, rounded up to 1k, on the 16,000 fixed margin: an upper bound that does not
    # lean on the shared part's slack.
    OpCode.NOISE: OpCost(16_000, 3_000),
    OpCode.DDIM_STEP: OpCost(16_000, 22_000),
    OpCode.PIXELS: OpCost(16_000, 17_000),
    # ---- image: sd-unet-block (issue 16)
    # One value per operand (E = 1, 2 or 3): as for the activations, per_element is the operator calls' own gas
    # (rangeCount, range, element; anvil's call tracer on bench_ops_gas's `stat` cases, 2^22-element int32 trees)
    # per operand element, rounded up to 1k: RSQRT 14.0k at E = 1; EXP 12.3k (E = 1), 28.4k (E = 2: 14.2k each),
    # 51.0k (E = 3: 17.0k each). The whole one-step tx measured 81k / 94k / 137k / 191k; the SD block's game
    # step at EXP(x, m, S) 441k against an estimate of 0.55 M.
    OpCode.RSQRT: OpCost(16_000, 15_000),
    OpCode.EXP: OpCost(16_000, 18_000),
    # ---- tokenizer: nfc runs (issue 14)
    # fitted against the shared constants above (python -m bench.bench_move_gas --ops NFC_REORDER,NFC_STAGE:
    # bench_ops_gas's nfc run cases at the caps and N = 32 / 96 with D = 1 / 2, dense and one mark per row). Worst
    # game steps at the caps (N = 256, K = 4, D = 2, from = 254, W = 8, M = 4096; each of NFC_STAGE's probe range
    # calls re-walks the run): NFC_STAGE 1.65M (one mark per row; 1.33M dense), NFC_REORDER 0.94M.
    OpCode.NFC_REORDER: OpCost(222_000, 214, 0),
    OpCode.NFC_STAGE: OpCost(449_000, 248, 0),
}
#: TOPK's per-entry cost terms besides OP_COSTS[TOPK].per_element (see _topk_cost).
TOPK_MERGE_ENTRY = 125
TOPK_PROBE = 85
TOPK_SLOT = 4


def _topk_cost(node: Node) -> OpCost:
    """TOPK's share at its k and mode: per entry, base + merge (mode 1) + probe * ceil(log2 k) + slot * k (a binary
    search over k slots and a k-word copy per entering key); per operand element, half of that in mode 1."""
    base = OP_COSTS[OpCode.TOPK]
    mode, k = node.params[0], node.params[1]
    per_entry = base.per_element + TOPK_MERGE_ENTRY * mode + TOPK_PROBE * (k - 1).bit_length() + TOPK_SLOT * k
    return OpCost(base.fixed, -(-per_entry // (1 + mode)))

# ---- other moves (measured in the same games: openNode 131-147k, revealChunk 45-48k for 32-byte chunks) ----
REVEAL_CHUNK_BASE = 60_000   # revealChunk: tx base, move bookkeeping, chunk hash check, event
REVEAL_CHUNK_BYTE = 40       # per chunk byte: calldata, keccak, event data
OPEN_NODE_BASE = 130_000     # openNode: registry read, descriptor hash, output layout, game state
OPEN_NODE_BYTE = 20          # per descriptor byte
OPEN_NODE_SIBLING = 1_500    # per graph-proof sibling
# revealPrivate (zk/README `reveal` case: 4,096 int16 values hash in 9.8 M gas inside a caller, 55 Poseidon(6)
# calls of 134k; the rest is unpacking and the int256[] handed to the hasher, ~590 gas per value)
PRIVATE_REVEAL_BASE = 400_000  # tx base, judge call, registry reads, descriptor and trace proof, payout
POSEIDON6 = 140_000          # one Poseidon(6) permutation in PrivateNodeHasher (circomlibjs bytecode)
PRIVATE_VALUE = 700          # per revealed value: unpacking, the int256[] call data, packing into field elements
PRIVATE_BYTE = 50            # per revealed byte: calldata, chunk keccak for the tensor root
TENSOR_RATE = 5              # field elements absorbed per Poseidon(6) call
PACK_BITS = 248              # bits packed per field element


@dataclass(frozen=True)
class MoveEstimate:
    """Worst-case gas of one move at one node."""

    node: int
    op: str
    move: str   # "step", "revealChunk", "openNode" or "revealPrivate"
    gas: int
    calldata: int = 0   # bytes of the transaction's calldata (an upper bound)

    def __str__(self) -> str:
        return f"node {self.node} ({self.op}) {self.move}: {self.gas:,} gas, {self.calldata:,} calldata bytes"


def depth(leaves: int) -> int:
    """Depth of a Merkle tree over ``leaves`` leaves (LibMerkle.depth)."""
    return max(0, (leaves - 1).bit_length())


def _chunks(spec: TensorSpec) -> int:
    return max(1, -(-spec.nbytes // (1 << spec.chunk_log2)))


def range_cost(spec: TensorSpec, start: int, length: int, exact: bool) -> tuple[int, int]:
    """(chunk bytes, siblings) of the range ``[start, start + length)`` of ``spec``: exactly as the proof builder
    lays it out, or (``exact`` False) at the worst chunk alignment any start could have."""
    if length == 0:
        return 0, 0
    chunk = 1 << spec.chunk_log2
    per_chunk = chunk // (spec.dtype.bits // 8)
    total = _chunks(spec)
    d = depth(total)
    if exact:
        lo, hi = start // per_chunk, (start + length - 1) // per_chunk
        count, siblings = hi - lo + 1, 0
        for _ in range(d):   # MerkleTree.prove_range: a left sibling if lo is odd, a right one if hi is even
            siblings += (lo & 1) + (1 - (hi & 1))
            lo, hi = lo >> 1, hi >> 1
        return count * chunk, siblings
    count = min(total, (length - 1) // per_chunk + 2 if per_chunk > 1 else length)
    # A run of leaves needs at most one sibling per side per level: d for one leaf, 2d for more.
    return count * chunk, d if count == 1 else 2 * d


def _worst_ranges(node: Node, element: int) -> list[tuple[int, int, int]]:
    """Operand ranges of ``element``; for data-dependent ops the largest ranges any input could give."""
    op = OpCode(node.op)
    if op == OpCode.EMBEDDING:
        return [(0, 0, 1), (1, 0, 1)]
    if op == OpCode.CHAR_MAP:
        return [(0, 0, 1), (1, 0, 1), (2, 0, 1)]
    if op == OpCode.TRIE_MATCH:
        from offchain.engine.ops.text import ROW

        window, trie_depth = node.params[2], node.params[3]
        return [(0, 0, node.in_specs[0].size)] + [(1, 0, window * ROW)] * (trie_depth + 1)
    # ---- tokenizer: detok (issue 14)
    if op == OpCode.DETOK_LEN:
        return [(0, 0, 1), (1, 0, 1)]
    if op == OpCode.DETOK_BYTES:
        tokens, width = node.in_specs[0].size, node.in_specs[2].shape[1]
        head = {0: [], 1: [(0, 0, 1), (2, 0, 1)], 2: [(0, 0, 1), (2, 0, width - 1)]}[node.params[0]]
        return [(1, 0, tokens)] + head + [(0, 0, 1), (2, 0, 1)]
    # ---- tokenizer: bpe (issue 14)
    if op == OpCode.PAIR_RANK:  # symbols from slot 0, one position's pretok, a whole probe window
        from offchain.engine.ops.bpe import MERGE_ROW

        return [(0, 0, node.in_specs[0].size), (1, 0, 2), (2, 0, node.params[0] * MERGE_ROW)]
    if op == OpCode.WORD_VOCAB:  # symbols and pretok whole, a whole probe window
        from offchain.engine.ops.wordvocab import VOCAB_ROW

        return [(0, 0, node.in_specs[0].size), (1, 0, node.in_specs[1].size), (2, 0, node.params[0] * VOCAB_ROW)]
    # ---- tokenizer: added (issue 14)
    if op == OpCode.ADDED_MATCH:  # chars whole, prev's row, a whole probe window per token length
        from offchain.engine.ops.wordvocab import VOCAB_ROW

        prev = [(2, 0, 2)] if len(node.inputs) == 3 else []
        windows = [(1, 0, node.params[0] * VOCAB_ROW)] * (len(node.params) - 2)
        return [(0, 0, node.in_specs[0].size)] + prev + windows
    # ---- tokenizer: nfc (issue 14)
    if op == OpCode.NFC_COMPOSE:  # nfd, chars, added whole, then LB + F + C whole probe windows
        from offchain.engine.ops.nfc import COMP_ROW, NfcCompose

        n = node.in_specs[1].size
        return ([(0, 0, node.in_specs[0].size), (1, 0, n), (2, 0, n)]
                + [(3, 0, node.params[0] * COMP_ROW)] * NfcCompose.probes(node))
    # ---- tokenizer: nfc runs (issue 14)
    if op == OpCode.NFC_STAGE:  # x, chars, added, prev whole, then D whole probe windows
        from offchain.engine.ops.nfc import COMP_ROW

        n, nk = node.in_specs[1].size, node.in_specs[0].size
        return ([(0, 0, nk), (1, 0, n), (2, 0, n), (4, 0, nk)]
                + [(3, 0, node.params[0] * COMP_ROW)] * node.params[3])
    return get_op(node.op).operand_ranges(node, element)


#: Outputs up to this many elements have every element's step priced at its exact chunk alignment; larger ones
#: are sampled and priced at the worst alignment, which bounds every element they did not sample.
EXACT_ELEMENTS = 4096


def _candidate_elements(node: Node, exact: bool) -> Iterable[int]:
    """Elements searched for the costliest step: all of them when ``exact``, else a spread that includes the
    last element (the longest causal row), the first and, for convolutions and pools, the centre of the first
    and last output planes (a window with no padding)."""
    size = node.output.size
    if exact:
        return range(size)
    picks = {0, size - 1, size // 2}
    picks.update(range(0, size, max(1, size // 1021)))
    if node.op in (OpCode.CONV2D, OpCode.MAXPOOL2D, OpCode.AVGPOOL2D):  # pools: issue 13
        _, c, h, w = node.output.shape
        plane = h * w
        y, x = _widest_conv_window(node)
        for ch in (0, c - 1):
            picks.add(ch * plane + (h // 2) * w + w // 2)
            picks.add(ch * plane + y * w + x)
    return sorted(picks)


def _widest_conv_window(node: Node) -> tuple[int, int]:
    """(y, x) of a CONV2D or pooling output whose receptive field holds the most in-image kernel rows and columns:
    the most x runs and the longest (with asymmetric pads or a dilated kernel wider than the image this is not the
    centre). Rows and columns are independent, so each axis is searched alone."""
    _, _, ih, iw = node.in_specs[0].shape
    _, _, oh, ow = node.output.shape
    if node.op == OpCode.CONV2D:
        p = conv_params(node.params)
        _, _, kh, kw = node.in_specs[1].shape
        geometry = ((p.stride_h, p.pad_top, kh, p.dilation_h), (p.stride_w, p.pad_left, kw, p.dilation_w))
    else:  # MAXPOOL2D / AVGPOOL2D: (kh, kw, sh, sw, ph, pw[, divisor]), dilation 1
        kh, kw, sh, sw, ph, pw = node.params[:6]
        geometry = ((sh, ph, kh, 1), (sw, pw, kw, 1))

    def best(count: int, stride: int, pad: int, k: int, dilation: int, size: int) -> int:
        def taps(i: int) -> int:
            first, end = conv_taps(i * stride - pad, k, dilation, size)
            return end - first
        return max(range(count), key=taps)

    return best(oh, *geometry[0], ih), best(ow, *geometry[1], iw)


def step_shape(model: Model, index: int) -> StepShape:
    """Upper bounds of what a step proof of any element of node ``index`` carries."""
    graph = model.graph
    node = graph.nodes[index]
    root_siblings = 0
    for ref in node.inputs:
        if ref.kind == TensorKind.WEIGHT:
            root_siblings += depth(len(graph.weights))
        elif ref.kind == TensorKind.ACTIVATION:
            root_siblings += depth(len(graph.nodes))
    exact = node.output.size <= EXACT_ELEMENTS and not get_op(node.op).data_dependent
    worst: tuple[int, ...] = (0, 0, 0, 0, 0)
    worst_gas = -1
    seen: set[tuple] = set()
    for e in _candidate_elements(node, exact):
        ranges = _worst_ranges(node, e)
        key = tuple(ranges) if exact else tuple(length for _, _, length in ranges) + (len(ranges),)
        if key in seen:
            continue
        seen.add(key)
        r, b, s, n = len(ranges), 0, root_siblings, 0
        for slot, start, length in ranges:
            cb, sib = range_cost(node.in_specs[slot], start, length, exact)
            b, s, n = b + cb, s + sib, n + length
        cost = _op_cost(node)
        gas = (RANGE + cost.per_range) * r + CHUNK_BYTE * b + SIBLING * s + cost.per_element * n
        if gas > worst_gas:
            worst, worst_gas = (r, b, s, n, e), gas
    r, b, s, n, e = worst
    return StepShape(r, b, s, len(encode_node(node, index)), n, e)


def _op_cost(node: Node) -> OpCost:
    if node.op == OpCode.TOPK:  # generation: sample (issue 15): its cost per element grows with k
        return _topk_cost(node)
    return OP_COSTS[OpCode(node.op)]


def step_gas(model: Model, index: int, shape: StepShape | None = None) -> int:
    """Worst-case gas of the challenger's ``step`` at node ``index`` (``shape``: its step_shape, if known)."""
    shape = shape or step_shape(model, index)
    cost = _op_cost(model.graph.nodes[index])
    return (STEP_BASE + RANGE * shape.ranges + CHUNK_BYTE * shape.chunk_bytes + SIBLING * shape.siblings
            + DESCRIPTOR_BYTE * shape.descriptor_bytes + cost.fixed + cost.per_element * shape.elements
            + cost.per_range * shape.ranges)


def reveal_chunk_gas(model: Model, index: int) -> int:
    """Worst-case gas of the submitter's ``revealChunk`` of one chunk of node ``index``'s output."""
    return REVEAL_CHUNK_BASE + REVEAL_CHUNK_BYTE * (1 << model.graph.nodes[index].output.chunk_log2)


def open_node_gas(model: Model, index: int) -> int:
    """Worst-case gas of the challenger's ``openNode`` of node ``index``."""
    descriptor = len(encode_node(model.graph.nodes[index], index))
    return OPEN_NODE_BASE + OPEN_NODE_BYTE * descriptor + OPEN_NODE_SIBLING * depth(len(model.graph.nodes))


def tensor_hash_gas(spec: TensorSpec) -> int:
    """Gas of Poseidon-hashing ``spec``'s values on-chain (PrivateNodeHasher.tensorHash) plus carrying them."""
    bits = spec.dtype.bits
    elements = -(-spec.size // (PACK_BITS // bits))
    calls = max(1, -(-elements // TENSOR_RATE))
    return POSEIDON6 * calls + PRIVATE_VALUE * spec.size + PRIVATE_BYTE * spec.nbytes


def reveal_private_gas(model: Model, index: int) -> int:
    """Worst-case gas of the submitter's ``revealPrivate`` of node ``index`` (its input and output)."""
    node = model.graph.nodes[index]
    descriptor = len(encode_node(node, index))
    return (PRIVATE_REVEAL_BASE + DESCRIPTOR_BYTE * descriptor + SIBLING * depth(len(model.graph.nodes))
            + tensor_hash_gas(node.in_specs[0]) + tensor_hash_gas(node.output))


def step_calldata(model: Model, index: int, shape: StepShape | None = None) -> int:
    """Upper bound of a ``step`` transaction's calldata at node ``index``: the output chunk, the descriptor and
    the proof (``abi.encode(OperandRoot[], RangeProof[])``: a root, an offset, a length and the siblings per
    operand; offsets, lengths, whole chunks and siblings per range), with their ABI heads. ``shape``: the node's
    step_shape, if known."""
    node = model.graph.nodes[index]
    shape = shape or step_shape(model, index)
    return (512 + shape.descriptor_bytes + (1 << node.output.chunk_log2) + shape.chunk_bytes + 32 * shape.siblings
            + 192 * shape.ranges + 128 * len(node.inputs))


def reveal_private_calldata(model: Model, index: int, private_count: int = 1) -> int:
    """Upper bound of a ``revealPrivate`` transaction's calldata: the node's whole input and output, the
    descriptor, the input's trace proof and the claim's hash pairs (two per private node)."""
    node = model.graph.nodes[index]
    return (1024 + len(encode_node(node, index)) + node.in_specs[0].nbytes + node.output.nbytes
            + 32 * depth(len(model.graph.nodes)) + 64 * private_count)


def node_moves(model: Model, index: int, private: bool = False, private_count: int = 1) -> list[MoveEstimate]:
    """Every move an honest party may have to make at node ``index``. A private node is revealed instead of
    stepped; a public one is stepped after its chunk is revealed."""
    node = model.graph.nodes[index]
    name = OpCode(node.op).name
    descriptor = len(encode_node(node, index))
    moves = [MoveEstimate(index, name, "openNode", open_node_gas(model, index),
                          256 + descriptor + 32 * depth(len(model.graph.nodes)))]
    if private:
        moves.append(MoveEstimate(index, name, "revealPrivate", reveal_private_gas(model, index),
                                  reveal_private_calldata(model, index, private_count)))
    else:
        moves.append(MoveEstimate(index, name, "revealChunk", reveal_chunk_gas(model, index),
                                  128 + (1 << node.output.chunk_log2)))
        shape = step_shape(model, index)   # the costly part: searched once for both figures
        moves.append(MoveEstimate(index, name, "step", step_gas(model, index, shape),
                                  step_calldata(model, index, shape)))
    return moves


def model_moves(model: Model, private: Sequence[int] = ()) -> list[MoveEstimate]:
    """Every node's moves (``private``: indices of the nodes proven in zk)."""
    hidden = set(private)
    return [m for i in range(len(model.graph.nodes)) for m in node_moves(model, i, i in hidden, len(hidden))]


def check_move_gas(model: Model, private: Sequence[int] = (), bound: int = MAX_MOVE_GAS,
                   max_calldata: int = MAX_MOVE_CALLDATA) -> MoveEstimate:
    """Raises :class:`MoveGasError` naming every node whose worst-case honest move exceeds ``bound`` gas or
    ``max_calldata`` bytes (node index, op, move, estimated gas and calldata, the bounds); returns the model's
    costliest move otherwise."""
    moves = model_moves(model, private)
    over = [m for m in moves if m.gas > bound or m.calldata > max_calldata]
    if over:
        listed = "; ".join(str(m) for m in over[:8]) + (f"; and {len(over) - 8} more" if len(over) > 8 else "")
        raise MoveGasError(f"{len(over)} honest move(s) exceed the bound of {bound:,} gas or {max_calldata:,} "
                           f"calldata bytes per move: {listed}")
    return max(moves, key=lambda m: m.gas)

"""The op code table: one stable uint8 per operator (descriptor field ``op``).

Codes are part of every graph root, so they never change meaning; new ops
take new numbers. Solidity's one-step prover dispatches on these values.
"""

from __future__ import annotations

import enum


class OpCode(enum.IntEnum):
    """Operator codes. See each op's module for params, forward and element rules."""

    LINEAR = 1      # ops/linear.py   y = x W^T + b, W [out, in]
    CONV2D = 2      # ops/conv.py     NCHW conv, W [O, C, KH, KW]
    MATMUL = 3      # ops/linear.py   y = a b^T (b given as [.., N, K])
    ADD = 4         # ops/elementwise.py
    SUB = 5         # ops/elementwise.py
    MUL = 6         # ops/elementwise.py
    RELU = 7        # ops/unary.py
    GELU = 8        # ops/activation.py (intmath)
    SILU = 9        # ops/activation.py (intmath)
    NEG = 10        # ops/unary.py
    RESCALE = 11    # ops/unary.py    change frac bits / dtype
    SOFTMAX = 12    # ops/softmax.py  last axis, optionally causal (intmath)
    LAYERNORM = 13  # ops/norm.py     last axis (intmath)
    RMSNORM = 14    # ops/norm.py     last axis (intmath)
    EMBEDDING = 15  # ops/embedding.py
    ROPE = 16       # ops/rope.py     rotate-half rotary embedding
    RESHAPE = 17    # ops/shape.py    also flatten
    PERMUTE = 18    # ops/shape.py    also transpose
    SLICE = 19      # ops/shape.py
    CONCAT = 20     # ops/shape.py
    MEAN = 21       # ops/reduce.py   last axis
    UTF8_DECODE = 22  # ops/text.py   UTF-8 bytes -> code points
    CHAR_MAP = 23     # ops/text.py   code points -> normalised stream (two-stage table)
    TRIE_MATCH = 24   # ops/text.py   longest vocabulary piece per stream slot
    WORDPIECE = 25    # ops/text.py   framed, padded token ids
    LOREFT = 26       # ops/intervention.py  LoReFT h + R^T (W h + b - R h)
    # ---------------------------------------------------------------- activations (issue 13)
    TANH = 27         # ops/activation.py (intmath)
    SIGMOID = 28      # ops/activation.py (intmath)
    CLAMP = 29        # ops/piecewise.py  x clamped to [lo, hi] (input LSBs), rescaled
    LEAKY_RELU = 30   # ops/piecewise.py  x * (x >= 0 ? 2^k : m), rescaled by fx + k - fo
    HARDSWISH = 31    # ops/piecewise.py  x * relu6(x + 3) / 6
    HARDSIGMOID = 32  # ops/piecewise.py  relu6(x + 3) / 6
    SOFTPLUS = 33     # ops/activation.py (intmath)
    # ---------------------------------------------------------------- attention and shape functions (issue 13)
    EXPAND = 37       # ops/broadcast.py  broadcast copy (expand, expand_as, broadcast_to)
    WHERE = 38        # ops/broadcast.py  cond != 0 ? x : y with broadcasting (where, masked_fill)
    # ---------------------------------------------------------------- pooling and reductions (issue 13)
    MAXPOOL2D = 34    # ops/pool.py   NCHW max over windows
    AVGPOOL2D = 35    # ops/pool.py   NCHW exact window sum / divisor, rounded half up
    AMAX = 36         # ops/pool.py   max over the last axis
    # ---- tokenizer: detok (issue 14)
    DETOK_LEN = 46    # ops/detok.py  byte length of each token's text (table lookup)
    DETOK_BYTES = 47  # ops/detok.py  the tokens' bytes concatenated (optionally stripped), truncated / 0-padded
    # ---- tokenizer: bpe (issue 14)
    BPE_SYMBOLS = 42  # ops/bpe.py   chars -> initial BPE symbols [N, 5] (bytes or SentencePiece chars)
    PAIR_RANK = 43    # ops/bpe.py   (rank, new_id) of each symbol with the next one of its word (hashed merges)
    BPE_MERGE = 44    # ops/bpe.py   one round: each word's least-rank pairs, leftmost first
    BPE_IDS = 45      # ops/bpe.py   final symbols -> framed, padded token ids
    WORD_VOCAB = 48   # ops/wordvocab.py  ignore_merges: a word that is a whole vocab token becomes that token
    # ---- tokenizer: pretok (issue 14)
    UTF8_CHARS = 39    # ops/pretok.py  bytes -> code point per UTF-8 unit start (U+FFFD per maximal subpart)
    PRETOKENIZE = 40   # ops/pretok.py  class stream + added matches -> (virtual prefix, word start) per char
    ADDED_TOKENS = 41  # ops/pretok.py  chars -> leftmost-longest added-token matches
    # ---- generation: cache (issue 15)
    CAT_MATMUL = 49   # ops/cache.py  MATMUL over a virtual concatenation of blocks (the KV cache, uncopied)
    ATTN_BIAS = 50    # ops/cache.py  causal + left-padding additive mask from the right-aligned ids
    ALIGN_END = 51    # ops/cache.py  the ids' trailing pads moved to the front
    # ---- generation: sample (issue 15)
    GEN_PARAMS = 52  # ops/sample.py  request parameter bytes -> (max_new, temperature, top_k, seed)
    TOPK = 53        # ops/sample.py  k largest (value, index) per block (mode 0) / per group of TOPK rows (mode 1)
    PRNG = 54        # ops/sample.py  keccak256(seed, step) -> 31-bit random word
    SAMPLE = 55      # ops/sample.py  temperature + top-k sampling (greedy at temperature 0)
    GEN_STOP = 56    # ops/sample.py  -1 after EOS / past max_new, else the sampled token
    # ---- tokenizer: added (issue 14)
    ADDED_MATCH = 57    # ops/added.py  chars -> (id, end) of the longest added token at each char (hashed probes)
    ADDED_RESOLVE = 58  # ops/added.py  candidates -> leftmost-longest non-overlapping matches (ADDED_TOKENS' format)
    # ---- tokenizer: nfc (issue 14)
    NFC_COMPOSE = 59  # ops/nfc.py  canonical reordering + composition of CHAR_MAP's decompositions (hashed pairs)
    NFC_COMPACT = 60  # ops/nfc.py  the kept entries of [N, K] (code points or their added matches) packed into [N]
    # ---- image: imgops (issue 16)
    NOISE = 61      # ops/image.py  seeded near-Gaussian INT16 noise (splitmix64 stream, sum of four 16-bit uniforms)
    DDIM_STEP = 62  # ops/image.py  one deterministic DDIM update, x0 clipped to [-lim, lim] (Q16 constants)
    PIXELS = 63     # ops/image.py  x in [-1, 1] -> 8-bit pixel bytes (INT8, byte = q & 0xFF)
    # ---- image: sd-unet-block (issue 16)
    RSQRT = 64  # ops/stat.py  1 / sqrt(x + eps) (GroupNorm's group statistics)
    EXP = 65    # ops/stat.py  e^min(d, 0), optionally / a row sum (the two-pass softmax)
    # ---- tokenizer: nfc runs (issue 14)
    NFC_REORDER = 68  # ops/nfc_runs.py  canonical reordering of every run of non-starters in full (stable by rank)
    NFC_STAGE = 69    # ops/nfc_runs.py  composition of run indices [from, from + D) given the previous stage

"""Which Solidity operator contract implements each op code (contracts/dispute/ops/), and the ABI tuples
those contracts take.

The one-step prover is deployed with one entry per op code: ``OneStepProver(codes, contracts)``, where
``contracts[i]`` is the address of the ``OPERATOR_CONTRACTS[codes[i]]`` deployment. A family contract
serves several codes, so each name is deployed once (``offchain/chain/deployments.py`` does this).
Every op code of ``offchain.engine.ops.codes.OpCode`` has exactly one entry; tests/dispute_ops checks it.

Calling an operator contract directly (tests, gas benchmarks): ``descriptor_tuple`` turns canonical descriptor
bytes into the ``NodeDesc`` tuple (contracts/dispute/lib/LibDescriptor.sol) and ``operand_tuple`` packs one
range's values into an ``Operand`` (contracts/dispute/lib/LibOperand.sol).

Callers: the deployment code, tests and benchmarks that deploy a prover or call operators.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Mapping, Sequence

from offchain.engine.descriptor import HEADER_WORDS, TENSOR_WORDS, WORD
from offchain.engine.ops.codes import OpCode

#: (kind, index, width, frac, chunk_log2, shape): LibDescriptor's TensorDesc.
TensorTuple = tuple[int, int, int, int, int, list[int]]
#: (op, index, out, inputs, params): LibDescriptor's NodeDesc.
NodeTuple = tuple[int, int, TensorTuple, list[TensorTuple], list[int]]
#: (data, skip, width, len): LibOperand's Operand.
OperandTuple = tuple[bytes, int, int, int]

#: op code -> name of the compiled contract (family) implementing it.
OPERATOR_CONTRACTS: Mapping[int, str] = MappingProxyType({
    OpCode.LINEAR: "LinearOps",
    OpCode.MATMUL: "LinearOps",
    OpCode.CONV2D: "ConvOps",
    OpCode.ADD: "ElementwiseOps",
    OpCode.SUB: "ElementwiseOps",
    OpCode.MUL: "ElementwiseOps",
    OpCode.RELU: "UnaryOps",
    OpCode.NEG: "UnaryOps",
    OpCode.RESCALE: "UnaryOps",
    OpCode.GELU: "ActivationOps",
    OpCode.SILU: "ActivationOps",
    OpCode.SOFTMAX: "SoftmaxOps",
    OpCode.LAYERNORM: "NormOps",
    OpCode.RMSNORM: "NormOps",
    OpCode.EMBEDDING: "EmbeddingOps",
    OpCode.ROPE: "RopeOps",
    OpCode.RESHAPE: "ShapeOps",
    OpCode.PERMUTE: "ShapeOps",
    OpCode.SLICE: "ShapeOps",
    OpCode.CONCAT: "ShapeOps",
    OpCode.MEAN: "ReduceOps",
    OpCode.UTF8_DECODE: "TextOps",
    OpCode.CHAR_MAP: "TextOps",
    OpCode.TRIE_MATCH: "TextOps",
    OpCode.WORDPIECE: "TextOps",
    OpCode.LOREFT: "InterventionOps",
    # activations (issue 13)
    OpCode.TANH: "ActivationOps",
    OpCode.SIGMOID: "ActivationOps",
    OpCode.SOFTPLUS: "ActivationOps",
    OpCode.CLAMP: "PiecewiseOps",
    OpCode.LEAKY_RELU: "PiecewiseOps",
    OpCode.HARDSWISH: "PiecewiseOps",
    OpCode.HARDSIGMOID: "PiecewiseOps",
    # ---------------------------------------------------------------- attention and shape functions (issue 13)
    OpCode.EXPAND: "BroadcastOps",
    OpCode.WHERE: "BroadcastOps",
    # ---------------------------------------------------------------- pooling and reductions (issue 13)
    OpCode.MAXPOOL2D: "PoolOps",
    OpCode.AVGPOOL2D: "PoolOps",
    OpCode.AMAX: "ReduceOps",
    # ---- tokenizer: detok (issue 14)
    OpCode.DETOK_LEN: "DetokOps",
    OpCode.DETOK_BYTES: "DetokOps",
    # ---- tokenizer: bpe (issue 14)
    OpCode.BPE_SYMBOLS: "BpeOps",
    OpCode.PAIR_RANK: "BpeOps",
    OpCode.BPE_MERGE: "BpeOps",
    OpCode.BPE_IDS: "BpeOps",
    OpCode.WORD_VOCAB: "WordVocabOps",
    # ---- tokenizer: pretok (issue 14)
    OpCode.UTF8_CHARS: "PretokOps",
    OpCode.PRETOKENIZE: "PretokOps",
    OpCode.ADDED_TOKENS: "PretokOps",
    # ---- generation: sample (issue 15)
    OpCode.GEN_PARAMS: "GenOps",
    OpCode.TOPK: "GenOps",
    OpCode.PRNG: "GenOps",
    OpCode.SAMPLE: "GenOps",
    OpCode.GEN_STOP: "GenOps",
    # ---- generation: cache (issue 15)
    OpCode.CAT_MATMUL: "CacheOps",
    OpCode.ATTN_BIAS: "CacheOps",
    OpCode.ALIGN_END: "CacheOps",
    # ---- tokenizer: added (issue 14)
    OpCode.ADDED_MATCH: "AddedOps",
    OpCode.ADDED_RESOLVE: "AddedOps",
    # ---- tokenizer: nfc (issue 14)
    OpCode.NFC_COMPOSE: "NfcOps",
    OpCode.NFC_COMPACT: "NfcOps",
    # ---- image: imgops (issue 16)
    OpCode.NOISE: "ImageOps",
    OpCode.DDIM_STEP: "ImageOps",
    OpCode.PIXELS: "ImageOps",
    # ---- image: sd-unet-block (issue 16)
    OpCode.RSQRT: "StatOps",
    OpCode.EXP: "StatOps",
    # ---- tokenizer: nfc runs (issue 14)
    OpCode.NFC_REORDER: "NfcRunOps",
    OpCode.NFC_STAGE: "NfcRunOps",
})


def operator_families() -> list[str]:
    """The distinct contract names, sorted: what to deploy before the prover."""
    return sorted(set(OPERATOR_CONTRACTS.values()))


def prover_args(addresses: Mapping[str, str]) -> tuple[list[int], list[str]]:
    """``OneStepProver`` constructor arguments (codes ascending, operator addresses) from the families'
    deployed addresses by name; raises KeyError naming a family that is missing from ``addresses``."""
    codes = sorted(int(c) for c in OPERATOR_CONTRACTS)
    missing = [name for name in operator_families() if name not in addresses]
    if missing:
        raise KeyError(f"operator families not deployed: {missing}")
    return codes, [addresses[OPERATOR_CONTRACTS[c]] for c in codes]


def _word(data: bytes, k: int, signed: bool = False) -> int:
    return int.from_bytes(data[WORD * k:WORD * (k + 1)], "big", signed=signed)


def _tensor(data: bytes, w: int) -> TensorTuple:
    rank = _word(data, w + 5)
    shape = [_word(data, w + 6 + j) for j in range(rank)]
    return (_word(data, w), _word(data, w + 1), _word(data, w + 2), _word(data, w + 3, signed=True),
            _word(data, w + 4), shape)


def descriptor_tuple(descriptor: bytes) -> NodeTuple:
    """``NodeDesc`` as an ABI tuple, read from canonical descriptor bytes word by word as LibDescriptor.decode
    reads them (no validation: give it ``encode_node``'s output)."""
    _, op, index, n, p = (_word(descriptor, k) for k in range(5))
    out = _tensor(descriptor, HEADER_WORDS)
    inputs = [_tensor(descriptor, HEADER_WORDS + TENSOR_WORDS * (1 + k)) for k in range(n)]
    base = HEADER_WORDS + TENSOR_WORDS * (1 + n)
    params = [_word(descriptor, base + j, signed=True) for j in range(p)]
    return (op, index, out, inputs, params)


def operand_tuple(values: Sequence[int], width: int, skip: int = 0) -> OperandTuple:
    """``Operand`` holding ``values`` (big-endian two's complement, ``width`` bytes each) after ``skip``
    filler elements, as a proven chunk holds a range that starts inside it."""
    filler = b"\x5a" * (skip * width)
    packed = b"".join(int(v).to_bytes(width, "big", signed=True) for v in values)
    return (filler + packed, skip, width, len(values))

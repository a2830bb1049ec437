"""Canonical byte encoding of a node descriptor (the graph root's leaves).

One node, one byte string, a sequence of 32-byte big-endian words, so
Solidity reads field k with ``calldataload(desc.offset + 32 * k)`` (or
``abi.decode`` into a ``uint256[]`` body): there is no packing to undo.
Unsigned fields are uint256; ``frac`` and params are int256 two's complement.

Layout (word offsets; B = TENSOR_WORDS = 6 + MAX_RANK = 12):

    word 0          DESCRIPTOR_VERSION (= 1)
    word 1          op code (uint8 value, see ops/codes.py)
    word 2          node index i (its leaf position in the trace tree)
    word 3          n = number of inputs
    word 4          p = number of params
    words 5 .. 5+B-1                  output tensor block
    words 5+B*(1+k) .. 5+B*(2+k)-1    input k tensor block, k = 0 .. n-1
    words 5+B*(1+n) .. 5+B*(1+n)+p-1  params, int256 each

Tensor block (B words):

    +0  kind        0 = input, 1 = weight, 2 = activation (the output block: 2)
    +1  index       input index / weight index / producing node index (output: i)
    +2  dtype       element width in bytes: 1 = int8, 2 = int16, 4 = int32
    +3  frac        int256, real = q / 2^frac
    +4  chunk_log2  commitment chunk size is 2^chunk_log2 bytes
    +5  rank        r <= MAX_RANK
    +6 .. +6+MAX_RANK-1   dims d_0 .. d_{r-1}, then zeros

Total length: 32 * (5 + B * (1 + n) + p) bytes. The leaf of the graph tree
is keccak256(descriptor). Names and source locations are not encoded.
"""

from __future__ import annotations

from offchain.engine.dtypes import DType
from offchain.engine.errors import DescriptorError
from offchain.engine.graph import MAX_RANK, Node, TensorKind, TensorRef, TensorSpec

DESCRIPTOR_VERSION = 1
HEADER_WORDS = 5
TENSOR_WORDS = 6 + MAX_RANK
WORD = 32


def _word(value: int, signed: bool = False) -> bytes:
    if signed:
        if not -(1 << 255) <= value < (1 << 255):
            raise DescriptorError(f"signed field {value} does not fit int256")
        return (value % (1 << 256)).to_bytes(WORD, "big")
    if value < 0 or value >= (1 << 256):
        raise DescriptorError(f"unsigned field {value} does not fit uint256")
    return value.to_bytes(WORD, "big")


def _tensor_block(ref: TensorRef, spec: TensorSpec) -> bytes:
    if len(spec.shape) > MAX_RANK:
        raise DescriptorError(f"{ref}: rank {len(spec.shape)} exceeds MAX_RANK={MAX_RANK}")
    dims = list(spec.shape) + [0] * (MAX_RANK - len(spec.shape))
    fields = [_word(int(ref.kind)), _word(ref.index), _word(int(spec.dtype)),
              _word(spec.frac, signed=True), _word(spec.chunk_log2), _word(len(spec.shape))]
    return b"".join(fields + [_word(d) for d in dims])


def encode_node(node: Node, index: int) -> bytes:
    """The canonical descriptor of ``node`` sitting at position ``index`` of its graph."""
    parts = [_word(DESCRIPTOR_VERSION), _word(int(node.op)), _word(index),
             _word(len(node.inputs)), _word(len(node.params)),
             _tensor_block(TensorRef(TensorKind.ACTIVATION, index), node.output)]
    parts += [_tensor_block(ref, spec) for ref, spec in zip(node.inputs, node.in_specs)]
    parts += [_word(p, signed=True) for p in node.params]
    return b"".join(parts)


def _read(data: bytes, k: int, signed: bool = False) -> int:
    return int.from_bytes(data[WORD * k:WORD * (k + 1)], "big", signed=signed)


def _decode_block(data: bytes, k: int) -> tuple[TensorRef, TensorSpec]:
    try:
        kind = TensorKind(_read(data, k))
        dtype = DType(_read(data, k + 2))
    except ValueError as exc:
        raise DescriptorError(f"tensor block at word {k}: {exc}") from None
    rank = _read(data, k + 5)
    if rank > MAX_RANK:
        raise DescriptorError(f"tensor block at word {k}: rank {rank} > {MAX_RANK}")
    shape = tuple(_read(data, k + 6 + j) for j in range(rank))
    spec = TensorSpec(shape, dtype, _read(data, k + 3, signed=True), _read(data, k + 4))
    return TensorRef(kind, _read(data, k + 1)), spec


def decode_node(data: bytes) -> tuple[int, Node]:
    """Inverse of :func:`encode_node`: ``(index, node)``; raises DescriptorError on malformed bytes."""
    if len(data) % WORD or len(data) < WORD * (HEADER_WORDS + TENSOR_WORDS):
        raise DescriptorError(f"descriptor length {len(data)} is not a whole number of words "
                              f">= {HEADER_WORDS + TENSOR_WORDS}")
    if _read(data, 0) != DESCRIPTOR_VERSION:
        raise DescriptorError(f"descriptor version {_read(data, 0)} != {DESCRIPTOR_VERSION}")
    op, index, n, p = (_read(data, k) for k in range(1, 5))
    expected = WORD * (HEADER_WORDS + TENSOR_WORDS * (1 + n) + p)
    if len(data) != expected:
        raise DescriptorError(f"descriptor has {len(data)} bytes, its counts (n={n}, p={p}) say {expected}")
    out_ref, out_spec = _decode_block(data, HEADER_WORDS)
    if out_ref != TensorRef(TensorKind.ACTIVATION, index):
        raise DescriptorError(f"output block names {out_ref}, expected activation[{index}]")
    refs, specs = [], []
    for k in range(n):
        ref, spec = _decode_block(data, HEADER_WORDS + TENSOR_WORDS * (1 + k))
        refs.append(ref)
        specs.append(spec)
    base = HEADER_WORDS + TENSOR_WORDS * (1 + n)
    params = tuple(_read(data, base + j, signed=True) for j in range(p))
    return index, Node(op, tuple(refs), tuple(specs), out_spec, params)

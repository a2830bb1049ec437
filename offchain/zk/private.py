"""Private nodes: which nodes of a model keep their weights secret, and the descriptors their circuits are built from.

A :class:`PrivateSpec` marks node indices of an engine model private. For each
such node the owner publishes only the Poseidon commitment of its weights
(:func:`weight_commitment`); every inference carries one Groth16 proof per
private node whose single public signal is
``Poseidon(in_hash, out_hash, commitment)`` (:func:`public_signal`), with
``in_hash``/``out_hash`` the chain hashes of the packed input/output tensors
(:func:`tensor_hash`). Descriptors hold everything the circuit's structure
depends on (shapes, dtypes, shift) and nothing secret: equal descriptors share
one verifying key.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np

from offchain.engine.dtypes import DType
from offchain.engine.graph import TensorKind
from offchain.engine.model import Model
from offchain.engine.ops import OpCode
from offchain.zk.gadgets import pack_values
from offchain.zk.poseidon import TENSOR_RATE, WEIGHT_RATE, poseidon, poseidon_chain

#: Bumped whenever a circuit builder changes the constraints it emits (it is part of every key's cache hash).
GENERATOR_VERSION = 1


class PrivateNodeError(ValueError):
    """A node marked private cannot be proven (unsupported op, public weights missing, bad shapes)."""


@dataclass(frozen=True)
class LinearDescriptor:
    """A private LINEAR: ``out[m, n] = requantize(sum_k x[m, k] W[n, k] + b[n], shift, out dtype)``.

    Sizes in elements, dtypes as bit widths (8, 16 or 32); ``shift`` in bits (negative: exact left shift).
    """

    rows: int
    k: int
    n: int
    x_bits: int
    w_bits: int
    has_bias: bool
    shift: int
    out_bits: int
    kind: str = "linear"


@dataclass(frozen=True)
class LoreftDescriptor:
    """A private LoReFT (see ``offchain.zk.loreft``): ``h [rows, d]`` of ``h_bits``, rank ``r``, weight frac ``shift``."""

    rows: int
    d: int
    r: int
    h_bits: int
    shift: int
    kind: str = "loreft"


Descriptor = LinearDescriptor | LoreftDescriptor


def descriptor_hash(desc: Descriptor) -> str:
    """sha256 of the descriptor and the generator version: names the circuit's key folder."""
    blob = json.dumps({"v": GENERATOR_VERSION, **asdict(desc)}, sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


@dataclass(frozen=True)
class PrivateSpec:
    """Indices of the engine-model nodes whose weights are private (each a LINEAR or LOREFT with weight operands)."""

    node_indices: tuple[int, ...]

    def __post_init__(self) -> None:
        if len(set(self.node_indices)) != len(self.node_indices):
            raise PrivateNodeError(f"node_indices {self.node_indices} repeat a node")


def node_descriptor(model: Model, index: int) -> Descriptor:
    """The circuit descriptor of private node ``index``: a LINEAR or a LOREFT whose weights are model weights."""
    nodes = model.graph.nodes
    if 0 <= index < len(nodes) and nodes[index].op == OpCode.LOREFT:
        node = nodes[index]
        if any(ref.kind != TensorKind.WEIGHT for ref in node.inputs[1:]):
            raise PrivateNodeError(f"node {index}: R, W and b must be model weights to be kept private")
        h, r_mat = node.in_specs[0], node.in_specs[1]
        return LoreftDescriptor(rows=int(np.prod(h.shape[:-1], dtype=np.int64)), d=h.shape[-1], r=r_mat.shape[0],
                                h_bits=h.dtype.bits, shift=r_mat.frac)
    return linear_descriptor(model, index)


def linear_descriptor(model: Model, index: int) -> LinearDescriptor:
    """The descriptor of LINEAR node ``index`` of ``model``, whose W (and bias) must be weights of the model."""
    nodes = model.graph.nodes
    if not 0 <= index < len(nodes):
        raise PrivateNodeError(f"node index {index} outside [0, {len(nodes)})")
    node = nodes[index]
    if node.op != OpCode.LINEAR:
        raise PrivateNodeError(f"node {index} is op {node.op}, only LINEAR and LOREFT can be private in a model")
    if any(ref.kind != TensorKind.WEIGHT for ref in node.inputs[1:]):
        raise PrivateNodeError(f"node {index}: W and bias must be model weights to be kept private")
    x, w = node.in_specs[0], node.in_specs[1]
    n, k = w.shape
    shift = x.frac + w.frac - node.output.frac
    return LinearDescriptor(rows=int(np.prod(x.shape[:-1], dtype=np.int64)), k=k, n=n, x_bits=x.dtype.bits,
                            w_bits=w.dtype.bits, has_bias=len(node.inputs) == 3, shift=shift,
                            out_bits=node.output.dtype.bits)


def private_weights(model: Model, index: int) -> list[np.ndarray]:
    """The weight arrays (W, then bias if any) of private node ``index``, in commitment order."""
    return [model.weights[ref.index] for ref in model.graph.nodes[index].inputs[1:]]


def weight_elements(weights: Sequence[np.ndarray], bits: Sequence[int]) -> list[int]:
    """Field elements committed for a node's weights: each array flattened, packed with its own bit width, concatenated."""
    out: list[int] = []
    for arr, b in zip(weights, bits):
        out += pack_values(np.asarray(arr).reshape(-1).tolist(), b)
    return out


def weight_bits(desc: Descriptor) -> list[int]:
    """Bit widths of the weight arrays of ``desc`` in commitment order."""
    if isinstance(desc, LinearDescriptor):
        return [desc.w_bits] + ([32] if desc.has_bias else [])
    return [8, 8, 32]


def weight_commitment(desc: Descriptor, weights: Sequence[np.ndarray]) -> int:
    """Poseidon(16) chain (rate 15) of the packed weights: the value a model owner registers for a private node."""
    return poseidon_chain(weight_elements(weights, weight_bits(desc)), WEIGHT_RATE)


def tensor_hash(values: np.ndarray, bits: int) -> int:
    """Poseidon(6) chain (rate 5) of a tensor packed at ``bits`` bits per value (row-major)."""
    return poseidon_chain(pack_values(np.asarray(values).reshape(-1).tolist(), bits), TENSOR_RATE)


def io_hashes(operand: np.ndarray, output: np.ndarray) -> tuple[int, int]:
    """(in_hash, out_hash) of a private node's input and output, each hashed at its dtype's width: the pair its
    proof binds and a reveal must match."""
    return tensor_hash(operand, operand.dtype.itemsize * 8), tensor_hash(output, output.dtype.itemsize * 8)


def public_signal(in_hash: int, out_hash: int, commitment: int) -> int:
    """The proof's one public input: ``Poseidon(in_hash, out_hash, commitment)``."""
    return poseidon([in_hash, out_hash, commitment])


def io_bits(desc: Descriptor) -> tuple[int, int]:
    """Bit widths of the input and output tensors of ``desc``."""
    if isinstance(desc, LinearDescriptor):
        return desc.x_bits, desc.out_bits
    return desc.h_bits, desc.h_bits


def dtype_of_bits(bits: int) -> DType:
    return {8: DType.INT8, 16: DType.INT16, 32: DType.INT32}[bits]

"""The integer graph IR: tensor specs, nodes in execution order, validation.

A model is a static graph. Every tensor holds signed integers of a declared
:class:`DType` with a power-of-two scale, ``real = q / 2**frac``. Tensors are
named by a :class:`TensorRef` ``(kind, index)`` rather than a global id,
because that is what the one-step proof needs: an operand's root is proved
against the input root (kind INPUT, index into the inputs), the weights root
(kind WEIGHT, index into the weights) or the trace root (kind ACTIVATION,
index = the node that produced it; trace leaf i is node i's output).

The graph's output is the output of its last node, so the trace's last leaf
is the posted output's root (DESIGN.md section 3).

Built by the compiler or by hand; :meth:`Graph.validate` must pass before a
graph is executed, saved or committed to.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field

from offchain.commit import ACTIVATION_CHUNK_BYTES, WEIGHT_CHUNK_BYTES
from offchain.engine.dtypes import DType
from offchain.engine.errors import (
    DtypeMismatchError,
    GraphError,
    ParamError,
    ShapeMismatchError,
    TopologyError,
    UnknownOpError,
)

#: Largest tensor rank the descriptor layout has room for.
MAX_RANK = 6
#: Most operands and params one node may have: LibDescriptor.decode refuses a descriptor with more (reverting
#: MalformedDescriptor("counts")), so the one-step proof of such a node could never run and a fault in it could not
#: lose a dispute.
MAX_NODE_INPUTS = 16
MAX_NODE_PARAMS = 64
#: Smallest and largest chunk size (log2 bytes) a tensor may be committed with.
MIN_CHUNK_LOG2 = 5
MAX_CHUNK_LOG2 = 20
#: Frac bits must stay within this magnitude (shifts beyond it are meaningless for 32-bit values).
MAX_ABS_FRAC = 64


class TensorKind(enum.IntEnum):
    """Where a tensor's root is proved from. Value = descriptor field ``kind``."""

    INPUT = 0
    WEIGHT = 1
    ACTIVATION = 2


#: Default commitment chunk size (log2 bytes) per tensor kind, from the commit
#: package's measured recommendations: activations and inputs use one-word
#: chunks (a tensor descent ends on 32 bytes), weights 4 KiB chunks (committing
#: to many weights is then bound by keccak itself, not per-call overhead).
DEFAULT_CHUNK_LOG2: dict[TensorKind, int] = {
    TensorKind.INPUT: ACTIVATION_CHUNK_BYTES.bit_length() - 1,
    TensorKind.WEIGHT: WEIGHT_CHUNK_BYTES.bit_length() - 1,
    TensorKind.ACTIVATION: ACTIVATION_CHUNK_BYTES.bit_length() - 1,
}


@dataclass(frozen=True)
class TensorRef:
    """A tensor named by its kind and its index within that kind."""

    kind: TensorKind
    index: int

    def __str__(self) -> str:
        return f"{self.kind.name.lower()}[{self.index}]"


@dataclass(frozen=True)
class TensorSpec:
    """Shape, dtype and scale of one tensor. ``real = q / 2**frac``.

    ``chunk_log2`` is the commitment chunk size, 2**chunk_log2 bytes.
    ``name`` is for humans only; it is not part of any commitment.
    """

    shape: tuple[int, ...]
    dtype: DType
    frac: int
    chunk_log2: int = 5
    name: str = ""

    @property
    def size(self) -> int:
        """Number of elements."""
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        """Packed size in bytes."""
        return self.size * int(self.dtype)

    def same_layout(self, other: "TensorSpec") -> bool:
        """True when shape, dtype, frac and chunk size agree (names may differ)."""
        return (self.shape, self.dtype, self.frac, self.chunk_log2) == (
            other.shape, other.dtype, other.frac, other.chunk_log2)

    def check(self, where: str) -> None:
        """Raise a :class:`GraphError` subclass if any field is out of its documented range."""
        if not isinstance(self.shape, tuple) or any(
                not isinstance(d, int) or d < 0 for d in self.shape):
            raise ShapeMismatchError(f"{where}: shape {self.shape!r} must be a tuple of ints >= 0")
        if len(self.shape) > MAX_RANK:
            raise ShapeMismatchError(f"{where}: rank {len(self.shape)} exceeds MAX_RANK={MAX_RANK}")
        if not isinstance(self.dtype, DType):
            raise DtypeMismatchError(f"{where}: dtype {self.dtype!r} is not a DType")
        if abs(self.frac) > MAX_ABS_FRAC:
            raise DtypeMismatchError(f"{where}: frac bits {self.frac} exceed |{MAX_ABS_FRAC}|")
        if not MIN_CHUNK_LOG2 <= self.chunk_log2 <= MAX_CHUNK_LOG2:
            raise ParamError(f"{where}: chunk_log2 {self.chunk_log2} not in "
                             f"[{MIN_CHUNK_LOG2}, {MAX_CHUNK_LOG2}]")


@dataclass(frozen=True)
class Node:
    """One operator application. Produces exactly one activation tensor, ``output``.

    ``in_specs[k]`` repeats the spec of the tensor named by ``inputs[k]`` so
    an op needs nothing but its node (the descriptor carries it too);
    :meth:`Graph.validate` checks they agree. ``params`` are signed ints whose
    meaning each op documents. ``source`` says where the compiler found the
    node (module path / fx node); it is not committed.
    """

    op: int
    inputs: tuple[TensorRef, ...]
    in_specs: tuple[TensorSpec, ...]
    output: TensorSpec
    params: tuple[int, ...] = ()
    source: str = ""


@dataclass
class Graph:
    """A static integer program: declared inputs, weight specs, nodes in execution order.

    Weight values live next to the graph (see :class:`offchain.engine.model.Model`);
    the graph only declares their specs, which the descriptors commit to.
    """

    inputs: list[TensorSpec] = field(default_factory=list)
    weights: list[TensorSpec] = field(default_factory=list)
    nodes: list[Node] = field(default_factory=list)

    def spec(self, ref: TensorRef) -> TensorSpec:
        """The spec of the tensor ``ref`` names. Raises :class:`TopologyError` if there is none."""
        table = {TensorKind.INPUT: self.inputs, TensorKind.WEIGHT: self.weights}.get(ref.kind)
        if table is None:
            if 0 <= ref.index < len(self.nodes):
                return self.nodes[ref.index].output
        elif 0 <= ref.index < len(table):
            return table[ref.index]
        raise TopologyError(f"tensor {ref} does not exist")

    @property
    def output(self) -> TensorSpec:
        """Spec of the graph's output: the last node's output."""
        if not self.nodes:
            raise GraphError("graph has no nodes, so no output")
        return self.nodes[-1].output

    def validate(self) -> None:
        """Check the whole graph; raise the first problem as a named :class:`GraphError`.

        Checks: every spec is in range; every operand names an existing input,
        weight, or an activation of an *earlier* node (topological order);
        ``in_specs`` agree with the named tensors; each op's own shape/dtype/param rules.
        """
        from offchain.engine.ops import get_op  # ops import graph; import late to avoid a cycle

        if not self.nodes:
            raise GraphError("graph has no nodes")
        for j, spec in enumerate(self.inputs):
            spec.check(f"input[{j}]")
        for j, spec in enumerate(self.weights):
            spec.check(f"weight[{j}]")
        for i, node in enumerate(self.nodes):
            where = f"node {i} ({node.source or 'no source'})"
            try:
                op = get_op(node.op)
            except UnknownOpError as exc:
                raise UnknownOpError(f"{where}: {exc}") from None
            node.output.check(f"{where} output")
            if len(node.inputs) != len(node.in_specs):
                raise GraphError(f"{where}: {len(node.inputs)} inputs but {len(node.in_specs)} in_specs")
            for k, (ref, spec) in enumerate(zip(node.inputs, node.in_specs)):
                if ref.kind == TensorKind.ACTIVATION and not 0 <= ref.index < i:
                    raise TopologyError(f"{where}: operand {k} reads {ref}, which is not an earlier node")
                declared = self.spec(ref)
                if not declared.same_layout(spec):
                    raise TopologyError(f"{where}: operand {k} spec {spec} disagrees with {ref} = {declared}")
            if any(not isinstance(p, int) for p in node.params):
                raise ParamError(f"{where}: params {node.params!r} must all be ints")
            if len(node.inputs) > MAX_NODE_INPUTS or len(node.params) > MAX_NODE_PARAMS:
                raise ParamError(f"{where}: {len(node.inputs)} inputs and {len(node.params)} params; a descriptor "
                                 f"holds at most {MAX_NODE_INPUTS} and {MAX_NODE_PARAMS} (LibDescriptor)")
            try:
                op.check(node)
            except GraphError as exc:
                raise type(exc)(f"{where} {op.name}: {exc}") from None

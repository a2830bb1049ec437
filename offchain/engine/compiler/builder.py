"""Incremental construction of an integer graph plus its weight values.

Every node is checked by its op as soon as it is added, so a compiler bug
surfaces at the node that caused it, with the torch source attached.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from offchain.engine.dtypes import DType
from offchain.engine.errors import CompileError, GraphError
from offchain.engine.graph import DEFAULT_CHUNK_LOG2, Graph, Node, TensorKind, TensorRef, TensorSpec
from offchain.engine.model import Model
from offchain.engine.ops import get_op


@dataclass(frozen=True)
class Act:
    """A tensor of the integer graph (an input, a weight or a node output) and its spec."""

    ref: TensorRef
    spec: TensorSpec


class GraphBuilder:
    """Appends inputs, weights and nodes; ``model()`` returns the validated result."""

    def __init__(self) -> None:
        self.graph = Graph()
        self.weights: list[np.ndarray] = []
        self._weight_cache: dict[tuple, Act] = {}

    def add_input(self, shape: tuple[int, ...], dtype: DType, frac: int, name: str) -> Act:
        spec = TensorSpec(tuple(shape), dtype, frac, DEFAULT_CHUNK_LOG2[TensorKind.INPUT], name)
        self.graph.inputs.append(spec)
        return Act(TensorRef(TensorKind.INPUT, len(self.graph.inputs) - 1), spec)

    def add_weight(self, values: np.ndarray, dtype: DType, frac: int, name: str, key: tuple | None = None) -> Act:
        """Add an already-quantised weight (``values`` of ``dtype``); ``key`` dedupes shared constants."""
        if key is not None and key in self._weight_cache:
            return self._weight_cache[key]
        spec = TensorSpec(tuple(values.shape), dtype, frac, DEFAULT_CHUNK_LOG2[TensorKind.WEIGHT], name)
        self.graph.weights.append(spec)
        self.weights.append(np.array(values, dtype=dtype.numpy, order="C"))
        act = Act(TensorRef(TensorKind.WEIGHT, len(self.graph.weights) - 1), spec)
        if key is not None:
            self._weight_cache[key] = act
        return act

    def add_node(self, op: int, inputs: list[Act], shape: tuple[int, ...], dtype: DType, frac: int,
                 params: tuple[int, ...] = (), source: str = "", name: str = "") -> Act:
        """Append a node; raises CompileError (naming ``source``) if the op rejects it."""
        index = len(self.graph.nodes)
        out = TensorSpec(tuple(int(d) for d in shape), dtype, int(frac),
                         DEFAULT_CHUNK_LOG2[TensorKind.ACTIVATION], name)
        node = Node(int(op), tuple(a.ref for a in inputs), tuple(a.spec for a in inputs), out,
                    tuple(int(p) for p in params), source)
        try:
            get_op(op).check(node)
        except GraphError as exc:
            raise CompileError(f"{source}: cannot emit {get_op(op).name}: {exc}") from None
        self.graph.nodes.append(node)
        return Act(TensorRef(TensorKind.ACTIVATION, index), out)

    def producer(self, act: Act) -> Node | None:
        """The node that produced ``act``, or None for inputs and weights."""
        if act.ref.kind != TensorKind.ACTIVATION:
            return None
        return self.graph.nodes[act.ref.index]

    def model(self, meta: dict) -> Model:
        """The validated model, without nodes and weights that the output does not depend on."""
        model = _prune(self.graph, self.weights, meta)
        model.validate()
        return model


def _prune(graph: Graph, weights: list[np.ndarray], meta: dict) -> Model:
    """Drop nodes the last node does not (transitively) read, and weights no kept node reads.

    Fusions and peepholes can leave such nodes behind (e.g. a transpose that a
    MATMUL reads through); they would cost trace leaves and commitments for nothing.
    """
    live = [False] * len(graph.nodes)
    live[-1] = True
    used_weights: set[int] = set()
    for i in range(len(graph.nodes) - 1, -1, -1):
        if not live[i]:
            continue
        for ref in graph.nodes[i].inputs:
            if ref.kind == TensorKind.ACTIVATION:
                live[ref.index] = True
            elif ref.kind == TensorKind.WEIGHT:
                used_weights.add(ref.index)
    node_map = {old: new for new, old in enumerate(i for i in range(len(graph.nodes)) if live[i])}
    weight_map = {old: new for new, old in enumerate(sorted(used_weights))}

    def remap(ref: TensorRef) -> TensorRef:
        if ref.kind == TensorKind.ACTIVATION:
            return TensorRef(ref.kind, node_map[ref.index])
        if ref.kind == TensorKind.WEIGHT:
            return TensorRef(ref.kind, weight_map[ref.index])
        return ref

    nodes = [replace(n, inputs=tuple(remap(r) for r in n.inputs)) for i, n in enumerate(graph.nodes) if live[i]]
    kept = sorted(used_weights)
    pruned = Graph(list(graph.inputs), [graph.weights[j] for j in kept], nodes)
    return Model(pruned, [weights[j] for j in kept], meta)


def renamed(spec: TensorSpec, name: str) -> TensorSpec:
    """``spec`` with a different human name."""
    return replace(spec, name=name)

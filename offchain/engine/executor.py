"""Run a model on numpy and keep every node's output (the trace).

Who calls: submitter and challenger nodes (to post or check a result), the
compiler's tests and benchmarks. The result is bit-exact: every op is
integer arithmetic (matmuls in the exact C kernel, offchain/engine/kernels.py, or
float64 BLAS only where the static bound proves it exact).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from offchain.engine.domain import input_domain
from offchain.engine.errors import InputCountError, InputShapeError
from offchain.engine.graph import TensorKind, TensorRef
from offchain.engine.model import Model
from offchain.engine.ops import get_op
from offchain.engine.quantise import quantise_input


@dataclass
class Trace:
    """The quantised inputs and ``outputs[i]`` = node i's output array (its dtype and shape)."""

    inputs: list[np.ndarray]
    outputs: list[np.ndarray]

    @property
    def output(self) -> np.ndarray:
        """The graph's output: the last node's output."""
        return self.outputs[-1]

    def operands(self, model: Model, node_index: int) -> list[np.ndarray]:
        """The input arrays of node ``node_index``, in slot order."""
        return [_lookup(model, self, ref) for ref in model.graph.nodes[node_index].inputs]


def _lookup(model: Model, trace: Trace, ref: TensorRef) -> np.ndarray:
    if ref.kind == TensorKind.INPUT:
        return trace.inputs[ref.index]
    if ref.kind == TensorKind.WEIGHT:
        return model.weights[ref.index]
    return trace.outputs[ref.index]


def prepare_inputs(model: Model, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Quantise and check the request's inputs (count, shape, dtype range, the model's input domain) before
    running; raises an InputError subclass (InputOutOfDomainError for a value outside the domain)."""
    graph = model.graph
    if len(inputs) != len(graph.inputs):
        raise InputCountError(f"got {len(inputs)} inputs, graph declares {len(graph.inputs)}")
    prepared = [quantise_input(value, spec, f"input[{j}] {spec.name}".rstrip())
                for j, (value, spec) in enumerate(zip(inputs, graph.inputs))]
    # The oracle refuses the same inputs at request time (engine/domain.py): one rule on both sides.
    for j, (value, spec) in enumerate(zip(prepared, graph.inputs)):
        input_domain(graph, j).check(value, f"input[{j}] {spec.name}".rstrip())
    return prepared


def run(model: Model, inputs: Sequence[np.ndarray], given: dict[int, np.ndarray] | None = None,
        node_seconds: list[float] | None = None, progress: Callable[[int], None] | None = None) -> Trace:
    """Execute every node in order; returns the full trace.

    ``inputs[j]`` is either integers already in input j's dtype range or
    real values (floats) that are quantised with input j's frac bits.
    ``given[i]``, if present, is taken as node i's output instead of computing it (a private node's published
    output, which a challenger without its weights uses); it must have the node's shape and dtype.
    Raises an :class:`~offchain.engine.errors.InputError` subclass naming the
    input and the limit before any node runs. ``model`` must be validated.
    ``node_seconds``, if given, receives each node's wall seconds in order (the profiler's hook; 0 for given nodes).
    ``progress``, if given, is called with each node's index once its output is in the trace (a node reports a
    generating model's tokens from it, ``offchain.nodes.progress``); it must not change the trace.
    """
    trace = Trace(prepare_inputs(model, inputs), [])
    given = given or {}
    for index, node in enumerate(model.graph.nodes):
        if index in given:
            out = np.asarray(given[index])
            if out.shape != node.output.shape or out.dtype != node.output.dtype.numpy:
                raise InputShapeError(f"given output of node {index} is {out.dtype} {out.shape}, the node makes "
                                      f"{node.output.dtype.name} {node.output.shape}")
            trace.outputs.append(out)
            if node_seconds is not None:
                node_seconds.append(0.0)
            if progress is not None:
                progress(index)
            continue
        start = time.perf_counter()
        operands = [_lookup(model, trace, ref) for ref in node.inputs]
        trace.outputs.append(get_op(node.op).forward(operands, node))
        if node_seconds is not None:
            node_seconds.append(time.perf_counter() - start)
        if progress is not None:
            progress(index)
    return trace

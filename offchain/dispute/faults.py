"""Faulty executions for demos, tests and benchmarks: one element of one node's output is wrong.

The corrupted value flows downstream as a consistent (but wrong) execution would, so the only way to
catch it is the dispute: every later node is recomputed from the corrupted one.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from offchain.engine.executor import Trace, prepare_inputs
from offchain.engine.model import Model
from offchain.engine.ops import get_op


class FaultError(ValueError):
    """The requested fault does not name an existing node or element."""


def run_with_fault(model: Model, inputs: Sequence[np.ndarray], node_index: int, element: int, delta: int = 1,
                   progress: Callable[[int], None] | None = None) -> Trace:
    """Execute ``model`` but add ``delta`` to flat element ``element`` of node ``node_index``'s output.

    The value wraps within the output dtype's range (so it always changes). Later nodes run on it. ``progress`` is
    the executor's hook (``offchain.engine.executor.run``).
    """
    nodes = model.graph.nodes
    if not 0 <= node_index < len(nodes):
        raise FaultError(f"fault node {node_index} outside [0, {len(nodes)})")
    size = nodes[node_index].output.size
    if not 0 <= element < size:
        raise FaultError(f"fault element {element} outside node {node_index}'s {size} elements")
    if delta == 0:
        raise FaultError("a fault with delta 0 changes nothing")
    trace = Trace(prepare_inputs(model, inputs), [])
    for index, node in enumerate(nodes):
        out = get_op(node.op).forward(trace.operands(model, index), node)
        if index == node_index:
            spec = node.output.dtype
            flat = out.reshape(-1).astype(np.int64)
            span = spec.qmax - spec.qmin + 1
            flat[element] = (flat[element] + delta - spec.qmin) % span + spec.qmin
            out = flat.astype(spec.numpy).reshape(out.shape)
        trace.outputs.append(out)
        if progress is not None:
            progress(index)
    return trace

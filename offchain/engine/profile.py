"""Where a forward spends its time: wall seconds per operator kind and per node, over a few runs.

Who calls: ``python -m offchain profile MODEL`` and the engine benchmark. Times are medians over runs of each
node's wall time in the executor (operands looked up, the op's forward); the shares show what to make faster.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from offchain.engine.executor import run
from offchain.engine.model import Model
from offchain.engine.ops import get_op
from offchain.engine.ops.codes import OpCode


@dataclass(frozen=True)
class OpTime:
    """One operator kind's share of a forward: node count, median seconds summed over its nodes, multiply-adds
    (LINEAR/MATMUL/CONV2D only, else 0)."""

    op: str
    nodes: int
    seconds: float
    macs: int


@dataclass(frozen=True)
class Profile:
    """``ops`` sorted by time (largest first), ``nodes`` = (index, op, seconds) of the slowest nodes, ``total``
    = median forward seconds (sum of node medians), ``runs`` timed after one warm-up."""

    ops: list[OpTime]
    nodes: list[tuple[int, str, float]]
    total: float
    runs: int

    def as_dict(self) -> dict:
        return {"total_s": self.total, "runs": self.runs,
                "ops": [{"op": o.op, "nodes": o.nodes, "seconds": o.seconds, "share": o.seconds / self.total,
                         "macs": o.macs} for o in self.ops],
                "slowest_nodes": [{"node": i, "op": op, "seconds": s} for i, op, s in self.nodes]}


def node_macs(model: Model, index: int) -> int:
    """Multiply-adds of node ``index`` if it is a LINEAR, MATMUL or CONV2D, else 0."""
    node = model.graph.nodes[index]
    if node.op in (OpCode.LINEAR, OpCode.MATMUL):
        return int(np.prod(node.output.shape)) * node.in_specs[0].shape[-1]
    if node.op == OpCode.CONV2D:
        _, cg, kh, kw = node.in_specs[1].shape
        return int(np.prod(node.output.shape)) * cg * kh * kw
    return 0


def profile(model: Model, inputs: Sequence[np.ndarray], runs: int = 3, top: int = 10) -> Profile:
    """Run ``model`` on ``inputs`` once to warm up, then ``runs`` times; per-node medians grouped by op."""
    if runs < 1:
        raise ValueError(f"runs must be >= 1, got {runs}")
    run(model, inputs)
    per_run = []
    for _ in range(runs):
        seconds: list[float] = []
        run(model, inputs, node_seconds=seconds)
        per_run.append(seconds)
    medians = [statistics.median(col) for col in zip(*per_run)]
    groups: dict[str, list[int]] = {}
    for i, node in enumerate(model.graph.nodes):
        groups.setdefault(get_op(node.op).name, []).append(i)
    ops = [OpTime(name, len(ix), sum(medians[i] for i in ix), sum(node_macs(model, i) for i in ix))
           for name, ix in groups.items()]
    ops.sort(key=lambda o: o.seconds, reverse=True)
    slowest = sorted(range(len(medians)), key=medians.__getitem__, reverse=True)[:top]
    nodes = [(i, get_op(model.graph.nodes[i].op).name, medians[i]) for i in slowest]
    return Profile(ops, nodes, sum(medians), runs)

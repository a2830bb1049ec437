"""A model's input domain: the one rule, shared by the chain and the engine, for which requests have a result.

Every byte string the oracle accepts as input must have exactly one result that Python and Solidity compute
alike and that a dispute can reach (DESIGN.md section 4). Most operators are total, but some refuse values: an
EMBEDDING has no row for a token id outside [0, V). If such an operator read the request input, an
out-of-vocabulary request would make honest nodes refuse to answer while every one-step proof of that element
reverts, so any answer to it would finalize. Instead the model declares, at registration, the values its input
may hold: the element width (the input tensor's dtype, packed big-endian two's complement) and an inclusive
range [lo, hi], the intersection of what every node reading the input accepts (``Op.input_domain``). The oracle
refuses any other request (``AIOracle.requestCallback``: ``InputNotWholeElements``, ``InputOutOfDomain``) and the
engine applies the same rule before running (``executor.prepare_inputs``, ``chain.encoding.input_tensor``):

- the request's bytes are a whole number of elements (``len % width == 0``);
- every element, and the zero the oracle pads a short input with, lies in [lo, hi];
- the first offending element is reported by its flat index, so both sides name the same one.

A domain equal to the dtype's full range needs no check (the oracle skips the loop).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from offchain.engine.dtypes import DType
from offchain.engine.errors import GraphError, InputNotWholeElementsError, InputOutOfDomainError
from offchain.engine.graph import Graph, TensorKind


@dataclass(frozen=True)
class InputDomain:
    """The values a model's input may hold: ``width``-byte elements (1, 2 or 4) in [lo, hi] (inclusive).

    These are the IModelRegistry.Model fields ``inputWidth``, ``inputMin`` and ``inputMax``."""

    width: int
    lo: int
    hi: int

    @property
    def dtype(self) -> DType:
        return DType(self.width)

    @property
    def full(self) -> bool:
        """True when every value of the dtype is in the domain (no check needed)."""
        return (self.lo, self.hi) == (self.dtype.qmin, self.dtype.qmax)

    def check(self, values: np.ndarray, what: str = "input") -> None:
        """Raise InputOutOfDomainError naming the first element (flat, row-major) outside [lo, hi]."""
        if self.full or values.size == 0:
            return
        flat = np.asarray(values).reshape(-1)
        bad = np.flatnonzero((flat < self.lo) | (flat > self.hi))
        if bad.size:
            index = int(bad[0])
            raise InputOutOfDomainError(index, int(flat[index]), self.lo, self.hi, what)

    def check_request(self, data: bytes, input_length: int) -> None:
        """The oracle's request-time rule on raw input bytes (zero-padded to ``input_length``), as
        ``AIOracle.requestCallback`` applies it."""
        if len(data) % self.width:
            raise InputNotWholeElementsError(len(data), self.width)
        padded = data + bytes(max(0, input_length - len(data)))
        self.check(np.frombuffer(padded, dtype=self.dtype.big_endian))


def input_domain(graph: Graph, index: int = 0) -> InputDomain:
    """The domain of graph input ``index``: its dtype's range narrowed by every node that reads it (the
    protocol's models have one input; the engine checks each input of any graph the same way).

    Raises GraphError if a node reading the input refuses values that no range describes (such a model could
    not be served soundly); see ``Op.input_domain``."""
    from offchain.engine.ops import get_op

    dtype = graph.inputs[index].dtype
    lo, hi = dtype.qmin, dtype.qmax
    for node in graph.nodes:
        for slot, ref in enumerate(node.inputs):
            if ref.kind != TensorKind.INPUT or ref.index != index:
                continue
            accepted = get_op(node.op).input_domain(node, slot)
            if accepted is not None:
                lo, hi = max(lo, accepted[0]), min(hi, accepted[1])
    if lo > hi:
        raise GraphError(f"no value of input {index} is accepted by every node reading it ([{lo}, {hi}] is empty)")
    return InputDomain(int(dtype), lo, hi)

"""A stand-in for a text-generating model (the real generator, offchain/models/generate.py, is built elsewhere):
the request layout of genspec (INT8 [B + 16]: prompt bytes zero-padded to B, then 16 parameter bytes) in, the same
bytes out as INT8 text (meta output_encoding utf-8), through ``steps`` ADD nodes of a zero weight whose sources are
``gen.<t>.emitted`` as a generator's per-token nodes are, and meta ``generation.max_new`` = ``steps``. Its output
is the request echoed: a prompt alone (parameters 0) comes back as its text, padded with zeros; with parameters
the text has interior zero bytes between the prompt and the parameter bytes."""

from __future__ import annotations

import numpy as np

from offchain.engine.dtypes import DType
from offchain.engine.graph import Graph, Node, TensorKind, TensorRef, TensorSpec
from offchain.engine.model import Model
from offchain.engine.ops import OpCode

PARAM_BYTES = 16


def echo_generator(prompt_bytes: int = 48, steps: int = 4, text: bool = True) -> Model:
    """INT8 [prompt_bytes + 16] -> ``steps`` x ADD(zero) -> INT8 [prompt_bytes + 16]; ``text=False`` drops the
    output_encoding (the same graph as a non-text model: same roots, so register only one of the two)."""
    n = prompt_bytes + PARAM_BYTES
    x = TensorSpec((n,), DType.INT8, 0, 5, "request")
    zero = TensorSpec((n,), DType.INT8, 0, 5, "zero")
    nodes, prev, prev_spec = [], TensorRef(TensorKind.INPUT, 0), x
    for t in range(steps):
        out = TensorSpec((n,), DType.INT8, 0, 5, f"step{t}")
        nodes.append(Node(OpCode.ADD, (prev, TensorRef(TensorKind.WEIGHT, 0)), (prev_spec, zero), out, (),
                          f"gen.{t}.emitted"))
        prev, prev_spec = TensorRef(TensorKind.ACTIVATION, t), out
    meta = {"name": "echo-generator", "generation": {"max_new": steps}}
    if text:
        meta["output_encoding"] = "utf-8"
    model = Model(Graph([x], [zero], nodes), [np.zeros(n, dtype=np.int8)], meta)
    model.validate()
    return model

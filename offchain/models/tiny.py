"""`tiny-mlp`: a small hand-built integer MLP (no torch, no training) for tests and quick demos of disputes."""

from __future__ import annotations

import numpy as np

from offchain.engine.dtypes import DType
from offchain.engine.graph import Graph, Node, TensorKind, TensorRef, TensorSpec
from offchain.engine.model import Model
from offchain.engine.ops import OpCode


def _act(i: int) -> TensorRef:
    return TensorRef(TensorKind.ACTIVATION, i)


def tiny_mlp(seed: int = 7, width: int = 24, layers: int = 3, batch: int = 1) -> Model:
    """input int8 [batch, 16] -> (LINEAR -> RELU) x layers -> LINEAR to [batch, 4] int16.

    `batch` > 1 gives the batch variant: the same weights with a leading batch dimension (row b of every
    activation is item b's, so its output is the batch-1 model's outputs one after the other).

    Activations are int8 with 32-byte chunks; weights int8 with 32-byte chunks so even this small model's
    tensors span several chunks (the tensor descent then has levels to descend).
    """
    rng = np.random.default_rng(seed)
    x_spec = TensorSpec((batch, 16), DType.INT8, 4, 5, "x")
    weights: list[np.ndarray] = []
    w_specs: list[TensorSpec] = []
    nodes: list[Node] = []
    prev_spec, prev_ref = x_spec, TensorRef(TensorKind.INPUT, 0)
    dims = [16] + [width] * layers + [4]
    for layer in range(layers + 1):
        fan_in, fan_out = dims[layer], dims[layer + 1]
        last = layer == layers
        w_spec = TensorSpec((fan_out, fan_in), DType.INT8, 6, 5, f"w{layer}")
        b_spec = TensorSpec((fan_out,), DType.INT32, prev_spec.frac + 6, 5, f"b{layer}")
        weights += [rng.integers(-60, 61, size=w_spec.shape).astype(np.int8),
                    rng.integers(-2000, 2001, size=b_spec.shape).astype(np.int32)]
        w_refs = (TensorRef(TensorKind.WEIGHT, len(w_specs)), TensorRef(TensorKind.WEIGHT, len(w_specs) + 1))
        w_specs += [w_spec, b_spec]
        out = TensorSpec((batch, fan_out), DType.INT16 if last else DType.INT8, 4, 5, f"h{layer}")
        nodes.append(Node(OpCode.LINEAR, (prev_ref,) + w_refs, (prev_spec, w_spec, b_spec), out, (), f"fc{layer}"))
        prev_spec, prev_ref = out, _act(len(nodes) - 1)
        if not last:
            relu_out = TensorSpec(out.shape, DType.INT8, 4, 5, f"r{layer}")
            nodes.append(Node(OpCode.RELU, (prev_ref,), (prev_spec,), relu_out, (), f"relu{layer}"))
            prev_spec, prev_ref = relu_out, _act(len(nodes) - 1)
    name = "tiny-mlp" if batch == 1 else f"tiny-mlp-b{batch}"
    model = Model(Graph([x_spec], w_specs, nodes), weights, {"name": name})
    model.validate()
    return model


def tiny_input(seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).integers(-100, 101, size=(1, 16)).astype(np.int8)

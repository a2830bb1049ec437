"""Commitments to models, inputs and traces (DESIGN.md section 3), built on ``offchain.commit``.

* tensor root   commit.tensor_root over the tensor's packed bytes, chunk 2^chunk_log2 bytes
                (chunk size from the tensor's spec, so the descriptor tells the verifier).
* graph root    merkle_root([keccak256(descriptor_i)]), descriptors in execution order.
* weights root  merkle_root([tensor_root(weight_j)]), weights in graph order.
* model id      keccak256(graph_root ++ weights_root ++ private_root); private_root is
                32 zero bytes for a model without private (opp/ai) nodes.
* input root    merkle_root([tensor_root(input_j)]), inputs in graph order (one leaf for
                the usual single input).
* trace root    merkle_root([tensor_root(output of node i)]); the last leaf is the root
                of the posted output.
Who calls: nodes (submitter/challenger), the registry client, tests.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from offchain.commit import keccak256, merkle_root, tensor_root
from offchain.engine.descriptor import encode_node
from offchain.engine.executor import Trace
from offchain.engine.graph import Graph, TensorSpec
from offchain.engine.model import Model

NO_PRIVATE_NODES = bytes(32)


def spec_tensor_root(arr: np.ndarray, spec: TensorSpec) -> bytes:
    """Tensor root of ``arr`` committed as ``spec`` says (dtype width and chunk size)."""
    return tensor_root(np.asarray(arr).astype(spec.dtype.numpy, copy=False), 1 << spec.chunk_log2)


def node_leaves(graph: Graph) -> list[bytes]:
    """keccak256 of each node's canonical descriptor: the graph tree's leaves."""
    return [keccak256(encode_node(node, i)) for i, node in enumerate(graph.nodes)]


def graph_root(graph: Graph) -> bytes:
    """Merkle root over the node descriptor hashes."""
    return merkle_root(node_leaves(graph))


#: ``Model.meta`` key of weight tensors held only by their roots (hex): a private model's public view, whose
#: private weights are zeros but whose weights root is the registered one (offchain/zk/public_view.py).
OPAQUE_WEIGHT_ROOTS = "opaque_weight_roots"


def weight_roots(model: Model) -> list[bytes]:
    """Tensor root of each weight, in graph order: the weights tree's leaves (opaque weights: their stored roots)."""
    opaque = {int(k): bytes.fromhex(v) for k, v in model.meta.get(OPAQUE_WEIGHT_ROOTS, {}).items()}
    return [opaque[j] if j in opaque else spec_tensor_root(w, s)
            for j, (w, s) in enumerate(zip(model.weights, model.graph.weights))]


def weights_root(model: Model) -> bytes:
    """Merkle root over the weight tensor roots."""
    return merkle_root(weight_roots(model))


def model_id(model: Model, private_root: bytes = NO_PRIVATE_NODES) -> bytes:
    """keccak256(graph_root ++ weights_root ++ private_root), 32 bytes."""
    if len(private_root) != 32:
        raise ValueError(f"private_root must be 32 bytes, got {len(private_root)}")
    return keccak256(graph_root(model.graph) + weights_root(model) + private_root)


def input_root(graph: Graph, inputs: Sequence[np.ndarray]) -> bytes:
    """Merkle root over the (quantised) input tensors' roots."""
    return merkle_root([spec_tensor_root(a, s) for a, s in zip(inputs, graph.inputs)])


def trace_leaves(graph: Graph, trace: Trace) -> list[bytes]:
    """Tensor root of each node's output: the trace tree's leaves."""
    return [spec_tensor_root(out, node.output) for out, node in zip(trace.outputs, graph.nodes)]


def trace_root(graph: Graph, trace: Trace) -> bytes:
    """Merkle root over the node output tensor roots."""
    return merkle_root(trace_leaves(graph, trace))

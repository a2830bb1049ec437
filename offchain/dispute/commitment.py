"""What one party keeps for one execution: Merkle trees over the graph, the weights and the trace.

Trees are built lazily: a dispute touches one node's output and a few operands, and a 7B-dims model's
weights are gigabytes, so only the tensors a proof needs get a tree.
Who calls: the solver and proof builder, for the submitter's own (possibly faulty) execution and for the
challenger's honest one.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np

from offchain.commit import MerkleTree, TensorTree, tensor_tree
from offchain.engine.descriptor import encode_node
from offchain.engine.executor import Trace
from offchain.engine.graph import TensorSpec
from offchain.engine.model import Model
from offchain.engine.roots import node_leaves, weight_roots


def spec_tree(arr: np.ndarray, spec: TensorSpec) -> TensorTree:
    """The tensor tree of ``arr`` committed as ``spec`` says (its dtype width and chunk size)."""
    return tensor_tree(np.ascontiguousarray(arr, dtype=spec.dtype.numpy), 1 << spec.chunk_log2)


class ModelCommitment:
    """Graph and weights trees of a registered model (the same for every party)."""

    def __init__(self, model: Model):
        self.model = model
        self._weight_trees: dict[int, TensorTree] = {}

    @cached_property
    def graph_tree(self) -> MerkleTree:
        return MerkleTree.from_leaves(node_leaves(self.model.graph))

    @cached_property
    def weights_tree(self) -> MerkleTree:
        return MerkleTree.from_leaves(weight_roots(self.model))

    def descriptor(self, node_index: int) -> bytes:
        """Node ``node_index``'s canonical descriptor."""
        return encode_node(self.model.graph.nodes[node_index], node_index)

    def weight_tree(self, index: int) -> TensorTree:
        if index not in self._weight_trees:
            self._weight_trees[index] = spec_tree(self.model.weights[index], self.model.graph.weights[index])
        return self._weight_trees[index]

    @property
    def node_count(self) -> int:
        return len(self.model.graph.nodes)


class ExecutionCommitment:
    """One execution's trace: the input tree, each node's output tree, and the trace tree over their roots.

    ``trace`` may be a faulty one (a dishonest submitter's); the trees commit to whatever it holds.
    """

    def __init__(self, model: ModelCommitment, trace: Trace):
        self.model = model
        self.trace = trace
        self._output_trees: dict[int, TensorTree] = {}

    @cached_property
    def input_tree(self) -> TensorTree:
        graph = self.model.model.graph
        if len(graph.inputs) != 1:
            raise ValueError(f"the protocol's models take one input tensor; this graph declares {len(graph.inputs)}")
        return spec_tree(self.trace.inputs[0], graph.inputs[0])

    def output_tree(self, node_index: int) -> TensorTree:
        if node_index not in self._output_trees:
            spec = self.model.model.graph.nodes[node_index].output
            self._output_trees[node_index] = spec_tree(self.trace.outputs[node_index], spec)
        return self._output_trees[node_index]

    @cached_property
    def trace_tree(self) -> MerkleTree:
        return MerkleTree.from_leaves([self.output_tree(i).root for i in range(self.model.node_count)])

    @property
    def input_root(self) -> bytes:
        return self.input_tree.root

    @property
    def output_root(self) -> bytes:
        return self.output_tree(self.model.node_count - 1).root

    @property
    def trace_root(self) -> bytes:
        return self.trace_tree.root

    def output_proof(self) -> list[bytes]:
        """Proof that the output root is the trace's last leaf (what `propose` checks)."""
        return list(self.trace_tree.prove_leaf(self.model.node_count - 1).siblings)

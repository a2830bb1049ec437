"""A private model's public view: what a challenger (or anyone but the owner and its submitters) holds.

The private nodes' weights are replaced by zeros and kept only as their tensor roots (``Model.meta``
``opaque_weight_roots``), so the view has the registered graph and weights roots, and the engine can run every
public node from the private nodes' published outputs (``executor.run(..., given=...)``). Saved with
``save_model`` like any model file.
"""

from __future__ import annotations

import numpy as np

from offchain.engine.model import Model
from offchain.engine.roots import OPAQUE_WEIGHT_ROOTS, spec_tensor_root
from offchain.zk.private import PrivateSpec

#: ``Model.meta`` key listing the private node indices of a public view.
PRIVATE_NODES = "private_nodes"


def private_weight_indices(model: Model, spec: PrivateSpec) -> list[int]:
    """Weight indices read by the private nodes (their W and bias)."""
    return sorted({ref.index for i in spec.node_indices for ref in model.graph.nodes[i].inputs[1:]})


def public_view(model: Model, spec: PrivateSpec) -> Model:
    """``model`` with the private nodes' weights zeroed and committed by root only."""
    hidden = private_weight_indices(model, spec)
    roots = {str(j): spec_tensor_root(model.weights[j], model.graph.weights[j]).hex() for j in hidden}
    weights = [np.zeros_like(w) if j in hidden else w for j, w in enumerate(model.weights)]
    meta = {**model.meta, OPAQUE_WEIGHT_ROOTS: roots, PRIVATE_NODES: list(spec.node_indices)}
    view = Model(model.graph, weights, meta)
    view.validate()
    return view

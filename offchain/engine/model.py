"""A model: a validated graph plus its weight values.

Who may call: the compiler builds models; the model file loader rebuilds
them; the executor and the roots module read them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from offchain.engine.errors import DtypeMismatchError, ShapeMismatchError
from offchain.engine.graph import Graph


@dataclass
class Model:
    """``graph`` plus ``weights[j]``, an array of ``graph.weights[j]``'s shape and dtype.

    ``meta`` holds free-form JSON-serialisable facts (name, input encoding,
    calibration summary); it is stored in the model file but never committed.
    """

    graph: Graph
    weights: list[np.ndarray]
    meta: dict = field(default_factory=dict)

    def validate(self) -> None:
        """Validate the graph and check every weight array against its declared spec."""
        self.graph.validate()
        if len(self.weights) != len(self.graph.weights):
            raise ShapeMismatchError(f"model has {len(self.weights)} weight arrays, "
                                     f"graph declares {len(self.graph.weights)}")
        for j, (arr, spec) in enumerate(zip(self.weights, self.graph.weights)):
            if tuple(arr.shape) != spec.shape:
                raise ShapeMismatchError(f"weight[{j}] ({spec.name}) has shape {arr.shape}, spec says {spec.shape}")
            if arr.dtype != spec.dtype.numpy:
                raise DtypeMismatchError(f"weight[{j}] ({spec.name}) has dtype {arr.dtype}, "
                                         f"spec says {spec.dtype.name}")

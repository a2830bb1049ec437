"""Models a node can run: engine model files, matched to registered models by (graph root, weights root)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from offchain.chain.registration import registered_models
from offchain.dispute.commitment import ModelCommitment
from offchain.engine.domain import input_domain
from offchain.engine.modelfile import load_model
from offchain.engine.roots import OPAQUE_WEIGHT_ROOTS, graph_root, weights_root


class CatalogError(Exception):
    """A model file is missing, unreadable, or matches no registered model."""


@dataclass
class ServedModel:
    """A model a node serves. ``private``: the registry's private node indices (empty for a public model);
    ``view``: True when the file is a private model's public view (no private weights: it cannot prove)."""

    model_id: int
    name: str
    commitment: ModelCommitment
    private: tuple[int, ...] = ()
    view: bool = False


def _check_domain(path: Path, model: Any, registered: Any) -> None:
    """A node serves a model only if the chain refuses exactly the inputs its engine refuses: the registered input
    domain must be the one the graph defines (otherwise a request the chain accepts could have no result)."""
    want = input_domain(model.graph)
    got = (int(registered.inputWidth), int(registered.inputMin), int(registered.inputMax))
    if got != (want.width, want.lo, want.hi):
        raise CatalogError(f"model file {path} is registered with input domain (width, min, max) = {got}, but its "
                           f"graph accepts {(want.width, want.lo, want.hi)}: refusing to serve it")


def load_catalog(paths: list[Path], registry: Any) -> dict[int, ServedModel]:
    """Loads each model file and finds its id in the registry by its commitments.

    Raises CatalogError for a file that cannot be loaded, whose roots no registered model has, or whose registered
    input domain differs from its graph's.
    """
    registered = registered_models(registry)
    served: dict[int, ServedModel] = {}
    for path in paths:
        try:
            model = load_model(path)
        except Exception as exc:  # noqa: BLE001 - any load failure is reported with the path
            raise CatalogError(f"cannot load model file {path}: {exc}") from exc
        key = (graph_root(model.graph), weights_root(model))
        if key not in registered:
            raise CatalogError(f"model file {path} matches no registered model (graph root 0x{key[0].hex()})")
        model_id = registered[key]
        _check_domain(path, model, registry.getModel(model_id))
        private = tuple(int(n.node) for n in registry.privateNodes(model_id))
        served[model_id] = ServedModel(model_id, model.meta.get("name", path.stem), ModelCommitment(model), private,
                                       OPAQUE_WEIGHT_ROOTS in model.meta)
    return served

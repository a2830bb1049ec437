"""What the registry records for a model, and the Initial Model Offering that registers it with its token."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from offchain.engine.model import Model
from offchain.engine.roots import graph_root, weights_root


def model_spec(model: Model, fee: int, owner: str, receiver: str | None = None) -> tuple:
    """The IModelRegistry.Model tuple of `model`: its roots, counts, input/output layout, fee and payees."""
    graph = model.graph
    if len(graph.inputs) != 1:
        raise ValueError(f"the protocol's models take one input tensor; this graph declares {len(graph.inputs)}")
    return (
        graph_root(graph), weights_root(model), len(graph.nodes), len(graph.weights),
        graph.inputs[0].nbytes, graph.inputs[0].chunk_log2, graph.output.nbytes, graph.output.chunk_log2,
        fee, owner, receiver or owner,
    )


@dataclass(frozen=True)
class Offering:
    """An ERC-7641 token's initial distribution (IModelTokenFactory.Offering)."""

    name: str
    symbol: str
    holders: list[str]
    amounts: list[int]
    percent_claimable_bps: int = 6000          # share of each snapshot's revenue claimable by holders
    snapshot_interval: int = 60                # seconds between snapshots
    snapshot_lifetime: int = 3                 # later snapshots before an unclaimed one expires
    extra: dict = field(default_factory=dict)

    def as_tuple(self) -> tuple:
        return (self.name, self.symbol, list(self.holders), list(self.amounts), self.percent_claimable_bps,
                self.snapshot_interval, self.snapshot_lifetime)


def launch(launcher: Any, model: Model, fee: int, owner: str, offering: Offering, sender: Any,
           private_nodes: list[tuple] | None = None) -> tuple[int, str]:
    """Registers `model` and creates its revenue token in one transaction; returns (model id, token address).
    With ``private_nodes`` (IModelRegistry.PrivateNode tuples, see offchain.zk.submission) the model is launched
    as a private (opp/ai) model through ``launchPrivate``."""
    spec = model_spec(model, fee, owner)
    if private_nodes is None:
        receipt = launcher.launch(spec, offering.as_tuple(), sender=sender)
    else:
        receipt = launcher.launchPrivate(spec, private_nodes, offering.as_tuple(), sender=sender)
    event = receipt.decode_logs(launcher.ModelLaunched)[0]
    return event.modelId, event.token

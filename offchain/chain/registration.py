"""What the registry records for a model, and the Initial Model Offering that registers it with its token."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from offchain.chain.encoding import text_output
from offchain.engine.domain import input_domain
from offchain.engine.model import Model
from offchain.engine.move_gas import check_move_gas
from offchain.engine.roots import graph_root, weights_root


#: Chain ids of local development chains (anvil / hardhat 31337, geth --dev / ganache 1337): the only chains on
#: which a private model's Groth16 keys are set up from a dev seed without being asked. Every other chain id,
#: Sepolia's 11155111 (the README's stand-in) included, is treated as a real network.
LOCAL_CHAIN_IDS = frozenset({31337, 1337})


class DevKeysRefused(RuntimeError):
    """A private model was about to be registered on a real chain with Groth16 dev keys: whoever knows a dev
    setup's seed (the default one is public) rebuilds its toxic waste and forges proofs, so the private nodes'
    outputs would be whatever a forger wants. Give keys from a ceremony, or opt in to dev keys explicitly."""


def dev_keys_refusal(chain_id: int) -> str:
    """Why dev keys are refused on ``chain_id``: the message of DevKeysRefused."""
    from offchain.zk.dev_setup import DEFAULT_SEED, dev_seed

    seed = dev_seed()
    origin = (f"their toxic waste is derived from the public seed {seed!r} (offchain/zk/dev_setup.py), so anyone "
              f"can rebuild it" if seed == DEFAULT_SEED else
              "a single-party dev setup's toxic waste is known to whoever ran it (or holds $ZK_DEV_SEED)")
    return (f"refusing Groth16 dev keys on chain {chain_id}, which is not a local dev chain "
            f"({', '.join(map(str, sorted(LOCAL_CHAIN_IDS)))}): {origin} and forge proofs for this model's private "
            f"nodes. Give keys from a multi-party ceremony (--keys DIR: DIR/<descriptor hash>/vk.bin and pk.bin per "
            f"circuit, the layout of build/zk; see offchain/zk/prover.py), or pass --unsafe-dev-keys to register "
            f"forgeable keys anyway (tests and demos only)")


def model_spec(model: Model, fee: int, owner: str, receiver: str | None = None) -> tuple:
    """The IModelRegistry.Model tuple of `model`: its roots, counts, input layout and input domain (element width,
    inclusive [min, max]: what every node reading the input accepts, ``offchain.engine.domain``), output layout,
    fee, payees, and whether its output is text (``text_output``: delivered to callbacks without trailing zeros).
    Raises ValueError for a model of several inputs or a text model whose output is not INT8 bytes."""
    graph = model.graph
    if len(graph.inputs) != 1:
        raise ValueError(f"the protocol's models take one input tensor; this graph declares {len(graph.inputs)}")
    domain = input_domain(graph)
    return (
        graph_root(graph), weights_root(model), len(graph.nodes), len(graph.weights),
        graph.inputs[0].nbytes, graph.inputs[0].chunk_log2, domain.width, domain.lo, domain.hi,
        graph.output.nbytes, graph.output.chunk_log2, fee, owner, receiver or owner, text_output(model),
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
    as a private (opp/ai) model through ``launchPrivate``. A launched model's receiver is locked and its fee can
    only move by a factor of two per announcement, so it must start above zero (the registry's ZeroLaunchFee)."""
    if fee <= 0:
        raise ValueError(f"a launched model must charge a fee: its token holders' revenue (got fee={fee} wei)")
    spec = model_spec(model, fee, owner)
    if private_nodes is None:
        receipt = launcher.launch(spec, offering.as_tuple(), sender=sender)
    else:
        receipt = launcher.launchPrivate(spec, private_nodes, offering.as_tuple(), sender=sender)
    event = receipt.decode_logs(launcher.ModelLaunched)[0]
    return event.modelId, event.token


@dataclass(frozen=True)
class Registered:
    """What ``register`` did: the model's id, its revenue receiver (the token when launched with one), its private
    nodes, and whether this call registered it (False: it was registered before, under the same roots)."""

    model_id: int
    revenue_receiver: str
    private_nodes: tuple[int, ...]
    new: bool


def registered_models(registry: Any) -> dict[tuple[bytes, bytes], int]:
    """Every registered model's id by its (graph root, weights root)."""
    out = {}
    for model_id in range(1, registry.modelCount() + 1):
        m = registry.getModel(model_id)
        out[(bytes(m.graphRoot), bytes(m.weightsRoot))] = model_id
    return out


def registered_id(registry: Any, model: Model) -> int | None:
    """The id under which ``model`` (its graph and weights roots) is registered, if it is."""
    return registered_models(registry).get((graph_root(model.graph), weights_root(model)))


def register(contracts: dict[str, Any], model: Model, fee: int, owner: str, sender: Any,
             private: tuple[int, ...] = (), offering: Offering | None = None, keys_dir: Path | None = None,
             unsafe_dev_keys: bool = False) -> Registered:
    """Registers ``model`` (idempotent: a model already registered keeps its id). ``contracts`` maps names to the
    deployed ModelRegistry, and ModelLauncher / Groth16Registry when needed. With ``offering`` the model is launched
    with its ERC-7641 token as revenue receiver; with ``private`` node indices it is a private (opp/ai) model: their
    Groth16 keys are registered with their Poseidon weight commitments. The keys are those in ``keys_dir`` (from a
    ceremony, ``offchain.zk.prover.load_keys``); without it they are dev keys (``offchain/zk/dev_setup.py``), which
    only a local dev chain (LOCAL_CHAIN_IDS) gets unasked: elsewhere DevKeysRefused is raised before any
    transaction unless ``unsafe_dev_keys``. The public view for challengers is ``python -m offchain public-view``.
    Raises MoveGasError, before any transaction, if an honest dispute move at some node of a model not registered
    yet may exceed MAX_MOVE_GAS."""
    registry = contracts["ModelRegistry"]
    existing = registered_id(registry, model)
    if existing is not None:
        return Registered(existing, registry.getModel(existing).revenueReceiver,
                          tuple(int(n.node) for n in registry.privateNodes(existing)), False)
    check_move_gas(model, private)
    if private:
        chain_id = registry.provider.chain_id
        if keys_dir is None and not unsafe_dev_keys and chain_id not in LOCAL_CHAIN_IDS:
            # Keys that anyone may forge proofs with never reach a real chain unless asked for by name.
            raise DevKeysRefused(dev_keys_refusal(chain_id))
        from offchain.zk.model_proofs import setup_private
        from offchain.zk.private import PrivateSpec
        from offchain.zk.submission import launch_private_model, register_private_model

        spec = PrivateSpec(tuple(private))
        keys = setup_private(model, spec, keys_dir)
        verifier = contracts["Groth16Registry"]
        if offering is not None:
            model_id, _, records = launch_private_model(contracts["ModelLauncher"], verifier, model, spec, keys, fee,
                                                        owner, offering, sender)
        else:
            model_id, records = register_private_model(registry, verifier, model, spec, keys, fee, owner, sender)
        nodes = tuple(r[0] for r in records)
    elif offering is not None:
        model_id, _ = launch(contracts["ModelLauncher"], model, fee, owner, offering, sender)
        nodes = ()
    else:
        model_id, nodes = registry.registerModel(model_spec(model, fee, owner), sender=sender).return_value, ()
    return Registered(model_id, registry.getModel(model_id).revenueReceiver, nodes, True)

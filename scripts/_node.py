"""Shared command-line plumbing of `ape run submitter` and `ape run challenger`."""

from __future__ import annotations

import logging
import signal
from pathlib import Path

import click
from ape import chain, project

from offchain.chain.deployments import load_record
from offchain.nodes.catalog import load_catalog
from offchain.nodes.node import Fault, Node, Roles
from offchain.nodes.rpc_retry import install_read_retries
from offchain.nodes.store import NodeStore


def node_options(f):
    """Options every node takes (besides ape's --network and --account)."""
    f = click.option("--model", "models", multiple=True, required=True, type=click.Path(exists=True, dir_okay=False),
                     help="Engine model file to serve (repeat for several); matched to the registry by its roots.")(f)
    f = click.option("--state", type=click.Path(dir_okay=False), default=None,
                     help="SQLite state file (default: state/<role>-<chain id>-<account>.sqlite).")(f)
    f = click.option("--interval", type=float, default=0.5, show_default=True, help="Seconds between polls.")(f)
    f = click.option("--from-block", type=int, default=0, show_default=True,
                     help="First block whose events the node reads (on a fresh state file).")(f)
    f = click.option("--deployments", type=click.Path(file_okay=False), default="deployments", show_default=True,
                     help="Folder holding deployments/<chain id>.json (written by `ape run deploy`).")(f)
    return f


def run_node(role: str, provider, account, models, state, interval, from_block, deployments,
             roles: Roles, fault: Fault | None = None, keys_dir: str | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    install_read_retries(provider.web3.provider)
    record = load_record(provider.chain_id, Path(deployments))
    try:
        addresses = {name: entry["address"] for name, entry in record["contracts"].items()}
        oracle = project.AIOracle.at(addresses["AIOracle"])
        game = project.DisputeGame.at(addresses["DisputeGame"])
        registry = project.ModelRegistry.at(addresses["ModelRegistry"])
    except KeyError as exc:
        raise click.ClickException(f"no {exc} in {deployments}/{provider.chain_id}.json: run `ape run deploy` first")
    served = load_catalog([Path(m) for m in models], registry)
    path = state or f"state/{role}-{provider.chain_id}-{account.address}.sqlite"
    node = Node(oracle, game, account, served, NodeStore(path), roles, fault=fault, start_block=from_block,
                name=role, chain=chain, keys_dir=Path(keys_dir) if keys_dir else None)

    def stop(signum, _frame):
        node.stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    node.run_forever(interval)

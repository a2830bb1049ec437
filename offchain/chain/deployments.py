"""Idempotent deployment of the protocol's contracts, recorded in `deployments/<chain-id>.json`.

A contract recorded for this chain is reused when the chain still holds the code we deployed there and
the compiled contract has not changed since; otherwise it is deployed again and the record rewritten.
So `ape run deploy` twice against the same chain deploys once, and against a restarted anvil deploys again.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_utils import keccak, to_hex

DEPLOYMENTS_DIR = Path("deployments")
RECORD_VERSION = 1


class DeploymentError(Exception):
    """A deployment record could not be read or a contract could not be deployed."""


@dataclass(frozen=True)
class ContractSpec:
    """One contract to deploy: its compiled name and how to build its constructor arguments.

    `args` receives the deployer and the addresses deployed so far (by name), so a later contract
    can take an earlier one's address.
    """

    name: str
    args: Callable[[Any, dict[str, str]], Sequence[Any]]


def protocol_contracts() -> list[ContractSpec]:
    """The protocol's contracts in deployment order."""
    return [
        ContractSpec("ModelRegistry", lambda deployer, _: [deployer.address]),
    ]


def record_path(chain_id: int, directory: Path = DEPLOYMENTS_DIR) -> Path:
    return directory / f"{chain_id}.json"


def load_record(chain_id: int, directory: Path = DEPLOYMENTS_DIR) -> dict[str, Any]:
    """The record for `chain_id`, or an empty one. Raises DeploymentError for a corrupt or foreign file."""
    path = record_path(chain_id, directory)
    if not path.exists():
        return {"version": RECORD_VERSION, "chainId": chain_id, "contracts": {}}
    try:
        record = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise DeploymentError(f"{path} is not valid JSON ({exc}); delete it to redeploy") from exc
    if record.get("chainId") != chain_id:
        raise DeploymentError(f"{path} records chain {record.get('chainId')}, not {chain_id}")
    return record


def _bytecode_hash(contract_container: Any) -> str:
    return to_hex(keccak(bytes(contract_container.contract_type.deployment_bytecode.to_bytes())))


def deploy_protocol(
    project: Any,
    provider: Any,
    deployer: Any,
    specs: Sequence[ContractSpec] | None = None,
    directory: Path = DEPLOYMENTS_DIR,
    log: Callable[[str], None] = lambda _: None,
) -> dict[str, str]:
    """Deploys (or reuses) every contract in `specs`; returns {name: address} and rewrites the record."""
    chain_id = provider.chain_id
    record = load_record(chain_id, directory)
    addresses: dict[str, str] = {}
    for spec in specs or protocol_contracts():
        container = getattr(project, spec.name)
        compiled = _bytecode_hash(container)
        previous = record["contracts"].get(spec.name)
        if previous and previous.get("bytecodeHash") == compiled:
            code = provider.get_code(previous["address"])
            if code and to_hex(keccak(bytes(code))) == previous.get("runtimeCodeHash"):
                addresses[spec.name] = previous["address"]
                log(f"reused   {spec.name} at {previous['address']}")
                continue
        instance = deployer.deploy(container, *spec.args(deployer, addresses))
        addresses[spec.name] = instance.address
        record["contracts"][spec.name] = {
            "address": instance.address,
            "bytecodeHash": compiled,
            "runtimeCodeHash": to_hex(keccak(bytes(provider.get_code(instance.address)))),
            "deployer": deployer.address,
            "block": provider.get_block("latest").number,
        }
        log(f"deployed {spec.name} at {instance.address}")
    directory.mkdir(parents=True, exist_ok=True)
    record_path(chain_id, directory).write_text(json.dumps(record, indent=2) + "\n")
    return addresses

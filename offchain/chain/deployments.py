"""Idempotent deployment of the protocol's contracts, recorded in `deployments/<chain-id>.json`.

A contract recorded for this chain is reused when the chain still holds the code we deployed there and
neither the compiled contract nor its constructor arguments have changed since; otherwise it is deployed
again and the record rewritten.
So `ape run deploy` twice against the same chain deploys once, and against a restarted anvil deploys again.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_utils import keccak, to_hex

from offchain.chain.params import ProtocolParams
from offchain.dispute.operators import operator_families, prover_args

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
    #: Builds the contract container when it is not one of the project's compiled contracts (the Poseidon
    #: contracts, which circomlibjs emits as EVM code).
    container: Callable[[], Any] | None = None


def protocol_contracts(params: ProtocolParams | None = None) -> list[ContractSpec]:
    """The protocol's contracts in deployment order: registry, operators, prover, game, oracle, the private-node
    contracts (Poseidon, hasher, Groth16 verifier, judge), the token factory and the launcher."""
    p = params or ProtocolParams()
    specs = [ContractSpec("ModelRegistry", lambda deployer, _: [deployer.address])]
    specs += [ContractSpec(name, lambda deployer, _: []) for name in operator_families()]
    specs += [
        ContractSpec("OneStepProver", lambda _, a: list(prover_args(a))),
        ContractSpec("DisputeGame", lambda deployer, a: [
            (a["ModelRegistry"], a["OneStepProver"], p.submitter_bond, p.challenger_bond,
             p.challenge_window, p.clock_budget, p.reveal_depth, p.burn_bps, p.moot_base_compensation,
             p.moot_move_compensation),
            deployer.address,
        ]),
        ContractSpec("AIOracle", lambda deployer, a: [
            (a["ModelRegistry"], a["DisputeGame"], p.node_reward, p.callback_gas_price,
             p.max_callback_gas, p.request_timeout),
            deployer.address,
        ]),
        ContractSpec("PoseidonT7", lambda *_: [], lambda: _poseidon(6)),
        ContractSpec("PoseidonT4", lambda *_: [], lambda: _poseidon(3)),
        ContractSpec("PrivateNodeHasher", lambda _, a: [a["PoseidonT7"], a["PoseidonT4"]]),
        ContractSpec("Groth16Registry", lambda deployer, _: [deployer.address]),
        ContractSpec("PrivateNodeJudge", lambda _, a: [a["ModelRegistry"], a["Groth16Registry"],
                                                       a["PrivateNodeHasher"]]),
        ContractSpec("ModelTokenFactory", lambda deployer, _: [deployer.address]),
        ContractSpec("ModelLauncher", lambda deployer, a: [a["ModelRegistry"], a["ModelTokenFactory"],
                                                           deployer.address]),
    ]
    return specs


def _poseidon(n_inputs: int) -> Any:
    from ape.contracts import ContractContainer

    from offchain.zk.evm_artifacts import contract_type, poseidon_artifact

    return ContractContainer(contract_type(poseidon_artifact(n_inputs)))


def configure_protocol(project: Any, addresses: dict[str, str], admin: Any, log: Callable[[str], None] = lambda _: None) -> None:
    """Grants the roles the contracts need of each other (idempotent: grants only what is missing)."""
    grants = [
        ("DisputeGame", "PROPOSER_ROLE", "AIOracle"),
        ("ModelRegistry", "REGISTRAR_ROLE", "ModelLauncher"),
        ("ModelTokenFactory", "REGISTRAR_ROLE", "ModelLauncher"),
    ]
    for target, role_name, grantee in grants:
        contract = getattr(project, target).at(addresses[target])
        role = getattr(contract, role_name)()
        if not contract.hasRole(role, addresses[grantee]):
            contract.grantRole(role, addresses[grantee], sender=admin)
            log(f"granted {grantee} the {target}'s {role_name}")
    game = project.DisputeGame.at(addresses["DisputeGame"])
    if int(str(game.privateJudge()), 16) == 0:
        game.setPrivateJudge(addresses["PrivateNodeJudge"], sender=admin)
        log("set the DisputeGame's private-node judge")


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
    params: ProtocolParams | None = None,
) -> dict[str, str]:
    """Deploys (or reuses) every contract in `specs`; returns {name: address} and rewrites the record.

    With no `specs`, deploys the whole protocol with `params` and grants the roles it needs.
    """
    chain_id = provider.chain_id
    record = load_record(chain_id, directory)
    addresses: dict[str, str] = {}
    for spec in specs or protocol_contracts(params):
        container = spec.container() if spec.container else getattr(project, spec.name)
        compiled = _bytecode_hash(container)
        args = list(spec.args(deployer, addresses))
        args_hash = to_hex(keccak(text=repr(args)))
        previous = record["contracts"].get(spec.name)
        if previous and (previous.get("bytecodeHash"), previous.get("argsHash")) == (compiled, args_hash):
            code = provider.get_code(previous["address"])
            if code and to_hex(keccak(bytes(code))) == previous.get("runtimeCodeHash"):
                addresses[spec.name] = previous["address"]
                log(f"reused   {spec.name} at {previous['address']}")
                continue
        instance = deployer.deploy(container, *args)
        addresses[spec.name] = instance.address
        record["contracts"][spec.name] = {
            "address": instance.address,
            "bytecodeHash": compiled,
            "argsHash": args_hash,
            "runtimeCodeHash": to_hex(keccak(bytes(provider.get_code(instance.address)))),
            "deployer": deployer.address,
            "block": provider.get_block("latest").number,
        }
        log(f"deployed {spec.name} at {instance.address}")
    directory.mkdir(parents=True, exist_ok=True)
    record_path(chain_id, directory).write_text(json.dumps(record, indent=2) + "\n")
    if specs is None:
        configure_protocol(project, addresses, deployer, log)
    return addresses

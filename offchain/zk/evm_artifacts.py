"""EVM artifacts made by the npm toolchain: circomlibjs' Poseidon contracts and snarkjs' Groth16 verifier.

``python -m offchain.zk.evm_artifacts`` (re)writes ``offchain/zk/artifacts/
PoseidonT{3,4,7}.json`` (ABI + creation bytecode from circomlibjs'
``poseidon_gencontract``, which emits hand-assembled EVM code, not Solidity),
so deploying them needs no Node at run time: :func:`contract_type` turns one
into an ape ``ContractType`` that ``account.deploy(ContractContainer(...))``
accepts. ``snarkjs_verifier`` renders snarkjs' own Solidity template
(``templates/verifier_groth16.sol.ejs``, exactly what ``snarkjs zkey export
solidityverifier`` renders) for a verifying key, for gas comparisons.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from offchain.zk.prover import REPO

ARTIFACTS = Path(__file__).with_name("artifacts")
#: Input counts the project hashes on-chain: 2, 3 (public signal) and 6 (tensor chains; 7+ fail in circomlibjs).
POSEIDON_INPUTS = (2, 3, 6)

_GEN_POSEIDON = """
import {poseidonContract} from "circomlibjs";
const out = {};
for (const n of JSON.parse(process.argv[1])) {
  // Only the uint256[n] overload: the bytes32[n] twin has the same arity, which ape cannot tell apart.
  const abi = poseidonContract.generateABI(n).filter(f => f.inputs[0].type.startsWith("uint256"));
  out[n] = {abi, bytecode: poseidonContract.createCode(n)};
}
console.log(JSON.stringify(out));
"""

_RENDER_VERIFIER = """
import ejs from "ejs";
import fs from "fs";
const template = fs.readFileSync("node_modules/snarkjs/templates/verifier_groth16.sol.ejs", "utf8");
const vk = JSON.parse(fs.readFileSync(0, "utf8"));
process.stdout.write(ejs.render(template, vk));
"""


class ToolchainError(RuntimeError):
    """Node or an npm package the artifact needs is missing or failed."""


def _node(script: str, *args: str, stdin: str | None = None) -> str:
    res = subprocess.run(["node", "--input-type=module", "-e", script, *args], cwd=REPO, input=stdin,
                         capture_output=True, text=True)
    if res.returncode != 0:
        raise ToolchainError(f"node failed (run `make bootstrap` for node_modules): {res.stderr.strip()[-500:]}")
    return res.stdout


def write_poseidon_artifacts() -> list[Path]:
    """Regenerate the Poseidon artifacts with circomlibjs; returns the files written."""
    ARTIFACTS.mkdir(exist_ok=True)
    gen = json.loads(_node(_GEN_POSEIDON, json.dumps(list(POSEIDON_INPUTS))))
    paths = []
    for n in POSEIDON_INPUTS:
        path = ARTIFACTS / f"PoseidonT{n + 1}.json"
        art = {"contractName": f"PoseidonT{n + 1}", "abi": gen[str(n)]["abi"],
               "deploymentBytecode": {"bytecode": gen[str(n)]["bytecode"]},
               "source": "circomlibjs 0.1.7 poseidon_gencontract.createCode"}
        path.write_text(json.dumps(art, indent=1) + "\n")
        paths.append(path)
    return paths


def poseidon_artifact(n_inputs: int) -> dict:
    """The stored artifact of the Poseidon contract over ``n_inputs`` inputs."""
    path = ARTIFACTS / f"PoseidonT{n_inputs + 1}.json"
    if not path.exists():
        raise ToolchainError(f"{path} missing: run `python -m offchain.zk.evm_artifacts`")
    return json.loads(path.read_text())


def contract_type(artifact: dict):
    """An ape/ethpm ``ContractType`` for an artifact dict (contractName, abi, deploymentBytecode)."""
    from ethpm_types import ContractType

    return ContractType.model_validate({k: artifact[k] for k in ("contractName", "abi", "deploymentBytecode")})


def snarkjs_verifier(vk_json: str) -> dict:
    """snarkjs' Groth16 verifier for ``vk_json``, compiled with the project's offline solc; an artifact dict."""
    import solcx

    source = _node(_RENDER_VERIFIER, stdin=vk_json)
    out = solcx.compile_standard({
        "language": "Solidity", "sources": {"Verifier.sol": {"content": source}},
        "settings": {"optimizer": {"enabled": True, "runs": 200}, "evmVersion": "cancun",
                     "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object"]}}},
    }, solc_binary=str(REPO / ".solcx" / "solc-v0.8.37"))
    c = out["contracts"]["Verifier.sol"]["Groth16Verifier"]
    return {"contractName": "SnarkjsGroth16Verifier", "abi": c["abi"],
            "deploymentBytecode": {"bytecode": "0x" + c["evm"]["bytecode"]["object"]}}


if __name__ == "__main__":
    for p in write_poseidon_artifacts():
        print(f"wrote {p.relative_to(REPO)}")

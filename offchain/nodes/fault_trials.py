"""Fault trials: real node processes under SIGKILL, a faulty RPC and chain reorgs (tests and `bench.fault_trials`).

One world (the protocol on an anvil, the tiny MLP registered, a DigitsClassifier consumer) and long-running
node processes reaching the chain through :class:`~offchain.nodes.rpc_proxy.RpcFaultProxy`:

* ``dispute`` trials: a faulty submitter (``--fault``) against an honest challenger; the honest side wins when
  the faulty claim is voided and the challenger's correct result is finalized and delivered;
* ``honest`` trials: an honest submitter, the challenger only checks; its result is finalized.

A kill trial SIGKILLs one node when its phase is reached (a log line ``event=...`` or the game's on-chain phase,
plus a random delay so a kill also lands between a transaction and the node's own bookkeeping) and restarts it
on the same SQLite file. A reorg trial replaces the last 1-3 blocks under the running nodes (``anvil_reorg``:
their transactions are dropped, not re-mined) or reverts the chain to an earlier snapshot (``evm_revert``).

At the end :func:`audit` reads every block from the chain: no node account sent the same action twice (keyed
by function and request / claim / game, or by the whole calldata for game moves), no node transaction reverted,
no bond is left open, and every honest account got back at least what it paid in.
"""

from __future__ import annotations

import json
import random
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from eth_utils import keccak

from offchain.chain.encoding import input_tensor
from offchain.chain.params import ProtocolParams
from offchain.dispute.solver import GameStatus, Phase
from offchain.engine.executor import run
from offchain.nodes.node import CLAIM_PENDING, CLAIM_VOID, REQUEST_SUBMITTED
from offchain.nodes.process import NodeProcess

# A long window and clocks: a node being restarted must not lose its game on time; the harness skips the
# window explicitly (a block with a later timestamp) once the honest side's result stands unchallenged.
PARAMS = ProtocolParams(challenge_window=600, clock_budget=600, request_timeout=3000)
FAULT = "3:2:7"   # tiny MLP node 3, element 2, +7 (as tests/oracle/test_nodes.py)

# (scenario, role) -> phases a kill can target
PHASES = {
    ("dispute", "submitter"): ("before-submit", "after-submit", "mid-descent", "at-step", "before-finalize"),
    ("dispute", "challenger"): ("before-dispute", "after-dispute", "mid-descent", "at-step", "before-correction",
                                "before-finalize"),
    ("honest", "submitter"): ("before-submit", "after-submit", "before-finalize"),
    ("honest", "challenger"): ("before-check", "after-check"),
}


def rpc(uri: str, method: str, params: list | None = None) -> Any:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []}).encode()
    req = urllib.request.Request(uri, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        answer = json.loads(resp.read())
    if "error" in answer:
        raise RuntimeError(f"{method}: {answer['error']}")
    return answer["result"]


@dataclass
class World:
    """The deployed protocol, the consumer and the files the node processes need."""

    oracle: Any
    game: Any
    classifier: Any
    model: Any                  # ModelCommitment of the tiny MLP
    model_file: Path
    deployments: Path
    anvil_uri: str
    workdir: Path
    user: Any
    chain: Any
    addresses: dict[str, str]   # node key -> account address
    first_block: int


def deploy_world(project, provider, chain, accounts, workdir: Path) -> World:
    """Deploys the protocol with :data:`PARAMS`, registers the tiny MLP and a DigitsClassifier for it."""
    from offchain.chain.deployments import deploy_protocol
    from offchain.chain.registration import model_spec
    from offchain.dispute.commitment import ModelCommitment
    from offchain.engine.modelfile import save_model
    from offchain.models.tiny import tiny_mlp

    owner, user, model_owner = accounts[0], accounts[1], accounts[4]
    first = chain.blocks.height
    deployments = workdir / "deployments"
    a = deploy_protocol(project, provider, owner, directory=deployments, params=PARAMS)
    registry = project.ModelRegistry.at(a["ModelRegistry"])
    model = ModelCommitment(tiny_mlp())
    model_id = registry.registerModel(model_spec(model.model, 10**15, model_owner.address), sender=owner).return_value
    oracle = project.AIOracle.at(a["AIOracle"])
    classifier = owner.deploy(project.DigitsClassifier, oracle, model_id)
    model_file = workdir / "tiny.model"
    save_model(model.model, model_file)
    return World(oracle, project.DisputeGame.at(a["DisputeGame"]), classifier, model, model_file, deployments,
                 provider.uri, workdir, user, chain,
                 {"faulty": accounts[2].address, "challenger": accounts[3].address, "honest": accounts[5].address},
                 first)


NODE_SPECS = {  # key -> (role, ape account alias, extra args)
    "faulty": ("submitter", "TEST::2", ("--fault", FAULT)),
    "challenger": ("challenger", "TEST::3", ()),
    "honest": ("submitter", "TEST::5", ()),
}


class Nodes:
    """The node processes of a run, by key; each keeps every instance's log (a restart opens a new one)."""

    def __init__(self, world: World, uri: str):
        self.world, self.uri = world, uri
        self.procs: dict[str, NodeProcess] = {}
        self.logs: dict[str, list[Path]] = {}
        self.instances: Counter[str] = Counter()
        self.unexpected_exits = 0

    def start(self, key: str, wait: bool = True) -> NodeProcess:
        role, alias, extra = NODE_SPECS[key]
        n = self.instances[key]
        self.instances[key] += 1
        proc = NodeProcess(role, alias, self.world.model_file, self.world.workdir, self.uri,
                           "--deployments", str(self.world.deployments), *extra, instance=n)
        self.procs[key] = proc
        self.logs.setdefault(key, []).append(proc.log_path)
        if wait:
            proc.wait_started()
        return proc

    def kill_and_restart(self, key: str) -> None:
        self.procs[key].kill()
        self.start(key, wait=False)

    def stop(self, key: str) -> None:
        self.procs.pop(key).stop()

    def stop_all(self) -> None:
        for key in list(self.procs):
            self.stop(key)

    def supervise(self) -> None:
        """Restarts a node process that exited on its own (e.g. its RPC connection failed at start-up)."""
        for key, proc in list(self.procs.items()):
            if proc.proc.poll() is not None:
                self.unexpected_exits += 1
                proc.log.close()
                self.start(key, wait=False)

    def events(self, key: str) -> list[str]:
        out: list[str] = []
        for path in self.logs.get(key, []):
            if path.exists():
                out += [line.split("event=", 1)[1].strip() for line in path.read_text().splitlines()
                        if "event=" in line]
        return out


@dataclass
class TrialResult:
    scenario: str
    fault: str                   # "kill" | "reorg" | "revert" | "none"
    target: str                  # node key killed, or "-"
    phase: str
    request: int
    ok: bool
    seconds: float
    detail: str = ""
    at_fault: str = ""           # the target's last event (or the chain's phase) when the fault hit
    extra: dict = field(default_factory=dict)


def _trigger(world: World, nodes: Nodes, scenario: str, key: str, phase: str, rid: int, game_id: int,
             marks: dict[str, int], fast_forwarded: bool) -> bool:
    """Whether ``phase`` of node ``key`` has been reached in this trial."""
    new = nodes.events(key)[marks[key]:]
    req = f"request={rid} "

    def logged(prefix: str, needle: str = "") -> bool:
        return any(e.startswith(prefix) and needle in e + " " for e in new)

    g = world.game.getGame(game_id) if world.game.gameCount() >= game_id else None
    r = world.oracle.getRequest(rid)
    submitted = r.status >= REQUEST_SUBMITTED
    corrected = submitted and r.submitter == world.addresses["challenger"]
    return {
        "before-submit": lambda: logged("request", req),
        # on the chain: a submission whose answer the proxy lost is recorded after the restart without a log line
        "after-submit": lambda: submitted,
        "before-dispute": lambda: submitted,
        "before-check": lambda: submitted,
        "after-dispute": lambda: logged("disputed", req),
        "after-check": lambda: logged("agreed", req),
        "mid-descent": lambda: logged("move"),
        "at-step": lambda: g is not None and (g.phase == Phase.STEP or g.status != GameStatus.IN_PROGRESS),
        "before-correction": lambda: logged("game-over"),
        "before-finalize": lambda: (corrected if key == "challenger" and scenario == "dispute"
                                    else logged("game-over") if scenario == "dispute" else fast_forwarded),
    }[phase]()


def _fast_forward(world: World, nodes: Nodes, scenario: str, rid: int) -> bool:
    """Skips the challenge window once the honest result stands and the challenger has checked it (the demo's
    rule); returns whether it did."""
    r = world.oracle.getRequest(rid)
    if r.status != REQUEST_SUBMITTED or world.game.claimStatus(r.claimId) != CLAIM_PENDING:
        return False
    if world.game.getClaim(r.claimId).openGames != 0 or world.game.canFinalize(r.claimId):
        return False
    honest = r.submitter == (world.addresses["challenger"] if scenario == "dispute" else world.addresses["honest"])
    checked = r.submitter == world.addresses["challenger"] or any(
        e.startswith(f"agreed request={rid} claim={r.claimId}") for e in nodes.events("challenger"))
    if not (honest and checked):
        return False
    world.chain.pending_timestamp += PARAMS.challenge_window
    world.chain.mine()
    return True


def _outcome(world: World, scenario: str, rid: int, image: bytes, first_claim: int | None) -> tuple[bool, str]:
    """(done, why not): the honest side won and the correct result was delivered."""
    if not world.oracle.isFinalized(rid):
        return False, "not finalized"
    done = world.classifier.classifications(rid)
    expected = int(np.argmax(run(world.model.model, [input_tensor(world.model.model.graph, image)]).output))
    if not done.done or int(done.label) != expected:
        return False, f"delivered label {done.label} (done={done.done}), expected {expected}"
    r = world.oracle.getRequest(rid)
    want = world.addresses["challenger" if scenario == "dispute" else "honest"]
    if r.submitter != want:
        return False, f"finalized claim {r.claimId} by {r.submitter}, expected {want}"
    if scenario == "dispute":
        if first_claim is None or world.game.claimStatus(first_claim) != CLAIM_VOID:
            return False, f"the faulty claim {first_claim} is not void"
    return True, ""


def run_trial(world: World, nodes: Nodes, scenario: str, fault: str, target: str, phase: str, rng: random.Random,
              timeout: float = 240.0) -> TrialResult:
    """One request under one fault; waits until the honest side's result is delivered (or ``timeout``)."""
    oracle, game = world.oracle, world.game
    marks = {k: len(nodes.events(k)) for k in nodes.procs}
    game_id = game.gameCount() + 1
    image = np.random.default_rng(rng.randrange(2**32)).integers(-100, 101, size=16).astype(np.int8).tobytes()
    start = time.time()
    tx = world.classifier.classify(image, sender=world.user, value=world.classifier.fee())
    rid = tx.decode_logs(oracle.AICallbackRequest)[0].requestId
    request_block = tx.block_number
    snapshot = rpc(world.anvil_uri, "evm_snapshot") if fault == "revert" else None
    jitter = rng.uniform(0.0, 0.8)
    fired_at: float | None = None
    hit, at_fault, first_claim, fast_forwarded, extra = False, "", None, False, {}
    why = ""
    while time.time() - start < timeout:
        nodes.supervise()
        r = oracle.getRequest(rid)
        if first_claim is None and r.status >= REQUEST_SUBMITTED:
            first_claim = int(r.claimId)
        if not hit and fault != "none":
            if fired_at is None and _trigger(world, nodes, scenario, target if fault == "kill" else "challenger",
                                             phase, rid, game_id, marks, fast_forwarded):
                fired_at = time.time()
            if fired_at is not None and time.time() - fired_at >= jitter:
                g = game.getGame(game_id) if game.gameCount() >= game_id else None
                key = target if fault == "kill" else "challenger"
                last = nodes.events(key)[marks[key]:]
                at_fault = (last[-1].split()[0] if last else "-") + (
                    f" game={Phase(g.phase).name}/{GameStatus(g.status).name}" if g is not None else "")
                if fault == "kill":
                    nodes.kill_and_restart(target)
                elif fault == "reorg":
                    depth = min(rng.randint(1, 3), world.chain.blocks.height - request_block)
                    if depth >= 1:
                        rpc(world.anvil_uri, "anvil_reorg", [depth, []])
                    extra["depth"] = depth
                elif fault == "revert":
                    extra["reverted_blocks"] = world.chain.blocks.height - request_block
                    rpc(world.anvil_uri, "evm_revert", [snapshot])
                hit = True
        if first_claim is not None and _fast_forward(world, nodes, scenario, rid):
            fast_forwarded = True
        if hit or fault == "none":
            ok, why = _outcome(world, scenario, rid, image, first_claim)
            if ok and (scenario != "dispute" or game.gameCount() >= game_id
                       and game.getGame(game_id).status != GameStatus.IN_PROGRESS):
                return TrialResult(scenario, fault, target, phase, rid, True, time.time() - start,
                                   at_fault=at_fault, extra=extra)
        time.sleep(0.15)
    return TrialResult(scenario, fault, target, phase, rid, False, time.time() - start,
                       detail=why or ("fault never fired" if not hit else "timeout"), at_fault=at_fault, extra=extra)


# ---------------------------------------------------------------------------------------------------- audit


def _selectors(*contracts: Any) -> dict[bytes, str]:
    out = {}
    for c in contracts:
        for abi in c.contract_type.mutable_methods:
            out[keccak(text=abi.selector)[:4]] = abi.name
    return out


KEYED_BY_FIRST_ARG = {"submit", "submitPrivate", "finalize", "challenge", "settleMoot", "timeout"}


def audit(world: World, first_block: int | None = None) -> dict:
    """Reads every block since ``first_block``: duplicate actions and reverted transactions of node accounts,
    open bonds, conservation, and what each honest account paid in against what it is owed."""
    names = _selectors(world.oracle, world.game)
    nodes = {a.lower(): k for k, a in world.addresses.items()}
    targets = {world.oracle.address.lower(), world.game.address.lower()}
    seen: Counter[tuple] = Counter()
    paid: Counter[str] = Counter()
    reverted: list[dict] = []
    per_fn: Counter[str] = Counter()
    head = int(rpc(world.anvil_uri, "eth_blockNumber"), 16)
    for n in range(first_block if first_block is not None else world.first_block, head + 1):
        block = rpc(world.anvil_uri, "eth_getBlockByNumber", [hex(n), True])
        for tx in block["transactions"]:
            key = nodes.get(tx["from"].lower())
            if key is None or (tx.get("to") or "").lower() not in targets:
                continue
            data = bytes.fromhex(tx["input"][2:])
            fn = names.get(data[:4], data[:4].hex())
            per_fn[f"{key}:{fn}"] += 1
            paid[key] += int(tx["value"], 16)
            ident = (key, fn, data[4:36]) if fn in KEYED_BY_FIRST_ARG else (key, fn, data)
            seen[ident] += 1
            receipt = rpc(world.anvil_uri, "eth_getTransactionReceipt", [tx["hash"]])
            if int(receipt["status"], 16) != 1:
                reverted.append({"node": key, "function": fn, "block": n, "hash": tx["hash"]})
    duplicates = [{"node": k, "function": fn, "key": "0x" + arg[:32].hex(), "count": c}
                  for (k, fn, arg), c in seen.items() if c > 1]
    game, oracle = world.game, world.oracle
    owed = {k: int(game.credit(world.addresses[k])) + int(oracle.credit(world.addresses[k]))
            for k in ("challenger", "honest")}
    lost = {k: max(0, paid[k] - owed[k]) for k in owed}
    return {
        "duplicates": duplicates,
        "reverted": reverted,
        "transactions": dict(per_fn),
        "open_bonds": int(game.openBonds()),
        "game_conserved": int(game.balance) == int(game.openBonds()) + int(game.totalCredit()),
        "oracle_conserved": int(oracle.balance) == int(oracle.heldFees()) + int(oracle.totalCredit()),
        "paid": {k: paid[k] for k in owed},
        "owed": owed,
        "funds_lost_wei": sum(lost.values()) + int(game.openBonds()),
    }


# ---------------------------------------------------------------------------------------------------- plan


def plan(kills_per_role: int, reorgs: int, seed: int) -> list[tuple[str, str, str, str]]:
    """(scenario, fault, target, phase) for every trial: kills cycle through each role's phases in both
    scenarios, dispute trials first (the faulty submitter runs), then honest ones; reorgs and one snapshot
    revert are dispute trials."""
    rng = random.Random(seed)
    trials: list[tuple[str, str, str, str]] = []
    for role, key_of in (("submitter", {"dispute": "faulty", "honest": "honest"}), ("challenger", None)):
        phases = [(s, p) for s in ("dispute", "honest") for p in PHASES[(s, role)]]
        for i in range(kills_per_role):
            scenario, phase = phases[i % len(phases)]
            trials.append((scenario, "kill", key_of[scenario] if key_of else "challenger", phase))
    reorg_phases = ("after-submit", "after-dispute", "mid-descent", "at-step", "before-correction")
    for i in range(reorgs):
        kind = "revert" if i == reorgs - 1 and reorgs > 1 else "reorg"
        trials.append(("dispute", kind, "-", reorg_phases[rng.randrange(len(reorg_phases))]
                       if kind == "reorg" else "mid-descent"))
    trials.sort(key=lambda t: t[0] != "dispute")
    return trials


def run_trials(world: World, proxy, trials: list[tuple[str, str, str, str]], seed: int,
               log=print, timeout: float = 240.0) -> tuple[list[TrialResult], Nodes]:
    """Runs ``trials`` with node processes behind ``proxy``; dispute trials with the faulty submitter and the
    challenger, honest ones with the honest submitter and the challenger."""
    rng = random.Random(seed)
    nodes = Nodes(world, proxy.uri)
    results: list[TrialResult] = []
    try:
        current = None
        for scenario, fault, target, phase in trials:
            if scenario != current:
                for key in [k for k in nodes.procs if k != "challenger"]:
                    nodes.stop(key)
                proxy.active = False
                if "challenger" not in nodes.procs:
                    nodes.start("challenger")
                nodes.start("faulty" if scenario == "dispute" else "honest")
                proxy.active = True
                current = scenario
            result = run_trial(world, nodes, scenario, fault, target, phase, rng, timeout)
            results.append(result)
            log(f"{'ok  ' if result.ok else 'FAIL'} {scenario:8s} {fault:6s} {target:10s} {phase:18s} "
                f"request={result.request} {result.seconds:5.1f}s at={result.at_fault} {result.extra or ''} "
                f"{result.detail}")
    finally:
        proxy.active = False
        nodes.stop_all()
    return results, nodes

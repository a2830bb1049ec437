"""One full dispute on a local chain, measured: deploy, register, propose a faulty claim, challenge, play.

Who calls: bench/bench_dispute.py, inside ape's network context (a connected provider, ``project`` compiled).
Follows tests/dispute (conftest + test_game_tiny): the honest challenger plays against a submitter whose
trace corrupts one element and recomputes everything downstream.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import astuple, dataclass
from pathlib import Path
from collections.abc import Callable
from typing import Any

from offchain.chain.deployments import deploy_protocol
from offchain.chain.encoding import text_output
from offchain.chain.params import ProtocolParams
from offchain.dispute.claimed_tree import ClaimedTree
from offchain.dispute.commitment import ExecutionCommitment, ModelCommitment
from offchain.dispute.match import MatchResult, honest_challenger, honest_submitter, play
from offchain.dispute.solver import Action, GameState, GameStatus
from offchain.dispute.responder import event_logs
from offchain.engine.domain import input_domain

#: Clocks long enough that no side can time out while the other builds its proofs: the benchmark measures
#: the moves, it never waits a clock out.
BENCH_PARAMS = ProtocolParams(challenge_window=3600, clock_budget=3600, request_timeout=14400)
MODEL_FEE = 10**15


class DisputeBenchError(Exception):
    """A benchmark game did not end the way an honest challenger's game must (challenger won by a step)."""


@dataclass(frozen=True)
class Protocol:
    """The deployed contracts a benchmark game needs and the accounts that play it."""

    registry: Any
    game: Any
    prover_address: str
    deployer: Any
    submitter: Any
    challenger: Any


@dataclass(frozen=True)
class GameOutcome:
    """What one game cost. ``wall_s``: from sending the challenge to the resolving move, both players'
    off-chain work (reveals, proof building, lazily built weight trees) and every transaction included;
    ``players_s`` is the part spent inside the two players' policies (deciding and building proofs), the
    rest is reading the game and sending transactions."""

    match: MatchResult
    wall_s: float
    players_s: float
    challenge_gas: int
    propose_gas: int
    node_index: int
    reason: str
    step_tx: str

    @property
    def moves_per_side(self) -> int:
        return max(self.match.moves_of("submitter"), self.match.moves_of("challenger"))

    @property
    def challenger_gas(self) -> int:
        """Gas of every challenger transaction, the challenge itself included."""
        return self.challenge_gas + self.match.gas_of("challenger")

    @property
    def submitter_gas(self) -> int:
        """Gas of the submitter's moves (the propose transaction is not part of the dispute)."""
        return self.match.gas_of("submitter")

    @property
    def max_tx_gas(self) -> int:
        return max(self.match.max_gas, self.challenge_gas)


def deploy(project: Any, provider: Any, accounts: Any) -> Protocol:
    """Deploys the whole protocol with BENCH_PARAMS; the deployment record goes to a temporary folder
    so the repository's deployments/ is left alone."""
    deployer = accounts.test_accounts[0]
    with tempfile.TemporaryDirectory() as tmp:
        addresses = deploy_protocol(project, provider, deployer, directory=Path(tmp), params=BENCH_PARAMS)
    return Protocol(
        registry=project.ModelRegistry.at(addresses["ModelRegistry"]),
        game=project.DisputeGame.at(addresses["DisputeGame"]),
        prover_address=addresses["OneStepProver"],
        deployer=deployer,
        submitter=accounts.test_accounts[2],
        challenger=accounts.test_accounts[3],
    )


def register(protocol: Protocol, commitment: ModelCommitment) -> int:
    """Registers the model by its graph root and weights root (from its commitment trees); returns its id."""
    graph = commitment.model.graph
    spec = (
        commitment.graph_tree.root, commitment.weights_tree.root, len(graph.nodes), len(graph.weights),
        graph.inputs[0].nbytes, graph.inputs[0].chunk_log2, *astuple(input_domain(graph)),
        graph.output.nbytes, graph.output.chunk_log2, MODEL_FEE, protocol.deployer, protocol.deployer,
        text_output(commitment.model),
    )
    return protocol.registry.registerModel(spec, sender=protocol.deployer).return_value


def dispute(protocol: Protocol, model_id: int, honest: ExecutionCommitment, faulty: ExecutionCommitment) -> GameOutcome:
    """Proposes ``faulty`` (bonded), challenges it, plays honest challenger vs the faulty trace to the end.

    Both executions' trace trees must already be built (a challenger knows it disagrees before it challenges).
    Raises DisputeBenchError unless the challenger wins by a one-step proof.
    """
    game = protocol.game
    if faulty.trace_root == honest.trace_root:
        raise DisputeBenchError("the faulty trace has the honest trace root: nothing to dispute")
    receipt = game.propose(
        model_id, faulty.input_root, faulty.output_root, faulty.trace_root, faulty.output_proof(),
        protocol.submitter, sender=protocol.submitter, value=BENCH_PARAMS.submitter_bond,
    )
    claim_id = receipt.return_value
    claimed = ClaimedTree(honest.trace_tree, faulty.trace_root)
    thinking = [0.0]

    def timed_policy(policy: Callable[[GameState], Action | None]) -> Callable[[GameState], Action | None]:
        def decide(state: GameState) -> Action | None:
            t = time.perf_counter()
            try:
                return policy(state)
            finally:
                thinking[0] += time.perf_counter() - t
        return decide

    start = time.perf_counter()
    challenge = game.challenge(claim_id, sender=protocol.challenger, value=BENCH_PARAMS.challenger_bond)
    game_id = challenge.return_value
    # play's default start_block (0) is kept: responder.read_game passes it to ape's ContractEvent.range
    # with stop=None, where a non-zero value is read as a block *count* from 0, not as a first block.
    match = play(
        game, game_id, protocol.submitter, protocol.challenger,
        timed_policy(honest_submitter(faulty)), timed_policy(honest_challenger(honest, claimed)), claimed=claimed,
    )
    wall_s = time.perf_counter() - start

    resolved = list(event_logs(game.GameResolved, 0, gameId=game_id))
    reason = resolved[-1].reason if resolved else "unresolved"
    if match.status != GameStatus.CHALLENGER_WON or reason != "one-step proof":
        raise DisputeBenchError(f"game {game_id} ended {match.status.name} ({reason}); the honest challenger must "
                                f"win by a one-step proof")
    return GameOutcome(
        match=match, wall_s=wall_s, players_s=thinking[0], challenge_gas=challenge.gas_used,
        propose_gas=receipt.gas_used, node_index=game.getGame(game_id).nodeIndex, reason=reason,
        step_tx=str(resolved[-1].transaction_hash),
    )


def calldata_gas(data: bytes) -> int:
    """Intrinsic gas of a transaction's input bytes (EIP-2028: 4 per zero byte, 16 per other byte)."""
    zeros = data.count(0)
    return 4 * zeros + 16 * (len(data) - zeros)


@dataclass(frozen=True)
class StepCost:
    """Where the gas of one ``step`` transaction goes, from anvil's call trace of it."""

    total: int
    calldata_bytes: int
    intrinsic: int  # 21000 + calldata
    prover: int  # OneStepProver.recompute: root and range proofs, abi decoding, operator calls
    operator_element: int  # the operator's ``element``: the recomputation itself
    operator_ranges: int  # the operator's ``rangeCount``/``range`` calls (which operands to load)

    @property
    def game(self) -> int:
        """DisputeGame.step's own execution: chunk check, descriptor check, claim read, payout."""
        return self.total - self.intrinsic - self.prover


def step_cost(provider: Any, project: Any, protocol: Protocol, tx_hash: str) -> StepCost:
    """Breaks the step transaction's gas down with anvil's ``debug_traceTransaction`` call tracer."""
    web3 = provider.web3
    tx = web3.eth.get_transaction(tx_hash)
    data = bytes(tx["input"])
    total = web3.eth.get_transaction_receipt(tx_hash)["gasUsed"]
    trace = provider.make_request("debug_traceTransaction", [tx_hash, {"tracer": "callTracer"}])
    # Every operator family implements IOperator, so `element` has one selector whichever family is called.
    selectors = project.LinearOps.contract_type.selector_identifiers
    element = {selectors[sig][:10] for sig in selectors if sig.startswith("element(")}
    prover_address = protocol.prover_address.lower()
    prover = element_gas = ranges_gas = 0
    for call in trace.get("calls", []):
        if call["to"].lower() != prover_address:
            continue
        prover += int(call["gasUsed"], 16)
        for inner in call.get("calls", []):
            used = int(inner["gasUsed"], 16)
            if inner["input"][:10] in element:
                element_gas += used
            else:
                ranges_gas += used
    return StepCost(total, len(data), 21000 + calldata_gas(data), prover, element_gas, ranges_gas)


"""Randomized full games on a chain, with the protocol's guarantees to honest players checked after each trial.

One trial (seeded by ``(seed, trial)``): a claim on one of the fuzz models, correct or with one wrong element
in a random node of a random operator kind (``run_with_fault``), and 1-4 games against it from distinct
accounts, each played by a random kind of player (see offchain/dispute/adversaries.py):

* ``honest``      the node's challenger (only against a faulty claim: an honest node never disputes a true one);
* ``dishonest``   random, agreeing or padding picks, forged one-step proofs or node openings, stalls;
* ``sybil-void``  the submitter's own second account, playing the honest strategy to void its own claim first;
* ``sybil-stall`` the submitter's own account, challenging and then stalling (its bond goes to the claim's escrow).

A faulty claim's submitter answers from its faulty trace but may stall or send reveals and chunks that do not
hash up; a correct claim's submitter is the honest node. All games are played interleaved in a random order
with random clock advances that never push a side that still plays near its clock's end (a stalled dishonest
side runs its clock out),
then settled: timeouts, ``settleMoot`` (with a win on time tried on the void claim first, which must revert),
``finalize`` and every account's ``withdraw``.

After each trial :func:`check_trial` lists the violations of these rules (DESIGN.md section 4):
* an honest challenger of a faulty claim ends with at least its bond, and at least bond + its moot compensation
  (min(base + per-move x its moves, the claim's mootCap)) when its
  game turned moot;
* an honest submitter's correct claim finalizes and returns at least its bond;
* a faulty claim that an honest challenger disputed never finalizes, and its submitter is credited nothing;
* the game holds openBonds + totalCredit, and everything paid in is paid out, burned or still held;
* no honest move is ever refused, and an honest player always has a move on its turn.

Who calls: tests/dispute/test_game_fuzz.py (a short seeded run), bench/fuzz_games.py (``make fuzz-games``) and
bench/bench_reliability.py. Needs a connected ape provider (``chain``) and the compiled project.
"""

from __future__ import annotations

import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from offchain.chain.deployments import deploy_protocol
from offchain.chain.params import ProtocolParams
from offchain.chain.registration import model_spec
from offchain.dispute.adversaries import (
    FORGES,
    PICKS,
    ChallengerPlan,
    DishonestChallenger,
    DishonestSubmitter,
    HonestChallenger,
    HonestSubmitter,
    SubmitterPlan,
)
from offchain.dispute.claimed_tree import ClaimedTree, ClaimedTreeError
from offchain.dispute.commitment import ExecutionCommitment, ModelCommitment
from offchain.dispute.faults import run_with_fault
from offchain.dispute.responder import read_game, send
from offchain.dispute.solver import ClaimStatus, GameStatus, Phase, Reveal, SolverError, Turn
from offchain.engine.errors import EngineError
from offchain.engine.executor import run
from offchain.engine.model import Model
from offchain.engine.ops import OpCode

#: Clocks and window of the fuzz deployment: long beside a trial's wall time (seconds), so the wall clock that
#: anvil's timestamps follow never decides a game; only the fuzzer's advances do.
FUZZ_PARAMS = ProtocolParams(reveal_depth=2, challenge_window=900, clock_budget=900, request_timeout=3600)
#: Seconds of clock an honest side always keeps in reserve when the fuzzer advances time (covers the wall time
#: that passes while other games are played).
HONEST_MARGIN_S = 120
ROLES_FAULTY = (("honest", 0.4), ("dishonest", 0.3), ("sybil-void", 0.15), ("sybil-stall", 0.15))
ROLES_CORRECT = (("dishonest", 0.7), ("sybil-stall", 0.3))
FAULTY_SHARE = 0.6
#: Anything past this many scheduler steps in one trial means a player loops: the trial fails loudly.
MAX_STEPS = 400

PENDING, VOID, FINALIZED = ClaimStatus.PENDING, ClaimStatus.VOID, ClaimStatus.FINALIZED


class FuzzError(Exception):
    """A trial could not be set up or did not terminate (a driver problem, not a protocol violation)."""


# ------------------------------------------------------------------ models


@dataclass
class FuzzCase:
    """A registered model with its honest execution on a fixed input."""

    name: str
    model: ModelCommitment
    inputs: list[np.ndarray]
    honest: ExecutionCommitment
    model_id: int = 0

    @property
    def ops(self) -> set[int]:
        return {n.op for n in self.model.model.graph.nodes}


def fuzz_models() -> dict[str, tuple[Model, np.ndarray]]:
    """The models the fuzzer disputes: together they contain every op code (checked by the tests).

    all-ops (24 operator kinds in one small graph), the WordPiece tokenizer (text operators), a LoReFT block
    and the tiny MLP."""
    from offchain.models.all_ops import all_ops_input, all_ops_model
    from offchain.models.loreft_block import loreft_block, loreft_input
    from offchain.models.minilm import load_tokenizer
    from offchain.models.text_tables import text_input, tokenizer_model
    from offchain.models.tiny import tiny_input, tiny_mlp

    models = {
        "all-ops": (all_ops_model(), all_ops_input()),
        "tokenizer": (tokenizer_model(32, 16, load_tokenizer()), text_input("Tokenizers are disputable, too!", 32)),
        "loreft": (loreft_block(), loreft_input()),
        "tiny-mlp": (tiny_mlp(), tiny_input()),
        # ---- tokenizer: bpe (issue 14)
        "bpe": _bpe_model(),
    }
    # ---- tokenizer: detok (issue 14)
    from offchain.models.bpe_detok import detok_fixture

    models["detok"] = detok_fixture()
    # ---- tokenizer: BPE ignore_merges (WORD_VOCAB)
    from bench._bpe_graph import word_vocab_graph

    models["word-vocab"] = word_vocab_graph()
    # ---- tokenizer: the whole BPE front (issue 14): UTF8_CHARS, ADDED_TOKENS, PRETOKENIZE and the BPE rounds
    from offchain.models import bpe
    from offchain.models.train_llm import TINY_SP_DIR

    front = bpe.tokenizer_model(TINY_SP_DIR, 8, 12)
    models["bpe-front"] = (front, text_input("a b\u00e9<|eos|>".encode()[:8], 8))
    # ---- generation: sample (issue 15): GEN_PARAMS, TOPK (both modes), PRNG, SAMPLE, GEN_STOP
    from offchain.models.sampler import sampler_fixture

    models["sampler"] = sampler_fixture()
    # ---- generation: cache (issue 15): ALIGN_END, ATTN_BIAS, CAT_MATMUL on both axes
    from offchain.models.cache_graph import cache_graph

    models["cache"] = cache_graph()
    # ---- tokenizer: added (issue 14): ADDED_MATCH (alone and reading prev) and ADDED_RESOLVE
    from bench._added_graph import added_graph

    models["added"] = added_graph("<|eot_id|>id|><|x|>\u00e9|>", n=24)
    # ---- tokenizer: nfc (issue 14): NFC_COMPOSE and NFC_COMPACT (both modes) after ADDED_TOKENS and CHAR_MAP(NFD)
    from bench._nfc_graph import nfc_graph

    models["nfc"] = nfc_graph("e\u0301\u0323<|x|>\u0338\u1100\u1161", n=16)
    # ---- image: imgops (issue 16): NOISE, DDIM_STEP (a middle and the last step) and PIXELS on 4x4 images
    from bench._image_graph import image_graph

    models["image"] = image_graph(seed=2**64 - 1, side=4)
    # ---- image: sd-unet-block (issue 16): RSQRT, EXP (both forms)
    from bench._stat_graph import stat_graph

    models["stat"] = stat_graph()
    # ---- tokenizer: nfc runs (issue 14): NFC_REORDER and two NFC_STAGE nodes (run indices 4..7)
    from bench._nfc_run_graph import nfc_run_graph

    models["nfc_runs"] = nfc_run_graph("a" + "\u0316" * 4 + "\u0301<|x|>\u0338e" + "\u0316" * 6 + "\u0301", n=24)
    return models


# ---- tokenizer: bpe (issue 14)
def _bpe_model() -> tuple[Model, np.ndarray]:
    """BPE_SYMBOLS, three PAIR_RANK/BPE_MERGE rounds and BPE_IDS on the SentencePiece tokenizer's tables."""
    from bench._bpe_graph import bpe_graph

    return bpe_graph()


def prepare_cases(models: dict[str, tuple[Model, np.ndarray]]) -> dict[str, FuzzCase]:
    cases = {}
    for name, (model, x) in models.items():
        commitment = ModelCommitment(model)
        honest = ExecutionCommitment(commitment, run(model, [x]))
        honest.trace_tree  # built once: every trial's challengers compare against it
        cases[name] = FuzzCase(name, commitment, [x], honest)
    return cases


# ------------------------------------------------------------------ plans (pure)


@dataclass(frozen=True)
class FaultSpec:
    """Flat element ``element`` of node ``node`` is off by ``delta`` (wrapping in its dtype)."""

    op: int
    node: int
    element: int
    delta: int


@dataclass(frozen=True)
class GamePlan:
    role: str
    challenger: ChallengerPlan | None   # None for the honest strategy (honest or sybil-void)
    submitter: SubmitterPlan | None     # None: the honest submitter (correct claims)


@dataclass(frozen=True)
class TrialPlan:
    seed: int
    trial: int
    case: str
    fault: FaultSpec | None
    games: tuple[GamePlan, ...]

    @property
    def faulty(self) -> bool:
        return self.fault is not None


def trial_rng(seed: int, trial: int) -> np.random.Generator:
    return np.random.default_rng([seed, trial])


def _draw_fault(rng: np.random.Generator, cases: dict[str, FuzzCase]) -> tuple[str, FaultSpec]:
    """An operator kind uniformly among those the cases contain, then a model, node, element and delta.

    Faults the engine cannot run downstream (e.g. a token end that breaks the next operator's parameters) are
    redrawn: a faulty trace must be a complete execution for the submitter to commit to it."""
    ops = sorted(set().union(*(c.ops for c in cases.values())))
    op = int(rng.choice(ops))
    names = sorted(n for n, c in cases.items() if op in c.ops)
    name = str(rng.choice(names))
    nodes = cases[name].model.model.graph.nodes
    candidates = [i for i, n in enumerate(nodes) if n.op == op]
    for _ in range(50):
        node = int(rng.choice(candidates))
        spec = nodes[node].output
        element = int(rng.integers(spec.size))
        span = spec.dtype.qmax - spec.dtype.qmin
        magnitude = int(rng.integers(1, 4)) if rng.random() < 0.5 else int(rng.integers(1, max(2, span // 2)))
        delta = magnitude if rng.random() < 0.5 else -magnitude
        try:
            run_with_fault(cases[name].model.model, cases[name].inputs, node, element, delta)
        except EngineError:
            continue
        return name, FaultSpec(op, node, element, delta)
    raise FuzzError(f"no runnable fault of op {OpCode(op).name} in {name} after 50 draws")


def _stall_after(rng: np.random.Generator) -> int | None:
    """Moves before a dishonest player stops: often never (so games reach the one-step proof), else 0-7."""
    return None if rng.random() < 0.6 else int(rng.integers(0, 8))


def _submitter_plan(rng: np.random.Generator) -> SubmitterPlan:
    """A faulty claim's submitter in one game: plays its trace to the end (so the game reaches the one-step
    proof), stalls after 0-7 moves, or sends a reveal or its chunk altered so that it does not hash up."""
    kind = rng.choice(["full", "stall", "bad-reveal", "bad-chunk"], p=[0.6, 0.2, 0.1, 0.1])
    return SubmitterPlan(int(rng.integers(0, 8)) if kind == "stall" else None,
                         int(rng.integers(0, 6)) if kind == "bad-reveal" else None, bool(kind == "bad-chunk"))


def plan_trial(seed: int, trial: int, cases: dict[str, FuzzCase]) -> TrialPlan:
    """What trial ``trial`` of run ``seed`` plays: deterministic in (seed, trial) and the cases' names."""
    rng = trial_rng(seed, trial)
    if rng.random() < FAULTY_SHARE:
        name, fault = _draw_fault(rng, cases)
    else:
        name, fault = str(rng.choice(sorted(cases))), None
    roles = ROLES_FAULTY if fault else ROLES_CORRECT
    games = []
    for _ in range(int(rng.integers(1, 5))):
        role = str(rng.choice([r for r, _ in roles], p=[p for _, p in roles]))
        challenger = None
        if role == "dishonest":
            challenger = ChallengerPlan(str(rng.choice(PICKS)), str(rng.choice(FORGES)), _stall_after(rng))
        elif role == "sybil-stall":
            challenger = ChallengerPlan(str(rng.choice(PICKS)), str(rng.choice(FORGES)), int(rng.integers(0, 3)))
        submitter = _submitter_plan(rng) if fault else None
        games.append(GamePlan(role, challenger, submitter))
    return TrialPlan(seed, trial, name, fault, tuple(games))


# ------------------------------------------------------------------ chain driver


@dataclass
class Protocol:
    """The fuzz deployment: the game contract, the chain, who submits, who may challenge, who keeps."""

    game: Any
    chain: Any
    submitter: Any
    challengers: list[Any]
    keeper: Any
    params: ProtocolParams


def deploy(project: Any, provider: Any, test_accounts: list[Any], cases: dict[str, FuzzCase],
           params: ProtocolParams = FUZZ_PARAMS) -> Protocol:
    """Deploys the whole protocol once (record in a temporary folder) and registers every case's model.

    ``test_accounts``: funded accounts; [0] deploys, [1] keeps (timeouts, settlements, finalizations), [2]
    submits, the rest (at least 4) challenge."""
    from ape import chain

    if len(test_accounts) < 7:
        raise FuzzError(f"the fuzzer needs 7 funded accounts (deployer, keeper, submitter, 4 challengers), "
                        f"got {len(test_accounts)}")
    owner = test_accounts[0]
    with tempfile.TemporaryDirectory() as tmp:
        addresses = deploy_protocol(project, provider, owner, directory=Path(tmp), params=params)
    registry = project.ModelRegistry.at(addresses["ModelRegistry"])
    for case in cases.values():
        spec = model_spec(case.model.model, 0, owner.address)
        case.model_id = registry.registerModel(spec, sender=owner).return_value
    return Protocol(project.DisputeGame.at(addresses["DisputeGame"]), chain, test_accounts[2], test_accounts[3:],
                    test_accounts[1], params)


@dataclass
class GameRun:
    """One game of a trial as it is played."""

    plan: GamePlan
    account: Any
    challenger: Any
    submitter: Any
    claimed: ClaimedTree
    game_id: int | None = None
    refused_open: bool = False
    ended_by: str = ""  # "move" (a step, padding or empty-tensor win), "time", "moot" or "" (never opened)


@dataclass
class TrialOutcome:
    """What happened, read back from the chain before withdrawals, and every rule broken."""

    plan: TrialPlan
    claim_status: int
    game_status: list[int]
    ended_by: list[str]
    challenger_credit: list[int]
    submitter_credit: int
    #: per game: what it is owed besides its bond if it turned moot, min(base + per move x its challenger's moves,
    #: the claim's mootCap); 0 for games that did not
    moot_shares: list[int]
    paid_in: int
    paid_out: int
    burned: int
    balance: int
    open_bonds: int
    total_credit: int
    moves: int
    rejected: Counter = field(default_factory=Counter)
    violations: list[str] = field(default_factory=list)
    shortfall_wei: int = 0

    @property
    def games(self) -> int:
        return sum(1 for s in self.game_status if s != 0)


def _reverted(call: Callable[[], Any]) -> str | None:
    """Runs a transaction; None if it went through, else the revert's error name (a custom error's name, or
    the panic or revert message)."""
    from ape.exceptions import ContractLogicError, VirtualMachineError

    try:
        call()
    except ContractLogicError as error:
        name = type(error).__name__
        return name if name != "ContractLogicError" else str(error)
    except VirtualMachineError as error:  # a panic (arithmetic, assert): never expected from the game
        return str(error)
    return None


def run_trial(protocol: Protocol, cases: dict[str, FuzzCase], plan: TrialPlan) -> TrialOutcome:
    """Plays ``plan`` on the chain and settles everything; the chain state is the caller's to restore."""
    game, chain, params = protocol.game, protocol.chain, protocol.params
    rng = trial_rng(plan.seed, plan.trial + (1 << 32))  # the schedule's randomness, apart from the plan's
    case = cases[plan.case]
    honest = case.honest
    if plan.fault:
        f = plan.fault
        mine = ExecutionCommitment(case.model, run_with_fault(case.model.model, case.inputs, f.node, f.element, f.delta))
    else:
        mine = honest
    start_block = chain.blocks.height
    burned0, paid_in, moves = game.totalBurned(), 0, 0
    violations: list[str] = []
    rejected: Counter = Counter()

    claim_id = game.propose(case.model_id, mine.input_root, mine.output_root, mine.trace_root, mine.output_proof(),
                            protocol.submitter, sender=protocol.submitter, value=params.submitter_bond).return_value
    paid_in += params.submitter_bond
    created = game.getClaim(claim_id).createdAt
    window_end = created + params.challenge_window

    runs: list[GameRun] = []
    accounts = list(rng.permutation(len(protocol.challengers))[:len(plan.games)])
    for k, gp in enumerate(plan.games):
        claimed = ClaimedTree(honest.trace_tree, mine.trace_root)
        if gp.challenger is None:
            challenger = HonestChallenger(honest, claimed)
        else:
            challenger = DishonestChallenger(gp.challenger, honest, claimed, rng)
        submitter = HonestSubmitter(mine) if gp.submitter is None else DishonestSubmitter(gp.submitter, mine)
        runs.append(GameRun(gp, protocol.challengers[int(accounts[k])], challenger, submitter, claimed))

    def now() -> int:
        return chain.blocks.head.timestamp

    def advance(seconds: int) -> None:
        if seconds > 0:
            chain.pending_timestamp = max(chain.pending_timestamp, now() + 1) + seconds
            chain.mine()

    def honest_slack() -> int:
        """Seconds the fuzzer may advance without a side to move that still plays (every honest one, and a
        dishonest one until it stalls) coming near its clock's end: only stalled clocks run out."""
        slack = params.clock_budget
        for r in runs:
            if r.refused_open:
                continue
            if r.game_id is None:
                slack = min(slack, window_end - now())  # a challenge still to come must fit in the window
                continue
            g = game.getGame(r.game_id)
            if g.status != GameStatus.IN_PROGRESS:
                continue
            mover = r.submitter if g.turn == Turn.SUBMITTER else r.challenger
            if not mover.stalling():
                slack = min(slack, params.clock_budget - game.clockUsed(r.game_id))
        return slack - HONEST_MARGIN_S

    for _ in range(MAX_STEPS):
        if game.claimStatus(claim_id) == VOID:
            break
        choices: list[tuple[str, GameRun]] = []
        stalled: list[int] = []
        for r in runs:
            if r.refused_open:
                continue
            if r.game_id is None:
                if now() < window_end:
                    choices.append(("open", r))
                continue
            g = game.getGame(r.game_id)
            if g.status != GameStatus.IN_PROGRESS:
                continue
            used = game.clockUsed(r.game_id)
            if used > params.clock_budget:
                choices.append(("timeout", r))
            elif (r.submitter if g.turn == Turn.SUBMITTER else r.challenger).stalling():
                stalled.append(used)
            else:
                choices.append(("move", r))
        if not choices:
            if not stalled:
                break
            # every side to move has stopped (none is honest): run the longest-used stalled clock out
            advance(params.clock_budget - max(stalled) + 1)
            continue
        kind, r = choices[int(rng.integers(len(choices)))]
        if kind == "open":
            error = _reverted(lambda: _open(game, claim_id, r, params))
            if error is None:
                paid_in += params.challenger_bond
            else:
                r.refused_open = True
                if r.plan.role == "honest" and error != "ClaimNotPending":
                    violations.append(f"honest challenge refused: {error}")
        elif kind == "timeout":
            error = _reverted(lambda: game.timeout(r.game_id, sender=protocol.keeper))
            if error is None:
                r.ended_by = "time"
            else:
                violations.append(f"timeout of game {r.game_id} with an expired clock refused: {error}")
        else:
            state = read_game(game, r.game_id, start_block)
            side = "submitter" if state.turn == Turn.SUBMITTER else "challenger"
            player = r.submitter if side == "submitter" else r.challenger
            try:
                action = player.act(state)
            except (SolverError, ClaimedTreeError) as error:
                # the honest strategy must always have a move on its turn; the game then goes on without it
                if player.honest:
                    violations.append(f"honest {side} of game {r.game_id} has no move: {error}")
                player.stop()
                continue
            if action is None:
                if player.honest:
                    raise FuzzError(f"honest {side} of game {r.game_id} returned no move on its turn")
                continue  # the dishonest player stalls from now on
            sender = protocol.submitter if side == "submitter" else r.account
            error = _reverted(lambda: send(game, r.game_id, action, sender))
            if error is None:
                moves += 1
                player.accepted()
                if game.getGame(r.game_id).status != GameStatus.IN_PROGRESS:
                    r.ended_by = "move"
                if isinstance(action, Reveal) and state.phase == Phase.TRACE_DESCENT:
                    for x in runs:  # the reveal is public: every challenger of the claim learns it
                        x.claimed.add_reveal(state.level, state.index, action.children)
            else:
                rejected[error] += 1
                player.rejected(error)
                if player.honest:
                    violations.append(f"honest {side} move {type(action).__name__} in game {r.game_id} "
                                      f"refused: {error}")
        if rng.random() < 0.5:
            slack = honest_slack()
            if slack > 0:
                advance(int(rng.integers(0, slack + 1)))
    else:
        raise FuzzError(f"trial {plan.trial} of seed {plan.seed} did not end in {MAX_STEPS} steps")

    # ---- settle
    status = game.claimStatus(claim_id)
    if status == VOID:
        for r in runs:
            if r.game_id is None:
                continue
            g = game.getGame(r.game_id)
            if g.status == GameStatus.IN_PROGRESS:
                if rng.random() < 0.5:
                    # an attacker tries to win on time against the void claim: refused whatever the clocks say
                    advance(params.clock_budget + 1)
                    error = _reverted(lambda: game.timeout(r.game_id, sender=protocol.submitter))
                    if error != "ClaimNotPending":
                        violations.append(f"timeout on void claim's game {r.game_id}: {error or 'accepted'}")
                    g = game.getGame(r.game_id)
                r.ended_by = "moot"
            if g.status not in (GameStatus.IN_PROGRESS, GameStatus.SUBMITTER_WON):
                continue
            error = _reverted(lambda: game.settleMoot(r.game_id, sender=protocol.keeper))
            if error is not None:
                violations.append(f"settleMoot of game {r.game_id} ({GameStatus(g.status).name}) refused: {error}")
    elif status == PENDING:
        if now() < window_end:
            advance(window_end - now())
        error = _reverted(lambda: game.finalize(claim_id, sender=protocol.keeper))
        if error is not None:
            violations.append(f"finalize refused after every game ended: {error}")

    claim = game.getClaim(claim_id)
    outcome = TrialOutcome(
        plan=plan,
        claim_status=int(claim.status),
        game_status=[0 if r.game_id is None else int(game.getGame(r.game_id).status) for r in runs],
        ended_by=[r.ended_by for r in runs],
        challenger_credit=[game.credit(r.account) for r in runs],
        submitter_credit=game.credit(protocol.submitter),
        moot_shares=[_moot_share(game, claim, r.game_id, params) for r in runs],
        paid_in=paid_in, paid_out=0, burned=0, balance=0, open_bonds=game.openBonds(),
        total_credit=game.totalCredit(), moves=moves, rejected=rejected, violations=violations,
    )
    if game.balance != outcome.open_bonds + outcome.total_credit:
        violations.append(f"game balance {game.balance} != openBonds {outcome.open_bonds} + totalCredit "
                          f"{outcome.total_credit} after settling")
    for account in [protocol.submitter] + [r.account for r in runs]:
        owed = game.credit(account)
        if owed:
            error = _reverted(lambda: game.withdraw(sender=account))
            if error is None:
                outcome.paid_out += owed
            else:
                violations.append(f"withdraw of {owed} wei refused: {error}")
    outcome.burned = game.totalBurned() - burned0
    outcome.balance = game.balance
    check_trial(outcome, params)
    return outcome


def _moot_share(game: Any, claim: Any, game_id: int | None, params: ProtocolParams) -> int:
    if game_id is None:
        return 0
    g = game.getGame(game_id)
    if int(g.status) != GameStatus.MOOT:
        return 0
    due = params.moot_base_compensation + params.moot_move_compensation * int(g.challengerMoves)
    return min(due, int(claim.mootCap))


def _open(game: Any, claim_id: int, r: GameRun, params: ProtocolParams) -> None:
    r.game_id = game.challenge(claim_id, sender=r.account, value=params.challenger_bond).return_value


# ------------------------------------------------------------------ rules


def check_trial(outcome: TrialOutcome, params: ProtocolParams) -> TrialOutcome:
    """Appends to ``outcome.violations`` every guarantee to an honest player that the trial broke and sums the
    honest players' shortfalls (wei) into ``outcome.shortfall_wei``. Pure: tests feed it outcomes directly."""
    plan, v = outcome.plan, outcome.violations
    shortfall = 0
    honest_played = False
    for k, gp in enumerate(plan.games):
        status = outcome.game_status[k]
        if gp.role != "honest" or status == 0:
            continue  # a challenge refused because the claim was already void costs nothing
        honest_played = True
        owed = params.challenger_bond + (outcome.moot_shares[k] if status == GameStatus.MOOT else 0)
        if status not in (GameStatus.CHALLENGER_WON, GameStatus.MOOT):
            v.append(f"honest challenger of game {k} ended {GameStatus(status).name}")
        if outcome.challenger_credit[k] < owed:
            v.append(f"honest challenger of game {k} credited {outcome.challenger_credit[k]} < {owed}")
            shortfall += owed - outcome.challenger_credit[k]
    if plan.faulty:
        if honest_played and outcome.claim_status == FINALIZED:
            v.append("a faulty claim disputed by an honest challenger finalized")
        if outcome.claim_status == VOID and outcome.submitter_credit != 0:
            v.append(f"the submitter of a voided claim was credited {outcome.submitter_credit}")
            shortfall += outcome.submitter_credit
    else:
        if outcome.claim_status != FINALIZED:
            v.append(f"an honest submitter's correct claim ended with status {outcome.claim_status}")
        if outcome.submitter_credit < params.submitter_bond:
            v.append(f"honest submitter credited {outcome.submitter_credit} < its bond {params.submitter_bond}")
            shortfall += params.submitter_bond - outcome.submitter_credit
    if outcome.open_bonds != 0:
        v.append(f"openBonds {outcome.open_bonds} left after every game and the claim were settled")
    if outcome.paid_in != outcome.paid_out + outcome.burned + outcome.balance:
        v.append(f"paid in {outcome.paid_in} != paid out {outcome.paid_out} + burned {outcome.burned} + "
                 f"held {outcome.balance}")
    outcome.shortfall_wei += shortfall
    return outcome


# ------------------------------------------------------------------ runs


@dataclass
class FuzzStats:
    """Totals over trials: games played, violations (``honest_losses``, 0 expected), wei honest players lost."""

    trials: int = 0
    games_fuzzed: int = 0
    honest_losses: int = 0
    funds_lost_wei: int = 0
    moves: int = 0
    wall_s: float = 0.0
    faulty_claims: int = 0
    ops_faulted: Counter = field(default_factory=Counter)
    #: faulty claims voided by a one-step proof (or padding) win of the honest strategy, by the faulted op
    ops_proven: Counter = field(default_factory=Counter)
    roles: Counter = field(default_factory=Counter)
    endings: Counter = field(default_factory=Counter)
    rejected: Counter = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)

    def add(self, outcome: TrialOutcome) -> None:
        self.trials += 1
        self.games_fuzzed += outcome.games
        self.honest_losses += len(outcome.violations)
        self.funds_lost_wei += outcome.shortfall_wei
        self.moves += outcome.moves
        self.rejected.update(outcome.rejected)
        if outcome.plan.fault:
            self.faulty_claims += 1
            self.ops_faulted[OpCode(outcome.plan.fault.op).name] += 1
        endings = list(zip(outcome.plan.games, outcome.game_status, outcome.ended_by))
        if outcome.plan.fault and any(gp.challenger is None and status == GameStatus.CHALLENGER_WON and by == "move"
                                      for gp, status, by in endings):
            self.ops_proven[OpCode(outcome.plan.fault.op).name] += 1
        for gp, status, by in endings:
            if status:
                self.roles[gp.role] += 1
                self.endings[f"{gp.role}:{GameStatus(status).name}:{by}"] += 1
        for violation in outcome.violations:
            self.failures.append(f"seed {outcome.plan.seed} trial {outcome.plan.trial}: {violation}")

    @property
    def games_per_s(self) -> float:
        return self.games_fuzzed / self.wall_s if self.wall_s else 0.0


def fuzz(protocol: Protocol, cases: dict[str, FuzzCase], seed: int, games: int, first_trial: int = 0,
         on_trial: Callable[[TrialOutcome, FuzzStats], None] | None = None) -> FuzzStats:
    """Runs trials ``first_trial, first_trial + 1, ...`` of ``seed`` until at least ``games`` games were played;
    each trial starts from the same chain state (snapshot after deployment, restored after the trial)."""
    stats = FuzzStats()
    chain = protocol.chain
    start = time.perf_counter()
    trial = first_trial
    while stats.games_fuzzed < games:
        snapshot = chain.snapshot()
        try:
            outcome = run_trial(protocol, cases, plan_trial(seed, trial, cases))
        finally:
            chain.restore(snapshot)
        stats.add(outcome)
        if on_trial is not None:
            on_trial(outcome, stats)
        trial += 1
    stats.wall_s = time.perf_counter() - start
    return stats

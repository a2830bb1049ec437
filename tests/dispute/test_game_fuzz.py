"""Randomized full games (bench/_game_fuzz.py): a short seeded run on anvil, plus the fuzzer's own parts.

The long run (>= 1,000 games) is ``make fuzz-games``; this one plays about 16 games so that ``make test``
exercises every kind of player against the real solver and contract on each run.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import pytest
from ape import chain

from offchain.dispute.adversaries import FORGES, PICKS
from bench._game_fuzz import (
    FUZZ_PARAMS,
    GamePlan,
    TrialOutcome,
    TrialPlan,
    check_trial,
    deploy,
    fuzz,
    fuzz_models,
    plan_trial,
    prepare_cases,
)
from offchain.dispute.solver import GameStatus
from offchain.engine.ops import OpCode

SEED = 20261205
SHORT_RUN_GAMES = 16
VOID, FINALIZED = 2, 3
BOND, SUBMITTER_BOND = FUZZ_PARAMS.challenger_bond, FUZZ_PARAMS.submitter_bond


@pytest.fixture(scope="module")
def cases():
    return prepare_cases(fuzz_models())


def test_the_fuzz_models_contain_every_op_code(cases):
    assert set().union(*(c.ops for c in cases.values())) == {int(op) for op in OpCode}


def test_plans_are_seeded_and_draw_every_kind_of_player(cases):
    plans = [plan_trial(SEED, t, cases) for t in range(600)]  # 47 op kinds: enough draws to reach each
    assert plans[:20] == [plan_trial(SEED, t, cases) for t in range(20)]  # the same seed replays the same trials
    assert plans[0] != plan_trial(SEED + 1, 0, cases)
    games = [g for p in plans for g in p.games]
    assert {len(p.games) for p in plans} == {1, 2, 3, 4}
    assert {g.role for g in games} == {"honest", "dishonest", "sybil-void", "sybil-stall"}
    assert {g.challenger.pick for g in games if g.challenger} == set(PICKS)
    assert {g.challenger.forge for g in games if g.challenger} == set(FORGES)
    faulty = [p for p in plans if p.faulty]
    assert 0 < len(faulty) < len(plans)
    # an honest node never disputes a correct claim, and a correct claim's submitter is the honest node
    assert all(g.role != "honest" and g.submitter is None for p in plans if not p.faulty for g in p.games)
    assert all(g.submitter is not None for p in faulty for g in p.games)
    assert any(g.submitter.bad_reveal_at is not None for p in faulty for g in p.games)
    assert any(g.submitter.bad_chunk for p in faulty for g in p.games)
    # faults land in every operator kind, at the drawn node's op
    assert {p.fault.op for p in faulty} == {int(op) for op in OpCode}
    for p in faulty:
        assert cases[p.case].model.model.graph.nodes[p.fault.node].op == p.fault.op


def _outcome(plan: TrialPlan, **fields) -> TrialOutcome:
    """A well-settled outcome of ``plan`` (every guarantee kept) with ``fields`` changed."""
    n = len(plan.games)
    base = dict(plan=plan, claim_status=VOID if plan.faulty else FINALIZED,
                game_status=[GameStatus.CHALLENGER_WON] + [GameStatus.MOOT] * (n - 1),
                ended_by=["move"] + ["moot"] * (n - 1),
                challenger_credit=[BOND + 10**17] + [BOND + 10**16] * (n - 1), submitter_credit=0,
                moot_shares=[0] + [10**16] * (n - 1), paid_in=0, paid_out=0, burned=0, balance=0, open_bonds=0, total_credit=0,
                moves=10)
    base.update(fields)
    return TrialOutcome(**base)


def test_check_trial_reports_each_broken_guarantee_and_the_wei_lost(cases):
    """The checker is what turns a protocol bug into a failing run: each broken rule must be reported."""
    faulty = next(p for t in range(100) if (p := plan_trial(SEED, t, cases)).faulty)
    honest_games = tuple(GamePlan("honest", None, g.submitter) for g in faulty.games[:1]) * 2
    plan = replace(faulty, games=honest_games)
    assert check_trial(_outcome(plan), FUZZ_PARAMS).violations == []

    moot_short = check_trial(_outcome(plan, challenger_credit=[BOND + 10**17, BOND]), FUZZ_PARAMS)
    assert len(moot_short.violations) == 1 and moot_short.shortfall_wei == 10**16

    lost = check_trial(_outcome(plan, game_status=[GameStatus.SUBMITTER_WON, GameStatus.MOOT],
                                challenger_credit=[0, BOND + 10**16], claim_status=FINALIZED,
                                submitter_credit=SUBMITTER_BOND + BOND), FUZZ_PARAMS)
    assert len(lost.violations) == 3  # game lost, bond short, faulty claim finalized
    assert lost.shortfall_wei == BOND

    paid_voided = check_trial(_outcome(plan, submitter_credit=5), FUZZ_PARAMS)
    assert paid_voided.violations == ["the submitter of a voided claim was credited 5"]

    leak = check_trial(_outcome(plan, paid_in=100, paid_out=90, burned=5, balance=0, open_bonds=5), FUZZ_PARAMS)
    assert len(leak.violations) == 2  # bonds left open and 5 wei unaccounted for

    correct = next(p for t in range(100) if not (p := plan_trial(SEED, t, cases)).faulty)
    kept = _outcome(correct, game_status=[GameStatus.SUBMITTER_WON] * len(correct.games),
                    challenger_credit=[0] * len(correct.games), submitter_credit=SUBMITTER_BOND)
    assert check_trial(kept, FUZZ_PARAMS).violations == []
    voided = _outcome(correct, claim_status=VOID, submitter_credit=0,
                      game_status=[GameStatus.SUBMITTER_WON] * len(correct.games))
    assert len(check_trial(voided, FUZZ_PARAMS).violations) == 2
    assert voided.shortfall_wei == SUBMITTER_BOND


def test_randomized_games_never_cost_an_honest_player(project, accounts, cases):
    """About 16 games through the real solver and contract: no guarantee to an honest player is ever broken."""
    protocol = deploy(project, chain.provider, [accounts[k] for k in range(10)], cases)
    stats = fuzz(protocol, cases, SEED, SHORT_RUN_GAMES)
    assert stats.failures == []
    assert stats.honest_losses == 0 and stats.funds_lost_wei == 0
    assert stats.games_fuzzed >= SHORT_RUN_GAMES
    endings = Counter()
    for key, count in stats.endings.items():
        role, status, by = key.split(":")
        endings[role, status, by] += count
    # the run reached the endings that matter: an honest challenger winning by its one-step proof, games turned moot
    # by another game's win, and dishonest challengers losing on time
    assert endings["honest", "CHALLENGER_WON", "move"] > 0
    assert sum(v for (_, status, _), v in endings.items() if status == "MOOT") > 0
    assert endings["dishonest", "SUBMITTER_WON", "time"] > 0
    assert sum(stats.rejected.values()) > 0  # dishonest moves were tried and refused

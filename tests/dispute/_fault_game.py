"""One game shared by the per-operator dispute tests: a submitter claims a trace with one element corrupted and
loses it to the honest challenger at that node's one-step proof."""

from __future__ import annotations

import numpy as np

from offchain.dispute.claimed_tree import ClaimedTree
from offchain.dispute.commitment import ExecutionCommitment, ModelCommitment
from offchain.dispute.faults import run_with_fault
from offchain.dispute.match import MatchResult, honest_challenger, honest_submitter, play
from offchain.dispute.solver import GameStatus


def a_fault_loses(game, model_id: int, commitment: ModelCommitment, x: np.ndarray, honest: ExecutionCommitment,
                  node_index: int, element: int, submitter, challenger, delta: int = 3) -> MatchResult:
    """Play the game of a claim whose ``element`` of node ``node_index`` is off by ``delta`` (the rest of the model
    run on it) against the honest challenger; assert the challenger wins at that node by a one-step proof and the
    game's balance still equals its open bonds plus its credits."""
    faulty = ExecutionCommitment(commitment, run_with_fault(commitment.model, [x], node_index, element, delta=delta))
    assert faulty.trace_root != honest.trace_root
    claim_id = game.propose(model_id, faulty.input_root, faulty.output_root, faulty.trace_root, faulty.output_proof(),
                            submitter, sender=submitter, value=game.submitterBond()).return_value
    game_id = game.challenge(claim_id, sender=challenger, value=game.challengerBond()).return_value
    claimed = ClaimedTree(honest.trace_tree, faulty.trace_root)
    result = play(game, game_id, submitter, challenger, honest_submitter(faulty),
                  honest_challenger(honest, claimed), claimed=claimed)
    assert result.status == GameStatus.CHALLENGER_WON
    assert game.getGame(game_id).nodeIndex == node_index
    assert result.moves[-1].action == "Step"
    assert game.balance == game.openBonds() + game.totalCredit()
    return result

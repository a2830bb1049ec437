"""Full games on anvil over a tiny MLP: an honest challenger beats a faulty submitter at every node."""

from __future__ import annotations

import pytest

from offchain.dispute.claimed_tree import ClaimedTree
from offchain.dispute.commitment import ExecutionCommitment
from offchain.dispute.faults import run_with_fault
from offchain.dispute.match import honest_challenger, honest_submitter, play
from offchain.dispute.solver import GameStatus
from .conftest import CHALLENGER_BOND, SUBMITTER_BOND, BURN_BPS
from offchain.models.tiny import tiny_input
from offchain.dispute.responder import event_logs


def propose(game, model_id, execution: ExecutionCommitment, submitter):
    receipt = game.propose(
        model_id, execution.input_root, execution.output_root, execution.trace_root,
        execution.output_proof(), submitter, sender=submitter, value=SUBMITTER_BOND,
    )
    return receipt.return_value


@pytest.mark.parametrize("fault_node", [0, 1, 3, 6])
def test_honest_challenger_wins_against_a_corrupted_node(
    deployed, tiny, tiny_honest, tiny_model_id, submitter, challenger, fault_node
):
    game = deployed.game
    faulty = ExecutionCommitment(tiny, run_with_fault(tiny.model, [tiny_input()], fault_node, element=2, delta=3))
    assert faulty.trace_root != tiny_honest.trace_root
    claim_id = propose(game, tiny_model_id, faulty, submitter)
    game_id = game.challenge(claim_id, sender=challenger, value=CHALLENGER_BOND).return_value

    claimed = ClaimedTree(tiny_honest.trace_tree, faulty.trace_root)
    result = play(
        game, game_id, submitter, challenger,
        honest_submitter(faulty), honest_challenger(tiny_honest, claimed), claimed=claimed,
    )
    assert result.status == GameStatus.CHALLENGER_WON
    assert result.moves[-1].action == "Step" and result.moves[-2].action == "RevealChunk"
    resolved = [log for log in event_logs(game.GameResolved, 0, gameId=game_id)]
    assert [(log.challengerWon, log.reason) for log in resolved] == [(True, "one-step proof")]
    assert game.getGame(game_id).nodeIndex == fault_node
    assert game.claimStatus(claim_id) == 2  # Void
    burned = SUBMITTER_BOND * BURN_BPS // 10_000
    assert game.credit(challenger) == CHALLENGER_BOND + SUBMITTER_BOND - burned
    assert game.totalBurned() == burned
    assert game.balance == game.openBonds() + game.totalCredit()

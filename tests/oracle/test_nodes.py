"""Submitter and challenger nodes against each other on anvil, driven poll by poll.

A faulty submitter answers a request; the challenger disputes, wins, posts the correct result and finalizes
it. The challenger is killed mid-dispute (its process state dropped, only its SQLite file kept) and a new
instance resumes and still wins.
"""

from __future__ import annotations

import numpy as np
from ape import chain

from offchain.chain.encoding import input_tensor
from offchain.engine.executor import run
from offchain.nodes.node import Fault
from offchain.nodes.store import NodeStore

from .conftest import PARAMS, faulty_submitter_node, honest_challenger_node, tiny_image


def test_challenger_node_defeats_a_faulty_submitter_node_even_after_a_crash(
    protocol, classifier, tiny_model, model_id, user, submitter, challenger, tmp_path
):
    oracle, game = protocol.oracle, protocol.game
    bad = faulty_submitter_node(protocol, submitter, tiny_model, model_id, tmp_path / "s.sqlite")
    good_path = tmp_path / "c.sqlite"
    good = honest_challenger_node(protocol, challenger, tiny_model, model_id, good_path)
    image = tiny_image(21)
    classifier.classify(image, sender=user, value=classifier.fee())
    request_id = oracle.requestCount()

    bad.poll_once()  # posts the faulty result
    assert oracle.getRequest(request_id).submitter == submitter.address
    good.poll_once()  # disputes it
    assert game.gameCount() == 1
    bad.poll_once()  # reveals
    good.poll_once()  # picks
    state = game.getGame(1)
    assert state.status == 1 and state.level > 0, "the game must be under way at the crash"

    # Crash: the challenger's memory is gone; a new process opens the same SQLite file.
    del good
    good = honest_challenger_node(protocol, challenger, tiny_model, model_id, good_path)
    for _ in range(40):
        bad.poll_once()
        good.poll_once()
        if oracle.isFinalized(request_id):
            break
        if game.getGame(1).status != 1 and oracle.getRequest(request_id).submitter == challenger.address:
            chain.pending_timestamp += PARAMS.challenge_window
            chain.mine()  # views (canFinalize) read the latest block, not the pending one
    assert game.getGame(1).status == 2  # ChallengerWon
    assert oracle.isFinalized(request_id)
    expected = run(tiny_model.model, [input_tensor(tiny_model.model.graph, image)]).output
    assert classifier.classifications(request_id).label == int(np.argmax(expected.reshape(-1)))
    assert NodeStore(good_path).game_counts() == {"won": 1}
    assert game.balance == game.openBonds() + game.totalCredit()
    assert oracle.balance == oracle.heldFees() + oracle.totalCredit()


def test_an_honest_challenger_node_settles_a_game_made_moot_by_a_sybil_and_answers_the_request(
    protocol, classifier, tiny_model, model_id, user, submitter, challenger, stranger, tmp_path
):
    """The faulty submitter's own second account voids the claim in a game of its own while the honest node's game
    is under way: the node must not wait for a timeout (it reverts on a void claim) but settle its moot game (bond
    plus its gas) and then answer the reopened request correctly."""
    from offchain.dispute.claimed_tree import ClaimedTree
    from offchain.dispute.commitment import ExecutionCommitment
    from offchain.dispute.match import honest_challenger, honest_submitter, play

    oracle, game = protocol.oracle, protocol.game
    fault = Fault(3, 2, 7)
    bad = faulty_submitter_node(protocol, submitter, tiny_model, model_id, tmp_path / "s.sqlite", fault)
    good_path = tmp_path / "c.sqlite"
    good = honest_challenger_node(protocol, challenger, tiny_model, model_id, good_path)
    image = tiny_image(22)
    classifier.classify(image, sender=user, value=classifier.fee())
    request_id = oracle.requestCount()
    bad.poll_once()
    claim_id = oracle.getRequest(request_id).claimId
    good.poll_once()  # the honest node's game: 1
    sybil_game = game.challenge(claim_id, sender=stranger, value=game.challengerBond()).return_value

    from offchain.dispute.faults import run_with_fault

    x = input_tensor(tiny_model.model.graph, image)
    honest = ExecutionCommitment(tiny_model, run(tiny_model.model, [x]))
    faulty = ExecutionCommitment(tiny_model, run_with_fault(tiny_model.model, [x], fault.node, fault.element,
                                                            fault.delta))
    claimed = ClaimedTree(honest.trace_tree, faulty.trace_root)
    play(game, sybil_game, submitter, stranger, honest_submitter(faulty), honest_challenger(honest, claimed),
         claimed=claimed)
    assert game.claimStatus(claim_id) == 2  # void, by the sybil

    bond = game.challengerBond()
    good.poll_once()  # settles its moot game
    assert game.getGame(1).status == 4  # Moot
    assert game.credit(challenger) >= bond + game.mootBaseCompensation()
    assert game.credit(submitter) == 0
    for _ in range(20):
        good.poll_once()
        if oracle.isFinalized(request_id):
            break
        chain.pending_timestamp += PARAMS.challenge_window
        chain.mine()
    assert oracle.isFinalized(request_id)
    assert oracle.getRequest(request_id).submitter == challenger.address
    expected = run(tiny_model.model, [x]).output
    assert classifier.classifications(request_id).label == int(np.argmax(expected.reshape(-1)))
    assert game.balance == game.openBonds() + game.totalCredit()

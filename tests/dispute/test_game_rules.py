"""Every rule of the game, each with its named revert, and the payouts of each ending.

Scripted dishonest players (op-challenger style): a challenger that disputes a correct claim (wrong picks,
a correct element, forged operands, stalling) must lose; a submitter that stalls must lose. After each
scenario the game holds exactly the open bonds plus unwithdrawn credit.
"""

from __future__ import annotations

import ape
import pytest
from eth_abi import decode, encode

from offchain.dispute.claimed_tree import ClaimedTree
from offchain.dispute.commitment import ExecutionCommitment
from offchain.dispute.faults import run_with_fault
from offchain.dispute.match import honest_submitter, play
from offchain.dispute.proofs import PROOF_ABI, build_step_proof
from offchain.dispute.responder import read_game, send
from offchain.dispute.solver import GameStatus, OpenNode, Phase, Pick, Reveal, Step, Turn, submitter_action

from .conftest import BURN_BPS, CHALLENGER_BOND, CLOCK, MOOT_BASE, SUBMITTER_BOND, WINDOW
from offchain.models.tiny import tiny_input

VOID, FINALIZED = 2, 3


def propose(game, model_id, execution, submitter, value=SUBMITTER_BOND):
    return game.propose(
        model_id, execution.input_root, execution.output_root, execution.trace_root,
        execution.output_proof(), submitter, sender=submitter, value=value,
    ).return_value


def conserved(game):
    assert game.balance == game.openBonds() + game.totalCredit()


@pytest.fixture
def faulty(tiny):
    return ExecutionCommitment(tiny, run_with_fault(tiny.model, [tiny_input()], 3, element=1, delta=-5))


def real_children(state) -> int:
    """How many of the revealed children cover real leaves (the rest is padding, which cannot be disputed)."""
    levels = len(state.last_children).bit_length() - 1
    height = state.tree_depth - state.level - levels
    first = state.index << levels
    return sum(1 for k in range(len(state.last_children)) if (first + k) << height < state.leaf_count)


def always_pick(index_of):
    """A challenger that picks by a fixed rule among the real children and opens whatever node it lands on."""

    def policy(state, commitment):
        if state.phase in (Phase.TRACE_DESCENT, Phase.TENSOR_DESCENT):
            return Pick(list(state.last_children), index_of(real_children(state)))
        if state.phase == Phase.OPEN_NODE:
            return OpenNode(commitment.descriptor(state.index), list(commitment.graph_tree.prove_leaf(state.index).siblings))
        return None  # at the step it has nothing true to prove

    return policy


@pytest.mark.parametrize("rule", [lambda n: 0, lambda n: n - 1], ids=["leftmost", "rightmost"])
def test_honest_submitter_beats_a_challenger_of_a_correct_claim(
    deployed, tiny, tiny_honest, tiny_model_id, submitter, challenger, chain, rule
):
    game = deployed.game
    claim_id = propose(game, tiny_model_id, tiny_honest, submitter)
    game_id = game.challenge(claim_id, sender=challenger, value=CHALLENGER_BOND).return_value
    pick = always_pick(rule)
    claimed = ClaimedTree(tiny_honest.trace_tree, tiny_honest.trace_root)
    result = play(game, game_id, submitter, challenger, honest_submitter(tiny_honest), lambda s: pick(s, tiny),
                  claimed=claimed)
    state = read_game(game, game_id)
    assert result.status == GameStatus.IN_PROGRESS and state.phase == Phase.STEP and state.turn == Turn.CHALLENGER

    # A correct element cannot win: the recomputation agrees with the submitter.
    width = int(tiny.model.graph.nodes[state.node_index].output.dtype)
    flat = state.index * (len(state.chunk) // width)
    proof = build_step_proof(tiny_honest, claimed, state.node_index, flat)
    with ape.reverts(game.StepAgreesWithClaim, value=proof.value):
        send(game, game_id, Step(state.chunk, 0, tiny.descriptor(state.node_index), proof.proof), challenger)

    # Forged operands: a changed operand byte breaks its range proof; a wrong root breaks the root proof.
    roots, ranges = decode(PROOF_ABI, proof.proof)
    chunks = bytearray(ranges[0][0])
    chunks[0] ^= 1
    forged = encode(PROOF_ABI, [list(roots), [(bytes(chunks), list(ranges[0][1]))] + list(ranges[1:])])
    with ape.reverts(game.RangeNotProven, r=0):
        send(game, game_id, Step(state.chunk, 0, tiny.descriptor(state.node_index), forged), challenger)
    bad_root = encode(PROOF_ABI, [[(b"\x01" * 32, list(roots[0][1]))] + list(roots[1:]), list(ranges)])
    with ape.reverts(game.OperandRootNotProven, slot=0):
        send(game, game_id, Step(state.chunk, 0, tiny.descriptor(state.node_index), bad_root), challenger)

    # The challenger cannot win, so its clock runs out.
    with ape.reverts(game.ClockNotExpired):
        game.timeout(game_id, sender=submitter)
    chain.pending_timestamp += CLOCK + 1
    with ape.reverts(game.ClockExpired):
        send(game, game_id, Step(state.chunk, 0, tiny.descriptor(state.node_index), proof.proof), challenger)
    game.timeout(game_id, sender=challenger)
    assert game.getGame(game_id).status == GameStatus.SUBMITTER_WON
    burned = CHALLENGER_BOND * BURN_BPS // 10_000
    # The won bond is held in the claim's escrow until the claim is decided.
    assert game.credit(submitter) == 0
    assert game.getClaim(claim_id).escrow == CHALLENGER_BOND
    conserved(game)

    # The claim then finalizes after its window and the submitter's bond comes back.
    chain.pending_timestamp += WINDOW
    game.finalize(claim_id, sender=challenger)
    assert game.claimStatus(claim_id) == FINALIZED
    assert game.credit(submitter) == CHALLENGER_BOND - burned + SUBMITTER_BOND
    before = submitter.balance
    receipt = game.withdraw(sender=submitter)
    assert submitter.balance == before + CHALLENGER_BOND - burned + SUBMITTER_BOND - receipt.total_fees_paid
    assert game.balance == 0 == game.openBonds() + game.totalCredit()


def test_a_stalling_submitter_loses_by_timeout(deployed, tiny_model_id, faulty, submitter, challenger, chain):
    game = deployed.game
    claim_id = propose(game, tiny_model_id, faulty, submitter)
    game_id = game.challenge(claim_id, sender=challenger, value=CHALLENGER_BOND).return_value
    chain.pending_timestamp += CLOCK - 5
    with ape.reverts(game.ClockNotExpired):
        game.timeout(game_id, sender=challenger)
    chain.pending_timestamp += 10
    late = submitter_action(read_game(game, game_id), faulty)
    with ape.reverts(game.ClockExpired):
        send(game, game_id, late, submitter)
    game.timeout(game_id, sender=challenger)
    assert game.getGame(game_id).status == GameStatus.CHALLENGER_WON
    assert game.claimStatus(claim_id) == VOID
    conserved(game)


def test_a_stalling_challenger_loses_by_timeout(deployed, tiny_honest, tiny_model_id, submitter, challenger, chain):
    game = deployed.game
    claim_id = propose(game, tiny_model_id, tiny_honest, submitter)
    game_id = game.challenge(claim_id, sender=challenger, value=CHALLENGER_BOND).return_value
    send(game, game_id, submitter_action(read_game(game, game_id), tiny_honest), submitter)
    chain.pending_timestamp += CLOCK + 1
    game.timeout(game_id, sender=submitter)
    assert game.getGame(game_id).status == GameStatus.SUBMITTER_WON
    with ape.reverts(game.GameNotInProgress):
        game.timeout(game_id, sender=submitter)
    conserved(game)


def test_moves_out_of_turn_malformed_reveals_and_wrong_callers_revert(
    deployed, tiny, tiny_model_id, faulty, submitter, challenger, stranger
):
    game = deployed.game
    claim_id = propose(game, tiny_model_id, faulty, submitter)
    game_id = game.challenge(claim_id, sender=challenger, value=CHALLENGER_BOND).return_value
    state = read_game(game, game_id)
    reveal = submitter_action(state, faulty)
    assert isinstance(reveal, Reveal)

    with ape.reverts(game.NotYourTurn):
        game.pick(game_id, reveal.children, 0, sender=challenger)
    with ape.reverts(game.WrongCaller, caller=stranger.address, expected=submitter.address):
        game.reveal(game_id, reveal.children, sender=stranger)
    with ape.reverts(game.WrongChildCount):
        game.reveal(game_id, reveal.children[:-1], sender=submitter)
    tampered = list(reveal.children)
    tampered[0] = b"\x07" * 32
    with ape.reverts(game.ChildrenDoNotHashToParent):
        game.reveal(game_id, tampered, sender=submitter)
    with ape.reverts(game.WrongPhase):
        game.revealChunk(game_id, b"\x00" * 32, sender=submitter)

    send(game, game_id, reveal, submitter)
    with ape.reverts(game.NotYourTurn):  # a replayed reveal
        send(game, game_id, reveal, submitter)
    with ape.reverts(game.NotTheRevealedChildren):
        game.pick(game_id, tampered, 0, sender=challenger)
    with ape.reverts(game.PickOutOfRange):
        game.pick(game_id, reveal.children, len(reveal.children), sender=challenger)
    conserved(game)


def test_picking_correct_padding_reverts_and_wrong_padding_wins(
    project, owner, model_owner, tiny_honest, submitter, challenger
):
    """With 7 nodes and j = 3 the trace tree's 8th leaf is padding; only a wrong empty hash is disputable."""
    from .conftest import deploy_dispute, register

    deployed = deploy_dispute(project, owner, reveal_depth=3)
    model_id = register(deployed.registry, owner, model_owner, tiny_honest.model)
    game = deployed.game
    assert tiny_honest.model.node_count == 7
    claim_id = propose(game, model_id, tiny_honest, submitter)
    game_id = game.challenge(claim_id, sender=challenger, value=CHALLENGER_BOND).return_value
    reveal = submitter_action(read_game(game, game_id), tiny_honest)
    send(game, game_id, reveal, submitter)
    with ape.reverts(game.PaddingAgrees, level=3, index=7):
        game.pick(game_id, reveal.children, 7, sender=challenger)
    with ape.reverts(game.OutputNotInTrace):
        game.propose(model_id, tiny_honest.input_root, b"\x05" * 32, tiny_honest.trace_root,
                     tiny_honest.output_proof(), submitter, sender=submitter, value=SUBMITTER_BOND)
    conserved(game)


def test_claim_and_challenge_rules(deployed, tiny_honest, tiny_model_id, submitter, challenger, stranger, chain):
    game = deployed.game
    args = (tiny_honest.input_root, tiny_honest.output_root, tiny_honest.trace_root, tiny_honest.output_proof())
    with ape.reverts(game.WrongBond, sent=1, required=SUBMITTER_BOND):
        game.propose(tiny_model_id, *args, submitter, sender=submitter, value=1)
    with ape.reverts(game.NotProposer):
        game.propose(tiny_model_id, *args, submitter, sender=stranger, value=SUBMITTER_BOND)
    with ape.reverts(deployed.registry.UnknownModel, modelId=99):
        game.propose(99, *args, submitter, sender=submitter, value=SUBMITTER_BOND)
    with ape.reverts(game.ZeroClaimRoot):
        game.propose(tiny_model_id, b"\x00" * 32, *args[1:], submitter, sender=submitter, value=SUBMITTER_BOND)

    claim_id = propose(game, tiny_model_id, tiny_honest, submitter)
    with ape.reverts(game.UnknownClaim, claimId=claim_id + 1):
        game.challenge(claim_id + 1, sender=challenger, value=CHALLENGER_BOND)
    with ape.reverts(game.SelfChallenge):
        game.challenge(claim_id, sender=submitter, value=CHALLENGER_BOND)
    with ape.reverts(game.WrongBond):
        game.challenge(claim_id, sender=challenger, value=CHALLENGER_BOND + 1)
    with ape.reverts(game.ClaimNotFinalizable):
        game.finalize(claim_id, sender=stranger)
    with ape.reverts(game.UnknownGame, gameId=1):
        game.getGame(1)
    with ape.reverts(game.NothingToWithdraw):
        game.withdraw(sender=stranger)

    chain.pending_timestamp += WINDOW
    with ape.reverts(game.ChallengeWindowClosed):
        game.challenge(claim_id, sender=challenger, value=CHALLENGER_BOND)
    game.finalize(claim_id, sender=stranger)
    with ape.reverts(game.ClaimNotPending):
        game.finalize(claim_id, sender=stranger)
    conserved(game)


def test_parallel_games_a_dishonest_challenger_cannot_block_an_honest_one(
    deployed, tiny, tiny_honest, tiny_model_id, faulty, submitter, challenger, stranger, chain
):
    """The stranger disputes stupidly (and stalls); the honest challenger still voids the faulty claim."""
    game = deployed.game
    claim_id = propose(game, tiny_model_id, faulty, submitter)
    stalled = game.challenge(claim_id, sender=stranger, value=CHALLENGER_BOND).return_value
    honest = game.challenge(claim_id, sender=challenger, value=CHALLENGER_BOND).return_value
    assert game.getClaim(claim_id).openGames == 2

    claimed = ClaimedTree(tiny_honest.trace_tree, faulty.trace_root)
    from offchain.dispute.match import honest_challenger

    result = play(game, honest, submitter, challenger, honest_submitter(faulty),
                  honest_challenger(tiny_honest, claimed), claimed=claimed)
    assert result.status == GameStatus.CHALLENGER_WON
    assert game.claimStatus(claim_id) == VOID
    # The other game is moot: no more moves, the stranger's bond comes back whole.
    with ape.reverts(game.ClaimNotPending):
        send(game, stalled, submitter_action(read_game(game, stalled), faulty), submitter)
    game.settleMoot(stalled, sender=stranger)
    assert game.getGame(stalled).status == GameStatus.MOOT
    # The moot game (no moves made) gets its bond back and the base compensation; the winner the rest.
    burned = SUBMITTER_BOND * BURN_BPS // 10_000
    share = MOOT_BASE
    assert game.getClaim(claim_id).mootCap == (SUBMITTER_BOND - burned) // 2
    assert game.credit(stranger) == CHALLENGER_BOND + share
    assert game.credit(challenger) == CHALLENGER_BOND + SUBMITTER_BOND - burned - share
    assert game.openBonds() == 0
    conserved(game)

"""A submitter with several accounts against honest challengers, several games on one claim.

Each test is an attack from the soundness issue, written before its fix (it failed on the old game):
- a voided claim collecting the bond of an honest challenger whose clock ran out while its moves reverted;
- a claim that won a game by timeout and was voided later keeping that bond;
- self-challenge censorship leaving the honest challenger's game moot with nothing for its gas.
The rules: a claim proven false never pays its submitter; every honest challenger of it ends with at least its
bond, plus its gas at the stated price when its game turned moot; the game holds open bonds plus credit.
"""

from __future__ import annotations

import ape
import pytest

from offchain.dispute.claimed_tree import ClaimedTree
from offchain.dispute.commitment import ExecutionCommitment
from offchain.dispute.faults import run_with_fault
from offchain.dispute.match import honest_challenger, honest_submitter, play
from offchain.dispute.responder import read_game, send
from offchain.dispute.solver import GameStatus, Turn, challenger_action, submitter_action
from offchain.models.tiny import tiny_input

from offchain.chain.params import MOOT_GAS_PRICE

from .conftest import BURN_BPS, CHALLENGER_BOND, CLOCK, MOOT_BASE, MOOT_MOVE, SUBMITTER_BOND, WINDOW

VOID, FINALIZED = 2, 3
BURN = SUBMITTER_BOND * BURN_BPS // 10_000


@pytest.fixture
def faulty(tiny):
    return ExecutionCommitment(tiny, run_with_fault(tiny.model, [tiny_input()], 3, element=1, delta=-5))


def propose(game, model_id, execution, submitter):
    return game.propose(model_id, execution.input_root, execution.output_root, execution.trace_root,
                        execution.output_proof(), submitter, sender=submitter, value=SUBMITTER_BOND).return_value


def conserved(game):
    assert game.balance == game.openBonds() + game.totalCredit()


def void_with(game, game_id, submitter, sybil, faulty, honest):
    """The attacker's own challenger account plays game `game_id` correctly and voids the (attacker's) claim."""
    claimed = ClaimedTree(honest.trace_tree, faulty.trace_root)
    result = play(game, game_id, submitter, sybil, honest_submitter(faulty), honest_challenger(honest, claimed),
                  claimed=claimed)
    assert result.status == GameStatus.CHALLENGER_WON
    return result


def test_a_voided_claim_cannot_win_its_other_games_on_time(
    deployed, tiny_honest, tiny_model_id, faulty, submitter, challenger, stranger, chain
):
    """Issue scenario 1: game A (the attacker's second account) voids the claim in the block where the submitter
    moved in game B; the honest challenger of B cannot move any more, its clock runs out, and on the old game the
    submitter took 90% of its bond by `timeout`."""
    game = deployed.game
    claim_id = propose(game, tiny_model_id, faulty, submitter)
    game_a = game.challenge(claim_id, sender=stranger, value=CHALLENGER_BOND).return_value
    game_b = game.challenge(claim_id, sender=challenger, value=CHALLENGER_BOND).return_value
    # The submitter moves in B: now it is the honest challenger's turn there.
    send(game, game_b, submitter_action(read_game(game, game_b), faulty), submitter)
    assert read_game(game, game_b).turn == Turn.CHALLENGER
    void_with(game, game_a, submitter, stranger, faulty, tiny_honest)
    assert game.claimStatus(claim_id) == VOID

    # B's honest challenger cannot move (the claim is void) and its clock runs out.
    claimed = ClaimedTree(tiny_honest.trace_tree, faulty.trace_root)
    honest_move = challenger_action(read_game(game, game_b), tiny_honest, claimed)
    with ape.reverts(game.ClaimNotPending, claimId=claim_id, status=VOID):
        send(game, game_b, honest_move, challenger)
    chain.pending_timestamp += CLOCK + 1
    chain.mine()
    # INVARIANT: no win on time against a void claim.
    with ape.reverts(game.ClaimNotPending, claimId=claim_id, status=VOID):
        game.timeout(game_b, sender=submitter)
    game.settleMoot(game_b, sender=submitter)  # anyone may settle it; the credit goes to B's challenger

    share = MOOT_BASE  # B's challenger made no move before the void
    assert game.getClaim(claim_id).mootCap == (SUBMITTER_BOND - BURN) // 2
    assert game.getGame(game_b).status == GameStatus.MOOT
    assert game.credit(submitter) == 0                            # a claim proven false pays nothing
    assert game.credit(challenger) == CHALLENGER_BOND + share     # the honest challenger: bond + its share
    assert game.credit(stranger) == CHALLENGER_BOND + SUBMITTER_BOND - BURN - share
    with ape.reverts(game.GameNotInProgress):
        game.settleMoot(game_b, sender=challenger)  # settled once
    assert game.openBonds() == 0
    conserved(game)


def test_bonds_won_on_time_are_refunded_when_the_claim_is_voided_later(
    deployed, tiny_honest, tiny_model_id, faulty, submitter, challenger, stranger, chain, accounts
):
    """A challenger of a false claim that lost its game on time (slow, or the attacker's own account) must not
    have paid the submitter: the bond waits in the claim's escrow and goes back to it when the claim is voided."""
    game = deployed.game
    late = accounts[6]
    claim_id = propose(game, tiny_model_id, faulty, submitter)
    lost = game.challenge(claim_id, sender=late, value=CHALLENGER_BOND).return_value
    send(game, lost, submitter_action(read_game(game, lost), faulty), submitter)
    chain.pending_timestamp += CLOCK + 1
    chain.mine()
    game.timeout(lost, sender=submitter)
    assert game.getGame(lost).status == GameStatus.SUBMITTER_WON
    assert game.credit(submitter) == 0
    assert game.getClaim(claim_id).escrow == CHALLENGER_BOND
    with ape.reverts(game.ClaimNotVoid, claimId=claim_id, status=1):
        game.settleMoot(lost, sender=late)  # nothing to settle while the claim is pending

    voiding = game.challenge(claim_id, sender=challenger, value=CHALLENGER_BOND).return_value
    void_with(game, voiding, submitter, challenger, faulty, tiny_honest)
    game.settleMoot(lost, sender=stranger)
    assert game.credit(late) == CHALLENGER_BOND
    assert game.getClaim(claim_id).escrow == 0  # the refunded bond is no longer held for the claim
    assert game.credit(submitter) == 0
    # No other game was open at the void: the winner takes the whole pot.
    assert game.credit(challenger) == CHALLENGER_BOND + SUBMITTER_BOND - BURN
    with ape.reverts(game.GameNotInProgress):
        game.settleMoot(lost, sender=late)  # refunded once
    assert game.openBonds() == 0
    conserved(game)


def test_bonds_won_on_time_are_paid_with_the_claim_when_it_stands(
    deployed, tiny_honest, tiny_model_id, submitter, challenger, chain
):
    game = deployed.game
    claim_id = propose(game, tiny_model_id, tiny_honest, submitter)
    game_id = game.challenge(claim_id, sender=challenger, value=CHALLENGER_BOND).return_value
    send(game, game_id, submitter_action(read_game(game, game_id), tiny_honest), submitter)
    chain.pending_timestamp += max(CLOCK + 1, WINDOW)
    chain.mine()
    game.timeout(game_id, sender=submitter)
    burned = CHALLENGER_BOND * BURN_BPS // 10_000
    burned_before = game.totalBurned()
    game.finalize(claim_id, sender=challenger)
    assert game.claimStatus(claim_id) == FINALIZED
    assert game.credit(submitter) == SUBMITTER_BOND + CHALLENGER_BOND - burned
    assert game.totalBurned() == burned_before + burned
    assert game.credit(challenger) == 0
    assert game.openBonds() == 0
    conserved(game)


def test_self_challenge_censorship_pays_the_honest_challenger_and_costs_the_attacker(
    deployed, tiny_honest, tiny_model_id, faulty, submitter, challenger, stranger, chain
):
    """Issue scenario 3: the submitter's own second account voids the claim first. The honest challenger's game,
    played up to then, turns moot: it gets its bond back plus a share covering its gas at the stated price, and
    the round costs the attacker the burn plus that share."""
    game = deployed.game
    claim_id = propose(game, tiny_model_id, faulty, submitter)
    honest_game = game.challenge(claim_id, sender=challenger, value=CHALLENGER_BOND)
    game_b = honest_game.return_value
    game_a = game.challenge(claim_id, sender=stranger, value=CHALLENGER_BOND).return_value
    claimed = ClaimedTree(tiny_honest.trace_tree, faulty.trace_root)
    # The honest challenger plays until the attacker's own game voids the claim.
    send(game, game_b, submitter_action(read_game(game, game_b), faulty), submitter)
    pick = send(game, game_b, challenger_action(read_game(game, game_b), tiny_honest, claimed), challenger)
    void_with(game, game_a, submitter, stranger, faulty, tiny_honest)
    settle = game.settleMoot(game_b, sender=challenger)

    share = MOOT_BASE + MOOT_MOVE  # one pick before the void
    assert game.getGame(game_b).challengerMoves == 1
    assert game.credit(challenger) == CHALLENGER_BOND + share
    withdraw = game.withdraw(sender=challenger)
    # The stated gas: the base covers challenge + settleMoot + withdraw, the per-move part the pick.
    assert honest_game.gas_used + settle.gas_used + withdraw.gas_used <= MOOT_BASE // MOOT_GAS_PRICE
    assert pick.gas_used <= MOOT_MOVE // MOOT_GAS_PRICE
    # The round costs the attacker at least the burn plus what the honest challenger was paid.
    attacker_in = SUBMITTER_BOND + CHALLENGER_BOND
    assert attacker_in - game.credit(stranger) == BURN + share  # the sybil winner's credit: all it got back
    assert game.credit(submitter) == 0
    conserved(game)


def test_many_sybil_games_cannot_take_more_than_the_pot(
    deployed, tiny_honest, tiny_model_id, faulty, submitter, challenger, accounts, chain
):
    """Open games at the void each get their compensation, capped at pot / (2 x games); the shares and the
    winner's rest add up to the pot exactly, whatever the number of games."""
    game = deployed.game
    claim_id = propose(game, tiny_model_id, faulty, submitter)
    sybils = [accounts[k] for k in (5, 6, 7, 8)]
    moot = [game.challenge(claim_id, sender=a, value=CHALLENGER_BOND).return_value for a in sybils]
    winner = game.challenge(claim_id, sender=challenger, value=CHALLENGER_BOND).return_value
    void_with(game, winner, submitter, challenger, faulty, tiny_honest)
    for g in moot:
        game.settleMoot(g, sender=challenger)
    pot = SUBMITTER_BOND - BURN
    assert game.getClaim(claim_id).mootCap == pot // 8
    share = min(MOOT_BASE, pot // 8)
    assert all(game.credit(a) == CHALLENGER_BOND + share for a in sybils)
    paid = sum(game.credit(a) - CHALLENGER_BOND for a in sybils) + game.credit(challenger) - CHALLENGER_BOND
    assert paid == pot
    assert game.credit(challenger) - CHALLENGER_BOND >= share
    assert game.openBonds() == 0
    conserved(game)


def test_the_moot_compensation_is_capped_so_the_pot_is_never_overdrawn(
    project, owner, model_owner, tiny, tiny_honest, faulty, submitter, challenger, stranger
):
    """A compensation larger than the pot's share (here 1 ETH per moot game) is cut to pot / (open games + 1)."""
    from .conftest import deploy_dispute, register

    deployed = deploy_dispute(project, owner, moot_base=SUBMITTER_BOND)
    game = deployed.game
    model_id = register(deployed.registry, owner, model_owner, tiny)
    claim_id = propose(game, model_id, faulty, submitter)
    moot = game.challenge(claim_id, sender=stranger, value=CHALLENGER_BOND).return_value
    winner = game.challenge(claim_id, sender=challenger, value=CHALLENGER_BOND).return_value
    void_with(game, winner, submitter, challenger, faulty, tiny_honest)
    cap = (SUBMITTER_BOND - BURN) // 2
    assert game.credit(challenger) == CHALLENGER_BOND + (SUBMITTER_BOND - BURN) - cap
    game.settleMoot(moot, sender=stranger)
    assert game.credit(stranger) == CHALLENGER_BOND + cap
    assert game.credit(challenger) == CHALLENGER_BOND + (SUBMITTER_BOND - BURN) - cap  # nothing left over for it
    assert game.openBonds() == 0
    conserved(game)


def test_the_liars_own_games_cannot_win_back_more_than_half_the_pot(
    project, owner, model_owner, tiny, tiny_honest, faulty, submitter, challenger, accounts
):
    """The liar opens games from its own accounts and makes moves in them, so that when an honest challenger
    voids its claim those moot games claim compensation out of its bond. With a compensation that pays every
    move in full (here 1 ETH per move), its games still get at most half the pot; the honest winner keeps the
    other half and the liar loses at least the burn plus half the pot."""
    from .conftest import deploy_dispute, register

    deployed = deploy_dispute(project, owner, moot_base=SUBMITTER_BOND)
    game = deployed.game
    model_id = register(deployed.registry, owner, model_owner, tiny)
    claim_id = propose(game, model_id, faulty, submitter)
    sybils = [accounts[k] for k in (5, 6, 7)]
    claimed = ClaimedTree(tiny_honest.trace_tree, faulty.trace_root)
    own = []
    for account in sybils:
        g = game.challenge(claim_id, sender=account, value=CHALLENGER_BOND).return_value
        send(game, g, submitter_action(read_game(game, g), faulty), submitter)
        send(game, g, challenger_action(read_game(game, g), tiny_honest, claimed), account)  # a move to be paid for
        own.append(g)
    winner = game.challenge(claim_id, sender=challenger, value=CHALLENGER_BOND).return_value
    void_with(game, winner, submitter, challenger, faulty, tiny_honest)
    for g in own:
        game.settleMoot(g, sender=challenger)
    pot = SUBMITTER_BOND - BURN
    recovered = sum(game.credit(a) - CHALLENGER_BOND for a in sybils)
    assert recovered <= pot // 2
    assert game.credit(challenger) - CHALLENGER_BOND >= pot - pot // 2
    assert SUBMITTER_BOND - recovered >= BURN + pot // 2   # what the lie cost (gas aside)
    assert game.openBonds() == 0
    conserved(game)

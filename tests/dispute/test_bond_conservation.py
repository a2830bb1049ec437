"""Property: whatever sequence of claims, challenges, timeouts, finalizations and withdrawals happens, the game
holds exactly the open bonds plus unwithdrawn credit, and no account is ever paid more than went in."""

from __future__ import annotations

from ape.exceptions import ContractLogicError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from offchain.dispute.responder import read_game, send
from offchain.dispute.solver import submitter_action

from .conftest import CHALLENGER_BOND, CLOCK, SUBMITTER_BOND, WINDOW

ACTIONS = st.lists(
    st.sampled_from(["propose", "challenge", "challenge_sybil", "reveal", "wait_clock", "wait_window", "timeout",
                     "settle", "finalize", "withdraw"]),
    min_size=4, max_size=14,
)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(actions=ACTIONS)
def test_game_balance_always_equals_open_bonds_plus_credit(
    deployed, tiny_honest, tiny_model_id, submitter, challenger, stranger, chain, actions
):
    game = deployed.game
    paid_in = 0
    paid_out = 0
    snapshot = chain.snapshot()
    try:
        for action in actions:
            claims, games = game.claimCount(), game.gameCount()
            try:
                if action == "propose":
                    game.propose(tiny_model_id, tiny_honest.input_root, tiny_honest.output_root,
                                 tiny_honest.trace_root, tiny_honest.output_proof(), submitter,
                                 sender=submitter, value=SUBMITTER_BOND)
                    paid_in += SUBMITTER_BOND
                elif action in ("challenge", "challenge_sybil") and claims:
                    account = challenger if action == "challenge" else stranger
                    game.challenge(claims, sender=account, value=CHALLENGER_BOND)
                    paid_in += CHALLENGER_BOND
                elif action == "reveal" and games:
                    move = submitter_action(read_game(game, games), tiny_honest)
                    if move is not None:
                        send(game, games, move, submitter)
                elif action == "wait_clock":
                    chain.pending_timestamp += CLOCK + 1
                    chain.mine()
                elif action == "wait_window":
                    chain.pending_timestamp += WINDOW
                    chain.mine()
                elif action in ("timeout", "settle"):
                    # every game, each on its own: a void claim's other games (moot or won on time) get settled
                    call = game.timeout if action == "timeout" else game.settleMoot
                    for game_id in range(1, games + 1):
                        try:
                            call(game_id, sender=challenger)
                        except ContractLogicError:
                            pass
                        assert game.balance == game.openBonds() + game.totalCredit()
                elif action == "finalize" and claims:
                    game.finalize(claims, sender=challenger)
                elif action == "withdraw":
                    for account in (submitter, challenger, stranger):
                        owed = game.credit(account)
                        if owed:
                            game.withdraw(sender=account)
                            paid_out += owed
            except ContractLogicError:  # a rule may refuse the move (a named revert); the invariant must still hold
                pass
            assert game.balance == game.openBonds() + game.totalCredit()
            assert paid_out + game.totalBurned() + game.balance == paid_in
    finally:
        chain.restore(snapshot)

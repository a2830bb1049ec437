"""AIOracle on anvil: the request life cycle, fees, callbacks that misbehave, refunds, and a voided result
that reopens the request. After each scenario the oracle holds exactly held fees + unwithdrawn credit."""

from __future__ import annotations

import ape
import numpy as np
import pytest

from offchain.chain.encoding import input_tensor, output_bytes
from offchain.dispute.claimed_tree import ClaimedTree
from offchain.dispute.commitment import ExecutionCommitment
from offchain.dispute.faults import run_with_fault
from offchain.dispute.match import honest_challenger, honest_submitter, play
from offchain.dispute.solver import GameStatus
from offchain.engine.executor import run

from .conftest import CALLBACK_GAS, MODEL_FEE, PARAMS, tiny_image

OPEN, SUBMITTED, FINALIZED, REFUNDED = 1, 2, 3, 4
ZERO_ADDRESS = "0x" + "00" * 20


def execute(tiny_model, data: bytes, fault=None) -> ExecutionCommitment:
    x = input_tensor(tiny_model.model.graph, data)
    trace = run_with_fault(tiny_model.model, [x], *fault) if fault else run(tiny_model.model, [x])
    return ExecutionCommitment(tiny_model, trace)


def submit(oracle, game, request_id, execution, sender):
    output = output_bytes(execution.trace.output)
    receipt = oracle.submit(request_id, output, execution.trace_root, execution.output_proof(),
                            sender=sender, value=game.submitterBond())
    return output, receipt.decode_logs(oracle.ResultSubmitted)[0].claimId


def conserved(protocol):
    oracle, game = protocol.oracle, protocol.game
    assert oracle.balance == oracle.heldFees() + oracle.totalCredit()
    assert game.balance == game.openBonds() + game.totalCredit()


def test_full_life_cycle_delivers_the_label_and_pays_everyone(
    protocol, classifier, tiny_model, user, submitter, stranger, model_owner, chain
):
    oracle, game = protocol.oracle, protocol.game
    fee = classifier.fee()
    callback_gas = classifier.CALLBACK_GAS_LIMIT()
    assert fee == MODEL_FEE + PARAMS.node_reward + callback_gas * PARAMS.callback_gas_price
    image = tiny_image()
    receipt = classifier.classify(image, sender=user, value=fee)
    request_id = receipt.decode_logs(oracle.AICallbackRequest)[0].requestId
    request = oracle.getRequest(request_id)
    honest = execute(tiny_model, image)
    assert bytes(request.inputRoot) == honest.input_root  # the input root is computed on-chain
    assert oracle.heldFees() == fee

    output, claim_id = submit(oracle, game, request_id, honest, submitter)
    assert oracle.getRequest(request_id).status == SUBMITTED
    with ape.reverts(oracle.ResultNotFinal, requestId=request_id, claimId=claim_id):
        oracle.finalize(request_id, output, b"", sender=stranger)
    with ape.reverts(oracle.ClaimStillPending):
        oracle.submit(request_id, output, honest.trace_root, honest.output_proof(), sender=stranger,
                      value=game.submitterBond())

    chain.pending_timestamp += PARAMS.challenge_window
    with ape.reverts(oracle.DataMismatch, what="output"):
        oracle.finalize(request_id, output[:-1] + b"\x01", b"", sender=stranger)
    owner_before = model_owner.balance
    receipt = oracle.finalize(request_id, output, b"", sender=stranger)
    assert oracle.isFinalized(request_id)
    label = int(np.argmax(honest.trace.output.reshape(-1)))
    assert classifier.classifications(request_id).done
    assert classifier.classifications(request_id).label == label
    assert model_owner.balance == owner_before + MODEL_FEE
    assert oracle.credit(submitter) == PARAMS.node_reward
    assert oracle.credit(stranger) == callback_gas * PARAMS.callback_gas_price
    assert [log.invoker for log in receipt.decode_logs(oracle.AICallbackResult)] == [stranger.address]
    assert oracle.finalizedResult(request_id).outputHash == __import__("eth_utils").keccak(output)
    with ape.reverts(oracle.WrongRequestStatus):
        oracle.finalize(request_id, output, b"", sender=stranger)
    assert game.credit(submitter) == game.submitterBond()  # bond back after the window
    conserved(protocol)


def test_bad_requests_revert_with_named_errors(protocol, classifier, model_id, user, tiny_model):
    oracle = protocol.oracle
    fee = oracle.estimateFee(model_id, 0)
    with ape.reverts(oracle.UnknownModel, modelId=99):  # the registry's error, in the oracle's ABI (IAIOracleErrors)
        oracle.requestCallback(99, b"\x01", ape.utils.ZERO_ADDRESS, 0, b"", sender=user, value=fee)
    with ape.reverts(oracle.EmptyInput):
        oracle.requestCallback(model_id, b"", ape.utils.ZERO_ADDRESS, 0, b"", sender=user, value=fee)
    with ape.reverts(oracle.InputTooLong, length=17, maxLength=16):
        oracle.requestCallback(model_id, b"\x01" * 17, ape.utils.ZERO_ADDRESS, 0, b"", sender=user, value=fee)
    with ape.reverts(oracle.Underpaid, paid=fee - 1, fee=fee):
        oracle.requestCallback(model_id, b"\x01", ape.utils.ZERO_ADDRESS, 0, b"", sender=user, value=fee - 1)
    with ape.reverts(oracle.CallbackGasMismatch):
        oracle.requestCallback(model_id, b"\x01", classifier, 0, b"", sender=user, value=fee)
    with ape.reverts(oracle.CallbackGasMismatch):
        oracle.requestCallback(model_id, b"\x01", ape.utils.ZERO_ADDRESS, 1000, b"", sender=user, value=fee)
    too_much = PARAMS.max_callback_gas + 1
    with ape.reverts(oracle.CallbackGasTooHigh):
        oracle.requestCallback(model_id, b"\x01", classifier, too_much, b"", sender=user,
                               value=oracle.estimateFee(model_id, too_much))
    with ape.reverts(oracle.UnknownRequest, requestId=5):
        oracle.getRequest(5)
    with ape.reverts(classifier.UnauthorizedCallbackSource):
        classifier.aiOracleCallback(1, b"\x00\x01", b"", sender=user)

    # Overpayment is credited back, not kept.
    receipt = oracle.requestCallback(model_id, b"\x01", ape.utils.ZERO_ADDRESS, 0, b"", sender=user, value=fee + 7)
    request_id = receipt.decode_logs(oracle.AICallbackRequest)[0].requestId
    assert oracle.credit(user) == 7
    honest = execute(tiny_model, b"\x01")
    with ape.reverts(oracle.WrongOutputLength):
        oracle.submit(request_id, b"\x00" * 3, honest.trace_root, honest.output_proof(), sender=user,
                      value=protocol.game.submitterBond())
    conserved(protocol)


@pytest.mark.parametrize("mode", [1, 2, 3, 4], ids=["reverting", "gas-guzzling", "reentrant", "return-bomb"])
def test_misbehaving_callbacks_never_block_finalization_or_fees(
    project, protocol, model_id, tiny_model, owner, user, submitter, stranger, chain, mode
):
    oracle, game = protocol.oracle, protocol.game
    probe = owner.deploy(project.CallbackProbe, oracle, mode)
    image = tiny_image(mode)
    fee = oracle.estimateFee(model_id, CALLBACK_GAS)
    probe.request(model_id, image, CALLBACK_GAS, sender=user, value=fee)
    request_id = oracle.requestCount()
    output, _ = submit(oracle, game, request_id, execute(tiny_model, image), submitter)
    chain.pending_timestamp += PARAMS.challenge_window
    callback_data = __import__("eth_abi").encode(["uint8"], [mode])
    with ape.reverts(oracle.InsufficientGasForCallback):
        oracle.finalize(request_id, output, callback_data, sender=stranger, gas_limit=CALLBACK_GAS + 120_000)
    receipt = oracle.finalize(request_id, output, callback_data, sender=stranger)
    assert oracle.isFinalized(request_id)
    failed = receipt.decode_logs(oracle.CallbackFailed)
    if mode == 3:
        assert not failed and probe.reentryFailed() and probe.calls() == 1  # re-entry refused, callback ran
    elif mode == 4:
        assert not failed and probe.calls() == 0  # returned 100 kB early; the oracle never copies it
    else:
        assert [log.requestId for log in failed] == [request_id]
        assert probe.calls() == 0
    assert receipt.gas_used < 500_000
    assert oracle.credit(submitter) == PARAMS.node_reward
    conserved(protocol)


def test_refund_after_the_deadline_only(protocol, model_id, tiny_model, user, stranger, chain):
    oracle = protocol.oracle
    fee = oracle.estimateFee(model_id, 0)
    oracle.requestCallback(model_id, b"\x05", ape.utils.ZERO_ADDRESS, 0, b"", sender=user, value=fee)
    request_id = oracle.requestCount()
    with ape.reverts(oracle.RequestNotExpired):
        oracle.refund(request_id, sender=stranger)
    chain.pending_timestamp += PARAMS.request_timeout
    honest = execute(tiny_model, b"\x05")
    with ape.reverts(oracle.RequestExpired):
        submit(oracle, protocol.game, request_id, honest, stranger)
    oracle.refund(request_id, sender=stranger)
    assert oracle.getRequest(request_id).status == REFUNDED
    assert oracle.credit(user) == fee
    with ape.reverts(oracle.WrongRequestStatus):
        oracle.refund(request_id, sender=stranger)
    before = user.balance
    receipt = oracle.withdraw(sender=user)
    assert user.balance == before + fee - receipt.total_fees_paid
    conserved(protocol)


def test_a_voided_result_reopens_the_request_and_the_correct_one_is_delivered(
    protocol, classifier, tiny_model, user, submitter, challenger, stranger, chain
):
    oracle, game = protocol.oracle, protocol.game
    image = tiny_image(11)
    classifier.classify(image, sender=user, value=classifier.fee())
    request_id = oracle.requestCount()
    honest = execute(tiny_model, image)
    faulty = execute(tiny_model, image, fault=(4, 1, 9))
    bad_output, claim_id = submit(oracle, game, request_id, faulty, submitter)

    game_id = game.challenge(claim_id, sender=challenger, value=game.challengerBond()).return_value
    claimed = ClaimedTree(honest.trace_tree, faulty.trace_root)
    result = play(game, game_id, submitter, challenger, honest_submitter(faulty),
                  honest_challenger(honest, claimed), claimed=claimed)
    assert result.status == GameStatus.CHALLENGER_WON
    with ape.reverts(oracle.ClaimVoided):
        oracle.finalize(request_id, bad_output, b"", sender=stranger)

    good_output, _ = submit(oracle, game, request_id, honest, challenger)
    chain.pending_timestamp += PARAMS.challenge_window
    oracle.finalize(request_id, good_output, b"", sender=challenger)
    assert classifier.classifications(request_id).label == int(np.argmax(honest.trace.output.reshape(-1)))
    assert oracle.credit(challenger) >= PARAMS.node_reward
    conserved(protocol)


def test_a_consumer_ignores_callbacks_for_requests_it_did_not_make(
    protocol, classifier, model_id, tiny_model, user, submitter, stranger, chain, accounts
):
    """Anyone may name a consumer as a request's callback (for any model, with any input): the consumer must not
    store that answer as one of its own classifications, nor one of its answers twice."""
    oracle, game = protocol.oracle, protocol.game
    image = tiny_image(7)
    fee = oracle.estimateFee(model_id, classifier.CALLBACK_GAS_LIMIT())
    oracle.requestCallback(model_id, image, classifier, classifier.CALLBACK_GAS_LIMIT(), b"", sender=stranger,
                           value=fee)
    foreign = oracle.requestCount()
    output, _ = submit(oracle, game, foreign, execute(tiny_model, image), submitter)
    chain.pending_timestamp += PARAMS.challenge_window
    receipt = oracle.finalize(foreign, output, b"", sender=stranger)
    # The oracle finalizes (fees paid); the consumer's callback refused it (NotMyRequest) and stored nothing.
    assert [log.requestId for log in receipt.decode_logs(oracle.CallbackFailed)] == [foreign]
    assert oracle.isFinalized(foreign)
    assert classifier.classifications(foreign).requester == ZERO_ADDRESS
    assert not classifier.classifications(foreign).done
    conserved(protocol)

    # Why it failed, and the "once" rule: the oracle's own call is refused for the foreign request, and for one of
    # the consumer's requests that was already delivered.
    mine = classifier.classify(image, sender=user, value=classifier.fee()).return_value
    output, _ = submit(oracle, game, mine, execute(tiny_model, image), submitter)
    chain.pending_timestamp += PARAMS.challenge_window
    oracle.finalize(mine, output, b"", sender=stranger)
    assert classifier.classifications(mine).done
    chain.set_balance(oracle.address, 10**18)
    as_oracle = accounts[oracle.address]          # impersonated: the only caller onlyAIOracleCallback lets in
    for request_id in (foreign, mine):
        with ape.reverts(classifier.NotMyRequest, requestId=request_id):
            classifier.aiOracleCallback(request_id, output, b"", sender=as_oracle)


def test_the_oracle_refuses_a_request_timeout_shorter_than_a_game(project, protocol, owner):
    """The request deadline must outlive a claim's window plus a game opened at its end (both clocks)."""
    game = protocol.game
    longest = game.challengeWindow() + 2 * game.clockBudget()
    args = (protocol.registry, game, PARAMS.node_reward, PARAMS.callback_gas_price, PARAMS.max_callback_gas)
    with ape.reverts(protocol.oracle.BadOracleConfig, field="requestTimeout"):
        owner.deploy(project.AIOracle, (*args, longest), owner)
    oracle = owner.deploy(project.AIOracle, (*args, longest + 1), owner)
    assert oracle.requestTimeout() == longest + 1
    with pytest.raises(ValueError, match="challenge window plus both clocks"):
        type(PARAMS)(challenge_window=60, clock_budget=120, request_timeout=300)

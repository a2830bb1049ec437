"""Fast callbacks with correction and callback retry, on anvil with an ORA-shaped consumer (FastPrompt:
`calculateAIResult`, `aiOracleCallback`, `isFinalized`). Fees are checked to the wei: a fast request pays one more
callback fee, whoever delivers a callback is paid for it, and what no callback spent returns to the requester."""

from __future__ import annotations

import ape
from ape import chain

from offchain.chain.encoding import output_bytes
from offchain.dispute.claimed_tree import ClaimedTree
from offchain.dispute.match import honest_challenger, honest_submitter, play
from offchain.dispute.solver import GameStatus
from offchain.nodes.node import Fault

from .conftest import MODEL_FEE, PARAMS, faulty_submitter_node, honest_challenger_node, reverts_named, tiny_image
from .test_oracle import conserved, execute, submit

GAS = 200_000


def fast_prompt(project, protocol, owner, gas=GAS, fast=True):
    prompt = owner.deploy(project.FastPrompt, protocol.oracle, gas)
    if fast:
        prompt.setFast(True, sender=owner)
    return prompt


def test_a_fast_answer_is_corrected_after_a_lost_dispute(
    project, protocol, model_id, tiny_model, owner, user, submitter, challenger, stranger, chain
):
    oracle, game = protocol.oracle, protocol.game
    prompt = fast_prompt(project, protocol, owner)
    callback_fee = GAS * PARAMS.callback_gas_price
    fee = prompt.estimateFee(model_id)
    assert fee == oracle.estimateFee(model_id, GAS) + callback_fee  # one more callback fee than a final request
    image = tiny_image(21)
    with reverts_named("Underpaid", paid=fee - 1, fee=fee):  # the oracle's error, raised inside the consumer
        prompt.calculateAIResult(model_id, image, sender=user, value=fee - 1)
    prompt.calculateAIResult(model_id, image, sender=user, value=fee)
    request_id = oracle.requestCount()
    assert oracle.callbackState(request_id).fastFee == callback_fee

    honest, faulty = execute(tiny_model, image), execute(tiny_model, image, fault=(6, 0, 7))
    bad_output, claim_id = submit(oracle, game, request_id, faulty, submitter)
    receipt = oracle.deliverFast(request_id, bad_output, b"", sender=submitter)
    assert [log.ok for log in receipt.decode_logs(oracle.FastCallback)] == [True]
    first = prompt.deliveries(request_id)
    assert [(bytes(d.output), d.finalized) for d in first] == [(bad_output, False)]
    assert not prompt.isFinalized(request_id)
    assert oracle.credit(submitter) == callback_fee  # the submitter's callback gas is paid by the request fee
    with ape.reverts(oracle.FastCallbackAlreadyDelivered, requestId=request_id, claimId=claim_id):
        oracle.deliverFast(request_id, bad_output, b"", sender=stranger)

    game_id = game.challenge(claim_id, sender=challenger, value=game.challengerBond()).return_value
    claimed = ClaimedTree(honest.trace_tree, faulty.trace_root)
    result = play(game, game_id, submitter, challenger, honest_submitter(faulty),
                  honest_challenger(honest, claimed), claimed=claimed)
    assert result.status == GameStatus.CHALLENGER_WON
    good_output, good_claim = submit(oracle, game, request_id, honest, challenger)
    with ape.reverts(oracle.FastCallbackAlreadyDelivered, requestId=request_id, claimId=claim_id):
        oracle.deliverFast(request_id, good_output, b"", sender=challenger)  # one fast callback per request
    chain.pending_timestamp += PARAMS.challenge_window
    credit_before = oracle.credit(challenger)
    receipt = oracle.finalize(request_id, good_output, b"", sender=challenger)
    assert not receipt.decode_logs(oracle.CallbackFailed)
    deliveries = prompt.deliveries(request_id)
    assert [(bytes(d.output), d.finalized) for d in deliveries] == [(bad_output, False), (good_output, True)]
    assert good_output != bad_output and prompt.isFinalized(request_id)
    # The correction callback's fee goes to its finalizer, with the node reward of the standing claim.
    assert oracle.credit(challenger) - credit_before == callback_fee + PARAMS.node_reward
    assert oracle.credit(prompt) == 0  # both callback fees were spent
    assert oracle.heldFees() == 0
    conserved(protocol)


def test_a_fast_answer_that_stands_is_not_sent_twice_and_its_unused_fee_returns(
    project, protocol, model_id, tiny_model, owner, user, submitter, stranger, chain
):
    oracle, game = protocol.oracle, protocol.game
    prompt = fast_prompt(project, protocol, owner)
    image = tiny_image(22)
    prompt.calculateAIResult(model_id, image, sender=user, value=prompt.estimateFee(model_id))
    request_id = oracle.requestCount()
    output, _ = submit(oracle, game, request_id, execute(tiny_model, image), submitter)
    with ape.reverts(oracle.DataMismatch):
        oracle.deliverFast(request_id, output, b"\x01", sender=submitter)
    oracle.deliverFast(request_id, output, b"", sender=submitter)
    chain.pending_timestamp += PARAMS.challenge_window
    oracle.finalize(request_id, output, b"", sender=stranger)
    assert [(bytes(d.output), d.finalized) for d in prompt.deliveries(request_id)] == [(output, False)]
    assert prompt.isFinalized(request_id)
    assert oracle.credit(stranger) == 0  # no callback at finalization, so no callback fee for it
    assert oracle.credit(prompt) == GAS * PARAMS.callback_gas_price  # the unspent fee returns to the requester
    assert not oracle.callbackState(request_id).undelivered
    conserved(protocol)


def test_requests_default_to_final_and_an_unused_fast_fee_is_refunded(
    project, protocol, model_id, tiny_model, owner, user, submitter, stranger, chain
):
    oracle, game = protocol.oracle, protocol.game
    final = fast_prompt(project, protocol, owner, fast=False)
    assert final.estimateFee(model_id) == oracle.estimateFee(model_id, GAS) == MODEL_FEE + PARAMS.node_reward + (
        GAS * PARAMS.callback_gas_price)
    image = tiny_image(23)
    final.calculateAIResult(model_id, image, sender=user, value=final.estimateFee(model_id))
    request_id = oracle.requestCount()
    output, _ = submit(oracle, game, request_id, execute(tiny_model, image), submitter)
    with ape.reverts(oracle.NotFastRequest, requestId=request_id):
        oracle.deliverFast(request_id, output, b"", sender=submitter)
    assert len(final.deliveries(request_id)) == 0

    # A fast request nobody answered early: the fast fee comes back with the refund after the deadline.
    fast = fast_prompt(project, protocol, owner)
    fee = fast.estimateFee(model_id)
    fast.calculateAIResult(model_id, image, sender=user, value=fee)
    late = oracle.requestCount()
    chain.pending_timestamp += PARAMS.request_timeout
    oracle.refund(late, sender=stranger)
    assert oracle.credit(fast) == fee
    fast.setFast(False, sender=owner)
    assert not oracle.fastCallbacks(fast)
    conserved(protocol)


def test_a_failed_callback_is_retried_once_with_more_gas_paid_by_the_caller(
    project, protocol, model_id, tiny_model, owner, user, submitter, stranger, chain
):
    oracle, game = protocol.oracle, protocol.game
    low_gas = 30_000  # below what FastPrompt's callback needs (it stores the output)
    prompt = fast_prompt(project, protocol, owner, gas=low_gas, fast=False)
    image = tiny_image(24)
    prompt.calculateAIResult(model_id, image, sender=user, value=prompt.estimateFee(model_id))
    request_id = oracle.requestCount()
    output, _ = submit(oracle, game, request_id, execute(tiny_model, image), submitter)
    with ape.reverts(oracle.NotFinalized, requestId=request_id):
        oracle.retryCallback(request_id, output, b"", 500_000, sender=stranger)
    chain.pending_timestamp += PARAMS.challenge_window
    receipt = oracle.finalize(request_id, output, b"", sender=stranger)
    assert [log.requestId for log in receipt.decode_logs(oracle.CallbackFailed)] == [request_id]
    assert oracle.callbackState(request_id).undelivered and len(prompt.deliveries(request_id)) == 0

    with ape.reverts(oracle.RetryGasTooLow, gasLimit=low_gas, requestGasLimit=low_gas):
        oracle.retryCallback(request_id, output, b"", low_gas, sender=stranger)
    with ape.reverts(oracle.DataMismatch):
        oracle.retryCallback(request_id, output[:-1] + b"\x01", b"", 500_000, sender=stranger)
    with ape.reverts(oracle.CallbackRetryFailed, requestId=request_id, gasLimit=low_gas + 1):
        oracle.retryCallback(request_id, output, b"", low_gas + 1, sender=stranger)
    with ape.reverts(oracle.InsufficientGasForCallback):
        oracle.retryCallback(request_id, output, b"", 500_000, sender=stranger, gas_limit=300_000)
    credits = oracle.totalCredit()
    receipt = oracle.retryCallback(request_id, output, b"", 500_000, sender=stranger)
    assert [log.gasLimit for log in receipt.decode_logs(oracle.CallbackRetried)] == [500_000]
    assert [(bytes(d.output), d.finalized) for d in prompt.deliveries(request_id)] == [(output, True)]
    assert oracle.totalCredit() == credits  # the retry is paid by its caller's gas, from no fee
    assert not oracle.callbackState(request_id).undelivered
    with ape.reverts(oracle.NoFailedCallback, requestId=request_id):
        oracle.retryCallback(request_id, output, b"", 500_000, sender=stranger)
    assert len(prompt.deliveries(request_id)) == 1
    conserved(protocol)


def test_a_delivered_callback_cannot_be_retried(
    project, protocol, model_id, tiny_model, owner, user, submitter, stranger, chain
):
    oracle, game = protocol.oracle, protocol.game
    prompt = fast_prompt(project, protocol, owner, fast=False)
    image = tiny_image(25)
    prompt.calculateAIResult(model_id, image, sender=user, value=prompt.estimateFee(model_id))
    request_id = oracle.requestCount()
    output, _ = submit(oracle, game, request_id, execute(tiny_model, image), submitter)
    chain.pending_timestamp += PARAMS.challenge_window
    oracle.finalize(request_id, output, b"", sender=stranger)
    assert len(prompt.deliveries(request_id)) == 1
    with ape.reverts(oracle.NoFailedCallback, requestId=request_id):
        oracle.retryCallback(request_id, output, b"", 500_000, sender=stranger)


def test_nodes_send_the_fast_callback_and_the_challengers_correction(
    project, protocol, model_id, tiny_model, owner, user, submitter, challenger, tmp_path
):
    """A faulty submitter node answers a fast request (its early callback carries the wrong output); the honest
    challenger node wins the dispute, posts the right output and finalizes it: the consumer's second callback."""
    oracle = protocol.oracle
    prompt = fast_prompt(project, protocol, owner)
    bad = faulty_submitter_node(protocol, submitter, tiny_model, model_id, tmp_path / "s.sqlite", Fault(6, 0, 7))
    good = honest_challenger_node(protocol, challenger, tiny_model, model_id, tmp_path / "c.sqlite")
    image = tiny_image(26)
    prompt.calculateAIResult(model_id, image, sender=user, value=prompt.estimateFee(model_id))
    request_id = oracle.requestCount()
    bad.poll_once()  # submits and sends the fast callback
    early = prompt.deliveries(request_id)
    assert len(early) == 1 and not early[0].finalized
    for _ in range(40):
        bad.poll_once()
        good.poll_once()
        if oracle.isFinalized(request_id):
            break
        if oracle.getRequest(request_id).submitter == challenger.address:
            chain.pending_timestamp += PARAMS.challenge_window
            chain.mine()
    honest = execute(tiny_model, image)
    deliveries = prompt.deliveries(request_id)
    assert [(bytes(d.output), d.finalized) for d in deliveries] == [
        (bytes(early[0].output), False), (output_bytes(honest.trace.output), True)]
    assert bytes(early[0].output) != output_bytes(honest.trace.output)
    conserved(protocol)

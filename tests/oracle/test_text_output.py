"""Text results are delivered as text: a model registered with textOutput (meta output_encoding utf-8) reaches
every callback (final, fast, retried) without its trailing zero bytes, so ORA's unchanged Prompt consumer
(`prompts[modelId][string(input)] = string(output)`) stores readable text; the committed output stays the padded
tensor. The stand-in text model echoes its request (tests/oracle/_text_standin.py)."""

from __future__ import annotations

import ape
import pytest

from offchain.chain.encoding import delivered_output, input_tensor, output_bytes, text_output
from offchain.chain.registration import model_spec
from offchain.dispute.commitment import ExecutionCommitment, ModelCommitment
from offchain.engine.executor import run

from ._text_standin import echo_generator
from .conftest import CALLBACK_GAS, PARAMS, register_model
from .test_oracle import conserved, submit

B = 48
PROMPT = "Hello, verifiable world"


def _commitment(text=True, prompt_bytes=B):
    return ModelCommitment(echo_generator(prompt_bytes, steps=2, text=text))


@pytest.fixture(scope="module")
def text_model():
    return _commitment()


def _execute(commitment, data: bytes) -> ExecutionCommitment:
    return ExecutionCommitment(commitment, run(commitment.model, [input_tensor(commitment.model.graph, data)]))


def _ora_prompt(project, protocol, owner, model_id, gas=CALLBACK_GAS):
    prompt = owner.deploy(project.OraStylePrompt, protocol.oracle)
    prompt.setCallbackGasLimit(model_id, gas, sender=owner)
    return prompt


def _ask_and_finalize(protocol, commitment, prompt, model_id, text, user, submitter, stranger, chain):
    """ORA's flow: calculateAIResult(bytes(prompt)), an honest result, finalize; returns (request id, posted
    output, finalize receipt)."""
    oracle, game = protocol.oracle, protocol.game
    receipt = prompt.calculateAIResult(model_id, text, sender=user, value=prompt.estimateFee(model_id))
    request = receipt.decode_logs(oracle.AICallbackRequest)[0]
    output, _ = submit(oracle, game, request.requestId, _execute(commitment, text.encode()), submitter)
    chain.pending_timestamp += PARAMS.challenge_window
    return request.requestId, output, oracle.finalize(request.requestId, output, request.callbackData,
                                                      sender=stranger)


def test_the_registry_records_text_output_from_the_model_meta(protocol, owner, model_owner, text_model):
    assert text_output(text_model.model) and model_spec(text_model.model, 0, model_owner.address)[-1] is True
    model_id = register_model(protocol.registry, owner, model_owner, text_model.model)
    assert protocol.registry.getModel(model_id).textOutput
    other = register_model(protocol.registry, owner, model_owner, _commitment(text=False, prompt_bytes=B + 1).model)
    assert not protocol.registry.getModel(other).textOutput
    # A model whose meta says utf-8 but whose output is not INT8 bytes (tiny-mlp's INT16 logits) is refused.
    from offchain.models.tiny import tiny_mlp

    wrong = tiny_mlp()
    wrong.meta["output_encoding"] = "utf-8"
    with pytest.raises(ValueError, match="INT16"):
        model_spec(wrong, 0, model_owner.address)


def test_oras_prompt_stores_the_text_and_the_posted_output_stays_padded(
    project, protocol, owner, model_owner, text_model, user, submitter, stranger, chain
):
    oracle = protocol.oracle
    model_id = register_model(protocol.registry, owner, model_owner, text_model.model)
    prompt = _ora_prompt(project, protocol, owner, model_id)
    request_id, output, receipt = _ask_and_finalize(protocol, text_model, prompt, model_id, PROMPT, user,
                                                    submitter, stranger, chain)
    assert oracle.getRequest(request_id).textOutput
    assert len(output) == B + 16 and output == PROMPT.encode() + bytes(B + 16 - len(PROMPT))  # committed: padded
    assert [bytes(log.output) for log in receipt.decode_logs(oracle.AICallbackResult)] == [output]
    assert prompt.prompts(model_id, PROMPT) == PROMPT                   # delivered: the text
    assert bytes(prompt.requests(request_id).output) == PROMPT.encode() == delivered_output(True, output)
    assert delivered_output(text_model.model, output) == PROMPT.encode()
    assert not receipt.decode_logs(oracle.CallbackFailed)
    conserved(protocol)


def test_a_non_text_models_output_is_delivered_as_posted(
    project, protocol, owner, model_owner, user, submitter, stranger, chain
):
    plain = _commitment(text=False)
    model_id = register_model(protocol.registry, owner, model_owner, plain.model)
    prompt = _ora_prompt(project, protocol, owner, model_id)
    request_id, output, _ = _ask_and_finalize(protocol, plain, prompt, model_id, PROMPT, user, submitter, stranger,
                                              chain)
    assert not protocol.oracle.getRequest(request_id).textOutput
    assert bytes(prompt.requests(request_id).output) == output == delivered_output(False, output)
    assert output.endswith(bytes(16)) and len(output) == B + 16


def test_an_all_zero_output_delivers_empty_bytes_and_interior_nuls_stay(
    project, protocol, owner, model_owner, text_model, user, submitter, stranger, chain
):
    oracle = protocol.oracle
    model_id = register_model(protocol.registry, owner, model_owner, text_model.model)
    prompt = _ora_prompt(project, protocol, owner, model_id)
    # An input of one zero byte: the echo is all zeros, delivered as empty bytes (the callback still runs).
    request_id, output, receipt = _ask_and_finalize(protocol, text_model, prompt, model_id, "\x00", user, submitter,
                                                    stranger, chain)
    assert output == bytes(B + 16) and delivered_output(True, output) == b""
    updated = receipt.decode_logs(prompt.promptsUpdated)
    assert [(log.requestId, log.output) for log in updated] == [(request_id, "")]
    # Interior zero bytes are part of the text: only the trailing ones go.
    text = "a\x00\x00b\x00c"
    request_id, output, receipt = _ask_and_finalize(protocol, text_model, prompt, model_id, text, user, submitter,
                                                    stranger, chain)
    assert bytes(prompt.requests(request_id).output) == text.encode() == delivered_output(True, output)
    conserved(protocol)


def test_fast_and_retried_callbacks_deliver_the_text_too(
    project, protocol, owner, model_owner, text_model, user, submitter, stranger, chain
):
    oracle, game = protocol.oracle, protocol.game
    model_id = register_model(protocol.registry, owner, model_owner, text_model.model)
    fast = owner.deploy(project.FastPrompt, oracle, 200_000)
    fast.setFast(True, sender=owner)
    fast.calculateAIResult(model_id, PROMPT.encode(), sender=user, value=fast.estimateFee(model_id))
    request_id = oracle.requestCount()
    output, _ = submit(oracle, game, request_id, _execute(text_model, PROMPT.encode()), submitter)
    oracle.deliverFast(request_id, output, b"", sender=submitter)
    assert [(bytes(d.output), d.finalized) for d in fast.deliveries(request_id)] == [(PROMPT.encode(), False)]

    low_gas = 30_000   # too little for FastPrompt to store the output: the final callback fails, a retry delivers
    slow = owner.deploy(project.FastPrompt, oracle, low_gas)
    slow.calculateAIResult(model_id, b"retry me", sender=user, value=slow.estimateFee(model_id))
    retried = oracle.requestCount()
    retried_output, _ = submit(oracle, game, retried, _execute(text_model, b"retry me"), submitter)
    chain.pending_timestamp += PARAMS.challenge_window
    receipt = oracle.finalize(retried, retried_output, b"", sender=stranger)
    assert [log.requestId for log in receipt.decode_logs(oracle.CallbackFailed)] == [retried]
    oracle.retryCallback(retried, retried_output, b"", 500_000, sender=stranger)
    assert [(bytes(d.output), d.finalized) for d in slow.deliveries(retried)] == [(b"retry me", True)]
    conserved(protocol)


def test_a_batch_of_a_text_model_is_delivered_whole(
    project, protocol, owner, model_owner, text_model, user, submitter, stranger, chain
):
    """A batch's output is its items' outputs one after the other: trimming would move item 2's start, so a
    batch request is delivered as posted (its variant being a text model or not)."""
    oracle, game = protocol.oracle, protocol.game
    model_id = register_model(protocol.registry, owner, model_owner, text_model.model)
    variant = _commitment(prompt_bytes=2 * (B + 16) - 16)        # input and output exactly twice the base's
    variant_id = register_model(protocol.registry, owner, model_owner, variant.model)
    assert protocol.registry.getModel(variant_id).textOutput
    oracle.registerBatchVariant(model_id, 2, variant_id, sender=model_owner)
    items = b"first".ljust(B + 16, b"\0") + b"second".ljust(B + 16, b"\0")
    fee = oracle.estimateFeeBatch(model_id, CALLBACK_GAS, 2)
    prompt = owner.deploy(project.FastPrompt, oracle, CALLBACK_GAS)
    assert fee == prompt.estimateFee(model_id) + protocol.registry.getModel(model_id).fee
    receipt = oracle.requestBatchInference(2, model_id, items, prompt, CALLBACK_GAS, b"", 0, 0, sender=user,
                                           value=fee)
    request_id = receipt.decode_logs(oracle.AICallbackRequest)[0].requestId
    assert not oracle.getRequest(request_id).textOutput
    output, _ = submit(oracle, game, request_id, _execute(variant, items), submitter)
    chain.pending_timestamp += PARAMS.challenge_window
    oracle.finalize(request_id, output, b"", sender=stranger)
    assert output == items == output_bytes(run(variant.model, [input_tensor(variant.model.graph, items)]).output)
    assert [(bytes(d.output), d.finalized) for d in prompt.deliveries(request_id)] == [(items, True)]
    conserved(protocol)


def test_an_owner_switching_text_output_after_a_request_cannot_change_its_delivery(
    project, protocol, owner, model_owner, text_model, user, submitter, stranger, chain
):
    """The owner publishes a version whose output is not text while a request waits: that request was pinned with
    the text flag and is still delivered trimmed; only requests made after the publish get the new terms."""
    oracle, registry = protocol.oracle, protocol.registry
    model_id = register_model(registry, owner, model_owner, text_model.model)
    prompt = _ora_prompt(project, protocol, owner, model_id)
    receipt = prompt.calculateAIResult(model_id, PROMPT, sender=user, value=prompt.estimateFee(model_id))
    first = receipt.decode_logs(oracle.AICallbackRequest)[0]
    plain = _commitment(text=False, prompt_bytes=B + 1)
    spec = model_spec(plain.model, 0, model_owner.address)
    registry.approveVersion(model_id, spec, sender=owner)
    registry.publishVersion(model_id, spec, sender=model_owner)
    assert not registry.getModel(registry.currentVersionId(model_id)).textOutput
    output, _ = submit(oracle, protocol.game, first.requestId, _execute(text_model, PROMPT.encode()), submitter)
    chain.pending_timestamp += PARAMS.challenge_window
    oracle.finalize(first.requestId, output, first.callbackData, sender=stranger)
    assert oracle.getRequest(first.requestId).textOutput
    assert bytes(prompt.requests(first.requestId).output) == PROMPT.encode()   # trimmed, as pinned
    later = prompt.calculateAIResult(model_id, "again", sender=user, value=prompt.estimateFee(model_id))
    assert not oracle.getRequest(later.decode_logs(oracle.AICallbackRequest)[0].requestId).textOutput

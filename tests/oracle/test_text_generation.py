"""contracts/oracle/examples/TextGeneration.sol: asks a text-generating model (here the echo stand-in of
tests/oracle/_text_standin.py, whose answer is its request) and stores the answer as a string. Its request bytes
equal offchain.chain.encoding.generation_request's (genspec's layout), bad prompts revert by name, and a delivered
answer is stored, readable and announced."""

from __future__ import annotations

import ape
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from offchain.chain.encoding import EncodingError, delivered_output, generation_request, input_tensor
from offchain.dispute.commitment import ExecutionCommitment, ModelCommitment
from offchain.engine.executor import run

from ._text_standin import echo_generator
from .conftest import PARAMS, nodes_answer_script_waits, register_model, reverts_named
from .test_oracle import conserved, submit

B = 48
GAS = 300_000


@pytest.fixture(scope="module")
def generator():
    return ModelCommitment(echo_generator(B, steps=2))


@pytest.fixture
def consumer(project, protocol, owner, model_owner, generator):
    model_id = register_model(protocol.registry, owner, model_owner, generator.model)
    return owner.deploy(project.TextGeneration, protocol.oracle, model_id, B, GAS)


def test_generation_request_layout():
    data = generation_request("Hi", 8, max_new=5, temperature_centi=0x1234, top_k=40, seed=0xDEADBEEF)
    assert data == b"Hi" + bytes(6) + bytes([5, 0x12, 0x34, 0, 40, 0xDE, 0xAD, 0xBE, 0xEF]) + bytes(7)
    assert generation_request("Hi", 8) == b"Hi" + bytes(22)      # all parameters 0: the model's defaults
    assert generation_request("é" * 4, 8)[:8] == "éééé".encode()   # bytes, not characters, fill B
    for bad in (dict(prompt=""), dict(prompt="x" * 9), dict(prompt="é" * 5), dict(max_new=256),
                dict(temperature_centi=-1), dict(top_k=65536), dict(seed=2**32)):
        with pytest.raises(EncodingError):
            generation_request(**{"prompt": "Hi", "prompt_bytes": 8, **bad})


EDGES = [(0, 0, 0, 0), (255, 65535, 65535, 2**32 - 1), (1, 1, 1, 1), (128, 32768, 256, 2**31), (64, 70, 40, 7)]


def test_the_consumer_encodes_what_python_encodes(consumer):
    for prompt in ("a", "Wie spät ist es? ⏰", "x" * B, "é" * (B // 2)):
        for params in EDGES:
            assert bytes(consumer.encodeRequest(prompt, *params)) == generation_request(prompt, B, *params)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])  # a view call
@given(prompt=st.text(min_size=1, max_size=B).filter(lambda t: 0 < len(t.encode()) <= B),
       params=st.tuples(st.integers(0, 255), st.integers(0, 65535), st.integers(0, 65535), st.integers(0, 2**32 - 1)))
def test_the_consumer_encodes_what_python_encodes_random(consumer, prompt, params):
    assert bytes(consumer.encodeRequest(prompt, *params)) == generation_request(prompt, B, *params)


def test_bad_prompts_and_configs_revert_by_name(project, protocol, owner, consumer, user):
    fee = consumer.fee()
    with ape.reverts(consumer.EmptyPrompt):
        consumer.ask("", sender=user, value=fee)
    with ape.reverts(consumer.EmptyPrompt):
        consumer.askWith("", 1, 0, 0, 0, sender=user, value=fee)
    too_long = "é" * (B // 2) + "x"   # B + 1 UTF-8 bytes in B // 2 + 1 characters
    with ape.reverts(consumer.PromptTooLong, length=B + 1, promptBytes=B):
        consumer.ask(too_long, sender=user, value=fee)
    with ape.reverts(consumer.PromptTooLong, length=B + 1, promptBytes=B):
        consumer.askWith(too_long, 0, 0, 0, 0, sender=user, value=fee)
    with reverts_named("Underpaid", paid=fee - 1, fee=fee):   # the oracle's error, raised inside the consumer
        consumer.ask("Hi", sender=user, value=fee - 1)
    with ape.reverts(consumer.UnauthorizedCallbackSource):
        consumer.aiOracleCallback(1, b"forged", b"", sender=user)
    with ape.reverts(project.TextGeneration.BadConsumerConfig, promptBytes=0, callbackGasLimit=GAS):
        owner.deploy(project.TextGeneration, protocol.oracle, 1, 0, GAS)
    with ape.reverts(project.TextGeneration.BadConsumerConfig, promptBytes=B, callbackGasLimit=0):
        owner.deploy(project.TextGeneration, protocol.oracle, 1, B, 0)


def _answer(protocol, generator, receipt, submitter, stranger, chain, check=True):
    oracle, game = protocol.oracle, protocol.game
    request = receipt.decode_logs(oracle.AICallbackRequest)[0]
    trace = run(generator.model, [input_tensor(generator.model.graph, bytes(request.input))])
    output, _ = submit(oracle, game, request.requestId, ExecutionCommitment(generator, trace), submitter)
    chain.pending_timestamp += PARAMS.challenge_window
    finalized = oracle.finalize(request.requestId, output, bytes(request.callbackData), sender=stranger)
    assert not (check and finalized.decode_logs(oracle.CallbackFailed))
    return request, output, finalized


def test_ask_sends_the_prompt_and_stores_the_answer(protocol, consumer, generator, user, submitter, stranger, chain):
    prompt = "What is opML? Explain in one line."
    receipt = consumer.ask(prompt, sender=user, value=consumer.fee())
    request, output, finalized = _answer(protocol, generator, receipt, submitter, stranger, chain)
    assert bytes(request.input) == prompt.encode()            # ORA's bytes(prompt): the oracle zero-pads it
    assert [(log.requestId, log.requester, log.prompt) for log in receipt.decode_logs(consumer.Asked)] == \
        [(request.requestId, user.address, prompt)]
    # The echo stand-in answers with its request: the prompt, zero-padded; delivered without the padding.
    assert output == generation_request(prompt, B)
    assert consumer.answers(request.requestId) == prompt
    assert tuple(consumer.answer(request.requestId)) == (True, user.address, prompt, prompt)
    assert [(log.requestId, log.prompt, log.answer) for log in finalized.decode_logs(consumer.Answered)] == \
        [(request.requestId, prompt, prompt)]
    conserved(protocol)
    # A second delivery of the same request (the oracle never sends one; an impersonated oracle here) reverts.
    oracle_account = ape.accounts[protocol.oracle.address]
    ape.chain.provider.set_balance(protocol.oracle.address, 10**18)
    with ape.reverts(consumer.NotMyRequest, requestId=request.requestId):
        consumer.aiOracleCallback(request.requestId, b"again", b"", sender=oracle_account)
    with ape.reverts(consumer.NotMyRequest, requestId=999):
        consumer.aiOracleCallback(999, b"never asked", b"", sender=oracle_account)


def test_ask_with_parameters_sends_them_and_interior_nuls_stay(
    protocol, consumer, generator, user, submitter, stranger, chain
):
    params = (5, 70, 40, 0x41424344)   # every byte ASCII, so the answer is valid UTF-8 with its NULs
    receipt = consumer.askWith("Hi", *params, sender=user, value=consumer.fee())
    assert tuple(consumer.answer(receipt.decode_logs(protocol.oracle.AICallbackRequest)[0].requestId)) == \
        (False, user.address, "Hi", "")
    request, output, _ = _answer(protocol, generator, receipt, submitter, stranger, chain)
    assert bytes(request.input) == output == generation_request("Hi", B, *params)
    # The echoed answer is "Hi", zeros, then the parameter bytes: the zeros inside are kept, the 7 reserved go.
    expected = delivered_output(True, output)
    assert expected == b"Hi" + bytes(B - 2) + bytes([5, 0, 70, 0, 40]) + b"ABCD"
    assert tuple(consumer.answer(request.requestId)) == (True, user.address, "Hi", expected.decode())
    assert consumer.answers(request.requestId) == expected.decode()


def test_ape_run_request_ask_sends_the_prompt_and_prints_the_answer(
    monkeypatch, protocol, consumer, generator, user, submitter, stranger, chain
):
    """scripts/request.py's `--ask` path (`_ask`, what `ape run request --ask` runs), with the nodes' part (submit,
    window, finalize) played where the script waits for the callback."""
    import click
    from rich.console import Console

    from scripts import request as request_script

    oracle = protocol.oracle
    sent = []

    nodes_answer = nodes_answer_script_waits(protocol, generator, submitter, stranger, chain, sent)
    monkeypatch.setattr(request_script, "_wait", nodes_answer)
    console = Console(record=True, width=300)
    request_script._ask(console, consumer, "Say [b]hi[/b]", (None, None, None, None), user, 5)
    assert sent == [b"Say [b]hi[/b]"]                       # `ask`: ORA's bytes(prompt), the model's defaults
    text = console.export_text()
    assert "prompt: Say [b]hi[/b]\n" in text and "answer: Say [b]hi[/b]\n" in text   # printed as text, not markup
    request_script._ask(console, consumer, "Hi", (3, 0.7, None, 65), user, 5)
    assert sent[1] == generation_request("Hi", B, 3, 70, 0, 65)   # `askWith`; unset parameters 0
    assert "answer: Hi" + "\x00" * (B - 2) + "\x03\x00F\x00\x00\x00\x00\x00A\n" in console.export_text()
    count = oracle.requestCount()
    for params, field in (((256, None, None, None), "max_new"), ((None, 655.36, None, None), "temperature"),
                          ((None, None, None, -1), "seed")):
        with pytest.raises(click.BadParameter, match=field):
            request_script._ask(console, consumer, "Hi", params, user, 5)
    with pytest.raises(click.BadParameter, match="at most 48"):
        request_script._ask(console, consumer, "x" * (B + 1), (None, None, None, None), user, 5)
    assert oracle.requestCount() == count                   # refused before any transaction


def test_the_registered_consumers_callback_gas_stores_the_longest_answer(
    project, protocol, owner, model_owner, generator, user, submitter, stranger, chain
):
    """`ape run register --consumer` gives a generator's TextGeneration answer_callback_gas(B, output bytes): enough
    for the longest answer (a B-byte prompt echoed with its 9 parameter bytes non-zero), which a quarter of it is
    not (the callback then fails and the answer stays undelivered)."""
    from scripts.register import answer_callback_gas

    model_id = register_model(protocol.registry, owner, model_owner, generator.model)
    gas = answer_callback_gas(B, B + 16)
    prompt, params = "x" * B, (0x7F, 0x7F7F, 0x7F7F, 0x7F7F7F7F)   # every byte non-zero (and ASCII)
    for limit, ok in ((gas, True), (gas // 4, False)):
        consumer = owner.deploy(project.TextGeneration, protocol.oracle, model_id, B, limit)
        receipt = consumer.askWith(prompt, *params, sender=user, value=consumer.fee())
        request_id = receipt.decode_logs(protocol.oracle.AICallbackRequest)[0].requestId
        _, output, finalized = _answer(protocol, generator, receipt, submitter, stranger, chain, check=False)
        assert len(delivered_output(True, output)) == B + 9
        assert bool(finalized.decode_logs(protocol.oracle.CallbackFailed)) is not ok
        assert consumer.answer(request_id).delivered is ok
        assert consumer.answers(request_id) == (prompt + "\x7f" * 9 if ok else "")

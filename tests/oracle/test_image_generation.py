"""contracts/oracle/examples/ImageGeneration.sol: asks a text-to-image model for an image of a prompt with a seed
(here a stand-in whose "image" is the request's first 64 bytes, so what was sent is what comes back) and stores the
pixel bytes. Its request bytes equal offchain.chain.encoding.image_request's (prompt zero-padded to B, then the
seed as a big-endian uint64), bad prompts revert by name, the exact input bytes are kept for an ERC-7007 mint, and
a delivered image is stored, readable and announced once."""

from __future__ import annotations

import ape
import pytest
from eth_utils import keccak
from hypothesis import HealthCheck, given, settings, strategies as st

from offchain.chain.encoding import EncodingError, image_request, input_tensor
from offchain.dispute.commitment import ExecutionCommitment, ModelCommitment
from offchain.engine.dtypes import DType
from offchain.engine.executor import run
from offchain.engine.graph import Graph, Node, TensorKind, TensorRef, TensorSpec
from offchain.engine.model import Model
from offchain.engine.ops import OpCode
from offchain.image import ImageLayout, parse_request

from .conftest import PARAMS, nodes_answer_script_waits, register_model, reverts_named
from .test_oracle import conserved, submit

B = 64
PIXELS = 64
GAS = 300_000


def image_standin(prompt_bytes: int = B, pixels: int = PIXELS) -> Model:
    """INT8 [prompt_bytes + 8] -> SLICE of the first ``pixels`` bytes: an "image" that is the request's start."""
    x = TensorSpec((prompt_bytes + 8,), DType.INT8, 0, 5, "request")
    out = TensorSpec((pixels,), DType.INT8, 0, 5, "pixels")
    node = Node(OpCode.SLICE, (TensorRef(TensorKind.INPUT, 0),), (x,), out, (0, 0, 1), "image.pixels")
    model = Model(Graph([x], [], [node]), [], {"name": "image-standin",
                                              "image": {"width": 8, "height": pixels // 8, "channels": 1,
                                                        "prompt_bytes": prompt_bytes, "seed_bytes": 8}})
    model.validate()
    return model


@pytest.fixture(scope="module")
def imager():
    return ModelCommitment(image_standin())


@pytest.fixture
def consumer(project, protocol, owner, model_owner, imager):
    model_id = register_model(protocol.registry, owner, model_owner, imager.model)
    return owner.deploy(project.ImageGeneration, protocol.oracle, model_id, B, GAS)


def test_image_request_layout_and_fields():
    data = image_request("a 7", 8, seed=0x0102030405060708)
    assert data == b"a 7" + bytes(5) + bytes([1, 2, 3, 4, 5, 6, 7, 8])
    assert image_request("a 7", 8) == b"a 7" + bytes(13)              # seed 0
    layout = ImageLayout(width=8, height=1, prompt_bytes=8, seed_bytes=8)
    assert parse_request(data, layout) == (b"a 7", 0x0102030405060708)
    assert parse_request(b"a 7", layout) == (b"a 7", 0)              # ORA's bytes(prompt): zero-padded, seed 0
    assert image_request("é" * 4, 8)[:8] == "éééé".encode()           # bytes, not characters, fill B
    assert image_request("x", 1, seed=2**64 - 1)[1:] == b"\xff" * 8
    for bad in (dict(prompt=""), dict(prompt="x" * 9), dict(prompt="é" * 5), dict(seed=-1), dict(seed=2**64)):
        with pytest.raises(EncodingError):
            image_request(**{"prompt": "a 7", "prompt_bytes": 8, **bad})


@settings(max_examples=40, deadline=None)
@given(prompt=st.text(min_size=1, max_size=B).filter(lambda t: 0 < len(t.encode()) <= B and "\0" not in t),
       seed=st.integers(0, 2**64 - 1))
def test_the_chain_encoder_equals_the_image_models(prompt, seed):
    """offchain.chain.encoding.image_request (what ImageGeneration sends) and the model's own
    offchain.models.diffusion.image_request (models sit above chain, so it keeps its own, stricter: no NUL) agree."""
    from offchain.models.diffusion import PROMPT_BYTES, image_request as model_request

    assert PROMPT_BYTES == B
    assert image_request(prompt, B, seed) == model_request(prompt, seed)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])  # a view call
@given(prompt=st.text(min_size=1, max_size=B).filter(lambda t: 0 < len(t.encode()) <= B),
       seed=st.one_of(st.sampled_from([0, 1, 2**63, 2**64 - 1]), st.integers(0, 2**64 - 1)))
def test_the_consumer_encodes_what_python_encodes(consumer, prompt, seed):
    assert bytes(consumer.encodeRequest(prompt, seed)) == image_request(prompt, B, seed)


def test_bad_prompts_and_configs_revert_by_name(project, protocol, owner, consumer, user):
    fee = consumer.fee()
    with ape.reverts(consumer.EmptyPrompt):
        consumer.generate("", sender=user, value=fee)
    with ape.reverts(consumer.EmptyPrompt):
        consumer.generate("", 5, sender=user, value=fee)
    too_long = "é" * (B // 2) + "x"   # B + 1 UTF-8 bytes
    with ape.reverts(consumer.PromptTooLong, length=B + 1, promptBytes=B):
        consumer.generate(too_long, sender=user, value=fee)
    with ape.reverts(consumer.PromptTooLong, length=B + 1, promptBytes=B):
        consumer.generate(too_long, 5, sender=user, value=fee)
    with reverts_named("Underpaid", paid=fee - 1, fee=fee):   # the oracle's error, raised inside the consumer
        consumer.generate("a 7", 5, sender=user, value=fee - 1)
    with ape.reverts(consumer.UnauthorizedCallbackSource):
        consumer.aiOracleCallback(1, b"forged", b"", sender=user)
    with ape.reverts(project.ImageGeneration.BadConsumerConfig, promptBytes=0, callbackGasLimit=GAS):
        owner.deploy(project.ImageGeneration, protocol.oracle, 1, 0, GAS)
    with ape.reverts(project.ImageGeneration.BadConsumerConfig, promptBytes=B, callbackGasLimit=0):
        owner.deploy(project.ImageGeneration, protocol.oracle, 1, B, 0)


def _deliver(protocol, imager, receipt, submitter, stranger, chain):
    oracle, game = protocol.oracle, protocol.game
    request = receipt.decode_logs(oracle.AICallbackRequest)[0]
    trace = run(imager.model, [input_tensor(imager.model.graph, bytes(request.input))])
    output, _ = submit(oracle, game, request.requestId, ExecutionCommitment(imager, trace), submitter)
    chain.pending_timestamp += PARAMS.challenge_window
    finalized = oracle.finalize(request.requestId, output, bytes(request.callbackData), sender=stranger)
    assert not finalized.decode_logs(oracle.CallbackFailed)
    return request, output, finalized


@pytest.mark.parametrize("seed", [None, 0, 7, 2**64 - 1])
def test_generate_sends_prompt_and_seed_and_stores_the_image(
    protocol, consumer, imager, user, submitter, stranger, chain, seed
):
    prompt = "a handwritten seven"
    if seed is None:
        receipt = consumer.generate(prompt, sender=user, value=consumer.fee())
    else:
        receipt = consumer.generate(prompt, seed, sender=user, value=consumer.fee())
    sent = prompt.encode() if seed is None else image_request(prompt, B, seed)
    request_id = receipt.decode_logs(protocol.oracle.AICallbackRequest)[0].requestId
    assert [(log.requestId, log.requester, log.prompt, log.seed) for log in receipt.decode_logs(
        consumer.ImageRequested)] == [(request_id, user.address, prompt, seed or 0)]
    assert tuple(consumer.request(request_id)) == (False, user.address, prompt, seed or 0, sent, b"")
    request, output, finalized = _deliver(protocol, imager, receipt, submitter, stranger, chain)
    assert bytes(request.input) == sent
    assert parse_request(bytes(request.input), ImageLayout(8, 8, B, 8)) == (prompt.encode(), seed or 0)
    # The stand-in's image is the padded request's first 64 bytes: the prompt, zero-padded.
    expected = prompt.encode().ljust(PIXELS, b"\0")
    assert output == expected and bytes(consumer.images(request_id)) == expected
    assert tuple(consumer.request(request_id)) == (True, user.address, prompt, seed or 0, sent, expected)
    assert [(log.requestId, bytes(log.pixels)) for log in finalized.decode_logs(consumer.ImageDelivered)] == \
        [(request_id, expected)]
    # The oracle's record names exactly the kept input: what an AIGCCollection mint presents as its prompt.
    model_id, input_hash, output_hash = protocol.oracle.finalizedResult(request_id)
    assert (model_id, bytes(input_hash), bytes(output_hash)) == (consumer.modelId(), keccak(sent), keccak(expected))
    conserved(protocol)
    oracle_account = ape.accounts[protocol.oracle.address]
    ape.chain.provider.set_balance(protocol.oracle.address, 10**18)
    with ape.reverts(consumer.NotMyRequest, requestId=request_id):
        consumer.aiOracleCallback(request_id, b"again", b"", sender=oracle_account)


def test_the_registered_consumers_callback_gas_stores_the_largest_image(
    project, protocol, owner, model_owner, imager, user, submitter, stranger, chain
):
    """`ape run register --consumer` gives an image model's ImageGeneration image_callback_gas(pixel bytes): enough
    for an image of non-zero bytes, which a third of it is not (the callback then fails, nothing is stored)."""
    from scripts.register import image_callback_gas

    model_id = register_model(protocol.registry, owner, model_owner, imager.model)
    gas = image_callback_gas(PIXELS)
    prompt = "\x7f" * B                               # the stand-in's image: 64 non-zero bytes
    for limit, ok in ((gas, True), (gas // 3, False)):
        consumer = owner.deploy(project.ImageGeneration, protocol.oracle, model_id, B, limit)
        receipt = consumer.generate(prompt, 2**64 - 1, sender=user, value=consumer.fee())
        request = receipt.decode_logs(protocol.oracle.AICallbackRequest)[0]
        trace = run(imager.model, [input_tensor(imager.model.graph, bytes(request.input))])
        output, _ = submit(protocol.oracle, protocol.game, request.requestId, ExecutionCommitment(imager, trace),
                           submitter)
        chain.pending_timestamp += PARAMS.challenge_window
        finalized = protocol.oracle.finalize(request.requestId, output, b"", sender=stranger)
        assert bool(finalized.decode_logs(protocol.oracle.CallbackFailed)) is not ok
        assert consumer.request(request.requestId).delivered is ok
        assert bytes(consumer.images(request.requestId)) == (b"\x7f" * PIXELS if ok else b"")


def test_ape_run_request_prompt_shows_the_image_and_writes_a_png(
    monkeypatch, tmp_path, protocol, consumer, imager, user, submitter, stranger, chain
):
    """scripts/request.py's `--prompt` path (`_image`, what `ape run request --prompt` runs), with the nodes' part
    (submit, window, finalize) played where the script waits for the callback."""
    import click
    from PIL import Image
    from rich.console import Console

    from scripts import request as request_script

    oracle = protocol.oracle
    sent = []

    nodes_answer = nodes_answer_script_waits(protocol, imager, submitter, stranger, chain, sent)
    monkeypatch.setattr(request_script, "_wait", nodes_answer)
    console = Console(record=True, width=200)
    png = tmp_path / "seven.png"
    rid, pixels = request_script._image(console, consumer, "Say [b]7[/b]", 9, user, 5, str(png))
    assert sent == [image_request("Say [b]7[/b]", B, 9)]
    assert pixels == b"Say [b]7[/b]".ljust(PIXELS, b"\0")           # the stand-in's image: the padded request
    text = console.export_text()
    assert "prompt: Say [b]7[/b]\n" in text and "seed: 9\n" in text and f"written to {png}" in text
    assert text.count("\u2580") == 2 * PIXELS // 2                      # 4 text rows of 8 two-character pixels
    with Image.open(png) as img:                                        # 32 px per pixel, the bytes as grays
        assert img.size == (256, 256) and img.mode == "L"
        assert [img.getpixel((32 * (i % 8) + 16, 32 * (i // 8) + 16)) for i in range(PIXELS)] == list(pixels)
    request_script._image(console, consumer, "a 7", None, user, 5, str(tmp_path / "ora.png"))
    assert sent[1] == b"a 7"                                            # no seed: ORA's bytes(prompt)
    count = oracle.requestCount()
    for prompt, seed, field in (("x" * (B + 1), 0, "at most 64"), ("a 7", 2**64, "uint64"), ("", 0, "empty")):
        with pytest.raises(click.BadParameter, match=field):
            request_script._image(console, consumer, prompt, seed, user, 5)
    assert oracle.requestCount() == count                               # refused before any transaction

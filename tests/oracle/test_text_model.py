"""A text model on the oracle: the request is a sentence's UTF-8 bytes, the model's own graph tokenises it
(disputable like every node), SentenceSimilarity stores the embeddings and compares them on-chain. A wrong token
id posted by a submitter loses the game at the tokenizer node and the correct embedding is delivered."""

from __future__ import annotations

import math

import ape
import numpy as np
import pytest

from offchain.chain.encoding import output_bytes
from offchain.dispute.claimed_tree import ClaimedTree
from offchain.dispute.commitment import ModelCommitment
from offchain.dispute.match import honest_challenger, honest_submitter, play
from offchain.dispute.solver import GameStatus
from offchain.engine.ops import OpCode

from .conftest import PARAMS, register_model, reverts_named
from .test_oracle import conserved, execute, submit

MAX_BYTES, SEQ = 64, 32
SENTENCES = ("Smart contracts can ask for embeddings.", "Contracts request sentence embeddings.", "Der Hund schläft.")


@pytest.fixture(scope="module")
def text_model():
    from offchain.models.minilm import build_text_model

    return ModelCommitment(build_text_model(MAX_BYTES, SEQ, calibration=4))


@pytest.fixture
def embedder(project, protocol, owner, model_owner, text_model):
    model_id = register_model(protocol.registry, owner, model_owner, text_model.model)
    return owner.deploy(project.SentenceSimilarity, protocol.oracle, model_id, text_model.model.graph.output.size)


def _cosine_e18(a: np.ndarray, b: np.ndarray) -> int:
    dot = int(np.dot(a.astype(np.int64), b.astype(np.int64)))
    norm = math.isqrt(int(np.dot(a.astype(np.int64), a)) * int(np.dot(b.astype(np.int64), b)))
    q = abs(dot) * 10**18 // norm
    return q if dot >= 0 else -q


def test_sentences_are_embedded_and_compared_on_chain(protocol, embedder, text_model, user, submitter, stranger,
                                                     chain):
    oracle, game = protocol.oracle, protocol.game
    outputs = {}
    for sentence in SENTENCES:
        receipt = embedder.embed(sentence, sender=user, value=embedder.fee())
        request_id = receipt.decode_logs(oracle.AICallbackRequest)[0].requestId
        honest = execute(text_model, sentence.encode())
        # The input root is computed on-chain from the UTF-8 bytes, zero-padded to the model's 64 bytes.
        assert bytes(oracle.getRequest(request_id).inputRoot) == honest.input_root
        submit(oracle, game, request_id, honest, submitter)
        outputs[request_id] = honest.trace.output.reshape(-1)
    chain.pending_timestamp += PARAMS.challenge_window
    for request_id, values in outputs.items():
        oracle.finalize(request_id, output_bytes(values), b"", sender=stranger)
        done, requester, text_hash = embedder.embedding(request_id)
        assert done and requester == user.address
        assert [embedder.valueAt(request_id, i) for i in (0, 1, 383)] == [int(values[i]) for i in (0, 1, 383)]
    ids = list(outputs)
    for a in ids:
        for b in ids:
            assert embedder.similarity(a, b) == _cosine_e18(outputs[a], outputs[b])
    assert embedder.similarity(ids[0], ids[0]) == 10**18
    # The two sentences about contracts are closer to each other than to the German one about a dog.
    assert embedder.similarity(ids[0], ids[1]) > embedder.similarity(ids[0], ids[2]) + 2 * 10**17
    conserved(protocol)


def test_the_integer_text_model_tracks_the_float_encoder(text_model):
    """UTF-8 in, tokenised in-graph: the embeddings point where sentence-transformers' do (cosine >= 0.99)."""
    from offchain.models import minilm

    floats = minilm.embed(minilm.load_minilm(SEQ), minilm.load_tokenizer(), list(SENTENCES)).numpy()
    frac = text_model.model.graph.output.frac
    for sentence, f in zip(SENTENCES, floats):
        q = execute(text_model, sentence.encode()).trace.output.reshape(-1) / 2.0**frac
        assert float(q @ f / np.linalg.norm(q) / np.linalg.norm(f)) >= 0.99, sentence


def test_bad_sentences_and_reads_revert_with_named_errors(protocol, embedder, user, stranger):
    oracle = protocol.oracle
    fee = embedder.fee()
    with ape.reverts(embedder.EmptySentence):
        embedder.embed("", sender=user, value=fee)
    with reverts_named("InputTooLong", length=MAX_BYTES + 1, maxLength=MAX_BYTES):  # raised by the oracle inside embed
        embedder.embed("é" * 32 + "x", sender=user, value=fee)   # 65 UTF-8 bytes
    receipt = embedder.embed("fine", sender=user, value=fee)
    request_id = receipt.decode_logs(oracle.AICallbackRequest)[0].requestId
    with ape.reverts(embedder.NotEmbedded, requestId=request_id):
        embedder.similarity(request_id, request_id)
    with ape.reverts(embedder.ValueIndexOutOfRange, index=384, dims=384):
        embedder.valueAt(request_id, 384)
    with ape.reverts(embedder.UnauthorizedCallbackSource):
        embedder.aiOracleCallback(request_id, b"\x00" * 768, b"", sender=stranger)


def test_a_wrong_token_loses_at_the_tokenizer_and_the_right_embedding_is_delivered(
    protocol, embedder, text_model, user, submitter, challenger, stranger, chain
):
    oracle, game = protocol.oracle, protocol.game
    sentence = SENTENCES[0]
    embedder.embed(sentence, sender=user, value=embedder.fee())
    request_id = oracle.requestCount()
    nodes = text_model.model.graph.nodes
    wordpiece = next(i for i, n in enumerate(nodes) if n.op == OpCode.WORDPIECE)
    honest = execute(text_model, sentence.encode())
    faulty = execute(text_model, sentence.encode(), fault=(wordpiece, 2, 1))   # the second piece's id + 1
    bad_output, claim_id = submit(oracle, game, request_id, faulty, submitter)
    assert bad_output != output_bytes(honest.trace.output)

    game_id = game.challenge(claim_id, sender=challenger, value=game.challengerBond()).return_value
    claimed = ClaimedTree(honest.trace_tree, faulty.trace_root)
    result = play(game, game_id, submitter, challenger, honest_submitter(faulty),
                  honest_challenger(honest, claimed), claimed=claimed)
    assert result.status == GameStatus.CHALLENGER_WON
    assert game.getGame(game_id).nodeIndex == wordpiece
    with ape.reverts(oracle.ClaimVoided):
        oracle.finalize(request_id, bad_output, b"", sender=stranger)

    good_output, _ = submit(oracle, game, request_id, honest, challenger)
    chain.pending_timestamp += PARAMS.challenge_window
    oracle.finalize(request_id, good_output, b"", sender=challenger)
    assert embedder.valueAt(request_id, 5) == int(honest.trace.output.reshape(-1)[5])
    conserved(protocol)

"""Inputs the engine refuses never reach the game: the oracle refuses them at request time, by the rule the engine
applies (offchain/engine/domain.py, contracts/oracle/lib/LibInputDomain.sol).

The attack this closes: a model whose first node is an EMBEDDING on the request input. A request holding a token id
outside the vocabulary used to be accepted; honest nodes refuse to run it (the executor has no row for the id), and
every one-step proof of that element reverts (EmbeddingOps: TokenOutOfVocabulary), so any answer posted for it
finalized. Now the model registers its input domain (int32 ids in [0, V - 1]); such a request is accepted but
marked invalid (issue 18: answered by an error callback, never by a result; `checkInput` gives today's revert).
"""

from __future__ import annotations

import ape
import numpy as np
from eth_abi import encode
import pytest
from ape import chain

from offchain.chain.encoding import input_tensor
from offchain.chain.registration import model_spec
from offchain.dispute.commitment import ModelCommitment
from offchain.engine.domain import InputDomain, input_domain
from offchain.engine.dtypes import DType
from offchain.engine.errors import GraphError, InputNotWholeElementsError, InputOutOfDomainError
from offchain.engine.executor import run
from offchain.engine.graph import Graph, Node as GraphNode, TensorKind, TensorRef, TensorSpec
from offchain.engine.model import Model
from offchain.engine.modelfile import save_model
from offchain.engine.ops import OpCode
from offchain.nodes.catalog import CatalogError, ServedModel, load_catalog
from offchain.nodes.node import Fault, Node, Roles
from offchain.nodes.store import NodeStore

from .conftest import PARAMS, tiny_image
from .conftest import CALLBACK_GAS
from .test_error_callbacks import INVALID, REJECTED, assert_refused, domain_error

V, D, T = 16, 4, 8          # vocabulary, embedding width, tokens per request
NO_CALLBACK = "0x" + "00" * 20


def embedding_model() -> Model:
    """ids int32 [T] (the request input) -> EMBEDDING [V, D] -> RELU: the smallest model whose first node reads
    token ids straight from the request, as llama-tiny's does."""
    ids = TensorSpec((T,), DType.INT32, 0, 5, "ids")
    table = TensorSpec((V, D), DType.INT8, 0, 5, "table")
    emb = TensorSpec((T, D), DType.INT8, 0, 5, "emb")
    relu = TensorSpec((T, D), DType.INT8, 0, 5, "relu")
    nodes = [GraphNode(OpCode.EMBEDDING, (TensorRef(TensorKind.INPUT, 0), TensorRef(TensorKind.WEIGHT, 0)),
                       (ids, table), emb, (), "embed"),
             GraphNode(OpCode.RELU, (TensorRef(TensorKind.ACTIVATION, 0),), (emb,), relu, (), "relu")]
    table_values = np.random.default_rng(5).integers(-100, 101, size=(V, D)).astype(np.int8)
    model = Model(Graph([ids], [table], nodes), [table_values], {"name": "embedding"})
    model.validate()
    return model


def ids_bytes(ids) -> bytes:
    return np.asarray(ids, ">i4").tobytes()


@pytest.fixture(scope="module")
def embedding():
    return ModelCommitment(embedding_model())


@pytest.fixture
def embedding_id(protocol, owner, model_owner, embedding):
    return protocol.registry.registerModel(model_spec(embedding.model, 0, model_owner.address),
                                           sender=owner).return_value


def request(oracle, model_id, data, user):
    return oracle.requestCallback(model_id, data, NO_CALLBACK, 0, b"", sender=user,
                                  value=oracle.estimateFee(model_id, 0))


def test_the_registered_domain_is_the_vocabulary(protocol, embedding, embedding_id, tiny_model, model_id):
    m = protocol.registry.getModel(embedding_id)
    assert (m.inputWidth, m.inputMin, m.inputMax) == (4, 0, V - 1)
    t = protocol.registry.getModel(model_id)   # tiny-mlp: int8 pixels read only by a LINEAR
    assert (t.inputWidth, t.inputMin, t.inputMax) == (1, -128, 127)


@pytest.mark.parametrize("ids, index, value", [
    ([1, 2, V, 3], 2, V),             # one past the last row
    ([-1], 0, -1),                    # negative
    ([0, 2**31 - 1], 1, 2**31 - 1),   # the int32 maximum
])
def test_an_out_of_vocabulary_request_is_refused_naming_the_element(protocol, embedding, embedding_id, user, ids,
                                                                     index, value):
    oracle = protocol.oracle
    data = ids_bytes(ids)
    with ape.reverts(oracle.InputOutOfDomain, index=index, value=value, min=0, max=V - 1):
        oracle.checkInput(embedding_id, data)
    fee = oracle.estimateFee(embedding_id, 0)
    assert_refused(oracle, request(oracle, embedding_id, data, user),
                   domain_error("InputOutOfDomain", index, value, 0, V - 1))
    # nothing is charged: the node reward comes back as credit, no fee stays held
    assert oracle.heldFees() == 0 and oracle.credit(user) == fee
    # The engine's rule names the same element: one definition on both sides.
    with pytest.raises(InputOutOfDomainError) as info:
        input_tensor(embedding.model.graph, data)
    assert (info.value.index, info.value.value, info.value.lo, info.value.hi) == (index, value, 0, V - 1)


def test_the_chain_and_the_engine_refuse_the_same_inputs(protocol, embedding, embedding_id, user):
    """Random requests (ids around the vocabulary's edges, some cut mid-element): each is accepted by the oracle iff
    the engine's rule accepts it, and refused with the same error and arguments otherwise."""
    oracle, graph = protocol.oracle, embedding.model.graph
    rng = np.random.default_rng(11)
    accepted = 0
    for _ in range(24):
        data = ids_bytes(rng.integers(-2, V + 2, size=T))[: int(rng.integers(1, T + 1)) * 4]
        if rng.random() < 0.25:
            data = data[: -int(rng.integers(1, 4))] or data[:1]
        try:
            input_tensor(graph, data)
        except InputNotWholeElementsError as exc:
            with ape.reverts(oracle.InputNotWholeElements, length=exc.length, width=exc.width):
                oracle.checkInput(embedding_id, data)
            assert_refused(oracle, request(oracle, embedding_id, data, user),
                           domain_error("InputNotWholeElements", exc.length, exc.width))
        except InputOutOfDomainError as exc:
            with ape.reverts(oracle.InputOutOfDomain, index=exc.index, value=exc.value, min=exc.lo, max=exc.hi):
                oracle.checkInput(embedding_id, data)
            assert_refused(oracle, request(oracle, embedding_id, data, user),
                           domain_error("InputOutOfDomain", exc.index, exc.value, exc.lo, exc.hi))
        else:
            oracle.checkInput(embedding_id, data)
            request(oracle, embedding_id, data, user)
            assert oracle.getRequest(oracle.requestCount()).status == 1   # Open
            accepted += 1
    assert 0 < accepted < 24


def test_a_partial_element_is_refused(protocol, embedding, embedding_id, user):
    with ape.reverts(protocol.oracle.InputNotWholeElements, length=5, width=4):
        protocol.oracle.checkInput(embedding_id, ids_bytes([3]) + b"\x00")
    assert_refused(protocol.oracle, request(protocol.oracle, embedding_id, ids_bytes([3]) + b"\x00", user),
                   domain_error("InputNotWholeElements", 5, 4))
    with pytest.raises(InputNotWholeElementsError):
        input_tensor(embedding.model.graph, ids_bytes([3]) + b"\x00")


def test_the_boundary_token_is_answered_and_a_wrong_answer_to_it_loses(
    protocol, embedding, embedding_id, user, submitter, challenger, tmp_path
):
    """Token V - 1 (and the zero padding of a short input) is in the domain: the request is accepted, a submitter
    that corrupts the embedding row of that token loses the game at the EMBEDDING one-step proof, and the honest
    answer is delivered."""
    oracle, game = protocol.oracle, protocol.game
    data = ids_bytes([V - 1, 3, V - 1])     # 3 of 8 tokens; the rest is zero padding (token 0)
    request(oracle, embedding_id, data, user)
    request_id = oracle.requestCount()
    served = {embedding_id: ServedModel(embedding_id, "embedding", embedding)}
    bad = Node(oracle, game, submitter, served, NodeStore(tmp_path / "s.sqlite"), Roles(submit=True),
               fault=Fault(0, 2 * D + 1, 5), name="submitter", chain=chain)   # token 2's row, column 1
    good_path = tmp_path / "c.sqlite"
    good = Node(oracle, game, challenger, served, NodeStore(good_path), Roles(challenge=True, correct=True),
                name="challenger", chain=chain)
    for _ in range(40):
        bad.poll_once()
        good.poll_once()
        if oracle.isFinalized(request_id):
            break
        if game.gameCount() and game.getGame(1).status != 1 and oracle.getRequest(request_id).submitter == challenger.address:
            chain.pending_timestamp += PARAMS.challenge_window
            chain.mine()
    assert game.getGame(1).status == 2          # ChallengerWon
    assert game.getGame(1).nodeIndex == 0       # at the EMBEDDING node
    assert oracle.isFinalized(request_id)
    expected = run(embedding.model, [input_tensor(embedding.model.graph, data)]).output
    table = embedding.model.weights[0]
    assert np.array_equal(expected[0], np.maximum(table[V - 1], 0))
    assert oracle.finalizedResult(request_id).outputHash == __import__("eth_utils").keccak(
        expected.astype(">i1").tobytes())
    assert NodeStore(good_path).game_counts() == {"won": 1}


def test_a_full_range_int8_model_accepts_any_bytes(protocol, tiny_model, model_id, user):
    oracle = protocol.oracle
    for data in (bytes(range(128, 144)), bytes([0x80]), bytes([0x7F, 0xFF, 0x00]), tiny_image(4)):
        request(oracle, model_id, data, user)
        input_tensor(tiny_model.model.graph, data)  # the engine takes it too
    assert oracle.requestCount() == 4


def test_a_node_refuses_to_serve_a_model_registered_with_a_looser_domain(
    protocol, owner, model_owner, embedding, user, submitter, tmp_path
):
    """A registry entry whose domain is not the graph's (here: every int32) would let the chain accept inputs the
    engine refuses; nodes check the registered domain against the graph before serving, and a node that serves it
    anyway skips such a request with a `refused` log line instead of failing on it every poll."""
    spec = list(model_spec(embedding.model, 0, model_owner.address))
    spec[6:9] = [4, -(2**31), 2**31 - 1]
    model_id = protocol.registry.registerModel(tuple(spec), sender=owner).return_value
    path = save_model(embedding.model, tmp_path / "embedding.model")
    with pytest.raises(CatalogError, match="input domain"):
        load_catalog([path], protocol.registry)

    request(protocol.oracle, model_id, ids_bytes([V]), user)    # the loose domain lets it through
    node = Node(protocol.oracle, protocol.game, submitter, {model_id: ServedModel(model_id, "embedding", embedding)},
                NodeStore(tmp_path / "n.sqlite"), Roles(submit=True), name="submitter", chain=chain)
    node.poll_once()
    assert node.store.request(1) is None
    assert protocol.oracle.getRequest(1).status == 1    # still open: nothing was posted


def test_model_spec_derives_the_domain_from_every_reader_of_the_input(embedding):
    assert input_domain(embedding.model.graph) == InputDomain(4, 0, V - 1)
    # A second EMBEDDING with a smaller vocabulary narrows the domain to what both accept.
    g = embedding.model.graph
    small = TensorSpec((V // 2, D), DType.INT8, 0, 5, "small")
    second = GraphNode(OpCode.EMBEDDING, (TensorRef(TensorKind.INPUT, 0), TensorRef(TensorKind.WEIGHT, 1)),
                       (g.inputs[0], small), g.nodes[0].output, (), "embed2")
    assert input_domain(Graph(g.inputs, g.weights + [small], g.nodes + [second])) == InputDomain(4, 0, V // 2 - 1)
    # WORDPIECE refuses match tensors no range describes: a graph feeding it the request input is not registrable.
    stream = TensorSpec((4,), DType.INT32, 0, 5, "stream")
    match = TensorSpec((4, 2), DType.INT32, 0, 5, "match")
    wp = GraphNode(OpCode.WORDPIECE, (TensorRef(TensorKind.WEIGHT, 0), TensorRef(TensorKind.INPUT, 0)),
                   (stream, match), TensorSpec((4,), DType.INT32, 0, 5, "ids"), (1, 2, 0, 3, 8), "wordpiece")
    with pytest.raises(GraphError, match="WORDPIECE"):
        input_domain(Graph([match], [stream], [wp]))


# ---------------------------------------------------------------- error callbacks (issue 18)

def conserved(oracle):
    assert oracle.balance == oracle.heldFees() + oracle.totalCredit()


def test_an_invalid_request_is_answered_by_an_error_callback(project, protocol, owner, embedding_id, user,
                                                             stranger):
    """An ORA-style consumer asks with an out-of-vocabulary id: the request is accepted as invalid, anyone delivers
    `aiOracleCallbackError(id, InvalidInput, InputOutOfDomain(...), callbackData)` and is paid the callback fee; the
    model fee and node reward are never charged; the request ends once."""
    oracle = protocol.oracle
    prompt = owner.deploy(project.OraStylePrompt, oracle)
    prompt.setCallbackGasLimit(embedding_id, CALLBACK_GAS, sender=owner)
    fee = prompt.estimateFee(embedding_id)
    text = ids_bytes([3, V]).decode()       # bytes(prompt) is the request input
    tx = prompt.calculateAIResult(embedding_id, text, sender=user, value=fee)
    reason = domain_error("InputOutOfDomain", 1, V, 0, V - 1)
    request_id = assert_refused(oracle, tx, reason)
    callback_fee = CALLBACK_GAS * oracle.callbackGasPrice()
    assert callback_fee > 0
    assert oracle.heldFees() == callback_fee and oracle.credit(prompt) == fee - callback_fee
    conserved(oracle)
    data = oracle.getRequest(request_id)
    callback_data = encode(["uint256", "string"], [embedding_id, text])
    # no node submits to it, nobody refunds it, and it takes back exactly its own bytes
    with ape.reverts(oracle.WrongRequestStatus, requestId=request_id, status=INVALID):
        oracle.refund(request_id, sender=stranger)
    output = b"\x00" * protocol.registry.getModel(embedding_id).outputLength
    with ape.reverts(oracle.WrongRequestStatus, requestId=request_id, status=INVALID):
        oracle.submit(request_id, output, b"\x01" * 32, [], sender=stranger, value=protocol.game.submitterBond())
    with ape.reverts(oracle.DataMismatch, what="input"):
        oracle.finalizeInvalid(request_id, ids_bytes([3, V - 1]), callback_data, sender=stranger)
    with ape.reverts(oracle.DataMismatch, what="callbackData"):
        oracle.finalizeInvalid(request_id, ids_bytes([3, V]), b"", sender=stranger)
    tx = oracle.finalizeInvalid(request_id, ids_bytes([3, V]), callback_data, sender=stranger)
    (err,) = list(tx.decode_logs(prompt.AICallbackError))
    assert (err.requestId, err.code, err.message, err.callbackData) == (request_id, 0, reason, callback_data)
    assert not list(tx.decode_logs(oracle.CallbackFailed))
    assert oracle.getRequest(request_id).status == REJECTED and data.modelFee == 0 and data.nodeReward == 0
    assert oracle.credit(stranger) == callback_fee and oracle.heldFees() == 0
    conserved(oracle)
    with ape.reverts(oracle.WrongRequestStatus, requestId=request_id, status=REJECTED):
        oracle.finalizeInvalid(request_id, ids_bytes([3, V]), callback_data, sender=stranger)
    assert prompt.requests(request_id).sender == user.address   # the consumer recorded it before the error came


def test_a_consumer_without_the_error_callback_still_ends(protocol, embedding_id, user, stranger):
    """ORA's older consumers have no aiOracleCallbackError: the call fails (CallbackFailed), the request still
    ends and its callback fee goes to the deliverer; nothing stays held."""
    oracle = protocol.oracle
    target = protocol.registry.address   # a contract with no such function and no fallback
    fee = oracle.estimateFee(embedding_id, CALLBACK_GAS)
    tx = oracle.requestCallback(embedding_id, ids_bytes([-1]), target, CALLBACK_GAS, b"cb", sender=user, value=fee)
    request_id = assert_refused(oracle, tx, domain_error("InputOutOfDomain", 0, -1, 0, V - 1))
    tx = oracle.finalizeInvalid(request_id, ids_bytes([-1]), b"cb", sender=stranger)
    assert [log.requestId for log in tx.decode_logs(oracle.CallbackFailed)] == [request_id]
    assert oracle.getRequest(request_id).status == REJECTED and oracle.heldFees() == 0
    assert oracle.credit(stranger) == CALLBACK_GAS * oracle.callbackGasPrice()
    conserved(oracle)


def test_nodes_ignore_invalid_requests(protocol, embedding, embedding_id, user, submitter, tmp_path):
    request(protocol.oracle, embedding_id, ids_bytes([V]), user)
    node = Node(protocol.oracle, protocol.game, submitter,
                {embedding_id: ServedModel(embedding_id, "embedding", embedding)},
                NodeStore(tmp_path / "n.sqlite"), Roles(submit=True), name="submitter", chain=chain)
    node.poll_once()
    assert node.store.request(1) is None
    assert protocol.oracle.getRequest(1).status == INVALID and protocol.oracle.getRequest(1).claimId == 0

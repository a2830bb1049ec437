"""Batch inference (issue 18): ORA's `requestBatchInference` / `estimateFeeBatch` served by a batch variant.

A base model's batch-8 variant is the same weights compiled with a leading batch dimension of 8 (its own graph
and weights roots, its own model id), registered by the model's owner: tiny-mlp for the contract's checks,
digits-mlp (trained, then captured with [8, 64] example inputs) for the games on anvil. A batch of 8 digit images
is one request, one inference of the variant, one claim; a fault in one item loses the dispute at that item's
chunk of the batched graph's node and the corrected batch is delivered.
"""

from __future__ import annotations

import ape
import numpy as np
import pytest
from ape import chain
from eth_abi import encode
from eth_utils import keccak

from offchain.chain.batch import batch_size_of, register_batch_variant
from offchain.chain.encoding import input_tensor
from offchain.dispute.commitment import ModelCommitment
from offchain.engine.executor import run
from offchain.models import digits
from offchain.models.tiny import tiny_mlp
from offchain.nodes.catalog import ServedModel
from offchain.nodes.node import Fault, Node, Roles
from offchain.nodes.store import NodeStore

from .conftest import CALLBACK_GAS, MODEL_FEE, PARAMS, make_node, register_model

B = 8
CALLDATA, BLOB, IPFS = 0, 1, 2


@pytest.fixture(scope="module")
def batch_model():
    return ModelCommitment(tiny_mlp(batch=B))


@pytest.fixture
def variant_id(protocol, owner, model_owner, batch_model):
    return register_model(protocol.registry, owner, model_owner, batch_model.model)


@pytest.fixture
def registered(protocol, model_owner, model_id, variant_id):
    protocol.oracle.registerBatchVariant(model_id, B, variant_id, sender=model_owner)
    return model_id, variant_id


def batch_inputs(seed: int = 5) -> bytes:
    return np.random.default_rng(seed).integers(-100, 101, size=(B, 16)).astype(np.int8).tobytes()


def test_batch_variant_equals_eight_single_inferences(tiny_model, batch_model):
    inputs = batch_inputs(11)
    out = run(batch_model.model, [input_tensor(batch_model.model.graph, inputs)]).output
    for b in range(B):
        one = run(tiny_model.model, [input_tensor(tiny_model.model.graph, inputs[b * 16:(b + 1) * 16])]).output
        assert np.array_equal(out[b], one.reshape(-1))
    assert batch_model.model.graph.output.nbytes == B * tiny_model.model.graph.output.nbytes


def test_fee_is_batch_size_times_model_fee_plus_callback_gas(protocol, registered):
    oracle = protocol.oracle
    model_id, _ = registered
    fee = oracle.estimateFeeBatch(model_id, CALLBACK_GAS, B)
    assert fee == B * MODEL_FEE + oracle.nodeReward() + CALLBACK_GAS * oracle.callbackGasPrice()
    assert fee - oracle.estimateFee(model_id, CALLBACK_GAS) == (B - 1) * MODEL_FEE
    for size in (0, 1, 4, 9):
        with ape.reverts(oracle.InvalidBatchSize, modelId=model_id, batchSize=size):
            oracle.estimateFeeBatch(model_id, CALLBACK_GAS, size)


def test_batch_request_refusals(protocol, registered, user):
    oracle = protocol.oracle
    model_id, _ = registered
    fee = oracle.estimateFeeBatch(model_id, 0, B)
    for da in ((IPFS, CALLDATA), (CALLDATA, BLOB)):
        with ape.reverts(oracle.UnsupportedDA, inputDA=da[0], outputDA=da[1]):
            oracle.requestBatchInference(B, model_id, batch_inputs(), ape.utils.ZERO_ADDRESS, 0, b"", *da,
                                         sender=user, value=fee)
    with ape.reverts(oracle.UnsupportedDA, inputDA=IPFS, outputDA=CALLDATA):  # also for a size with no variant
        oracle.requestBatchInference(4, model_id, batch_inputs()[:64], ape.utils.ZERO_ADDRESS, 0, b"",
                                     IPFS, CALLDATA, sender=user, value=fee)
    for size in (B, 4):                                   # an unknown model: for a variant's size or any other
        with ape.reverts(oracle.UnknownModel, modelId=99):
            oracle.requestBatchInference(size, 99, batch_inputs(), ape.utils.ZERO_ADDRESS, 0, b"",
                                         CALLDATA, CALLDATA, sender=user, value=fee)
    with ape.reverts(oracle.Underpaid, paid=fee - 1, fee=fee):
        oracle.requestBatchInference(B, model_id, batch_inputs(), ape.utils.ZERO_ADDRESS, 0, b"",
                                     CALLDATA, CALLDATA, sender=user, value=fee - 1)
    with ape.reverts(oracle.InputTooLong, length=B * 16 + 1, maxLength=B * 16):
        oracle.requestBatchInference(B, model_id, batch_inputs() + b"\x01", ape.utils.ZERO_ADDRESS, 0, b"",
                                     CALLDATA, CALLDATA, sender=user, value=fee)
    assert oracle.requestCount() == 0


INVALID, REJECTED = 5, 6                                  # AIOracle.RequestStatus
INVALID_BATCH_SIZE = 1                                    # AIOracleCallbackReceiver.AIOracleError


def invalid_batch_size(model_id: int, size: int) -> bytes:
    return keccak(text="InvalidBatchSize(uint256,uint256)")[:4] + encode(["uint256", "uint256"], [model_id, size])


def test_a_batch_size_with_no_variant_is_answered_by_the_error_callback(
    project, protocol, registered, owner, user, stranger, submitter, tiny_model, tmp_path
):
    """Sizes 0, 1 and an unregistered 4 (the base has only a batch-8 variant) are accepted as invalid requests of
    the base model; anyone delivers `aiOracleCallbackError(id, InvalidBatchSize, InvalidBatchSize(model, size),
    callbackData)` to the ORA-shaped consumer and is paid the callback fee; the rest of the payment returns."""
    oracle = protocol.oracle
    model_id, _ = registered
    prompt = owner.deploy(project.OraStyleBatchPrompt, oracle)
    callback_fee = CALLBACK_GAS * oracle.callbackGasPrice()
    paid = oracle.estimateFeeBatch(model_id, CALLBACK_GAS, B)           # what a batch of 8 would cost
    minimum = oracle.nodeReward() + callback_fee                         # what an invalid batch must cover
    assert callback_fee > 0 and oracle.nodeReward() > 0
    with ape.reverts(prompt.Underpaid, paid=minimum - 1, fee=minimum):  # raised inside the consumer
        prompt.requestBatch(4, model_id, batch_inputs()[:64], CALLBACK_GAS, sender=user, value=minimum - 1)
    requests = []
    for i, (size, value) in enumerate(((0, paid), (1, minimum), (4, paid))):
        inputs = batch_inputs(i)[:max(size, 1) * 16]
        tx = prompt.requestBatch(size, model_id, inputs, CALLBACK_GAS, sender=user, value=value)
        request_id = oracle.requestCount()
        reason = invalid_batch_size(model_id, size)
        (refused,) = list(tx.decode_logs(oracle.InputRefused))
        assert (refused.requestId, refused.reason) == (request_id, reason)
        (req,) = list(tx.decode_logs(oracle.AICallbackRequest))
        assert (req.requestId, req.modelId, req.input) == (request_id, model_id, inputs)
        (ev,) = list(tx.decode_logs(oracle.BatchInferenceRequest))
        assert (ev.requestId, ev.modelId, ev.batchSize, ev.variantId) == (request_id, model_id, size, 0)
        r = oracle.getRequest(request_id)
        assert r.status == INVALID and r.modelId == model_id
        assert (r.modelFee, r.nodeReward, r.callbackFee) == (0, 0, callback_fee)
        assert r.inputHash == keccak(inputs) and r.callbackDataHash == keccak(encode(["uint256", "uint256"],
                                                                                      [model_id, size]))
        requests.append((request_id, size, inputs, reason))
    # only the callback fees stay held; everything else paid is the consumer's credit, to the wei
    assert oracle.heldFees() == 3 * callback_fee
    assert oracle.credit(prompt) == 2 * (paid - callback_fee) + (minimum - callback_fee)
    assert oracle.balance == oracle.heldFees() + oracle.totalCredit()

    node = make_node(protocol, submitter, tiny_model, model_id, tmp_path / "n.sqlite", Roles(submit=True))
    node.poll_once()               # it serves the base model: it sees they are not Open and never submits
    ids = [rid for rid, *_ in requests]
    assert {rid: status for rid, status in node.store.requests()} == {ids[0]: "taken", ids[1]: "taken"}
    assert node.store.request(ids[2]) is None           # 64 bytes are no input of the base model: not even taken
    assert protocol.game.claimCount() == 0 and all(oracle.getRequest(rid).claimId == 0 for rid in ids)
    output = b"\x00" * protocol.registry.getModel(model_id).outputLength
    with ape.reverts(oracle.WrongRequestStatus, requestId=requests[2][0], status=INVALID):
        oracle.submit(requests[2][0], output, b"\x01" * 32, [], sender=stranger, value=protocol.game.submitterBond())

    for n, (request_id, size, inputs, reason) in enumerate(requests, 1):
        callback_data = encode(["uint256", "uint256"], [model_id, size])
        with ape.reverts(oracle.DataMismatch, what="input"):
            oracle.finalizeInvalid(request_id, inputs + b"\x00", callback_data, sender=stranger)
        tx = oracle.finalizeInvalid(request_id, inputs, callback_data, sender=stranger)
        (err,) = list(tx.decode_logs(prompt.BatchRefused))
        assert (err.requestId, err.code, err.message) == (request_id, INVALID_BATCH_SIZE, reason)
        assert prompt.refusals(request_id) == (INVALID_BATCH_SIZE, reason, callback_data)
        assert not list(tx.decode_logs(oracle.CallbackFailed))
        (rejected,) = list(tx.decode_logs(oracle.RequestRejected))
        assert (rejected.requestId, rejected.account, rejected.reason) == (request_id, prompt.address, reason)
        assert oracle.getRequest(request_id).status == REJECTED
        assert oracle.credit(stranger) == n * callback_fee
        with ape.reverts(oracle.WrongRequestStatus, requestId=request_id, status=REJECTED):
            oracle.finalizeInvalid(request_id, inputs, callback_data, sender=stranger)
    assert oracle.heldFees() == 0 and prompt.outputs(requests[0][0]) == b""
    assert oracle.balance == oracle.heldFees() + oracle.totalCredit()


def test_a_batch_of_a_registered_size_is_not_refused(project, protocol, registered, owner, user, stranger):
    """Through the same consumer, a batch of the registered size is an Open request of the variant (no InputRefused,
    nothing for finalizeInvalid): only sizes with no variant become invalid."""
    oracle = protocol.oracle
    model_id, variant_id = registered
    prompt = owner.deploy(project.OraStyleBatchPrompt, oracle)
    tx = prompt.requestBatch(B, model_id, batch_inputs(), CALLBACK_GAS, sender=user,
                             value=oracle.estimateFeeBatch(model_id, CALLBACK_GAS, B))
    assert not list(tx.decode_logs(oracle.InputRefused))
    request_id = oracle.requestCount()
    assert oracle.getRequest(request_id).status == 1 and oracle.getRequest(request_id).modelId == variant_id
    with ape.reverts(oracle.WrongRequestStatus, requestId=request_id, status=1):
        oracle.finalizeInvalid(request_id, batch_inputs(), encode(["uint256", "uint256"], [model_id, B]),
                               sender=stranger)


def test_only_the_owner_registers_a_variant_of_exactly_the_batch_shape(
    protocol, owner, model_owner, user, model_id, variant_id
):
    oracle, registry = protocol.oracle, protocol.registry
    with ape.reverts(oracle.NotBatchOwner, modelId=model_id, caller=user.address):
        oracle.registerBatchVariant(model_id, B, variant_id, sender=user)
    with ape.reverts(oracle.BadBatchVariant, modelId=model_id, variantId=variant_id, field="inputLength"):
        oracle.registerBatchVariant(model_id, 4, variant_id, sender=model_owner)
    with ape.reverts(oracle.InvalidBatchSize, modelId=model_id, batchSize=1):
        oracle.registerBatchVariant(model_id, 1, model_id, sender=model_owner)
    with ape.reverts(oracle.InvalidBatchSize, modelId=model_id, batchSize=2**255):  # not a uint256 overflow panic
        oracle.registerBatchVariant(model_id, 2**255, variant_id, sender=model_owner)
    foreign = register_model(registry, owner, user, tiny_mlp(seed=8, batch=B))  # someone else's batch-8 network
    with ape.reverts(oracle.BadBatchVariant, modelId=model_id, variantId=foreign, field="owner"):
        oracle.registerBatchVariant(model_id, B, foreign, sender=model_owner)
    tx = oracle.registerBatchVariant(model_id, B, variant_id, sender=model_owner)
    assert tx.decode_logs(oracle.BatchVariantRegistered)[0].variantId == variant_id
    assert oracle.batchVariant(model_id, B) == variant_id


def test_fees_follow_the_base_models_revenue_receiver(protocol, registered, model_owner, user, owner):
    oracle, registry = protocol.oracle, protocol.registry
    model_id, variant_id = registered
    registry.setRevenueReceiver(variant_id, user.address, sender=model_owner)
    with ape.reverts(oracle.BadBatchVariant, modelId=model_id, variantId=variant_id, field="revenueReceiver"):
        oracle.estimateFeeBatch(model_id, 0, B)


def test_register_batch_variant_helper(protocol, owner, model_owner, model_id, tiny_model, batch_model):
    """`ape run register --batch-of` path: the variant gets the base's fee, owner and receiver."""
    registry, oracle = protocol.registry, protocol.oracle
    with pytest.raises(ValueError, match="not a batch variant"):
        batch_size_of(tiny_model.model)
    # the registrar (owner) is not the base's owner: the oracle refuses after the variant is registered
    with ape.reverts(oracle.NotBatchOwner):
        register_batch_variant(registry, oracle, model_id, batch_model.model, owner)
    registry.grantRole(registry.REGISTRAR_ROLE(), model_owner, sender=owner)
    size, variant_id = register_batch_variant(registry, oracle, model_id, batch_model.model, model_owner)
    assert size == B and oracle.batchVariant(model_id, B) == variant_id
    v, base = registry.getModel(variant_id), registry.getModel(model_id)
    assert (v.fee, v.owner, v.revenueReceiver) == (B * base.fee, base.owner, base.revenueReceiver)


@pytest.fixture(scope="module")
def digits_models(digits_data, digits_reference):
    model, module = digits_reference("digits-mlp")   # digits.build("digits-mlp"), trained once per session
    data = digits_data
    return ModelCommitment(model), ModelCommitment(digits.compile_digits(module, data, "digits-mlp", batch=B)), data


@pytest.fixture
def digits_setup(project, protocol, owner, model_owner, digits_models):
    base, variant, data = digits_models
    base_id = register_model(protocol.registry, owner, model_owner, base.model)
    variant_id = register_model(protocol.registry, owner, model_owner, variant.model)
    protocol.oracle.registerBatchVariant(base_id, B, variant_id, sender=model_owner)
    consumer = owner.deploy(project.BatchClassifier, protocol.oracle, base_id, B)
    return base_id, variant_id, consumer


def digit_images(data, first: int) -> bytes:
    return data.test_pixels[first:first + B].astype(np.int8).tobytes()


def _nodes(protocol, submitter, challenger, variant, variant_id, tmp_path, fault=None):
    served = {variant_id: ServedModel(variant_id, "digits-mlp-b8", variant)}
    sub = Node(protocol.oracle, protocol.game, submitter, dict(served), NodeStore(tmp_path / "s.sqlite"),
               Roles(submit=True), fault=fault, name="submitter", chain=chain)
    cha = Node(protocol.oracle, protocol.game, challenger, dict(served), NodeStore(tmp_path / "c.sqlite"),
               Roles(challenge=True, correct=True), name="challenger", chain=chain)
    return sub, cha


def _drive(protocol, request_id, sub, cha, rounds=40):
    oracle = protocol.oracle
    for _ in range(rounds):
        sub.poll_once()
        cha.poll_once()
        if oracle.isFinalized(request_id):
            return
        games = protocol.game.gameCount()
        if games == 0 or protocol.game.getGame(games).status != 1:  # no game under way: let the window pass
            chain.pending_timestamp += PARAMS.challenge_window
            chain.mine()  # views (canFinalize) read the latest block, not the pending one
    raise AssertionError("the batch request was not finalized")


def test_a_batch_of_eight_digits_is_answered_in_one_claim(
    protocol, digits_models, digits_setup, user, submitter, challenger, model_owner, tmp_path
):
    oracle, game = protocol.oracle, protocol.game
    base, variant, data = digits_models
    base_id, variant_id, consumer = digits_setup
    images = digit_images(data, 0)
    receiver_before = model_owner.balance
    tx = consumer.classifyBatch(images, sender=user, value=consumer.fee())
    request_id = oracle.requestCount()
    ev = tx.decode_logs(oracle.BatchInferenceRequest)[0]
    assert (ev.requestId, ev.modelId, ev.batchSize, ev.variantId) == (request_id, base_id, B, variant_id)
    assert tx.decode_logs(oracle.AICallbackRequest)[0].modelId == variant_id  # the model the nodes run
    assert oracle.getRequest(request_id).modelFee == B * MODEL_FEE

    sub, cha = _nodes(protocol, submitter, challenger, variant, variant_id, tmp_path)
    _drive(protocol, request_id, sub, cha)
    assert game.claimCount() == 1 and game.gameCount() == 0  # one claim, undisputed, covers the batch
    expected = digits.integer_predictions(base.model, data.test_pixels[:B])  # eight batch-1 inferences
    assert list(consumer.labels(request_id)) == list(expected)
    assert model_owner.balance - receiver_before == B * MODEL_FEE  # batchSize x fee to the base's receiver
    assert oracle.balance == oracle.heldFees() + oracle.totalCredit()


def test_an_owner_redirecting_the_variants_receiver_after_a_batch_request_gains_nothing(
    protocol, digits_models, digits_setup, user, submitter, challenger, model_owner, stranger, tmp_path
):
    """The variant is its owner's own model, never launched, so its receiver stays changeable. An owner who points it
    at another account between a batch request and its finalization must not divert the batch's fee from the base
    model's receiver (a launched model's token). Before the fix finalize paid the variant's receiver of the day."""
    oracle, registry = protocol.oracle, protocol.registry
    base, variant, data = digits_models
    base_id, variant_id, consumer = digits_setup
    consumer.classifyBatch(digit_images(data, 8), sender=user, value=consumer.fee())
    request_id = oracle.requestCount()
    registry.setRevenueReceiver(variant_id, stranger.address, sender=model_owner)
    receiver_before, stranger_before = model_owner.balance, stranger.balance
    sub, cha = _nodes(protocol, submitter, challenger, variant, variant_id, tmp_path)
    _drive(protocol, request_id, sub, cha)
    assert oracle.isFinalized(request_id)
    assert model_owner.balance - receiver_before == B * MODEL_FEE
    assert stranger.balance == stranger_before and oracle.credit(stranger) == 0
    assert oracle.balance == oracle.heldFees() + oracle.totalCredit()


def test_a_fault_in_one_item_loses_at_that_items_element_and_the_corrected_batch_is_delivered(
    protocol, digits_models, digits_setup, user, submitter, challenger, tmp_path
):
    oracle, game = protocol.oracle, protocol.game
    base, variant, data = digits_models
    _, variant_id, consumer = digits_setup
    node = 1                                              # the first ReLU: [8, width] int8
    spec = variant.model.graph.nodes[node].output
    width, chunk = spec.shape[1], 1 << spec.chunk_log2
    size = spec.nbytes // (B * width)                     # bytes per element
    item = 5
    fault = Fault(node, item * width + 2, 7)
    images = digit_images(data, 40)
    consumer.classifyBatch(images, sender=user, value=consumer.fee())
    request_id = oracle.requestCount()
    sub, cha = _nodes(protocol, submitter, challenger, variant, variant_id, tmp_path, fault=fault)
    sub.poll_once()
    assert oracle.getRequest(request_id).submitter == submitter.address
    _drive(protocol, request_id, sub, cha)

    head = chain.blocks.head.number + 1
    opened = list(game.NodeOpened.range(0, head))
    chunks = list(game.ChunkRevealed.range(0, head))
    resolved = list(game.GameResolved.range(0, head))
    assert [e.nodeIndex for e in opened] == [node]                       # a node of the batched graph
    assert [e.chunkIndex for e in chunks] == [fault.element * size // chunk]  # the chunk holding item 5's element
    first, last = chunks[0].chunkIndex * chunk // size, (chunks[0].chunkIndex + 1) * chunk // size - 1
    assert first // width <= item <= last // width < B                  # elements of that chunk, by item
    assert len(resolved) == 1 and resolved[0].challengerWon and resolved[0].reason == "one-step proof"
    assert oracle.getRequest(request_id).submitter == challenger.address
    expected = digits.integer_predictions(base.model, data.test_pixels[40:40 + B])
    assert list(consumer.labels(request_id)) == list(expected)
    assert game.balance == game.openBonds() + game.totalCredit()
    assert oracle.balance == oracle.heldFees() + oracle.totalCredit()


def test_digits_batch_variant_equals_eight_single_inferences(digits_models):
    base, variant, data = digits_models
    px = data.test_pixels[100:100 + B].astype(np.int8)
    out = run(variant.model, [px]).output
    for b in range(B):
        assert np.array_equal(out[b], run(base.model, [px[b:b + 1]]).output.reshape(-1))


def test_ape_run_register_batch_of(standin_chain, project, owner, tmp_path):
    """`ape run register --batch-of MODEL_ID` on a chain reached through an RPC: registers and records a variant,
    and refuses a model with no batch dimension before sending anything."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from offchain.chain.deployments import deploy_protocol
    from offchain.engine.modelfile import save_model

    provider, uri = standin_chain
    deployments = tmp_path / "deployments"
    a = deploy_protocol(project, provider, owner, directory=deployments, params=PARAMS)
    registry, oracle = project.ModelRegistry.at(a["ModelRegistry"]), project.AIOracle.at(a["AIOracle"])
    base_id = register_model(registry, owner, owner, tiny_mlp())
    repo = Path(__file__).resolve().parents[2]

    def ape_register(model_file):
        cmd = [str(Path(sys.executable).with_name("ape")), "run", "register", "--network",
               f"ethereum:stand-in-sepolia:{uri}", "--account", "TEST::0", "--model", str(model_file),
               "--batch-of", str(base_id), "--deployments", str(deployments)]
        return subprocess.run(cmd, cwd=repo, env=dict(os.environ, PYTHONPATH=str(repo)), capture_output=True,
                              text=True, timeout=300)

    refused = ape_register(save_model(tiny_mlp(), tmp_path / "single.model"))
    assert refused.returncode == 1 and "not a batch variant" in refused.stderr, refused.stdout + refused.stderr
    assert registry.modelCount() == 1
    done = ape_register(save_model(tiny_mlp(batch=B), tmp_path / "b8.model"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"registered tiny-mlp-b8 as model 2, the batch-{B} variant of model {base_id}" in done.stdout
    assert oracle.batchVariant(base_id, B) == 2
    assert oracle.estimateFeeBatch(base_id, 0, B) == B * MODEL_FEE + oracle.nodeReward()

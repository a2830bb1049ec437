"""Model versions (issue 18, ORA's updateModel): an owner publishes new roots under the same model id; each request
is pinned to the version current when it was made, its claims and disputes use that version's roots, and every
version's fee reaches the launched model's ERC-7641 token."""

from __future__ import annotations

import ape
import numpy as np
from eth_abi import encode
from eth_utils import keccak
from ape import chain

from offchain.chain.encoding import input_tensor
from offchain.chain.registration import Offering, launch, model_spec
from offchain.engine.roots import graph_root
from offchain.engine.executor import run
from offchain.engine.modelfile import save_model
from offchain.models.tiny import tiny_mlp
from offchain.nodes.catalog import load_catalog
from offchain.nodes.node import Node, Roles
from offchain.nodes.store import NodeStore

from .conftest import MODEL_FEE, NODE_FAULT, PARAMS, tiny_image


MODEL_TUPLE = "(bytes32,bytes32,uint32,uint32,uint32,uint8,uint8,int32,int32,uint32,uint8,uint256,address,address,bool)"


def spec_hash(spec: tuple) -> bytes:
    """keccak256(abi.encode(IModelRegistry.Model)), the key under which a registrar approves a version."""
    return keccak(encode([MODEL_TUPLE], [spec]))


def _launched(project, protocol, tiny_model, owner, model_owner, stranger):
    from offchain.chain.deployments import load_record

    record = load_record(chain.provider.chain_id, protocol.directory)
    launcher = project.ModelLauncher.at(record["contracts"]["ModelLauncher"]["address"])
    offering = Offering("tiny revenue", "TINY", [model_owner.address, stranger.address], [3 * 10**18, 10**18])
    model_id, token = launch(launcher, tiny_model.model, MODEL_FEE, model_owner.address, offering, owner)
    return model_id, project.ModelRevenueToken.at(token)


def test_only_the_owner_publishes_and_a_version_cannot_redirect_revenue_or_set_a_fee(
    project, protocol, tiny_model, owner, model_owner, stranger
):
    registry = protocol.registry
    model_id, token = _launched(project, protocol, tiny_model, owner, model_owner, stranger)
    v2 = tiny_mlp(seed=8)
    # The owner tries to take the fees and raise the fee a thousandfold through the version's fields.
    spec = model_spec(v2, MODEL_FEE * 1000, stranger.address, stranger.address)
    with ape.reverts(registry.NotModelOwner, modelId=model_id, caller=stranger.address):
        registry.publishVersion(model_id, spec, sender=stranger)
    with ape.reverts(registry.NotModelOwner, modelId=model_id, caller=owner.address):  # not even the registrar
        registry.publishVersion(model_id, spec, sender=owner)
    # The owner alone cannot publish roots no registrar vetted (graph check, move gas): disputes are decided on them.
    with ape.reverts(registry.VersionNotApproved, modelId=model_id, specHash=spec_hash(spec)):
        registry.publishVersion(model_id, spec, sender=model_owner)
    with ape.reverts(registry.AccessControlUnauthorizedAccount):
        registry.approveVersion(model_id, spec, sender=stranger)
    same = model_spec(tiny_model.model, MODEL_FEE, model_owner.address)
    registry.approveVersion(model_id, same, sender=owner)
    with ape.reverts(registry.ModelAlreadyRegistered, modelId=model_id):  # the same roots again
        registry.publishVersion(model_id, same, sender=model_owner)
    registry.approveVersion(model_id, spec, sender=owner)
    receipt = registry.publishVersion(model_id, spec, sender=model_owner)
    version_id = receipt.return_value
    assert version_id == model_id + 1
    event = receipt.decode_logs(registry.ModelVersionPublished)[0]
    assert (event.modelId, event.version, event.versionId) == (model_id, 1, version_id)
    assert registry.currentVersionId(model_id) == version_id
    assert list(registry.versionIds(model_id)) == [model_id, version_id]
    assert registry.modelOfVersion(version_id) == model_id
    with ape.reverts(registry.VersionNotApproved, modelId=model_id, specHash=spec_hash(spec)):  # approved once
        registry.publishVersion(model_id, spec, sender=model_owner)
    got = registry.getModel(version_id)
    assert got.revenueReceiver == token.address and got.owner == model_owner.address and got.fee == MODEL_FEE
    assert bytes(got.graphRoot) == graph_root(v2.graph)
    # A version's fee and receiver change only through the model id, within the launched model's bounds.
    with ape.reverts(registry.IsVersion, versionId=version_id, modelId=model_id):
        registry.announceFee(version_id, 1, sender=model_owner)
    with ape.reverts(registry.IsVersion, versionId=version_id, modelId=model_id):
        registry.setRevenueReceiver(version_id, model_owner.address, sender=model_owner)
    with ape.reverts(registry.IsVersion, versionId=version_id, modelId=model_id):
        registry.publishVersion(version_id, model_spec(tiny_mlp(seed=9), 1, model_owner.address), sender=model_owner)
    with ape.reverts(registry.FeeChangeOutOfBounds, modelId=model_id, currentFee=MODEL_FEE,
                     newFee=MODEL_FEE * 3):
        registry.announceFee(model_id, MODEL_FEE * 3, sender=model_owner)
    registry.announceFee(model_id, MODEL_FEE * 2, sender=model_owner)
    chain.pending_timestamp += registry.FEE_DELAY()
    chain.mine()
    assert registry.getModel(version_id).fee == MODEL_FEE * 2


def test_requests_stay_on_their_version_through_a_dispute_and_both_versions_pay_the_token(
    project, protocol, tiny_model, owner, model_owner, user, submitter, challenger, stranger, tmp_path
):
    registry, oracle, game = protocol.registry, protocol.oracle, protocol.game
    model_id, token = _launched(project, protocol, tiny_model, owner, model_owner, stranger)
    classifier = owner.deploy(project.DigitsClassifier, oracle, model_id)
    first = tiny_image(31)
    classifier.classify(first, sender=user, value=classifier.fee())
    pinned_v1 = oracle.requestCount()
    v2 = tiny_mlp(seed=8)
    spec = model_spec(v2, MODEL_FEE, model_owner.address)
    registry.approveVersion(model_id, spec, sender=owner)
    version_id = registry.publishVersion(model_id, spec, sender=model_owner).return_value
    second = tiny_image(32)
    classifier.classify(second, sender=user, value=classifier.fee())
    pinned_v2 = oracle.requestCount()
    assert oracle.getRequest(pinned_v1).modelId == oracle.getRequest(pinned_v2).modelId == model_id
    assert (oracle.pinnedVersion(pinned_v1), oracle.pinnedVersion(pinned_v2)) == (model_id, version_id)

    # The nodes load both versions from files, matched to registry ids by their roots.
    paths = [save_model(tiny_model.model, tmp_path / "v1.model"), save_model(v2, tmp_path / "v2.model")]
    catalog = load_catalog(paths, registry)
    assert sorted(catalog) == [model_id, version_id]
    bad = Node(oracle, game, submitter, catalog, NodeStore(tmp_path / "s.sqlite"), Roles(submit=True),
               fault=NODE_FAULT, name="submitter", chain=chain)
    good = Node(oracle, game, challenger, catalog, NodeStore(tmp_path / "c.sqlite"),
                Roles(challenge=True, correct=True), name="challenger", chain=chain)
    before = token.totalRevenueReceived()
    for _ in range(60):
        bad.poll_once()
        good.poll_once()
        if oracle.isFinalized(pinned_v1) and oracle.isFinalized(pinned_v2):
            break
        chain.pending_timestamp += PARAMS.challenge_window
        chain.mine()
    assert oracle.isFinalized(pinned_v1) and oracle.isFinalized(pinned_v2)
    # Both faulty claims were disputed and lost: each claim names its request's pinned version to the game.
    assert game.gameCount() == 2 and all(game.getGame(g).status == 2 for g in (1, 2))
    for request_id, version, model, image in ((pinned_v1, model_id, tiny_model.model, first),
                                              (pinned_v2, version_id, v2, second)):
        r = oracle.getRequest(request_id)
        assert r.submitter == challenger.address
        assert game.getClaim(r.claimId).modelId == version
        expected = run(model, [input_tensor(model.graph, image)]).output
        assert classifier.classifications(request_id).label == int(np.argmax(expected.reshape(-1)))
    # The two versions disagree on at least one of the images, so the pinning is what the labels show.
    outs = [run(m, [input_tensor(m.graph, first)]).output for m in (tiny_model.model, v2)]
    assert not np.array_equal(outs[0], outs[1])
    assert token.totalRevenueReceived() == before + 2 * MODEL_FEE
    assert game.balance == game.openBonds() + game.totalCredit()
    assert oracle.balance == oracle.heldFees() + oracle.totalCredit()

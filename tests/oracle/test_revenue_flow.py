"""Model fees from finalized requests reach the model's ERC-7641 token (launched with the model), holders claim
them, and an ERC-7007 collection accepts exactly the outputs this oracle finalized."""

from __future__ import annotations

import json

import ape
import pytest
from eth_abi import encode
from eth_utils import keccak

from offchain.chain.registration import Offering, launch, model_spec
from offchain.image import NOT_AN_IMAGE

from .conftest import MODEL_FEE, PARAMS, tiny_image
from .test_oracle import execute, submit

MINT_FEE = 10**16


def test_fees_reach_the_token_and_erc7007_accepts_only_finalized_outputs(
    project, protocol, tiny_model, owner, model_owner, user, submitter, stranger, chain
):
    from offchain.chain.deployments import load_record

    record = load_record(chain.provider.chain_id, protocol.directory)
    launcher = project.ModelLauncher.at(record["contracts"]["ModelLauncher"]["address"])
    factory = project.ModelTokenFactory.at(record["contracts"]["ModelTokenFactory"]["address"])
    offering = Offering("tiny revenue", "TINY", [model_owner.address, stranger.address], [3 * 10**18, 10**18],
                        percent_claimable_bps=5000, snapshot_interval=60)
    model_id, token_address = launch(launcher, tiny_model.model, MODEL_FEE, model_owner.address, offering, owner)
    token = project.ModelRevenueToken.at(token_address)
    assert factory.tokenOf(model_id) == token_address
    assert protocol.registry.getModel(model_id).revenueReceiver == token_address
    with ape.reverts(launcher.AccessControlUnauthorizedAccount):
        launcher.launch(model_spec(tiny_model.model, 1, stranger.address), offering.as_tuple(), sender=stranger)

    oracle, game = protocol.oracle, protocol.game
    image = tiny_image(5)
    oracle.requestCallback(model_id, image, ape.utils.ZERO_ADDRESS, 0, b"", sender=user,
                           value=oracle.estimateFee(model_id, 0))
    request_id = oracle.requestCount()
    output, _ = submit(oracle, game, request_id, execute(tiny_model, image), submitter)

    collection = owner.deploy(project.AIGCCollection, "tiny art", "TART", oracle, factory, model_id, MINT_FEE,
                              NOT_AN_IMAGE.as_tuple())
    proof = encode(["uint256"], [request_id])
    assert not collection.verify(image, output, proof)  # not finalized yet
    chain.pending_timestamp += PARAMS.challenge_window
    oracle.finalize(request_id, output, b"", sender=stranger)
    assert token.totalRevenueReceived() == MODEL_FEE
    assert collection.verify(image, output, proof)
    assert not collection.verify(image, output[:-1] + bytes([output[-1] ^ 1]), proof)
    assert not collection.verify(image[::-1], output, proof)
    collection.mint(user, image, output, proof, sender=user, value=MINT_FEE)
    assert collection.ownerOf(int.from_bytes(keccak(image), "big")) == user.address
    assert token.totalRevenueReceived() == MODEL_FEE + MINT_FEE

    chain.pending_timestamp = max(chain.pending_timestamp, token.nextSnapshotAt())
    token.snapshot(sender=stranger)
    owed = (MODEL_FEE + MINT_FEE) * 5000 // 10_000
    assert token.claimableRevenue(model_owner, 1) == owed * 3 // 4
    assert token.claimableRevenue(stranger, 1) == owed // 4
    before = model_owner.balance
    receipt = token.claim(1, sender=model_owner)
    assert model_owner.balance == before + owed * 3 // 4 - receipt.total_fees_paid


def test_a_receiver_that_refuses_eth_is_credited_not_blocking(
    project, protocol, tiny_model, owner, user, submitter, stranger, chain
):
    refuser = owner.deploy(project.CallbackProbe, protocol.oracle, 0)  # has no receive(): refuses plain ETH
    model_id = protocol.registry.registerModel(model_spec(tiny_model.model, MODEL_FEE, owner.address, refuser.address),
                                               sender=owner).return_value
    oracle = protocol.oracle
    image = tiny_image(6)
    oracle.requestCallback(model_id, image, ape.utils.ZERO_ADDRESS, 0, b"", sender=user,
                           value=oracle.estimateFee(model_id, 0))
    request_id = oracle.requestCount()
    output, _ = submit(oracle, protocol.game, request_id, execute(tiny_model, image), submitter)
    chain.pending_timestamp += PARAMS.challenge_window
    oracle.finalize(request_id, output, b"", sender=stranger)
    assert oracle.isFinalized(request_id)
    assert oracle.credit(refuser) == MODEL_FEE
    with ape.reverts(oracle.PayoutFailed):
        oracle.pushCredit(refuser, sender=stranger)
    assert oracle.credit(refuser) == MODEL_FEE
    assert oracle.balance == oracle.heldFees() + oracle.totalCredit()


def test_a_request_made_before_a_fee_change_pays_the_fee_it_was_made_at(
    project, protocol, tiny_model, owner, model_owner, user, submitter, stranger, chain
):
    """The oracle pins the model fee at request time: an announced rise that takes effect while the request is in
    flight neither charges its user more nor pays the token more; requests after it pay the new fee."""
    from offchain.chain.deployments import load_record

    record = load_record(chain.provider.chain_id, protocol.directory)
    launcher = project.ModelLauncher.at(record["contracts"]["ModelLauncher"]["address"])
    offering = Offering("tiny revenue", "TINY", [model_owner.address], [10**18], snapshot_interval=60)
    model_id, token_address = launch(launcher, tiny_model.model, MODEL_FEE, model_owner.address, offering, owner)
    token = project.ModelRevenueToken.at(token_address)
    oracle, game, registry = protocol.oracle, protocol.game, protocol.registry

    image = tiny_image(7)
    old_price = oracle.estimateFee(model_id, 0)
    oracle.requestCallback(model_id, image, ape.utils.ZERO_ADDRESS, 0, b"", sender=user, value=old_price)
    request_id = oracle.requestCount()
    output, _ = submit(oracle, game, request_id, execute(tiny_model, image), submitter)
    registry.announceFee(model_id, 2 * MODEL_FEE, sender=model_owner)
    assert oracle.estimateFee(model_id, 0) == old_price, "an announced fee is not in force yet"
    chain.mine(deltatime=registry.FEE_DELAY())
    assert oracle.estimateFee(model_id, 0) == old_price + MODEL_FEE

    oracle.finalize(request_id, output, b"", sender=stranger)
    assert token.totalRevenueReceived() == MODEL_FEE, "the request pays the fee in force when it was made"
    assert oracle.credit(user) == 0, "and its user was charged exactly that"
    with ape.reverts(oracle.Underpaid, paid=old_price, fee=old_price + MODEL_FEE):
        oracle.requestCallback(model_id, image, ape.utils.ZERO_ADDRESS, 0, b"", sender=user, value=old_price)


def test_ape_run_mint_reads_a_finalized_request_from_the_oracle_and_writes_its_art(
    project, protocol, tiny_model, owner, model_owner, user, submitter, stranger, chain, tmp_path
):
    """scripts/mint.py (what `ape run mint` runs) against the real oracle: the prompt and output come from the
    oracle's events, an unfinalized request is refused before any transaction, and an image collection shaped to
    the tiny model (16-byte input = 8 text + 8 seed bytes, its output as one row of pixels) gets its SVG and PNG."""
    from rich.console import Console

    from offchain.chain.art import ArtError, finalized_request, svg_of, token_metadata
    from offchain.chain.deployments import load_record
    from offchain.image import ImageLayout
    from scripts.mint import mint_and_render

    record = load_record(chain.provider.chain_id, protocol.directory)
    launcher = project.ModelLauncher.at(record["contracts"]["ModelLauncher"]["address"])
    factory = project.ModelTokenFactory.at(record["contracts"]["ModelTokenFactory"]["address"])
    offering = Offering("tiny revenue", "TINY", [model_owner.address], [10**18], percent_claimable_bps=5000,
                        snapshot_interval=60)
    model_id, token_address = launch(launcher, tiny_model.model, MODEL_FEE, model_owner.address, offering, owner)
    oracle = protocol.oracle
    prompt = b"tiny\x00\x00\x00\x00" + (2**64 - 2).to_bytes(8, "big")
    start = chain.blocks.head.number
    oracle.requestCallback(model_id, prompt, ape.utils.ZERO_ADDRESS, 0, b"", sender=user,
                           value=oracle.estimateFee(model_id, 0))
    request_id = oracle.requestCount()
    output, _ = submit(oracle, protocol.game, request_id, execute(tiny_model, prompt), submitter)
    layout = ImageLayout(width=len(output), height=1, prompt_bytes=8, seed_bytes=8)
    art = owner.deploy(project.AIGCCollection, "tiny art", "TART", oracle, factory, model_id, MINT_FEE,
                       layout.as_tuple())
    console = Console(record=True, width=200)
    with pytest.raises(ArtError, match="not finalized"):
        mint_and_render(console, art, oracle, request_id, user.address, user, start, tmp_path)
    chain.pending_timestamp += PARAMS.challenge_window
    oracle.finalize(request_id, output, b"", sender=stranger)
    assert finalized_request(oracle, request_id, start).output == output

    balance = project.ModelRevenueToken.at(token_address).totalRevenueReceived()
    token_id = mint_and_render(console, art, oracle, request_id, stranger.address, user, start, tmp_path)
    assert token_id == int.from_bytes(keccak(prompt), "big") and art.ownerOf(token_id) == stranger.address
    assert project.ModelRevenueToken.at(token_address).totalRevenueReceived() == balance + MINT_FEE
    metadata = token_metadata(art.tokenURI(token_id))
    traits = {a["trait_type"]: a["value"] for a in metadata["attributes"]}
    assert (traits["prompt"], traits["seed"], traits["request id"]) == ("tiny", str(2**64 - 2), str(request_id))
    assert (tmp_path / f"token-{request_id}.svg").read_bytes() == svg_of(metadata)
    assert (tmp_path / f"token-{request_id}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads((tmp_path / f"token-{request_id}.json").read_text()) == metadata
    printed = console.export_text()
    assert f"minted token {token_id}" in printed and f"prompt: tiny (seed {2**64 - 2})" in printed

"""AIGCCollection (ERC-7007): only outputs the oracle finalized for this model and prompt verify and mint; mint
fees reach the model's revenue token."""

import ape
import pytest
from eth_abi import encode
from eth_utils import keccak
from revenue_setup import AMOUNTS, INTERVAL, LIFETIME, PERCENT_CLAIMABLE

from offchain.image import NOT_AN_IMAGE

MODEL_ID = 7
MINT_FEE = 10**15
PROMPT = b"a lighthouse in a storm, oil on canvas"
OUTPUT = bytes(range(64))
REQUEST_ID = 42
NO_IMAGE = NOT_AN_IMAGE.as_tuple()  # this collection holds classifier-style outputs


def proof(request_id):
    return encode(["uint256"], [request_id])


@pytest.fixture
def oracle(project, owner):
    """Test double of the oracle's IInferenceResults; tests finalize results directly."""
    return owner.deploy(project.InferenceResultsDouble)


@pytest.fixture
def factory(project, owner, model_owner):
    factory = owner.deploy(project.ModelTokenFactory, owner)
    factory.grantRole(keccak(text="REGISTRAR_ROLE"), owner, sender=owner)
    holders_offering = ("Model 7", "M7", [model_owner.address], [AMOUNTS[0]], PERCENT_CLAIMABLE, INTERVAL, LIFETIME)
    factory.createToken(MODEL_ID, holders_offering, sender=owner)
    return factory


@pytest.fixture
def revenue_token(project, factory):
    return project.ModelRevenueToken.at(factory.tokenOf(MODEL_ID))


@pytest.fixture
def collection(project, owner, oracle, factory):
    return owner.deploy(project.AIGCCollection, "Model 7 Art", "M7ART", oracle, factory, MODEL_ID, MINT_FEE,
                        NO_IMAGE)


def test_a_finalized_output_verifies_and_mints_with_its_fee_to_the_model(
    collection, oracle, revenue_token, owner, user
):
    oracle.finalize(REQUEST_ID, MODEL_ID, PROMPT, OUTPUT, sender=owner)
    assert collection.verify(PROMPT, OUTPUT, proof(REQUEST_ID))
    receipt = collection.mint(user, PROMPT, OUTPUT, proof(REQUEST_ID), value=MINT_FEE, sender=user)
    token_id = int.from_bytes(keccak(PROMPT), "big")
    assert receipt.return_value == token_id
    assert collection.ownerOf(token_id) == user.address
    assert collection.requestIdOf(token_id) == REQUEST_ID
    assert collection.aigcDataHashOf(token_id) == keccak(OUTPUT)
    event = collection.AigcData.from_receipt(receipt)[0]
    assert event.tokenId == token_id
    assert event.proof == proof(REQUEST_ID)
    # The fee is the model's revenue, pending its next snapshot.
    assert revenue_token.totalRevenueReceived() == MINT_FEE
    assert revenue_token.pendingRevenue() == MINT_FEE
    assert collection.balance == 0


def test_an_unfinalized_output_neither_verifies_nor_mints(collection, user):
    assert not collection.verify(PROMPT, OUTPUT, proof(REQUEST_ID))
    with ape.reverts(collection.OutputNotFinalized, requestId=REQUEST_ID):
        collection.mint(user, PROMPT, OUTPUT, proof(REQUEST_ID), value=MINT_FEE, sender=user)


@pytest.mark.parametrize(
    "prompt, output, model_id, error, inputs",
    [
        (PROMPT, OUTPUT[:-1] + b"\xff", MODEL_ID, "OutputMismatch",
         {"outputHash": keccak(OUTPUT), "aigcDataHash": keccak(OUTPUT[:-1] + b"\xff")}),
        (PROMPT + b"!", OUTPUT, MODEL_ID, "PromptMismatch",
         {"inputHash": keccak(PROMPT), "promptHash": keccak(PROMPT + b"!")}),
        (PROMPT, OUTPUT, MODEL_ID + 1, "WrongModel", {"expected": MODEL_ID, "actual": MODEL_ID + 1}),
    ],
)
def test_a_mismatched_output_neither_verifies_nor_mints(
    collection, oracle, owner, user, prompt, output, model_id, error, inputs
):
    # The oracle finalized OUTPUT for PROMPT (under `model_id`); the caller presents `prompt` and `output`.
    oracle.finalize(REQUEST_ID, model_id, PROMPT, OUTPUT, sender=owner)
    assert not collection.verify(prompt, output, proof(REQUEST_ID))
    with ape.reverts(getattr(collection, error), requestId=REQUEST_ID, **inputs):
        collection.mint(user, prompt, output, proof(REQUEST_ID), value=MINT_FEE, sender=user)


def test_a_proof_must_be_one_request_id(collection, oracle, owner, user):
    oracle.finalize(REQUEST_ID, MODEL_ID, PROMPT, OUTPUT, sender=owner)
    assert not collection.verify(PROMPT, OUTPUT, b"")
    with ape.reverts(collection.MalformedProof, length=33):
        collection.mint(user, PROMPT, OUTPUT, proof(REQUEST_ID) + b"\x00", value=MINT_FEE, sender=user)


def test_mint_rules_fee_and_once_per_prompt(collection, oracle, owner, user, stranger):
    oracle.finalize(REQUEST_ID, MODEL_ID, PROMPT, OUTPUT, sender=owner)
    with ape.reverts(collection.WrongMintFee, sent=MINT_FEE - 1, required=MINT_FEE):
        collection.mint(user, PROMPT, OUTPUT, proof(REQUEST_ID), value=MINT_FEE - 1, sender=user)
    collection.mint(user, PROMPT, OUTPUT, proof(REQUEST_ID), value=MINT_FEE, sender=user)
    with ape.reverts(collection.ERC721InvalidSender):
        collection.mint(stranger, PROMPT, OUTPUT, proof(REQUEST_ID), value=MINT_FEE, sender=stranger)


def test_add_aigc_data_rebinds_only_for_the_owner_and_the_tokens_prompt(collection, oracle, owner, user, stranger):
    oracle.finalize(REQUEST_ID, MODEL_ID, PROMPT, OUTPUT, sender=owner)
    oracle.finalize(REQUEST_ID + 1, MODEL_ID, PROMPT, OUTPUT, sender=owner)
    token_id = collection.mint(user, PROMPT, OUTPUT, proof(REQUEST_ID), value=MINT_FEE, sender=user).return_value
    with ape.reverts(collection.NotTokenOwnerOrApproved, tokenId=token_id, caller=stranger.address):
        collection.addAigcData(token_id, PROMPT, OUTPUT, proof(REQUEST_ID + 1), sender=stranger)
    other = int.from_bytes(keccak(b"another prompt"), "big")
    with ape.reverts(collection.TokenIdNotPrompt, tokenId=token_id, promptTokenId=other):
        collection.addAigcData(token_id, b"another prompt", OUTPUT, proof(REQUEST_ID + 1), sender=user)
    with ape.reverts(collection.OutputNotFinalized, requestId=REQUEST_ID + 5):
        collection.addAigcData(token_id, PROMPT, OUTPUT, proof(REQUEST_ID + 5), sender=user)
    receipt = collection.addAigcData(token_id, PROMPT, OUTPUT, proof(REQUEST_ID + 1), sender=user)
    assert collection.AigcData.from_receipt(receipt)[0].tokenId == token_id
    assert collection.requestIdOf(token_id) == REQUEST_ID + 1


def test_erc165_ids(collection):
    erc7007 = int.from_bytes(keccak(text="addAigcData(uint256,bytes,bytes,bytes)")[:4], "big") ^ int.from_bytes(
        keccak(text="verify(bytes,bytes,bytes)")[:4], "big"
    )
    assert erc7007 == 0x702C55A6, "the EIP's id covers both addAigcData and verify"
    # ERC-7007, ERC-4906 (metadata updates), ERC-721, metadata, ERC-165
    for interface_id in ("702c55a6", "49064906", "80ac58cd", "5b5e139f", "01ffc9a7"):
        assert collection.supportsInterface(bytes.fromhex(interface_id)), interface_id
    assert not collection.supportsInterface(bytes.fromhex("ffffffff"))
    assert not collection.supportsInterface(bytes.fromhex("ed7b2e4e"))


def test_a_collection_needs_a_revenue_token_and_an_oracle_contract(project, owner, oracle, factory, stranger):
    with ape.reverts(project.AIGCCollection.NoRevenueToken, modelId=MODEL_ID + 1):
        owner.deploy(project.AIGCCollection, "X", "X", oracle, factory, MODEL_ID + 1, MINT_FEE, NO_IMAGE)
    with ape.reverts(project.AIGCCollection.OracleNotContract, oracle=stranger.address):
        owner.deploy(project.AIGCCollection, "X", "X", stranger, factory, MODEL_ID, MINT_FEE, NO_IMAGE)

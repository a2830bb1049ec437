"""ModelTokenFactory (Initial Model Offering): only a registrar creates a model's token, once per model."""

import ape
import pytest
from eth_utils import keccak
from revenue_setup import AMOUNTS, INTERVAL, LIFETIME, PERCENT_CLAIMABLE

REGISTRAR_ROLE = keccak(text="REGISTRAR_ROLE")


def offering(holders, amounts=AMOUNTS, percent=PERCENT_CLAIMABLE):
    """An IModelTokenFactory.Offering tuple."""
    return ("Digits Model", "DIGIT", [h.address for h in holders], list(amounts), percent, INTERVAL, LIFETIME)


@pytest.fixture
def factory(project, owner):
    factory = owner.deploy(project.ModelTokenFactory, owner)
    factory.grantRole(REGISTRAR_ROLE, owner, sender=owner)
    return factory


def test_registrar_creates_a_models_token_with_its_offering(project, factory, owner, model_owner, user):
    assert factory.tokenOf(1) == "0x" + "00" * 20
    receipt = factory.createToken(1, offering([model_owner, user], AMOUNTS[:2]), sender=owner)
    address = receipt.return_value
    assert factory.tokenOf(1) == address
    event = factory.ModelTokenCreated.from_receipt(receipt)[0]
    assert (event.modelId, event.token, event.symbol) == (1, address, "DIGIT")
    assert event.totalSupply == AMOUNTS[0] + AMOUNTS[1]

    token = project.ModelRevenueToken.at(address)
    assert (token.name(), token.symbol()) == ("Digits Model", "DIGIT")
    assert token.balanceOf(model_owner) == AMOUNTS[0]
    assert token.balanceOf(user) == AMOUNTS[1]
    assert token.percentClaimable() == PERCENT_CLAIMABLE
    assert (token.snapshotInterval(), token.snapshotLifetime()) == (INTERVAL, LIFETIME)


def test_a_model_gets_one_token_only(factory, owner, model_owner):
    first = factory.createToken(3, offering([model_owner], AMOUNTS[:1]), sender=owner).return_value
    with ape.reverts(factory.TokenAlreadyCreated, modelId=3, token=first):
        factory.createToken(3, offering([model_owner], AMOUNTS[:1]), sender=owner)
    assert factory.tokenOf(3) == first
    with ape.reverts(factory.ZeroModelId):
        factory.createToken(0, offering([model_owner], AMOUNTS[:1]), sender=owner)


def test_only_registrars_create_tokens(factory, owner, stranger, model_owner):
    with ape.reverts(factory.AccessControlUnauthorizedAccount, account=stranger.address, neededRole=REGISTRAR_ROLE):
        factory.createToken(1, offering([model_owner], AMOUNTS[:1]), sender=stranger)
    factory.grantRole(REGISTRAR_ROLE, stranger, sender=owner)
    factory.createToken(1, offering([model_owner], AMOUNTS[:1]), sender=stranger)
    factory.revokeRole(REGISTRAR_ROLE, stranger, sender=owner)
    with ape.reverts(factory.AccessControlUnauthorizedAccount, account=stranger.address, neededRole=REGISTRAR_ROLE):
        factory.createToken(2, offering([model_owner], AMOUNTS[:1]), sender=stranger)


def test_the_tokens_own_checks_reject_a_bad_offering(project, factory, owner, model_owner):
    # As a call: when a transaction reverts, ape prints its trace and decodes a failed CREATE's constructor
    # arguments by splitting off the token's standalone bytecode, which is not the copy inside the factory, so
    # the decoding (and the test) could fail on those bytes whenever an earlier test left a token at that address.
    with ape.reverts(project.ModelRevenueToken.InvalidPercentClaimable, basisPoints=10_001):
        factory.createToken.call(1, offering([model_owner], AMOUNTS[:1], percent=10_001), sender=owner)
    with ape.reverts(project.ModelRevenueToken.ZeroAmount):
        factory.createToken.call(1, offering([model_owner], (0,)), sender=owner)
    assert factory.tokenOf(1) == "0x" + "00" * 20


def test_the_factory_needs_an_admin(project, owner):
    with ape.reverts(project.ModelTokenFactory.ZeroAdmin):
        owner.deploy(project.ModelTokenFactory, "0x" + "00" * 20)

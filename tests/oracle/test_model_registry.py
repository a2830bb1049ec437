"""ModelRegistry on anvil: registration, ownership rules, and a named revert for each bad input."""

import ape
import pytest
from eth_utils import keccak

GRAPH_ROOT = keccak(b"graph")
WEIGHTS_ROOT = keccak(b"weights")
ZERO = b"\x00" * 32


def spec(
    owner,
    graph_root=GRAPH_ROOT,
    weights_root=WEIGHTS_ROOT,
    node_count=5,
    input_length=64,
    input_chunk_log2=5,
    input_domain=(4, 0, 999),
    output_chunk_log2=5,
    fee=10**15,
    receiver=None,
):
    """An IModelRegistry.Model tuple: 5 nodes, 3 weights, 64-byte input of int32 ids in [0, 999], 20-byte output."""
    return (
        graph_root, weights_root, node_count, 3, input_length, input_chunk_log2, *input_domain, 20,
        output_chunk_log2, fee, owner, receiver or owner, False,
    )


@pytest.fixture
def registry(project, owner):
    return owner.deploy(project.ModelRegistry, owner)


def test_register_assigns_ids_from_one_and_stores_the_model(registry, owner, model_owner):
    tx = registry.registerModel(spec(model_owner), sender=owner)
    assert tx.return_value == 1
    assert registry.modelCount() == 1
    model = registry.getModel(1)
    assert model.graphRoot == GRAPH_ROOT
    assert model.weightsRoot == WEIGHTS_ROOT
    assert (model.nodeCount, model.weightCount) == (5, 3)
    assert (model.inputLength, model.inputChunkLog2, model.outputLength, model.outputChunkLog2) == (64, 5, 20, 5)
    assert (model.inputWidth, model.inputMin, model.inputMax) == (4, 0, 999)
    assert model.fee == 10**15
    assert model.owner == model_owner.address
    assert model.revenueReceiver == model_owner.address
    event = tx.events[0]
    assert event.event_name == "ModelRegistered"
    assert (event.modelId, event.owner, event.fee) == (1, model_owner.address, 10**15)

    second = registry.registerModel(spec(model_owner, weights_root=keccak(b"other")), sender=owner)
    assert second.return_value == 2


def test_registering_the_same_commitments_twice_reverts_with_the_existing_id(registry, owner, model_owner):
    registry.registerModel(spec(model_owner), sender=owner)
    with ape.reverts(registry.ModelAlreadyRegistered, modelId=1):
        registry.registerModel(spec(model_owner, fee=1), sender=owner)
    assert registry.modelCount() == 1


@pytest.mark.parametrize(
    "bad, error",
    [
        ({"graph_root": ZERO}, "ZeroRoot"),
        ({"weights_root": ZERO}, "ZeroRoot"),
        ({"input_length": 0}, "ZeroInputLength"),
        ({"node_count": 0}, "ZeroNodeCount"),
        ({"input_chunk_log2": 4}, "BadChunkSize"),
        ({"output_chunk_log2": 21}, "BadChunkSize"),
        ({"receiver": "0x" + "00" * 20}, "ZeroAddress"),
    ],
)
def test_bad_specs_revert_with_named_errors(registry, owner, model_owner, bad, error):
    with ape.reverts(getattr(registry, error)):
        registry.registerModel(spec(model_owner, **bad), sender=owner)
    assert registry.modelCount() == 0


@pytest.mark.parametrize(
    "domain, error, args",
    [
        ((3, 0, 9), "BadInputWidth", {"width": 3}),
        ((0, 0, 9), "BadInputWidth", {"width": 0}),
        ((4, 10, 9), "BadInputDomain", {"min": 10, "max": 9, "width": 4}),        # min > max: no input is valid
        ((1, -129, 127), "BadInputDomain", {"min": -129, "max": 127, "width": 1}),  # below int8
        ((2, 0, 32768), "BadInputDomain", {"min": 0, "max": 32768, "width": 2}),    # above int16
    ],
)
def test_inconsistent_input_domains_revert_with_named_errors(registry, owner, model_owner, domain, error, args):
    with ape.reverts(getattr(registry, error), **args):
        registry.registerModel(spec(model_owner, input_domain=domain), sender=owner)
    assert registry.modelCount() == 0


def test_an_input_length_of_partial_elements_reverts(registry, owner, model_owner):
    with ape.reverts(registry.InputLengthNotWhole, inputLength=66, width=4):
        registry.registerModel(spec(model_owner, input_length=66), sender=owner)


def test_only_registrars_register(registry, stranger, model_owner):
    with ape.reverts(registry.AccessControlUnauthorizedAccount):
        registry.registerModel(spec(model_owner), sender=stranger)


def test_unknown_model_reverts(registry):
    with ape.reverts(registry.UnknownModel, modelId=7):
        registry.getModel(7)


def test_only_the_model_owner_changes_fee_and_receiver(chain, registry, owner, model_owner, stranger):
    registry.registerModel(spec(model_owner), sender=owner)
    with ape.reverts(registry.NotModelOwner, modelId=1, caller=stranger.address):
        registry.announceFee(1, 0, sender=stranger)
    with ape.reverts(registry.NotModelOwner):
        registry.setRevenueReceiver(1, stranger, sender=stranger)
    with ape.reverts(registry.ZeroAddress):
        registry.setRevenueReceiver(1, "0x" + "00" * 20, sender=model_owner)

    # A model that was not launched: its owner is paid directly; it may redirect and set any fee, 0 included, but
    # a fee still waits FEE_DELAY, so users never pay a fee that was not announced a day before.
    registry.announceFee(1, 0, sender=model_owner)
    registry.setRevenueReceiver(1, stranger, sender=model_owner)
    assert registry.getModel(1).revenueReceiver == stranger.address
    assert registry.getModel(1).fee == 10**15
    chain.mine(deltatime=registry.FEE_DELAY())
    assert registry.getModel(1).fee == 0
    assert not registry.isRevenueReceiverLocked(1)
    with ape.reverts(registry.UnknownModel, modelId=2):
        registry.announceFee(2, 5, sender=model_owner)


REGISTRAR_ROLE = keccak(text="REGISTRAR_ROLE")
FEE = 10**15


@pytest.fixture
def launcher(project, registry, owner):
    """A ModelLauncher with the registrar role on the registry and on its own token factory."""
    factory = owner.deploy(project.ModelTokenFactory, owner)
    launcher = owner.deploy(project.ModelLauncher, registry, factory, owner)
    registry.grantRole(REGISTRAR_ROLE, launcher, sender=owner)
    factory.grantRole(REGISTRAR_ROLE, launcher, sender=owner)
    return launcher


def offering(model_owner, stranger):
    return ("Model", "MDL", [model_owner.address, stranger.address], [9 * 10**18, 10**18], 6000, 3600, 2)


@pytest.fixture
def launched(launcher, owner, model_owner, stranger):
    """A model launched through ModelLauncher (its token is the revenue receiver), fee 10^15 wei: (id, token)."""
    receipt = launcher.launch(spec(model_owner, fee=FEE), offering(model_owner, stranger), sender=owner)
    event = receipt.decode_logs(launcher.ModelLaunched)[0]
    return event.modelId, event.token


def test_a_model_without_a_fee_cannot_be_launched(
    project, registry, launcher, owner, model_owner, stranger, tiny_model
):
    with ape.reverts(registry.ZeroLaunchFee, modelId=1):
        launcher.launch(spec(model_owner, fee=0), offering(model_owner, stranger), sender=owner)
    assert registry.modelCount() == 0
    assert project.ModelTokenFactory.at(launcher.factory()).tokenOf(1) == ape.utils.ZERO_ADDRESS
    from offchain.chain.registration import Offering, launch

    with pytest.raises(ValueError, match="fee=0 wei"):
        launch(launcher, tiny_model.model, 0, model_owner.address, Offering("M", "M", [owner.address], [1]), owner)


def test_the_owner_of_a_launched_model_cannot_redirect_its_revenue(registry, owner, model_owner, launched):
    model_id, token = launched
    assert registry.isRevenueReceiverLocked(model_id)
    assert registry.getModel(model_id).revenueReceiver == token
    # The attack: the owner points the fees of its launched model at itself. It reverted with nothing before.
    with ape.reverts(registry.RevenueReceiverLocked, modelId=model_id):
        registry.setRevenueReceiver(model_id, model_owner, sender=model_owner)
    assert registry.getModel(model_id).revenueReceiver == token
    with ape.reverts(registry.RevenueReceiverLocked, modelId=model_id):
        registry.lockRevenueReceiver(model_id, sender=owner)  # locked once, for good


def test_only_registrars_lock_and_a_launched_model_needs_a_fee(project, registry, owner, model_owner, stranger):
    registry.registerModel(spec(model_owner, fee=0), sender=owner)
    with ape.reverts(registry.AccessControlUnauthorizedAccount, account=stranger.address, neededRole=REGISTRAR_ROLE):
        registry.lockRevenueReceiver(1, sender=stranger)
    with ape.reverts(registry.ZeroLaunchFee, modelId=1):
        registry.lockRevenueReceiver(1, sender=owner)
    with ape.reverts(registry.UnknownModel, modelId=2):
        registry.lockRevenueReceiver(2, sender=owner)
    assert not registry.isRevenueReceiverLocked(1)


@pytest.mark.parametrize(
    "fee, ok",
    [(0, False), (FEE // 2 - 1, False), (FEE // 2, True), (2 * FEE, True), (2 * FEE + 1, False), (2**256 - 1, False)],
)
def test_a_launched_models_fee_moves_at_most_twofold_and_never_to_zero(registry, model_owner, launched, fee, ok):
    model_id, _ = launched
    if ok:
        registry.announceFee(model_id, fee, sender=model_owner)
        assert registry.pendingFee(model_id)[0] == fee
    else:
        with ape.reverts(registry.FeeChangeOutOfBounds, modelId=model_id, currentFee=FEE, newFee=fee):
            registry.announceFee(model_id, fee, sender=model_owner)
        assert registry.pendingFee(model_id) == (0, 0)


def test_locking_drops_an_unbounded_announcement(chain, registry, owner, model_owner):
    registry.registerModel(spec(model_owner, fee=FEE), sender=owner)
    registry.announceFee(1, 0, sender=model_owner)  # not launched yet: no bounds
    registry.lockRevenueReceiver(1, sender=owner)
    assert registry.pendingFee(1) == (0, 0)
    chain.mine(deltatime=registry.FEE_DELAY())
    assert registry.getModel(1).fee == FEE


def test_the_lower_bound_rounds_up_so_one_wei_stays_one_wei(registry, owner, model_owner):
    registry.registerModel(spec(model_owner, fee=3), sender=owner)
    registry.lockRevenueReceiver(1, sender=owner)
    registry.announceFee(1, 2, sender=model_owner)  # 2 * 2 >= 3
    with ape.reverts(registry.FeeChangeOutOfBounds, modelId=1, currentFee=3, newFee=1):
        registry.announceFee(1, 1, sender=model_owner)


def test_a_fee_takes_effect_only_after_the_delay_announced_by_its_event(chain, registry, model_owner, launched):
    model_id, _ = launched
    delay = registry.FEE_DELAY()
    assert delay == 86_400
    receipt = registry.announceFee(model_id, FEE // 2, sender=model_owner)
    effective_at = receipt.timestamp + delay
    event = registry.ModelFeeAnnounced.from_receipt(receipt)[0]
    assert (event.modelId, event.fee, event.effectiveAt) == (model_id, FEE // 2, effective_at)
    assert registry.pendingFee(model_id) == (FEE // 2, effective_at)
    assert registry.getModel(model_id).fee == FEE
    # A second announcement before the first takes effect is bounded by the fee in force, not the announced one,
    # so halvings cannot compound within one delay.
    with ape.reverts(registry.FeeChangeOutOfBounds, modelId=model_id, currentFee=FEE, newFee=FEE // 4):
        registry.announceFee(model_id, FEE // 4, sender=model_owner)

    chain.mine(timestamp=effective_at - 1)
    assert registry.getModel(model_id).fee == FEE
    chain.mine(timestamp=effective_at)
    assert registry.getModel(model_id).fee == FEE // 2
    assert registry.pendingFee(model_id) == (0, 0)
    # Once in force, the halved fee is the base of the next change.
    registry.announceFee(model_id, FEE // 4, sender=model_owner)
    assert registry.getModel(model_id).fee == FEE // 2
    with ape.reverts(registry.FeeChangeOutOfBounds, modelId=model_id, currentFee=FEE // 2, newFee=FEE // 8):
        registry.announceFee(model_id, FEE // 8, sender=model_owner)


def test_constructor_rejects_a_zero_admin(project, owner, chain):
    # Simulated with eth_call on the raw creation code: ape's error decoding of a failed *deployment* consults its
    # contract cache for the would-be address, which other tests may have filled with another contract.
    from eth_abi import encode
    from web3.exceptions import ContractCustomError

    creation = project.ModelRegistry.contract_type.deployment_bytecode.to_bytes() + encode(["address"], ["0x" + "00" * 20])
    with pytest.raises(ContractCustomError) as info:
        chain.provider.web3.eth.call({"from": owner.address, "data": "0x" + creation.hex()})
    assert info.value.data == "0x" + keccak(b"ZeroAddress()")[:4].hex()

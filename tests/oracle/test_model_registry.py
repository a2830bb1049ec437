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
        output_chunk_log2, fee, owner, receiver or owner,
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


def test_only_the_model_owner_changes_fee_and_receiver(registry, owner, model_owner, stranger):
    registry.registerModel(spec(model_owner), sender=owner)
    with ape.reverts(registry.NotModelOwner, modelId=1, caller=stranger.address):
        registry.setFee(1, 0, sender=stranger)
    with ape.reverts(registry.NotModelOwner):
        registry.setRevenueReceiver(1, stranger, sender=stranger)
    with ape.reverts(registry.ZeroAddress):
        registry.setRevenueReceiver(1, "0x" + "00" * 20, sender=model_owner)

    registry.setFee(1, 5, sender=model_owner)
    registry.setRevenueReceiver(1, stranger, sender=model_owner)
    model = registry.getModel(1)
    assert (model.fee, model.revenueReceiver) == (5, stranger.address)
    with ape.reverts(registry.UnknownModel, modelId=2):
        registry.setFee(2, 5, sender=model_owner)


def test_constructor_rejects_a_zero_admin(project, owner, chain):
    # Simulated with eth_call on the raw creation code: ape's error decoding of a failed *deployment* consults its
    # contract cache for the would-be address, which other tests may have filled with another contract.
    from eth_abi import encode
    from web3.exceptions import ContractCustomError

    creation = project.ModelRegistry.contract_type.deployment_bytecode.to_bytes() + encode(["address"], ["0x" + "00" * 20])
    with pytest.raises(ContractCustomError) as info:
        chain.provider.web3.eth.call({"from": owner.address, "data": "0x" + creation.hex()})
    assert info.value.data == "0x" + keccak(b"ZeroAddress()")[:4].hex()

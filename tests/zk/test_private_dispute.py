"""opp/ai in the protocol: a model with private nodes is registered with their keys and commitments; a result is
accepted only with valid Groth16 proofs for every private node (batched per key) and publishes their outputs; a
dispute that lands on a private node is resolved by the submitter revealing the node's input and output, which
must match the trace and the proven Poseidon hashes: it resolves for an honest submitter and against a dishonest
one."""

from __future__ import annotations

import ape
import numpy as np
import pytest
from ape import chain

from offchain.chain.deployments import deploy_protocol
from offchain.chain.encoding import output_bytes
from offchain.chain.params import ProtocolParams
from offchain.chain.registration import Offering, model_spec
from offchain.dispute.claimed_tree import ClaimedTree
from offchain.dispute.commitment import ExecutionCommitment, ModelCommitment
from offchain.dispute.faults import run_with_fault
from offchain.dispute.match import honest_challenger, honest_submitter, play
from offchain.dispute.responder import read_game
from offchain.dispute.solver import GameStatus, Phase, RevealPrivate, private_reveal
from offchain.engine.executor import run
from offchain.zk.model_proofs import prove_private, setup_private
from offchain.zk.private import PrivateSpec
from offchain.zk.submission import launch_private_model, pairs_of, private_ios, register_private_model

from dispute_ops._harness import custom_error, revert_data  # tests/ is on sys.path (rootdir-relative packages)
from .test_model_proofs import tiny_mlp

PARAMS = ProtocolParams(challenge_window=60, clock_budget=120, request_timeout=600)
SPEC = PrivateSpec((0, 2))   # both LINEAR layers private: node 0 reads the model input, node 2 node 1's output
X = (np.arange(-4, 4, dtype=np.int8).reshape(1, 8) * 30)


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ZK_BUILD_DIR", str(tmp_path_factory.mktemp("zk-private-dispute")))
        return setup_private(tiny_mlp(), SPEC)


@pytest.fixture(scope="module")
def honest(keys):
    model = ModelCommitment(tiny_mlp())
    execution = ExecutionCommitment(model, run(model.model, [X]))
    return execution, prove_private(model.model, SPEC, execution.trace, keys)


@pytest.fixture(scope="module")
def deployed(project, owner, tmp_path_factory, keys):
    """Deployed and registered once per module; ape's isolation reverts each test's transactions."""
    a = deploy_protocol(project, chain.provider, owner, directory=tmp_path_factory.mktemp("deploy"), params=PARAMS)
    registry = project.ModelRegistry.at(a["ModelRegistry"])
    model_id, _ = register_private_model(registry, project.Groth16Registry.at(a["Groth16Registry"]), tiny_mlp(), SPEC,
                                         keys, 10**15, owner.address, owner)
    return project.DisputeGame.at(a["DisputeGame"]), project.AIOracle.at(a["AIOracle"]), registry, model_id


def _propose(game, model_id, execution, ios, sender):
    return game.proposePrivate(model_id, execution.input_root, execution.output_root, execution.trace_root,
                               execution.output_proof(), sender, ios, sender=sender,
                               value=game.submitterBond()).return_value


def test_registration_records_the_private_nodes_and_rejects_bad_lists(deployed, owner):
    _, _, registry, model_id = deployed
    nodes = registry.privateNodes(model_id)
    assert [n.node for n in nodes] == [0, 2] and all(n.keyId > 0 for n in nodes)
    model = tiny_mlp()
    spec = model_spec(model, 0, owner.address)
    other = (spec[0], b"\x01" * 32) + tuple(spec[2:])
    with ape.reverts(registry.BadPrivateNode, position=1):
        registry.registerPrivateModel(other, [(2, 8, 1, 5), (0, 8, 1, 5)], sender=owner)   # not ascending
    with ape.reverts(registry.BadPrivateNode, position=0):
        registry.registerPrivateModel(other, [(3, 8, 1, 5)], sender=owner)                 # no node 3
    with ape.reverts(registry.BadPrivateNode, position=0):
        registry.registerPrivateModel(other, [], sender=owner)


def test_a_private_model_launched_with_its_token_pays_proven_inferences_fees_to_it(
    project, owner, model_owner, user, submitter, stranger, tmp_path, keys, honest
):
    """launchPrivate: one transaction registers the private nodes and the model with a new ERC-7641 token as its
    revenue receiver; a proven private inference's model fee reaches the token. A bad node list, an empty one or
    a caller without the launcher role reverts with its named error, and then no token or model exists."""
    a = deploy_protocol(project, chain.provider, owner, directory=tmp_path, params=PARAMS)
    launcher, factory = project.ModelLauncher.at(a["ModelLauncher"]), project.ModelTokenFactory.at(a["ModelTokenFactory"])
    registry, verifier = project.ModelRegistry.at(a["ModelRegistry"]), project.Groth16Registry.at(a["Groth16Registry"])
    oracle, game = project.AIOracle.at(a["AIOracle"]), project.DisputeGame.at(a["DisputeGame"])
    offering = Offering("private mlp revenue", "PMLP", [model_owner.address], [10**24], snapshot_interval=60)
    spec = model_spec(tiny_mlp(), 10**15, model_owner.address)

    with ape.reverts(launcher.BadPrivateNode, position=0):
        launcher.launchPrivate(spec, [], offering.as_tuple(), sender=owner)
    with ape.reverts(launcher.BadPrivateNode, position=0):   # the registry's revert, bubbled up
        launcher.launchPrivate(spec, [(9, 8, 1, 5)], offering.as_tuple(), sender=owner)   # the model has no node 9
    with ape.reverts(launcher.AccessControlUnauthorizedAccount):
        launcher.launchPrivate(spec, [(0, 8, 1, 5)], offering.as_tuple(), sender=stranger)
    assert registry.modelCount() == 0 and factory.tokenOf(1) == ape.utils.ZERO_ADDRESS

    model_id, token_address, records = launch_private_model(launcher, verifier, tiny_mlp(), SPEC, keys, 10**15,
                                                            model_owner.address, offering, owner)
    assert factory.tokenOf(model_id) == token_address
    assert registry.getModel(model_id).revenueReceiver == token_address
    assert [tuple(n) for n in registry.privateNodes(model_id)] == [tuple(r) for r in records]
    assert [r[0] for r in records] == [0, 2]

    execution, proofs = honest
    receipt = oracle.requestCallback(model_id, X.tobytes(), "0x" + "00" * 20, 0, b"", sender=user,
                                     value=oracle.estimateFee(model_id, 0))
    request_id = receipt.decode_logs(oracle.AICallbackRequest)[0].requestId
    output = output_bytes(execution.trace.output)
    oracle.submitPrivate(request_id, output, execution.trace_root, execution.output_proof(),
                         private_ios(execution, proofs), sender=submitter, value=game.submitterBond())
    token = project.ModelRevenueToken.at(token_address)
    assert token.totalRevenueReceived() == 0
    chain.pending_timestamp += PARAMS.challenge_window
    oracle.finalize(request_id, output, b"", sender=stranger)
    assert token.totalRevenueReceived() == 10**15 and token.balance == 10**15

    # Another owner's model with layers of the same shapes (other weights): its nodes reuse the registered keys.
    base = tiny_mlp()
    other = type(base)(base.graph, [w.copy() for w in base.weights])
    other.weights[0][0, 0] ^= 1
    assert verifier.keyIdOf(b"\x01" * 32) == 0                            # an unknown hash has no key
    other_id, _, other_records = launch_private_model(launcher, verifier, other, SPEC, keys, 10**15, stranger.address,
                                                      Offering("other", "OTH", [stranger.address], [10**24]), owner)
    assert other_id == model_id + 1 and [r[2] for r in other_records] == [r[2] for r in records]
    assert [r[3] for r in other_records][0] != records[0][3]               # other weights, other commitment


def test_register_sets_up_keys_and_launches_a_private_model_once(project, owner, model_owner, tmp_path, keys):
    """offchain.chain.registration.register (behind `ape run register --private ... --token ...`): a node that cannot
    be private fails before any transaction; a private launch records the nodes and the token; a second call finds
    the model by its roots and registers nothing."""
    from offchain.chain.registration import register
    from offchain.zk.private import PrivateNodeError

    a = deploy_protocol(project, chain.provider, owner, directory=tmp_path, params=PARAMS)
    contracts = {n: getattr(project, n).at(a[n]) for n in ("ModelRegistry", "ModelLauncher", "Groth16Registry")}
    registry, factory = contracts["ModelRegistry"], project.ModelTokenFactory.at(a["ModelTokenFactory"])
    offering = Offering("tiny private revenue", "TPRIV", [model_owner.address], [10**24])
    with pytest.raises(PrivateNodeError, match="node 1 is op"):
        register(contracts, tiny_mlp(), 10**15, model_owner.address, owner, private=(1,), offering=offering)
    assert registry.modelCount() == 0

    done = register(contracts, tiny_mlp(), 10**15, model_owner.address, owner, private=(0, 2), offering=offering)
    assert done.new and done.private_nodes == (0, 2) and done.model_id == 1
    assert done.revenue_receiver == factory.tokenOf(1) != ape.utils.ZERO_ADDRESS
    assert [n.node for n in registry.privateNodes(1)] == [0, 2]
    again = register(contracts, tiny_mlp(), 1, owner.address, owner, private=(0, 2), offering=offering)
    assert again == type(done)(1, done.revenue_receiver, (0, 2), False) and registry.modelCount() == 1


def test_results_need_proofs_and_publish_the_private_outputs(deployed, honest, user, submitter, stranger):
    game, oracle, _, model_id = deployed
    execution, proofs = honest
    ios = private_ios(execution, proofs)
    with ape.reverts(game.PrivateProofsRequired, modelId=model_id):
        game.propose(model_id, execution.input_root, execution.output_root, execution.trace_root,
                     execution.output_proof(), submitter, sender=submitter, value=game.submitterBond())

    fee = oracle.estimateFee(model_id, 0)
    receipt = oracle.requestCallback(model_id, X.tobytes(), "0x" + "00" * 20, 0, b"", sender=user, value=fee)
    request_id = receipt.decode_logs(oracle.AICallbackRequest)[0].requestId
    assert bytes(oracle.getRequest(request_id).inputRoot) == execution.input_root
    output = output_bytes(execution.trace.output)
    receipt = oracle.submitPrivate(request_id, output, execution.trace_root, execution.output_proof(), ios,
                                   sender=submitter, value=game.submitterBond())
    published = receipt.decode_logs(game.PrivateOutputsPublished)[0]
    assert list(published.nodes) == [0, 2]
    assert [bytes(o) for o in published.outputs] == [output_bytes(execution.trace.outputs[i]) for i in (0, 2)]
    assert list(published.pairs) == pairs_of(proofs)
    chain.pending_timestamp += PARAMS.challenge_window
    oracle.finalize(request_id, output, b"", sender=stranger)
    assert oracle.isFinalized(request_id)


def test_bad_private_submissions_revert_with_named_errors(deployed, honest, submitter):
    game, _, _, model_id = deployed
    execution, proofs = honest
    ios = private_ios(execution, proofs)
    tampered = bytearray(ios[1][2])
    tampered[40] ^= 1
    cases = [
        ([ios[0]], "PrivateProofCount(uint256,uint256)", [1, 2]),                                   # a node left out
        ([ios[0], (*ios[1][:2], bytes(tampered), *ios[1][3:])], "PrivateProofInvalid(uint32)", [2]),  # tampered proof
        ([ios[0], (ios[1][0], ios[1][1] + 1, *ios[1][2:])], "PrivateProofInvalid(uint32)", [2]),     # other output hash
        ([ios[0], (*ios[1][:2], ios[0][2], *ios[1][3:])], "PrivateProofInvalid(uint32)", [2]),  # another key's proof
        ([(*ios[0][:3], ios[1][3], ios[0][4]), ios[1]], "PrivateOutputNotInTrace(uint32)", [0]),  # output not the leaf
        ([(2**256 - 1, *ios[0][1:]), ios[1]], "HashNotInField(uint256)", [2**256 - 1]),
    ]
    for bad, error, args in cases:
        types = error[error.index("(") + 1:-1].split(",")
        data = revert_data(chain, game.proposePrivate, model_id, execution.input_root, execution.output_root,
                           execution.trace_root, execution.output_proof(), submitter.address, bad,
                           sender=submitter, value=game.submitterBond())
        assert data == custom_error(error, types, args), (error, data)
    assert _propose(game, model_id, execution, ios, submitter) == 1   # the honest one goes through


def test_a_dispute_on_a_private_node_resolves_for_an_honest_submitter(deployed, honest, submitter, challenger):
    game, _, _, model_id = deployed
    execution, proofs = honest
    claim_id = _propose(game, model_id, execution, private_ios(execution, proofs), submitter)
    # A challenger that believes node 2 (private) computes something else disputes it.
    wrong = ExecutionCommitment(execution.model, run_with_fault(execution.model.model, [X], 2, 1, 5))
    game_id = game.challenge(claim_id, sender=challenger, value=game.challengerBond()).return_value
    claimed = ClaimedTree(wrong.trace_tree, execution.trace_root)
    result = play(game, game_id, submitter, challenger, honest_submitter(execution, pairs_of(proofs)),
                  honest_challenger(wrong, claimed), claimed=claimed)
    assert result.status == GameStatus.SUBMITTER_WON
    assert [m.action for m in result.moves][-2:] == ["OpenNode", "RevealPrivate"]
    assert game.getGame(game_id).nodeIndex == 2
    assert game.balance == game.openBonds() + game.totalCredit()
    # The submitter's reveal stays under what the compile/registration-time move-gas check budgeted for it.
    from offchain.engine.move_gas import open_node_gas, reveal_private_gas

    estimate = reveal_private_gas(execution.model.model, 2)
    print(f"\nrevealPrivate of node 2: {result.moves[-1].gas:,} gas, estimated {estimate:,}")
    assert result.moves[-1].gas <= estimate
    assert result.moves[-2].gas <= open_node_gas(execution.model.model, 2)


def test_a_dispute_on_a_private_node_resolves_against_a_dishonest_submitter(deployed, honest, submitter, challenger):
    game, _, _, model_id = deployed
    execution, proofs = honest
    # The submitter proves the true node 2 but posts (and publishes) another output for it, and runs on.
    faulty = ExecutionCommitment(execution.model, run_with_fault(execution.model.model, [X], 2, 1, 5))
    claim_id = _propose(game, model_id, faulty, private_ios(faulty, proofs), submitter)
    game_id = game.challenge(claim_id, sender=challenger, value=game.challengerBond()).return_value
    claimed = ClaimedTree(execution.trace_tree, faulty.trace_root)
    stall_at_reveal = lambda state: None if state.phase == Phase.PRIVATE_REVEAL else honest_submitter(faulty)(state)  # noqa: E731
    play(game, game_id, submitter, challenger, stall_at_reveal, honest_challenger(execution, claimed), claimed=claimed)
    state = read_game(game, game_id)
    assert (state.phase, state.node_index) == (Phase.PRIVATE_REVEAL, 2)
    # Its own output does not hash to the proven outHash; the true output is not the disputed leaf; the pairs must
    # be the proposed ones.
    own = private_reveal(faulty, 2, pairs_of(proofs))
    true = private_reveal(execution, 2, pairs_of(proofs))
    attempts = [
        (own, "PrivateOutputMismatch(string)", ["poseidon"]),
        (RevealPrivate(own.descriptor, own.input, own.input_proof, true.output, own.pairs),
         "PrivateOutputMismatch(string)", ["root"]),
        (true, "PrivateInputMismatch(string)", ["root"]),            # proofs against another trace
        (RevealPrivate(own.descriptor, own.input[:-1], own.input_proof, own.output, own.pairs),
         "PrivateInputMismatch(string)", ["length"]),
        (private_reveal(faulty, 2, pairs_of(proofs)[::-1]), "PrivateIOMismatch()", []),
    ]
    for reveal, error, args in attempts:
        data = revert_data(chain, game.revealPrivate, game_id, reveal.as_tuple(), sender=submitter)
        assert data == custom_error(error, ["string"] * len(args), args), (error, data)
    chain.pending_timestamp += PARAMS.clock_budget + 1
    game.timeout(game_id, sender=challenger)
    assert game.getGame(game_id).status == GameStatus.CHALLENGER_WON
    assert game.balance == game.openBonds() + game.totalCredit()


def test_nodes_serve_a_private_model_submitter_proves_and_a_challenger_without_its_weights_wins(
    deployed, keys, user, submitter, challenger, tmp_path
):
    """Node processes' logic, poll by poll: the submitter holds the private weights and proves them; the
    challenger holds only the public view (private weights zeroed, committed by root) and recomputes the public
    nodes from the published private outputs. A fault in the public ReLU between the two private layers loses."""
    from offchain.nodes.catalog import ServedModel
    from offchain.nodes.node import Fault, Node, Roles
    from offchain.nodes.store import NodeStore
    from offchain.zk.public_view import public_view

    game, oracle, registry, model_id = deployed
    full = ModelCommitment(tiny_mlp())
    view = ModelCommitment(public_view(tiny_mlp(), SPEC))
    assert view.weights_tree.root == full.weights_tree.root
    assert not any(np.any(view.model.weights[j]) for j in (0, 1, 2, 3))

    def node(account, commitment, is_view, path, roles, fault=None):
        served = {model_id: ServedModel(model_id, "tiny-private", commitment, SPEC.node_indices, is_view)}
        return Node(oracle, game, account, served, NodeStore(path), roles, fault=fault, chain=chain)

    bad = node(submitter, full, False, tmp_path / "s.sqlite", Roles(submit=True), Fault(1, 2, 9))
    good = node(challenger, view, True, tmp_path / "c.sqlite", Roles(challenge=True))
    fee = oracle.estimateFee(model_id, 0)
    oracle.requestCallback(model_id, X.tobytes(), "0x" + "00" * 20, 0, b"", sender=user, value=fee)
    bad.poll_once()    # proves both private layers of its (faulty) run and submits with submitPrivate
    assert game.claimCount() == 1 and game.privateIOHash(1) != b"\x00" * 32
    for _ in range(30):
        good.poll_once()
        bad.poll_once()
        if game.gameCount() and game.getGame(1).status != 1:
            break
    g = game.getGame(1)
    assert (g.status, g.nodeIndex) == (GameStatus.CHALLENGER_WON, 1)   # lost at the public ReLU
    assert game.balance == game.openBonds() + game.totalCredit()


def test_llama_with_loreft_at_every_layer_proves_in_one_batch(project, owner, submitter, tmp_path):
    """llama-tiny with a private LoReFT intervention after each layer: both share one circuit and key, so the
    game verifies the submission's two proofs in one batched pairing check; one bad proof rejects the batch."""
    from offchain.models.llama_loreft import llama_tiny_loreft, private_spec

    a = deploy_protocol(project, chain.provider, owner, directory=tmp_path, params=PARAMS)
    game, registry = project.DisputeGame.at(a["DisputeGame"]), project.ModelRegistry.at(a["ModelRegistry"])
    model, prompt = llama_tiny_loreft()
    spec = private_spec(model)
    keys = setup_private(model, spec)
    assert len(keys) == 1 and len(spec.node_indices) == 2
    model_id, _ = register_private_model(registry, project.Groth16Registry.at(a["Groth16Registry"]), model, spec, keys,
                                         0, owner.address, owner)
    execution = ExecutionCommitment(ModelCommitment(model), run(model, [prompt]))
    ios = private_ios(execution, prove_private(model, spec, execution.trace, keys))
    bad = [ios[0], (*ios[1][:2], ios[0][2], *ios[1][3:])]     # the first layer's proof for the second
    data = revert_data(chain, game.proposePrivate, model_id, execution.input_root, execution.output_root,
                       execution.trace_root, execution.output_proof(), submitter.address, bad, sender=submitter,
                       value=game.submitterBond())
    assert data == custom_error("PrivateProofInvalid(uint32)", ["uint32"], [spec.node_indices[0]])
    receipt = game.proposePrivate(model_id, execution.input_root, execution.output_root, execution.trace_root,
                                  execution.output_proof(), submitter, ios, sender=submitter,
                                  value=game.submitterBond())
    assert list(receipt.decode_logs(game.PrivateOutputsPublished)[0].nodes) == list(spec.node_indices)
    assert receipt.gas_used < 1_200_000   # both proofs verified in one batched pairing check

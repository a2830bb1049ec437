"""Node transactions on a chain that mines on an interval (like any real network): every one succeeds the first time.

Reproduces the README's dispute by hand: anvil mining a block every second, reached through the custom
`stand-in-sepolia` network (ape's node provider, gas limits estimated as on a real RPC). A faulty submitter node
and a challenger node play a whole dispute, the challenger posts and finalizes the correct result; every
transaction the two nodes sent is read back from the chain's blocks and none may have status 0. Before the
nodes sent with a margin over the estimate, the first try of every move died of OutOfGas (the chess-clock slot
is rewritten with a new value in the mined block but not in the estimate's).

Also: a call whose estimate reverts is never sent, and is logged as one line with the decoded custom error.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.request

import pytest
from ape import chain

from offchain.chain.deployments import deploy_protocol
from offchain.chain.transactions import MIN_MARGIN, TransactionRejected, Transactor, gas_limit
from offchain.nodes.catalog import ServedModel
from offchain.nodes.node import Fault, Node, Roles
from offchain.nodes.store import NodeStore

from .conftest import PARAMS, register_model, tiny_image

STANDIN_CHAIN_ID = 11155111   # ape-config.yaml's stand-in-sepolia network (tests/conftest.py: standin_chain)


def _rpc(url: str, method: str, params: list) -> object:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())["result"]


def _poll(node: Node, errors: list[str]) -> None:
    """One poll as `run_forever` does it: an exception is noted and the loop goes on."""
    try:
        node.poll_once()
    except Exception as exc:  # noqa: BLE001
        errors.append(f"{node.name}: {type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}")


def _node_txs(url: str, first_block: int, senders: set[str]) -> list[tuple[str, int, int, int]]:
    """(sender, status, gas limit, gas used) of every transaction from ``senders`` mined since ``first_block``."""
    out = []
    head = int(_rpc(url, "eth_blockNumber", []), 16)
    for number in range(first_block, head + 1):
        block = _rpc(url, "eth_getBlockByNumber", [hex(number), True])
        for tx in block["transactions"]:
            if tx["from"].lower() in senders:
                receipt = _rpc(url, "eth_getTransactionReceipt", [tx["hash"]])
                out.append((tx["from"].lower(), int(receipt["status"], 16), int(tx["gas"], 16),
                            int(receipt["gasUsed"], 16)))
    return out


def test_every_node_transaction_succeeds_first_time_on_an_interval_mining_chain(
    standin_chain, project, owner, user, submitter, challenger, model_owner, tiny_model, tmp_path
):
    provider, url = standin_chain
    assert provider.chain_id == STANDIN_CHAIN_ID
    a = deploy_protocol(project, provider, owner, directory=tmp_path, params=PARAMS)   # automine: quick
    oracle, game = project.AIOracle.at(a["AIOracle"]), project.DisputeGame.at(a["DisputeGame"])
    model_id = register_model(project.ModelRegistry.at(a["ModelRegistry"]), owner, model_owner, tiny_model.model)
    classifier = owner.deploy(project.DigitsClassifier, oracle, model_id)
    served = {model_id: ServedModel(model_id, "tiny", tiny_model)}
    stores = {"submitter": NodeStore(tmp_path / "s.sqlite"), "challenger": NodeStore(tmp_path / "c.sqlite")}
    bad = Node(oracle, game, submitter, served, stores["submitter"], Roles(submit=True), fault=Fault(3, 2, 7),
               name="submitter", chain=chain)
    good = Node(oracle, game, challenger, served, stores["challenger"], Roles(challenge=True, correct=True),
                name="challenger", chain=chain)

    first_block = chain.blocks.head.number + 1
    provider.make_request("evm_setIntervalMining", [1])   # from here on one block a second, as on a real chain
    classifier.classify(tiny_image(21), sender=user, value=classifier.fee())
    request_id = oracle.requestCount()
    errors: list[str] = []
    deadline = time.time() + 60
    warped = False
    while not oracle.isFinalized(request_id) and time.time() < deadline:
        _poll(bad, errors)
        _poll(good, errors)
        r = oracle.getRequest(request_id)
        if not warped and r.submitter == challenger.address and game.getGame(1).status != 1:
            provider.make_request("evm_increaseTime", [PARAMS.challenge_window + 1])   # past the window
            warped = True
        time.sleep(0.2)

    assert oracle.isFinalized(request_id), f"no finalization within 60 s; node errors: {errors}"
    assert game.getGame(1).status == 2                        # ChallengerWon
    txs = _node_txs(url, first_block, {submitter.address.lower(), challenger.address.lower()})
    failed = [t for t in txs if t[1] == 0]
    assert failed == [], f"failed node transactions (sender, status, gas limit, gas used): {failed}; {errors}"
    by_sender = {who: sum(1 for t in txs if t[0] == who) for who in (submitter.address.lower(),
                                                                      challenger.address.lower())}
    # submit + >= 1 reveal + the chunk reveal; challenge + >= 1 pick + openNode + step + submit + finalize
    assert by_sender[submitter.address.lower()] >= 3 and by_sender[challenger.address.lower()] >= 6, by_sender
    assert errors == []                                       # no poll raised
    for name, who in (("submitter", submitter), ("challenger", challenger)):
        counts = stores[name].tx_counts()
        assert counts.get("failed", 0) == 0
        assert counts.get("reverted", 0) == 0, (name, counts)   # no estimate reverted (no move out of turn)
        assert counts.get("ok", 0) == by_sender[who.address.lower()], (name, counts)


def test_a_call_whose_estimate_reverts_is_not_sent_and_logged_as_one_line(protocol, owner, tmp_path, caplog):
    """DisputeGame.timeout of a game that does not exist reverts UnknownGame: no transaction, one decoded line, no
    call trace, quick."""
    lines: list[str] = []
    store = NodeStore(tmp_path / "n.sqlite")
    sender = Transactor(chain.provider, owner, lambda event, **f: lines.append(
        " ".join([f"event={event}"] + [f"{k}={v}" for k, v in f.items()])), store)
    nonce = owner.nonce
    started = time.perf_counter()
    with caplog.at_level(logging.INFO):
        sent = sender.send(protocol.game, "timeout", 77)
    elapsed = time.perf_counter() - started
    assert sent.receipt is None and not sent.ok
    assert owner.nonce == nonce                                # nothing was sent
    assert lines == [f"event=reverted action=timeout error={sent.error}"]
    assert sent.error == "UnknownGame(gameId=77)"
    assert "Traceback" not in caplog.text and "├" not in caplog.text and "└" not in caplog.text   # no call trace
    assert elapsed < 1.0, f"a reverted estimate took {elapsed:.2f} s"
    assert store.tx_counts() == {"reverted": 1}


def test_no_second_transaction_while_one_is_in_flight(protocol, owner, stranger, tmp_path):
    """A send whose answer was lost leaves a transaction in the pool that the chain does not show yet; the node's
    next poll would send the same action again (it reverted once the first was mined). While an own transaction is
    pending, nothing more is sent."""
    from ape import chain as ape_chain

    lines: list[str] = []
    sender = Transactor(ape_chain.provider, owner, lambda event, **f: lines.append(event),
                        NodeStore(tmp_path / "n.sqlite"))
    web3 = ape_chain.provider.web3
    ape_chain.provider.make_request("evm_setAutomine", [False])
    try:
        # The lost send: in the pool, not mined.
        web3.eth.send_transaction({"from": owner.address, "to": stranger.address, "value": 1})
        nonce = web3.eth.get_transaction_count(owner.address, "pending")
        sent = sender.send(protocol.game, "timeout", 77)
        assert not sent.ok and sent.receipt is None and "not mined yet" in sent.error
        assert lines == ["waiting"]
        assert web3.eth.get_transaction_count(owner.address, "pending") == nonce   # nothing more was sent
    finally:
        ape_chain.provider.make_request("evm_setAutomine", [True])
        ape_chain.mine()
    assert web3.eth.get_transaction_count(owner.address, "pending") == web3.eth.get_transaction_count(
        owner.address, "latest")
    assert sender.send(protocol.game, "timeout", 77).error == "UnknownGame(gameId=77)"   # sends again once mined


def test_gas_limit_is_the_estimate_plus_the_larger_margin_capped_by_the_block():
    assert gas_limit(50_000, 30_000_000) == 50_000 + MIN_MARGIN            # 20% = 10k < 25k floor
    assert gas_limit(1_000_000, 30_000_000) == 1_200_000                   # 20% = 200k > floor
    assert gas_limit(29_000_000, 30_000_000) == 30_000_000                 # capped by the block
    with pytest.raises(TransactionRejected):
        gas_limit(30_000_001, 30_000_000)

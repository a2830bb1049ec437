"""Nodes under faults: chain reorgs under running nodes, a racing step, a faulty RPC, SIGKILLed processes.

The first tests drive in-process nodes poll by poll (deterministic reproductions of what the fault trials found);
the last one runs the real `ape run` node processes behind the RPC fault proxy (the short version of
`make fuzz-faults`).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import numpy as np
import pytest
from ape import chain

from offchain.chain.encoding import input_tensor
from offchain.dispute.solver import GameStatus
from offchain.engine.executor import run
from offchain.nodes.node import CLAIM_VOID
from offchain.nodes.rpc_proxy import RpcFaultProxy
from offchain.nodes.store import NodeStore

from .conftest import PARAMS, faulty_submitter_node, honest_challenger_node, tiny_image



def node_txs(first_block, *accounts):
    """Every transaction the given accounts sent since ``first_block``, with its receipt status."""
    wanted = {a.address.lower() for a in accounts}
    out = []
    for n in range(first_block, chain.blocks.height + 1):
        block = chain.provider.make_request("eth_getBlockByNumber", [hex(n), True])
        for tx in block["transactions"]:
            if tx["from"].lower() in wanted:
                receipt = chain.provider.make_request("eth_getTransactionReceipt", [tx["hash"]])
                out.append((tx["from"], tx["input"][:10], int(receipt["status"], 16)))
    return out


def play_out(protocol, nodes, request_ids, challenger, rounds=60):
    """Polls every node until every request is finalized; skips the window once a result stands unchallenged
    and was posted by the challenger (what the challenger checked)."""
    oracle, game = protocol.oracle, protocol.game
    for _ in range(rounds):
        for node in nodes:
            node.poll_once()
        if all(oracle.isFinalized(r) for r in request_ids):
            return
        for r in request_ids:
            req = oracle.getRequest(r)
            if (req.status == 2 and req.submitter == challenger.address and game.claimStatus(req.claimId) == 1
                    and game.getClaim(req.claimId).openGames == 0 and not game.canFinalize(req.claimId)):
                chain.pending_timestamp += PARAMS.challenge_window
                chain.mine()


def test_nodes_recover_when_a_reorg_drops_the_submission_and_the_challenge(
    protocol, classifier, tiny_model, model_id, user, submitter, challenger, tmp_path
):
    """Found by the reorg trials: a reorg dropped the faulty submission and its challenge. The challenger kept
    playing a game that no longer existed (reverting forever) and never challenged again, and the submitter kept
    its stale claim id: the next request got that id and the submitter answered the game on it with the other
    request's trace (reverted reveals every poll), while the dropped request was never answered again."""
    oracle, game = protocol.oracle, protocol.game
    bad = faulty_submitter_node(protocol, submitter, tiny_model, model_id, tmp_path / "s.sqlite")
    good = honest_challenger_node(protocol, challenger, tiny_model, model_id, tmp_path / "c.sqlite")
    first_block = chain.blocks.height + 1
    images = [tiny_image(31), tiny_image(32)]
    classifier.classify(images[0], sender=user, value=classifier.fee())
    first = oracle.requestCount()
    bad.poll_once()        # submits claim 1
    good.poll_once()       # challenges it: game 1
    bad.poll_once()        # sees game 1, reveals
    assert game.gameCount() == 1
    chain.provider.make_request("anvil_reorg", [3, []])   # the submission, the challenge and the reveal vanish
    assert oracle.getRequest(first).status == 1 and game.gameCount() == 0
    classifier.classify(images[1], sender=user, value=classifier.fee())   # would reuse claim id 1
    second = oracle.requestCount()

    play_out(protocol, [bad, good], [first, second], challenger)

    for rid, image in zip((first, second), images):
        assert oracle.isFinalized(rid), f"request {rid} was lost"
        expected = run(tiny_model.model, [input_tensor(tiny_model.model.graph, image)]).output
        assert classifier.classifications(rid).label == int(np.argmax(expected.reshape(-1)))
        assert oracle.getRequest(rid).submitter == challenger.address
    faulty_claims = [log.claimId for log in oracle.ResultSubmitted.range(first_block, chain.blocks.height + 1)
                     if log.submitter == submitter.address]
    assert len(faulty_claims) == 2 and all(game.claimStatus(c) == CLAIM_VOID for c in faulty_claims)
    txs = node_txs(first_block, submitter, challenger)
    assert [t for t in txs if t[2] != 1] == [], "a node sent transactions that reverted"
    assert game.openBonds() == 0
    assert game.balance == game.openBonds() + game.totalCredit()


def test_a_challenge_dropped_by_a_reorg_is_sent_again_though_the_submission_stayed(
    protocol, classifier, tiny_model, model_id, user, submitter, challenger, tmp_path
):
    """Found by the revert test: a reorg that drops only the challenger's challenge keeps the block with the
    submission, which the challenger's cursor had passed; rewinding to the last block still on the chain never
    re-reads it, so the challenger forgot the claim and the faulty result would have finalized."""
    oracle, game = protocol.oracle, protocol.game
    bad = faulty_submitter_node(protocol, submitter, tiny_model, model_id, tmp_path / "s.sqlite")
    good = honest_challenger_node(protocol, challenger, tiny_model, model_id, tmp_path / "c.sqlite")
    first_block = chain.blocks.height + 1
    image = tiny_image(61)
    classifier.classify(image, sender=user, value=classifier.fee())
    rid = oracle.requestCount()
    bad.poll_once()        # submits
    good.poll_once()       # reads the submission (its cursor passes that block) and challenges
    assert game.gameCount() == 1
    chain.provider.make_request("anvil_reorg", [1, []])   # only the challenge's block is replaced
    assert game.gameCount() == 0 and oracle.getRequest(rid).status == 2

    play_out(protocol, [bad, good], [rid], challenger)

    assert oracle.isFinalized(rid) and oracle.getRequest(rid).submitter == challenger.address
    expected = run(tiny_model.model, [input_tensor(tiny_model.model.graph, image)]).output
    assert classifier.classifications(rid).label == int(np.argmax(expected.reshape(-1)))
    assert game.getGame(1).status == GameStatus.CHALLENGER_WON and game.gameCount() == 1
    assert [t for t in node_txs(first_block, submitter, challenger) if t[2] != 1] == []
    assert game.openBonds() == 0


def test_a_submitter_killed_between_its_submission_and_its_bookkeeping_still_plays_the_game(
    protocol, classifier, tiny_model, model_id, user, submitter, challenger, tmp_path
):
    """Found by the kill trials ('after-submit'): the submitter died after its submission was mined but before it
    wrote the result to SQLite, and the challenge came before it restarted. On restart it read the GameStarted
    event first (no result of its own for that claim yet: ignored, cursor moved past it) and recorded the result
    only afterwards, so it never played the game and lost it on time: an honest submitter would lose its bond."""
    oracle, game = protocol.oracle, protocol.game
    path = tmp_path / "s.sqlite"
    bad = faulty_submitter_node(protocol, submitter, tiny_model, model_id, path)
    good = honest_challenger_node(protocol, challenger, tiny_model, model_id, tmp_path / "c.sqlite")
    classifier.classify(tiny_image(71), sender=user, value=classifier.fee())
    rid = oracle.requestCount()

    def crash(*_args, **_kwargs):
        raise KeyboardInterrupt("killed after the submission was mined")

    bad.store.add_result = crash
    with pytest.raises(KeyboardInterrupt):
        bad.poll_once()
    assert oracle.getRequest(rid).submitter == submitter.address and NodeStore(path).result(rid) is None
    good.poll_once()       # the challenge lands while the submitter is down
    assert game.gameCount() == 1
    bad = faulty_submitter_node(protocol, submitter, tiny_model, model_id, path)   # restarted on the same SQLite file

    play_out(protocol, [bad, good], [rid], challenger)

    assert oracle.isFinalized(rid)
    reveals = list(game.Revealed.range(0, chain.blocks.height + 1, search_topics={"gameId": 1}))
    assert reveals, "the restarted submitter never answered the game"
    assert NodeStore(path).game_counts() == {"challenger_won": 1}


def test_a_reorg_landing_inside_a_poll_after_the_challenge_is_still_noticed(
    protocol, classifier, tiny_model, model_id, user, submitter, challenger, tmp_path
):
    """Found by the long fault run (reorg trial 'after-dispute'): the reorg landed after the node's transaction
    and before it read the head at the end of its poll, so the head it remembered was already the new chain's and
    no later poll saw a difference: the dropped challenge was never sent again (and the submitter, whose dropped
    claim id was reused by the next request, answered that game with the other request's trace)."""
    oracle, game = protocol.oracle, protocol.game
    bad = faulty_submitter_node(protocol, submitter, tiny_model, model_id, tmp_path / "s.sqlite")
    good = honest_challenger_node(protocol, challenger, tiny_model, model_id, tmp_path / "c.sqlite")
    image = tiny_image(81)
    classifier.classify(image, sender=user, value=classifier.fee())
    rid = oracle.requestCount()
    bad.poll_once()
    inner = good.store.results_with_status

    def reorg_then(status):   # the call after the poll's transactions, before its last read of the head
        if game.gameCount() == 1:
            good.store.results_with_status = inner
            chain.provider.make_request("anvil_reorg", [1, []])
        return inner(status)

    good.store.results_with_status = reorg_then
    good.poll_once()          # challenges; the challenge's block is replaced before the poll ends
    assert game.gameCount() == 0 and oracle.getRequest(rid).status == 2

    play_out(protocol, [bad, good], [rid], challenger)

    assert oracle.isFinalized(rid) and oracle.getRequest(rid).submitter == challenger.address
    assert game.getGame(1).status == GameStatus.CHALLENGER_WON


def test_nodes_recover_when_the_chain_reverts_below_their_cursor(
    protocol, classifier, tiny_model, model_id, user, submitter, challenger, tmp_path
):
    """evm_revert to a snapshot taken right after the request: the chain ends lower than both nodes' cursors
    (the submission, the challenge and the first moves are gone); both detect it, rewind, and play again."""
    oracle, game = protocol.oracle, protocol.game
    bad = faulty_submitter_node(protocol, submitter, tiny_model, model_id, tmp_path / "s.sqlite")
    good = honest_challenger_node(protocol, challenger, tiny_model, model_id, tmp_path / "c.sqlite")
    first_block = chain.blocks.height + 1
    image = tiny_image(51)
    classifier.classify(image, sender=user, value=classifier.fee())
    rid = oracle.requestCount()
    snapshot = chain.provider.make_request("evm_snapshot", [])
    for _ in range(3):
        bad.poll_once()
        good.poll_once()
    height = chain.blocks.height
    assert game.gameCount() == 1 and height >= first_block + 3
    chain.provider.make_request("evm_revert", [snapshot])
    assert chain.blocks.height < height and game.gameCount() == 0

    play_out(protocol, [bad, good], [rid], challenger)

    assert oracle.isFinalized(rid) and oracle.getRequest(rid).submitter == challenger.address
    expected = run(tiny_model.model, [input_tensor(tiny_model.model.graph, image)]).output
    assert classifier.classifications(rid).label == int(np.argmax(expected.reshape(-1)))
    assert game.getGame(1).status == GameStatus.CHALLENGER_WON
    assert [t for t in node_txs(first_block, submitter, challenger) if t[2] != 1] == []
    assert game.openBonds() == 0


def test_a_submitter_does_not_settle_a_game_that_the_step_just_ended(
    protocol, classifier, tiny_model, model_id, user, submitter, challenger, tmp_path
):
    """Found by the kill trials (a reverted settleMoot on chain): the submitter read the game in progress, the
    challenger's step then ended it and voided the claim, and the submitter, reading the claim second, took it
    for a moot game and sent settleMoot, which reverted (GameNotInProgress)."""
    game = protocol.game
    bad = faulty_submitter_node(protocol, submitter, tiny_model, model_id, tmp_path / "s.sqlite")
    good = honest_challenger_node(protocol, challenger, tiny_model, model_id, tmp_path / "c.sqlite")
    classifier.classify(tiny_image(41), sender=user, value=classifier.fee())
    for _ in range(20):
        bad.poll_once()
        g = game.getGame(1) if game.gameCount() else None
        if g is not None and g.phase == 4:  # STEP: the challenger's turn to end it
            break
        good.poll_once()
    assert game.getGame(1).phase == 4 and game.getGame(1).status == GameStatus.IN_PROGRESS

    class StepLandsBetweenReads:
        """The game contract as the submitter sees it, with the challenger's step landing right after the
        submitter's first read of the game in this poll."""

        def __init__(self, inner):
            self.inner, self.stepped = inner, False

        def __getattr__(self, name):
            attr = getattr(self.inner, name)
            if name != "getGame" or self.stepped:
                return attr

            def get_game(*args, **kwargs):
                answer = attr(*args, **kwargs)
                self.stepped = True
                good.poll_once()   # the step
                return answer
            return get_game

    bad.game = StepLandsBetweenReads(game)
    first_block = chain.blocks.height + 1
    bad.poll_once()
    assert game.getGame(1).status == GameStatus.CHALLENGER_WON
    txs = node_txs(first_block, submitter)
    assert txs == [], f"the submitter sent {txs} to a game that had just ended"
    bad.game = game
    bad.poll_once()
    assert NodeStore(tmp_path / "s.sqlite").game_counts() == {"challenger_won": 1}


def test_rpc_fault_proxy_is_seeded_counts_faults_and_forwards_only_to_loopback():
    with pytest.raises(ValueError, match="loopback"):
        RpcFaultProxy("http://10.0.0.1:8545")
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []}).encode()
    outcomes = []
    for _ in range(2):
        with RpcFaultProxy(chain.provider.uri, rate=0.5, seed=11, max_delay=0.1, lifetime=60) as proxy:
            proxy.active = True
            seen = []
            for _ in range(40):
                try:
                    req = urllib.request.Request(proxy.uri, data=body, headers={"Content-Type": "application/json"})
                    answer = json.loads(urllib.request.urlopen(req, timeout=10).read())
                    seen.append("error" if "error" in answer else "ok")
                except (urllib.error.URLError, ConnectionError, OSError):
                    seen.append("dropped")
            stats = proxy.stats()
        outcomes.append((seen, stats["faults"]))
        assert stats["calls"] == 40 and stats["active_calls"] == 40
        assert 0.3 <= stats["fault_rate"] <= 0.7                    # seeded 50%
        assert seen.count("error") == stats["faults"].get("error", 0)
        assert seen.count("dropped") == stats["faults"].get("drop", 0) + stats["faults"].get("lost", 0)
    assert outcomes[0] == outcomes[1], "the same seed must fault the same calls"
    with pytest.raises(AssertionError):
        _ = RpcFaultProxy(chain.provider.uri).uri   # not started: no port


@pytest.mark.long  # ~50 s: make test's 25-minute budget; `make test-long` (part of `make fuzz`) runs it
def test_node_processes_survive_sigkill_rpc_faults_and_a_reorg(project, accounts, tmp_path):
    """The short `make fuzz-faults`: real `ape run` node processes behind a proxy faulting 15% of calls; the
    faulty submitter is SIGKILLed mid-descent and restarted on its store; the honest side wins, and the chain
    shows no duplicate or reverted node transaction and no bond left open or lost. (`make fuzz-faults` kills each
    role at every phase and reorgs games under running node processes; the reorg cases above play reorgs against
    in-process nodes, and tests/oracle/test_nodes.py crashes a challenger node process.)"""
    from offchain.nodes.fault_trials import audit, deploy_world, run_trials

    world = deploy_world(project, chain.provider, chain, accounts, tmp_path)
    trials = [("dispute", "kill", "faulty", "mid-descent")]
    with RpcFaultProxy(chain.provider.uri, rate=0.15, seed=5, lifetime=600) as proxy:
        results, nodes = run_trials(world, proxy, trials, seed=5, timeout=120)
        stats = proxy.stats()
    report = audit(world)
    assert [(r.fault, r.ok, r.detail) for r in results] == [("kill", True, "")]
    assert stats["faulted_calls"] > 0 and stats["fault_rate"] >= 0.08
    assert report["duplicates"] == [] and report["reverted"] == []
    assert report["open_bonds"] == 0 and report["funds_lost_wei"] == 0
    assert report["game_conserved"] and report["oracle_conserved"]


def test_node_reads_are_retried_through_a_faulty_rpc_but_sends_are_not(accounts):
    """Found by the proxy trials: with 15% of calls faulted, fewer than one poll in twenty completed (a poll makes
    ~20 reads and any failure aborts it). Reads are now retried; a send is never repeated."""
    from web3 import HTTPProvider, Web3

    from offchain.nodes.rpc_retry import install_read_retries

    with RpcFaultProxy(chain.provider.uri, rate=0.3, seed=2, kinds=("drop", "error"), max_delay=0.05) as proxy:
        bare = Web3(HTTPProvider(proxy.uri))
        proxy.active = True
        failures = 0
        for _ in range(30):
            try:
                bare.eth.block_number
            except Exception:  # noqa: BLE001 - what an unprotected node sees
                failures += 1
        assert failures > 0
        w3 = Web3(HTTPProvider(proxy.uri))
        install_read_retries(w3.provider, retries=6, backoff=0.01)
        heights = [w3.eth.block_number for _ in range(30)]
        assert heights == [chain.blocks.height] * 30
        proxy.rate = 1.0
        proxy.kinds = ("error",)
        before = proxy.calls
        answer = w3.provider.make_request("eth_sendRawTransaction", ["0x00"])
        assert answer["error"]["message"] == "fault proxy: injected error"
        assert proxy.calls - before == 1, "a send must never be repeated"
        assert w3.provider.make_request("eth_blockNumber", [])["error"]["code"] == -32603  # retries are bounded
        assert proxy.calls - before == 1 + 7

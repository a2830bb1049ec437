"""One node loop: monitor (new blocks' events) -> solver (pure, offchain.dispute.solver) -> responder (txs).

A node has roles: `submit` posts a result for every request of a model it serves; `challenge` recomputes
every posted result and disputes those that differ, then (with `correct`) posts the right result itself.
Both play their games and finalize the results they posted. All state that matters is on the chain or in
SQLite; after a crash the node re-reads both and carries on (every action is checked against the chain first).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from offchain.chain.encoding import EncodingError, input_tensor, output_bytes
from offchain.dispute.claimed_tree import ClaimedTree
from offchain.dispute.commitment import ExecutionCommitment
from offchain.dispute.faults import run_with_fault
from offchain.chain.transactions import Transactor
from offchain.dispute.responder import call_of, event_logs, read_game
from offchain.dispute.solver import ClaimStatus, GameStatus, Phase, challenger_action, submitter_action
from offchain.engine.errors import InputError
from offchain.engine.executor import run
from offchain.nodes.catalog import ServedModel
from offchain.nodes.progress import generation_progress
from offchain.nodes.store import NodeStore

# Mirrors of the contracts' enums (contracts/oracle/AIOracle.sol, contracts/dispute/lib/Types.sol).
REQUEST_OPEN, REQUEST_SUBMITTED, REQUEST_FINALIZED, REQUEST_REFUNDED = 1, 2, 3, 4
CLAIM_PENDING, CLAIM_VOID, CLAIM_FINALIZED = ClaimStatus.PENDING, ClaimStatus.VOID, ClaimStatus.FINALIZED


@dataclass(frozen=True)
class Fault:
    """Corrupt element `element` of node `node`'s output by `delta` (demos and tests of disputes)."""

    node: int
    element: int
    delta: int = 1

    @classmethod
    def parse(cls, text: str) -> "Fault":
        """From 'NODE:ELEMENT[:DELTA]'."""
        parts = text.split(":")
        if len(parts) not in (2, 3) or not all(p.lstrip("-").isdigit() for p in parts):
            raise ValueError(f"--fault takes NODE:ELEMENT[:DELTA] (integers), got {text!r}")
        return cls(*(int(p) for p in parts))


@dataclass(frozen=True)
class Roles:
    submit: bool = False
    challenge: bool = False
    correct: bool = False


class Node:
    """The loop of one node. `contracts` holds ape instances of AIOracle, DisputeGame and ModelRegistry."""

    def __init__(self, oracle: Any, game: Any, account: Any, models: dict[int, ServedModel], store: NodeStore,
                 roles: Roles, fault: Fault | None = None, start_block: int = 0, name: str = "node",
                 chain: Any = None, log: logging.Logger | None = None, keys_dir: Path | None = None):
        self.oracle, self.game, self.account = oracle, game, account
        self.models, self.store, self.roles, self.fault = models, store, roles, fault
        self.start_block, self.name, self.chain = start_block, name, chain
        self.keys_dir = keys_dir   # private models' keys from a ceremony; None: dev keys cached under build/zk
        self.logger = log or logging.getLogger(f"offchain.nodes.{name}")
        self._mine: dict[int, ExecutionCommitment] = {}
        self._honest: dict[int, ExecutionCommitment] = {}
        self._keys: dict[int, dict] = {}
        self._transactor: Transactor | None = None
        self.stopping = False

    @property
    def tx(self) -> Transactor:
        """Sends this node's transactions: estimate + margin, reverts logged and skipped, failures counted."""
        if self._transactor is None:
            self._transactor = Transactor(self.chain.provider, self.account, self.log, self.store)
        return self._transactor

    # ------------------------------------------------------------------ loop

    def log(self, event: str, **fields: Any) -> None:
        """Structured log line: event=... key=value ..."""
        self.logger.info(" ".join([f"node={self.name}", f"event={event}"] + [f"{k}={v}" for k, v in fields.items()]))

    def run_forever(self, interval: float = 0.5, until: Callable[[], bool] | None = None) -> None:
        """Polls until `stopping` is set (SIGINT/SIGTERM handlers set it) or `until()` says so. A submitter loads
        its private models' proving keys first (seconds each), so requests do not wait for them."""
        if self.roles.submit:
            self._load_keys()
        self.log("started", address=self.account.address, models=sorted(self.models),
                 roles=",".join(k for k, v in vars(self.roles).items() if v))
        while not self.stopping and not (until and until()):
            try:
                self.poll_once()
            except Exception as exc:  # noqa: BLE001 - a failed action is logged; the loop goes on
                self.log("error", error=type(exc).__name__, detail=str(exc).splitlines()[0][:200])
            time.sleep(interval)
        self.log("stopped")

    def poll_once(self) -> None:
        """One round: read new events, then act on every request, result and game that needs it."""
        block = self.chain.blocks.head
        head = block.number
        self._check_reorg(head)
        first = self.store.cursor("events", self.start_block - 1) + 1
        if first <= head:
            self._ingest(first, head)
            self.store.remember_block(head, bytes(block.hash))   # before the cursor: a crash between re-reads
            self.store.set_cursor("events", head)
        for game_id, claim_id, request_id in self.store.games_with_status("recheck"):
            self._recheck(game_id, claim_id, request_id)
        for request_id in self.store.requests_with_status("new"):
            self._post(request_id)
        for game_id, claim_id, request_id, role in self.store.open_games():
            self._play(game_id, request_id, role)
        for request_id in self.store.results_with_status("pending"):
            self._finalize(request_id)
        # The head after this poll's transactions: a reorg that later drops one of them changes its hash. (One that
        # lands before this read is caught by _store_ahead_of_chain: the game or claim the transaction made is gone.)
        block = self.chain.blocks.head
        self.store.remember_block(block.number, bytes(block.hash))

    # ------------------------------------------------------------------ monitor

    def _ingest(self, first: int, last: int) -> None:
        for log in self.oracle.AICallbackRequest.range(first, last + 1):
            # A request is served with the model version it is pinned to (the registry id of that version's roots,
            # which is how load_catalog keys a model file), not the version current now.
            version = int(self.oracle.pinnedVersion(log.requestId))
            if version in self.models:
                try:
                    input_tensor(self.models[version].commitment.model.graph, bytes(log.input))
                except (EncodingError, InputError) as exc:
                    # The oracle refuses such inputs at request time (LibInputDomain), so this means a chain whose
                    # rule differs from the engine's: skip it, loudly, rather than retry it every poll.
                    self.log("refused", request=log.requestId, model=version, error=type(exc).__name__,
                             detail=str(exc))
                    continue
                self.store.add_request(log.requestId, version, bytes(log.input), bytes(log.callbackData),
                                       "new" if self.roles.submit else "watch")
                self.log("request", request=log.requestId, model=version)
        for log in self.oracle.ResultSubmitted.range(first, last + 1):
            if log.submitter == self.account.address:
                continue
            if self.roles.challenge and self.store.request(log.requestId):
                self._check(log.requestId, log.claimId, bytes(log.output), bytes(log.traceRoot))
        for log in self.game.GameStarted.range(first, last + 1):
            result = self._our_result_for_claim(log.claimId)
            if result is None and (self.roles.submit or self.roles.correct):
                result = self._adopt_claim(log.claimId)
            if result is not None:
                self.store.add_game(log.gameId, log.claimId, result, "submitter")
                self.log("challenged", game=log.gameId, claim=log.claimId, challenger=log.challenger)

    def _check_reorg(self, head: int) -> None:
        """If the last head the cursor moved to is no longer on the chain (a reorg, or a revert to a lower
        height), rewinds the cursor to the newest remembered head that still is, and drops or reopens every row
        whose chain facts the reorg took away (:meth:`_reconcile`). Re-reading the events then re-adds what the
        new chain holds (a dropped challenge is found missing and sent again, a dropped submission re-posted)."""
        remembered = self.store.remembered_blocks()
        dropped_tx = self._store_ahead_of_chain()
        if not remembered or (self._on_chain(*remembered[0], head) and not dropped_tx):
            return
        ancestor = next((n for n, h in remembered if self._on_chain(n, h, head)), self.start_block - 1)
        self.log("reorg", last_seen=remembered[0][0], head=head, rewound_to=ancestor, dropped_tx=dropped_tx)
        self._reconcile()   # first: if it fails or the node dies here, the next poll sees the same reorg again
        self.store.set_cursor("events", min(ancestor, self.store.cursor("events", ancestor)))
        self.store.forget_blocks_after(ancestor)

    def _store_ahead_of_chain(self) -> bool:
        """Whether SQLite names an open game or a pending claim the chain does not have (the transaction that made
        it was dropped by a reorg, possibly one that landed inside the poll that sent it)."""
        games = self.game.gameCount()
        if any(game_id > games for game_id, *_ in self.store.open_games()):
            return True
        return any(self.game.claimStatus(self.store.result(r)[0]) == 0 for r in self.store.results_with_status("pending"))

    def _recheck(self, game_id: int, claim_id: int, request_id: int) -> None:
        """A game this challenger started that a reorg took away: checks its claim again if it is still pending
        (``_check`` finds a challenge of ours already on the chain or sends one), then drops or reopens the row."""
        if self.game.claimStatus(claim_id) == CLAIM_PENDING and self.store.request(request_id):
            log = event_logs(self.oracle.ResultSubmitted, self.start_block, claimId=claim_id)[-1]
            if self._check(request_id, claim_id, bytes(log.output), bytes(log.traceRoot)) == game_id:
                self.store.set_game_status(game_id, "open")   # the new game took the same id
                return
        self.store.delete_game(game_id)

    def _on_chain(self, number: int, block_hash: bytes, head: int) -> bool:
        return number <= head and bytes(self.chain.blocks[number].hash) == bytes(block_hash)

    def _reconcile(self) -> None:
        """After a reorg: SQLite rows keyed to events the chain no longer holds are dropped (games gone or now
        another claim's, results whose claim is gone: their request is posted again) or reopened (a game or
        result a dropped step or finalize had closed)."""
        me = self.account.address
        self._mine.clear()
        self._honest.clear()
        requests, games = self.oracle.requestCount(), self.game.gameCount()   # (the getters revert on unknown ids)
        for request_id, _status in self.store.requests():
            if request_id > requests:                                 # the request itself was dropped
                self.store.delete_request(request_id)
        for game_id, claim_id, _request_id, role, status in self.store.games():
            g = self.game.getGame(game_id) if game_id <= games else None
            if g is None or g.claimId != claim_id or (role == "challenger" and g.challenger != me):
                # A challenge of ours gone while the submission may have stayed (its block before the rewind
                # point): check the claim again (_recheck) instead of waiting for an event already read.
                if role == "challenger":
                    self.store.set_game_status(game_id, "recheck")
                else:
                    self.store.delete_game(game_id)
            elif g.status == GameStatus.IN_PROGRESS and status != "open":
                self.store.set_game_status(game_id, "open")
        for request_id, claim_id, status in self.store.results():
            if self.game.claimStatus(claim_id) == 0 or self.game.getClaim(claim_id).submitter != me:  # dropped
                self.store.delete_result(request_id)
                if self.store.request(request_id):
                    self.store.set_request_status(request_id, "new")
            elif status != "pending" and not self.oracle.isFinalized(request_id) \
                    and self.game.claimStatus(claim_id) != CLAIM_VOID:
                self.store.set_result_status(request_id, "pending")
        if self.roles.submit:
            for request_id, status in self.store.requests():
                if status == "taken" and self.oracle.getRequest(request_id).status == REQUEST_OPEN:
                    self.store.set_request_status(request_id, "new")

    def _adopt_claim(self, claim_id: int) -> int | None:
        """A claim of ours that SQLite does not hold: posted just before a crash, its result not yet written
        (``_post`` re-records it, but only after this poll's events, too late for a game already started on it).
        Records it now; returns its request, or None if the claim is not ours."""
        if self.game.getClaim(claim_id).submitter != self.account.address:
            return None
        posted = event_logs(self.oracle.ResultSubmitted, self.start_block, claimId=claim_id)
        if not posted or not self.store.request(posted[-1].requestId):
            return None
        request_id = posted[-1].requestId
        self._record_result(request_id, claim_id)
        self.store.set_request_status(request_id, "posted")
        self.log("adopted", request=request_id, claim=claim_id)
        return request_id

    def _our_result_for_claim(self, claim_id: int) -> int | None:
        row = self.store.db.execute("SELECT request_id FROM results WHERE claim_id = ? AND submitter = ?",
                                    (claim_id, self.account.address)).fetchone()
        return row[0] if row else None

    # ------------------------------------------------------------------ solver inputs

    def _execute(self, request_id: int, faulty: bool, claim_id: int | None = None) -> ExecutionCommitment:
        """This node's execution of the request: its own (faulty if so configured) as a submitter, the honest
        one as a challenger. A challenger holding a private model's public view takes the private nodes' outputs
        that claim ``claim_id`` published (see ``_run_public_view``)."""
        cache = self._mine if faulty else self._honest
        key = request_id if claim_id is None else (request_id, claim_id)
        if key not in cache:
            model_id, data, _ = self.store.request(request_id)
            served = self.models[model_id]
            model = served.commitment.model
            x = input_tensor(model.graph, data)
            # A generating model's run logs `event=generate tokens=K/N tok_s=X.X` once per token (None otherwise).
            progress = generation_progress(model, lambda event, **fields: self.log(event, request=request_id,
                                                                                   **fields))
            if faulty and self.fault is not None:
                trace = run_with_fault(model, [x], self.fault.node, self.fault.element, self.fault.delta,
                                       progress=progress)
            elif served.view:
                if claim_id is None:
                    raise ValueError(f"model {model_id} is a public view: its private outputs come with a claim")
                trace = self._run_public_view(served, claim_id, x)
            else:
                trace = run(model, [x], progress=progress)
            cache[key] = ExecutionCommitment(served.commitment, trace)
        return cache[key]

    def _run_public_view(self, served: ServedModel, claim_id: int, x):
        """Runs the public view with the private outputs claim ``claim_id`` published. A private node whose output
        (or input) does not Poseidon-hash to what the claim's proof is about gets a perturbed output instead, and
        the model is run again from it (only then), so that the descent lands on that private node and the
        submitter must reveal what it proved, which it cannot."""
        from offchain.commit import unpack_tensor
        from offchain.zk.private import io_hashes

        log = event_logs(self.game.PrivateOutputsPublished, self.start_block, claimId=claim_id)[0]
        model = served.commitment.model
        given: dict[int, np.ndarray] = {}
        for node, data in zip(log.nodes, log.outputs):
            spec = model.graph.nodes[node].output
            given[int(node)] = unpack_tensor(bytes(data), spec.dtype.numpy, spec.shape)
        trace = run(model, [x], given=given)
        mismatched = False
        for k, node in enumerate(int(n) for n in log.nodes):
            out = given[node]
            if io_hashes(trace.operands(model, node)[0], out) != (int(log.pairs[2 * k]), int(log.pairs[2 * k + 1])):
                wrong = out.copy().reshape(-1)
                wrong[0] = wrong[0] + 1 if wrong[0] < np.iinfo(out.dtype).max else wrong[0] - 1
                given[node] = wrong.reshape(out.shape)
                mismatched = True
                self.log("private-mismatch", claim=claim_id, node=node)
        return run(model, [x], given=given) if mismatched else trace

    # ------------------------------------------------------------------ responders

    def _post(self, request_id: int) -> None:
        r = self.oracle.getRequest(request_id)
        reopened = r.status == REQUEST_SUBMITTED and self.game.claimStatus(r.claimId) == CLAIM_VOID
        if r.status != REQUEST_OPEN and not reopened:
            if r.status == REQUEST_SUBMITTED and r.submitter == self.account.address:
                self._record_result(request_id, r.claimId)  # posted before a crash
            self.store.set_request_status(request_id, "taken")
            return
        mine = self._execute(request_id, faulty=self.roles.submit and self.fault is not None)
        output = output_bytes(mine.trace.output)
        served = self.models[self.store.request(request_id)[0]]
        if served.private:
            ios = self._private_ios(served, mine)
            sent = self.tx.send(self.oracle, "submitPrivate", request_id, output, mine.trace_root,
                                mine.output_proof(), ios, value=self.game.submitterBond())
        else:
            sent = self.tx.send(self.oracle, "submit", request_id, output, mine.trace_root, mine.output_proof(),
                                value=self.game.submitterBond())
        if not sent.ok:
            return   # logged; the next poll re-reads the request
        receipt = sent.receipt
        claim_id = receipt.decode_logs(self.oracle.ResultSubmitted)[0].claimId
        self._mine[request_id] = mine
        self.store.add_result(request_id, claim_id, self.account.address, output, mine.trace_root)
        self.store.set_request_status(request_id, "posted")
        self.log("submitted", request=request_id, claim=claim_id, gas=receipt.gas_used,
                 faulty=self.fault is not None and self.roles.submit)
        self._deliver_fast(request_id, output)

    def _deliver_fast(self, request_id: int, output: bytes) -> None:
        """Sends a fast request's early callback right after our submission (the fast callback fee pays for it);
        a failure is logged and the result is still delivered at finalization."""
        if self.oracle.callbackState(request_id).fastFee == 0:
            return
        _, _, callback_data = self.store.request(request_id)
        sent = self.tx.send(self.oracle, "deliverFast", request_id, output, callback_data)
        if sent.ok:
            self.log("fast-callback", request=request_id, gas=sent.receipt.gas_used)

    def _private_ios(self, served: ServedModel, mine: ExecutionCommitment) -> list[tuple]:
        """Groth16 proofs of the private nodes of this execution (keys: ``keys_dir``'s, else the dev setup cached
        under build/zk)."""
        from offchain.zk.model_proofs import prove_private
        from offchain.zk.private import PrivateSpec
        from offchain.zk.submission import private_ios

        if served.view:
            raise ValueError(f"model {served.model_id} is a public view: only a holder of its private weights submits")
        spec = PrivateSpec(served.private)
        self._load_keys()   # no-op once loaded (run_forever loads them at start)
        proofs = prove_private(served.commitment.model, spec, mine.trace, self._keys[served.model_id])
        self.log("proved", nodes=",".join(str(p.node) for p in proofs))
        return private_ios(mine, proofs)

    def _load_keys(self) -> None:
        from offchain.zk.model_proofs import setup_private
        from offchain.zk.private import PrivateSpec

        for served in self.models.values():
            if served.private and not served.view and served.model_id not in self._keys:
                keys = setup_private(served.commitment.model, PrivateSpec(served.private), self.keys_dir)
                for k in keys.values():
                    k.load_pk()                 # now, not on the first request (lazy otherwise)
                self._keys[served.model_id] = keys
                self.log("keys-loaded", model=served.model_id)

    def _pairs(self, request_id: int, mine: ExecutionCommitment) -> list[int] | None:
        """The (inHash, outHash) pairs this node's claim proposed, for a private reveal."""
        from offchain.zk.private import io_hashes

        served = self.models[self.store.request(request_id)[0]]
        if not served.private:
            return None
        model = served.commitment.model
        return [h for node in served.private
                for h in io_hashes(mine.trace.operands(model, node)[0], mine.trace.outputs[node])]

    def _record_result(self, request_id: int, claim_id: int) -> None:
        mine = self._execute(request_id, faulty=self.roles.submit and self.fault is not None)
        self._mine[request_id] = mine
        self.store.add_result(request_id, claim_id, self.account.address, output_bytes(mine.trace.output),
                              mine.trace_root)

    def _check(self, request_id: int, claim_id: int, output: bytes, trace_root: bytes) -> int | None:
        """Disputes the claim unless it matches this node's execution; returns the game (None: agreed)."""
        honest = self._execute(request_id, faulty=False, claim_id=self._claim_key(request_id, claim_id))
        if trace_root == honest.trace_root and output == output_bytes(honest.trace.output):
            self.log("agreed", request=request_id, claim=claim_id)
            return None
        mine = [log for log in event_logs(self.game.GameStarted, self.start_block, claimId=claim_id)
                if log.challenger == self.account.address]
        if mine:  # challenged before a crash
            game_id = mine[0].gameId
        else:
            sent = self.tx.send(self.game, "challenge", claim_id, value=self.game.challengerBond())
            if not sent.ok:
                return
            receipt = sent.receipt
            game_id = receipt.decode_logs(self.game.GameStarted)[0].gameId
        self.store.add_game(game_id, claim_id, request_id, "challenger")
        self.log("disputed", request=request_id, claim=claim_id, game=game_id)
        return game_id

    def _claimed_tree(self, game_id: int, honest: ExecutionCommitment, claim_root: bytes) -> ClaimedTree:
        """The submitter's trace tree as its trace-level reveals show it (rebuilt from events: crash-safe)."""
        claimed = ClaimedTree(honest.trace_tree, claim_root)
        opened = event_logs(self.game.NodeOpened, self.start_block, gameId=game_id)
        cut = (opened[0].block_number, opened[0].log_index) if opened else None
        for log in event_logs(self.game.Revealed, self.start_block, gameId=game_id):
            if cut is None or (log.block_number, log.log_index) < cut:
                claimed.add_reveal(log.level, log.index, [bytes(c) for c in log.children])
        return claimed

    def _play(self, game_id: int, request_id: int, role: str) -> None:
        claim_id = self.game.getGame(game_id).claimId
        # The claim before the game: a step landing between the two reads ends the game and voids the claim, and
        # read in the other order that looked like a moot game (a settleMoot that reverts).
        claim_void = self.game.claimStatus(claim_id) == CLAIM_VOID
        state = read_game(self.game, game_id, self.start_block)
        if state.status == GameStatus.IN_PROGRESS and claim_void:
            # Another game voided the claim: no more moves here and no win on time; settle it (the challenger gets
            # its bond and a share of the voided claim's bond) and stop playing.
            if not self.tx.send(self.game, "settleMoot", game_id).ok:
                return  # logged; tried again at the next poll
            self.log("game-moot", game=game_id, role=role, claim=claim_id)
            state = read_game(self.game, game_id, self.start_block)
        if state.status != GameStatus.IN_PROGRESS:
            won = (state.status == GameStatus.CHALLENGER_WON) == (role == "challenger")
            self.store.set_game_status(game_id, "won" if won else state.status.name.lower())
            self.log("game-over", game=game_id, role=role, result=state.status.name)
            voided = state.status in (GameStatus.CHALLENGER_WON, GameStatus.MOOT)
            if role == "challenger" and voided and self.roles.correct:
                self.store.set_request_status(request_id, "new")  # post the correct result
            return
        if role == "submitter":
            mine = self._mine.get(request_id) or self._execute(request_id, faulty=True)
            # Only a reveal needs the Poseidon pairs: hashing them on every poll would cost ~0.1 s per private node.
            pairs = self._pairs(request_id, mine) if state.phase == Phase.PRIVATE_REVEAL else None
            action = submitter_action(state, mine, pairs)
        else:
            honest = self._execute(request_id, faulty=False, claim_id=self._claim_key(request_id, claim_id))
            claim = self.game.getClaim(claim_id)
            action = challenger_action(state, honest, self._claimed_tree(game_id, honest, bytes(claim.traceRoot)))
        if action is None:
            if self.game.clockUsed(game_id) > self.game.clockBudget():
                if self.tx.send(self.game, "timeout", game_id).ok:
                    self.log("timeout-claimed", game=game_id)
            return
        method, args = call_of(action)
        sent = self.tx.send(self.game, method, game_id, *args, action=type(action).__name__)
        if sent.ok:
            self.log("move", game=game_id, role=role, action=type(action).__name__, phase=state.phase.name,
                     gas=sent.receipt.gas_used)

    def _claim_key(self, request_id: int, claim_id: int) -> int | None:
        """The claim whose published private outputs a public view needs; None for models run in full."""
        model_id = self.store.request(request_id)[0]
        return claim_id if self.models[model_id].view else None

    def _finalize(self, request_id: int) -> None:
        claim_id, _, output, _, _ = self.store.result(request_id)
        status = self.game.claimStatus(claim_id)
        if status == CLAIM_VOID:
            self.store.set_result_status(request_id, "voided")
            self.log("voided", request=request_id, claim=claim_id)
            return
        if self.oracle.isFinalized(request_id):
            self.store.set_result_status(request_id, "finalized")
            return
        if not self.game.canFinalize(claim_id):
            return
        _, _, callback_data = self.store.request(request_id)
        sent = self.tx.send(self.oracle, "finalize", request_id, output, callback_data)
        if not sent.ok:
            return
        receipt = sent.receipt
        self.store.set_result_status(request_id, "finalized")
        self.log("finalized", request=request_id, claim=claim_id, gas=receipt.gas_used)

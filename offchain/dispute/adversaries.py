"""Players for randomized games (bench/_game_fuzz.py): the honest ones the nodes run, and dishonest ones.

A player answers ``act(state)`` with its next action, or None when it stalls (only dishonest players stall);
``accepted()`` tells it that its last action went through, ``rejected(error)`` that it reverted. Dishonest
players follow a plan drawn by the fuzzer: how they pick children (at random, an agreeing child, a padding
child, or the honest leftmost difference), how they forge the one-step proof, when they stall, and (for a
submitter) when they send reveals or chunks that do not hash up. After any rejected move a dishonest player
stalls: it has shown its hand, and its clock decides the game.

Honest players are the solver's policies (offchain/dispute/solver.py) unchanged, so the fuzzer exercises the
code the nodes run.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from eth_abi import decode, encode

from offchain.dispute.claimed_tree import ClaimedTree, ClaimedTreeError
from offchain.dispute.commitment import ExecutionCommitment
from offchain.dispute.proofs import PROOF_ABI, build_step_proof
from offchain.dispute.solver import (
    Action,
    GameState,
    OpenNode,
    Phase,
    Pick,
    Reveal,
    RevealChunk,
    SolverError,
    Step,
    challenger_action,
    reveal_levels,
    submitter_action,
)

#: How a dishonest challenger chooses among revealed children.
PICKS = ("random", "agreeing", "padding", "leftmost")
#: How a dishonest challenger forges its one-step proof (or its node opening).
FORGES = ("operand", "agreeing-element", "descriptor", "chunk", "open-node")


class _Honest:
    """An honest player moves whenever it is its turn; it stops only if the driver stops it (its strategy had no
    answer, which the fuzzer reports as a violation)."""

    honest = True
    stopped = False

    def stalling(self) -> bool:
        return self.stopped

    def stop(self) -> None:
        self.stopped = True

    def accepted(self) -> None:
        pass

    def rejected(self, error: str) -> None:
        pass


class HonestChallenger(_Honest):
    """The node's challenger: ``solver.challenger_action`` on the honest execution."""

    def __init__(self, honest: ExecutionCommitment, claimed: ClaimedTree):
        self.execution = honest
        self.claimed = claimed

    def act(self, state: GameState) -> Action | None:
        return challenger_action(state, self.execution, self.claimed)


class HonestSubmitter(_Honest):
    """The node's submitter: ``solver.submitter_action`` on its own (correct) execution."""

    def __init__(self, mine: ExecutionCommitment):
        self.mine = mine

    def act(self, state: GameState) -> Action | None:
        return submitter_action(state, self.mine)


@dataclass(frozen=True)
class ChallengerPlan:
    """A dishonest challenger's strategy. ``stall_after``: moves made before it stops (None: never by plan)."""

    pick: str
    forge: str
    stall_after: int | None


@dataclass(frozen=True)
class SubmitterPlan:
    """A dishonest submitter's strategy in one game: it answers from its (faulty) trace, but stops after
    ``stall_after`` moves, and its move number ``bad_reveal_at`` (if reached in a descent) or its chunk reveal
    (``bad_chunk``) is altered so that it does not hash up."""

    stall_after: int | None
    bad_reveal_at: int | None
    bad_chunk: bool


def real_children(state: GameState) -> int:
    """How many of the revealed children cover real leaves (the rest lie wholly in the padding)."""
    levels = len(state.last_children).bit_length() - 1
    height = state.tree_depth - state.level - levels
    first = state.index << levels
    return sum(1 for k in range(len(state.last_children)) if (first + k) << height < state.leaf_count)


class _Moves:
    """Counts a dishonest player's accepted moves and stalls it by plan or after a rejected move."""

    honest = False

    def __init__(self, stall_after: int | None):
        self.stall_after = stall_after
        self.moves = 0
        self.stalled = False

    def stalling(self) -> bool:
        """True once it has stopped moving: by plan, or after a rejected move or a position it cannot answer."""
        return self.stalled or (self.stall_after is not None and self.moves >= self.stall_after)

    def stop(self) -> None:
        self.stalled = True

    def accepted(self) -> None:
        self.moves += 1

    def rejected(self, error: str) -> None:
        self.stalled = True


class DishonestChallenger(_Moves):
    """Disputes by ``plan``: never the protocol's strategy as a whole (its forged step cannot be true)."""

    def __init__(self, plan: ChallengerPlan, honest: ExecutionCommitment, claimed: ClaimedTree,
                 rng: np.random.Generator):
        super().__init__(plan.stall_after)
        self.plan = plan
        self.execution = honest
        self.claimed = claimed
        self.rng = rng

    def act(self, state: GameState) -> Action | None:
        if self.stalling():
            return None
        try:
            if state.phase in (Phase.TRACE_DESCENT, Phase.TENSOR_DESCENT):
                return Pick(list(state.last_children), self._pick(state))
            if state.phase == Phase.OPEN_NODE:
                return self._open(state)
            if state.phase == Phase.STEP:
                return self._forged_step(state)
        except (SolverError, ClaimedTreeError, IndexError, ValueError):
            pass  # its knowledge does not reach this position: it stalls
        self.stalled = True
        return None

    def _pick(self, state: GameState) -> int:
        children = list(state.last_children)
        real = real_children(state)
        tree = (self.execution.trace_tree if state.phase == Phase.TRACE_DESCENT
                else self.execution.output_tree(state.node_index).tree)
        ours = tree.reveal(state.level, state.index, reveal_levels(state))
        if self.plan.pick == "padding" and real < len(children):
            return int(self.rng.integers(real, len(children)))
        if self.plan.pick == "agreeing":
            agree = [k for k in range(real) if children[k] == ours[k]]
            if agree:
                return int(self.rng.choice(agree))
        if self.plan.pick == "leftmost":
            differ = [k for k in range(real) if children[k] != ours[k]]
            if differ:
                return differ[0]
        return int(self.rng.integers(0, real))

    def _open(self, state: GameState) -> OpenNode:
        model = self.execution.model
        node = state.index
        if self.plan.forge == "open-node":
            node = (state.index + 1) % model.node_count  # another node's descriptor, with its own valid proof
        return OpenNode(model.descriptor(node), list(model.graph_tree.prove_leaf(node).siblings))

    def _forged_step(self, state: GameState) -> Step:
        node = self.execution.model.model.graph.nodes[state.node_index]
        width = int(node.output.dtype)
        per_chunk = len(state.chunk) // width
        real = min(per_chunk, node.output.size - state.index * per_chunk)
        ours = self.execution.output_tree(state.node_index).chunk(state.index)
        same = [k for k in range(real) if state.chunk[k * width:(k + 1) * width] == ours[k * width:(k + 1) * width]]
        differ = [k for k in range(real) if k not in same]
        forge = self.plan.forge
        if forge == "agreeing-element" and not same:
            forge = "operand"
        # the element it steps on: one the honest trace agrees with, or one it disputes (with a broken proof)
        k = int(self.rng.choice(same)) if forge == "agreeing-element" else int(self.rng.choice(differ or same))
        descriptor = self.execution.model.descriptor(state.node_index)
        proof = build_step_proof(self.execution, self.claimed, state.node_index, state.index * per_chunk + k).proof
        chunk = state.chunk
        if forge == "operand":
            proof = _flip_operand(proof)
        elif forge == "descriptor":
            descriptor = self.execution.model.descriptor((state.node_index + 1) % self.execution.model.node_count)
        elif forge == "chunk":
            chunk = ours if ours != state.chunk else bytes([state.chunk[0] ^ 1]) + state.chunk[1:]
        return Step(chunk, k, descriptor, proof)


def _flip_operand(proof: bytes) -> bytes:
    """The proof with one operand byte changed (its range proof no longer holds), or one operand root when the
    element reads no operand range."""
    roots, ranges = decode(PROOF_ABI, proof)
    ranges = [(bytes(c), list(p)) for c, p in ranges]
    roots = [(bytes(r), list(p)) for r, p in roots]
    for r, (chunks, siblings) in enumerate(ranges):
        if chunks:
            ranges[r] = (bytes([chunks[0] ^ 1]) + chunks[1:], siblings)
            return encode(PROOF_ABI, [roots, ranges])
    roots[0] = (bytes([roots[0][0][0] ^ 1]) + roots[0][0][1:], roots[0][1])
    return encode(PROOF_ABI, [roots, ranges])


class DishonestSubmitter(_Moves):
    """Answers from its own (faulty) execution by ``plan``: stalls, and reveals that do not hash up."""

    def __init__(self, plan: SubmitterPlan, mine: ExecutionCommitment):
        super().__init__(plan.stall_after)
        self.plan = plan
        self.mine = mine

    def act(self, state: GameState) -> Action | None:
        if self.stalling():
            return None
        action = submitter_action(state, self.mine)
        if isinstance(action, Reveal) and self.plan.bad_reveal_at == self.moves:
            children = list(action.children)
            children[-1] = bytes([children[-1][0] ^ 1]) + children[-1][1:]
            return Reveal(children)
        if isinstance(action, RevealChunk) and self.plan.bad_chunk:
            return RevealChunk(bytes([action.chunk[0] ^ 1]) + action.chunk[1:])
        return action

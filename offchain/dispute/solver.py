"""Pure decisions of the two players: game state and local knowledge in, the next action out.

Like op-challenger's solver, nothing here touches a chain; the responder sends what it returns. The
honest policies are the protocol's: a submitter reveals from its own trace; a challenger picks the leftmost
child that differs from the honest trace, opens the disputed node, and steps on the first differing element.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from offchain.commit import MerkleTree
from offchain.dispute.claimed_tree import ClaimedTree
from offchain.dispute.commitment import ExecutionCommitment
from offchain.dispute.proofs import build_step_proof


class Phase(enum.IntEnum):
    """Mirrors contracts/dispute/lib/Types.sol::Phase."""

    TRACE_DESCENT = 0
    OPEN_NODE = 1
    TENSOR_DESCENT = 2
    CHUNK_REVEAL = 3
    STEP = 4
    PRIVATE_REVEAL = 5


class Turn(enum.IntEnum):
    SUBMITTER = 0
    CHALLENGER = 1


class GameStatus(enum.IntEnum):
    NONE = 0
    IN_PROGRESS = 1
    CHALLENGER_WON = 2
    SUBMITTER_WON = 3
    MOOT = 4


class ClaimStatus(enum.IntEnum):
    """DisputeGame's ClaimStatus (contracts/dispute/lib/Types.sol)."""

    NONE = 0
    PENDING = 1
    VOID = 2
    FINALIZED = 3


@dataclass(frozen=True)
class GameState:
    """What the chain says about one game, plus the reveal the side to move must answer."""

    game_id: int
    status: GameStatus
    phase: Phase
    turn: Turn
    tree_depth: int
    level: int
    index: int
    leaf_count: int
    node: bytes
    node_index: int
    reveal_depth: int
    last_children: tuple[bytes, ...] = ()
    chunk: bytes = b""


@dataclass(frozen=True)
class Reveal:
    children: list[bytes]


@dataclass(frozen=True)
class Pick:
    children: list[bytes]
    index: int


@dataclass(frozen=True)
class OpenNode:
    descriptor: bytes
    proof: list[bytes]


@dataclass(frozen=True)
class RevealChunk:
    chunk: bytes


@dataclass(frozen=True)
class Step:
    chunk: bytes
    element: int
    descriptor: bytes
    proof: bytes
    value: int = field(compare=False, default=0)


@dataclass(frozen=True)
class RevealPrivate:
    """The submitter's answer at a private node (contracts/zk/interfaces/IPrivateNodeJudge.sol PrivateReveal)."""

    descriptor: bytes
    input: bytes
    input_proof: list[bytes]
    output: bytes
    pairs: list[int]

    def as_tuple(self) -> tuple:
        return (self.descriptor, self.input, self.input_proof, self.output, self.pairs)


Action = Reveal | Pick | OpenNode | RevealChunk | Step | RevealPrivate


class SolverError(Exception):
    """The local trace cannot answer the game's position (e.g. the challenger agrees with every child)."""


def reveal_levels(state: GameState) -> int:
    """Levels the next reveal spans: j, or what is left above the leaves (the contract's rule)."""
    return min(state.reveal_depth, state.tree_depth - state.level)


def _tree(state: GameState, execution: ExecutionCommitment) -> MerkleTree:
    if state.phase == Phase.TRACE_DESCENT:
        return execution.trace_tree
    return execution.output_tree(state.node_index).tree


def submitter_action(state: GameState, mine: ExecutionCommitment, pairs: list[int] | None = None) -> Action | None:
    """The submitter's move, or None when it is not its turn (or the game is over). ``pairs``: the (inHash,
    outHash) pairs proposed with a private model's claim, needed to answer a game that lands on a private node."""
    if state.status != GameStatus.IN_PROGRESS or state.turn != Turn.SUBMITTER:
        return None
    if state.phase in (Phase.TRACE_DESCENT, Phase.TENSOR_DESCENT):
        return Reveal(_tree(state, mine).reveal(state.level, state.index, reveal_levels(state)))
    if state.phase == Phase.CHUNK_REVEAL:
        return RevealChunk(mine.output_tree(state.node_index).chunk(state.index))
    if state.phase == Phase.PRIVATE_REVEAL:
        if pairs is None:
            raise SolverError("the game landed on a private node but the submitter has no proposed pairs")
        return private_reveal(mine, state.node_index, pairs)
    raise SolverError(f"submitter has no move in phase {state.phase.name}")


def private_reveal(mine: ExecutionCommitment, node_index: int, pairs: list[int]) -> RevealPrivate:
    """Node ``node_index``'s descriptor, packed input (with its trace proof unless it is the model input) and
    packed output, from the submitter's own execution."""
    from offchain.commit import pack_tensor
    from offchain.engine.graph import TensorKind

    model = mine.model
    node = model.model.graph.nodes[node_index]
    x = mine.trace.operands(model.model, node_index)[0]
    ref = node.inputs[0]
    proof = list(mine.trace_tree.prove_leaf(ref.index).siblings) if ref.kind == TensorKind.ACTIVATION else []
    return RevealPrivate(model.descriptor(node_index), pack_tensor(x), proof,
                         pack_tensor(mine.trace.outputs[node_index]), list(pairs))


def leftmost_difference(claimed: list[bytes], honest: list[bytes]) -> int:
    """Index of the first claimed child that differs from the honest one."""
    for k, (c, h) in enumerate(zip(claimed, honest)):
        if c != h:
            return k
    raise SolverError("every revealed child agrees with the honest trace: nothing to dispute here")


def challenger_action(state: GameState, honest: ExecutionCommitment, claimed: ClaimedTree) -> Action | None:
    """The honest challenger's move, or None when it is not its turn (or the game is over)."""
    if state.status != GameStatus.IN_PROGRESS or state.turn != Turn.CHALLENGER:
        return None
    if state.phase in (Phase.TRACE_DESCENT, Phase.TENSOR_DESCENT):
        children = list(state.last_children)
        ours = _tree(state, honest).reveal(state.level, state.index, reveal_levels(state))
        return Pick(children, leftmost_difference(children, ours))
    model = honest.model
    if state.phase == Phase.OPEN_NODE:
        i = state.index
        return OpenNode(model.descriptor(i), list(model.graph_tree.prove_leaf(i).siblings))
    if state.phase == Phase.STEP:
        return honest_step(state, honest, claimed)
    raise SolverError(f"challenger has no move in phase {state.phase.name}")


def honest_step(state: GameState, honest: ExecutionCommitment, claimed: ClaimedTree) -> Step:
    """Step on the first element of the revealed chunk that differs from the honest chunk."""
    node = honest.model.model.graph.nodes[state.node_index]
    width = int(node.output.dtype)
    ours = honest.output_tree(state.node_index).chunk(state.index)
    theirs = state.chunk
    for k in range(len(theirs) // width):
        if theirs[k * width:(k + 1) * width] != ours[k * width:(k + 1) * width]:
            break
    else:
        raise SolverError(f"revealed chunk {state.index} of node {state.node_index} equals the honest one")
    descriptor = honest.model.descriptor(state.node_index)
    flat = state.index * (len(theirs) // width) + k
    if flat >= node.output.size:
        return Step(theirs, k, descriptor, b"")
    proof = build_step_proof(honest, claimed, state.node_index, flat)
    return Step(theirs, k, descriptor, proof.proof, proof.value)

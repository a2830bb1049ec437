"""Plays one game to its end between a submitter policy and a challenger policy (tests, demo, benchmarks).

The nodes (offchain/nodes) run the same policies from a monitor loop; this module drives both sides
in turn, without waiting for blocks, and records each move's gas.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from offchain.dispute.claimed_tree import ClaimedTree
from offchain.dispute.commitment import ExecutionCommitment
from offchain.dispute.responder import read_game, send
from offchain.dispute.solver import (
    Action,
    GameState,
    GameStatus,
    Phase,
    Reveal,
    Turn,
    challenger_action,
    submitter_action,
)

SubmitterPolicy = Callable[[GameState], Action | None]
ChallengerPolicy = Callable[[GameState], Action | None]


@dataclass
class MoveRecord:
    side: str
    action: str
    gas: int


@dataclass
class MatchResult:
    status: GameStatus
    moves: list[MoveRecord] = field(default_factory=list)

    def moves_of(self, side: str) -> int:
        return sum(1 for m in self.moves if m.side == side)

    def gas_of(self, side: str) -> int:
        return sum(m.gas for m in self.moves if m.side == side)

    @property
    def max_gas(self) -> int:
        return max((m.gas for m in self.moves), default=0)


def honest_submitter(mine: ExecutionCommitment, pairs: list[int] | None = None) -> SubmitterPolicy:
    """Answers from its own execution; ``pairs``: the private-node hash pairs it proposed (private models)."""
    return lambda state: submitter_action(state, mine, pairs)


def honest_challenger(honest: ExecutionCommitment, claimed: ClaimedTree) -> ChallengerPolicy:
    return lambda state: challenger_action(state, honest, claimed)


def play(
    game: Any,
    game_id: int,
    submitter: Any,
    challenger: Any,
    submitter_policy: SubmitterPolicy,
    challenger_policy: ChallengerPolicy,
    claimed: ClaimedTree | None = None,
    max_moves: int = 200,
    start_block: int = 0,
) -> MatchResult:
    """Alternates the two sides until the game ends or the side to move has no action (it stalls).

    ``claimed`` (the challenger's view of the submitter's trace tree) learns every trace-level reveal.
    """
    result = MatchResult(GameStatus.IN_PROGRESS)
    for _ in range(max_moves):
        state = read_game(game, game_id, start_block)
        if state.status != GameStatus.IN_PROGRESS:
            break
        side, policy, account = (
            ("submitter", submitter_policy, submitter)
            if state.turn == Turn.SUBMITTER
            else ("challenger", challenger_policy, challenger)
        )
        action = policy(state)
        if action is None:
            break
        receipt = send(game, game_id, action, account)
        result.moves.append(MoveRecord(side, type(action).__name__, receipt.gas_used))
        if claimed is not None and isinstance(action, Reveal) and state.phase == Phase.TRACE_DESCENT:
            claimed.add_reveal(state.level, state.index, action.children)
    result.status = read_game(game, game_id, start_block).status
    return result

"""Reads a game from the chain and sends a player's actions as transactions.

Works with ape contract instances, so the same code runs against anvil, a testnet, or any RPC ape reaches.
"""

from __future__ import annotations

from typing import Any

from offchain.dispute.solver import (
    Action,
    GameState,
    GameStatus,
    OpenNode,
    Phase,
    Pick,
    Reveal,
    RevealChunk,
    RevealPrivate,
    Step,
    Turn,
)


def _bytes32(value: Any) -> bytes:
    return bytes(value) if not isinstance(value, str) else bytes.fromhex(value.removeprefix("0x"))


def event_logs(event: Any, start_block: int, **topics: Any) -> list:
    """Logs of an ape contract event from `start_block` to the chain's head, filtered by indexed `topics`.

    (ape's `range(start, None)` would read `start` as a block *count* from 0, so the stop is always given.)
    """
    from ape import chain

    return list(event.range(start_block, chain.blocks.height + 1, search_topics=topics))


def _last_event(contract: Any, name: str, game_id: int, start_block: int = 0):
    events = event_logs(getattr(contract, name), start_block, gameId=game_id)
    return events[-1] if events else None


def read_game(game: Any, game_id: int, start_block: int = 0) -> GameState:
    """The game's state plus the children or chunk the side to move must answer (from events)."""
    g = game.getGame(game_id)
    phase = Phase(g.phase)
    turn = Turn(g.turn)
    children: tuple[bytes, ...] = ()
    chunk = b""
    if turn == Turn.CHALLENGER and phase in (Phase.TRACE_DESCENT, Phase.TENSOR_DESCENT):
        event = _last_event(game, "Revealed", game_id, start_block)
        children = tuple(_bytes32(c) for c in event.children)
    if phase == Phase.STEP:
        chunk = bytes(_last_event(game, "ChunkRevealed", game_id, start_block).chunk)
    return GameState(
        game_id=game_id,
        status=GameStatus(g.status),
        phase=phase,
        turn=turn,
        tree_depth=g.treeDepth,
        level=g.level,
        index=g.index,
        leaf_count=g.leafCount,
        node=_bytes32(g.node),
        node_index=g.nodeIndex,
        reveal_depth=game.revealDepth(),
        last_children=children,
        chunk=chunk,
    )


def call_of(action: Action) -> tuple[str, tuple]:
    """The DisputeGame method that plays ``action`` and its arguments after the game id."""
    if isinstance(action, Reveal):
        return "reveal", (action.children,)
    if isinstance(action, Pick):
        return "pick", (action.children, action.index)
    if isinstance(action, OpenNode):
        return "openNode", (action.descriptor, action.proof)
    if isinstance(action, RevealChunk):
        return "revealChunk", (action.chunk,)
    if isinstance(action, RevealPrivate):
        return "revealPrivate", (action.as_tuple(),)
    if isinstance(action, Step):
        return "step", (action.chunk, action.element, action.descriptor, action.proof)
    raise TypeError(f"not an action: {action!r}")


def send(game: Any, game_id: int, action: Action, sender: Any) -> Any:
    """Sends ``action`` for ``game_id`` from ``sender`` with ape's defaults; returns the receipt (tests and
    ``match.play``; nodes send through ``offchain.chain.transactions.Transactor`` with ``call_of``)."""
    method, args = call_of(action)
    return getattr(game, method)(game_id, *args, sender=sender)

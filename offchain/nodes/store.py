"""A node's state in SQLite: what it has seen, posted and is playing, so it resumes after any crash.

Every write is an upsert keyed by on-chain ids; the chain stays the source of truth (the node re-reads a
game's state before every move), so replaying a step after a crash never sends a move twice.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS cursor (name TEXT PRIMARY KEY, block INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS requests (
    request_id INTEGER PRIMARY KEY, model_id INTEGER NOT NULL, input BLOB NOT NULL,
    callback_data BLOB NOT NULL, status TEXT NOT NULL DEFAULT 'new');
CREATE TABLE IF NOT EXISTS results (
    request_id INTEGER PRIMARY KEY, claim_id INTEGER NOT NULL, submitter TEXT NOT NULL,
    output BLOB NOT NULL, trace_root BLOB NOT NULL, status TEXT NOT NULL DEFAULT 'pending');
CREATE TABLE IF NOT EXISTS games (
    game_id INTEGER PRIMARY KEY, claim_id INTEGER NOT NULL, request_id INTEGER NOT NULL,
    role TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'open');
CREATE TABLE IF NOT EXISTS transactions (
    id INTEGER PRIMARY KEY AUTOINCREMENT, action TEXT NOT NULL, status TEXT NOT NULL, tx_hash TEXT,
    gas_limit INTEGER, gas_used INTEGER, detail TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS blocks (number INTEGER PRIMARY KEY, hash BLOB NOT NULL);
"""

KEEP_BLOCKS = 256  # heads remembered for reorg detection: a reorg deeper than this many polls rewinds to the start


class NodeStore:
    """SQLite-backed state of one node. One writer (the node's loop)."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # autocommit: each statement is durable once it returns, which is what crash-resume needs
        self.db = sqlite3.connect(str(self.path), isolation_level=None)
        self.db.executescript(SCHEMA)

    def cursor(self, name: str, default: int) -> int:
        row = self.db.execute("SELECT block FROM cursor WHERE name = ?", (name,)).fetchone()
        return row[0] if row else default

    def set_cursor(self, name: str, block: int) -> None:
        self.db.execute("INSERT INTO cursor VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET block = excluded.block",
                        (name, block))

    # Reorg detection: the hash of each head the event cursor moved to (the last KEEP_BLOCKS of them).
    def remember_block(self, number: int, block_hash: bytes) -> None:
        # The first hash seen at a height stays: a different one later means a reorg, which the next check finds.
        self.db.execute("INSERT OR IGNORE INTO blocks VALUES (?, ?)", (number, block_hash))
        self.db.execute("DELETE FROM blocks WHERE number <= ?", (number - KEEP_BLOCKS,))

    def remembered_blocks(self) -> list[tuple[int, bytes]]:
        """(number, hash), newest first."""
        return list(self.db.execute("SELECT number, hash FROM blocks ORDER BY number DESC"))

    def forget_blocks_after(self, number: int) -> None:
        self.db.execute("DELETE FROM blocks WHERE number > ?", (number,))

    def add_request(self, request_id: int, model_id: int, input_: bytes, callback_data: bytes,
                    status: str = "new") -> None:
        """Records a request; `status` 'new' means "post a result", 'watch' means "only check results"."""
        self.db.execute("INSERT OR IGNORE INTO requests (request_id, model_id, input, callback_data, status) "
                        "VALUES (?,?,?,?,?)", (request_id, model_id, input_, callback_data, status))

    def request(self, request_id: int) -> tuple[int, bytes, bytes] | None:
        return self.db.execute("SELECT model_id, input, callback_data FROM requests WHERE request_id = ?",
                               (request_id,)).fetchone()

    def requests_with_status(self, status: str) -> list[int]:
        return [r[0] for r in self.db.execute(
            "SELECT request_id FROM requests WHERE status = ? ORDER BY request_id", (status,))]

    def requests(self) -> list[tuple[int, str]]:
        return list(self.db.execute("SELECT request_id, status FROM requests ORDER BY request_id"))

    def delete_request(self, request_id: int) -> None:
        self.db.execute("DELETE FROM requests WHERE request_id = ?", (request_id,))

    def set_request_status(self, request_id: int, status: str) -> None:
        self.db.execute("UPDATE requests SET status = ? WHERE request_id = ?", (status, request_id))

    def add_result(self, request_id: int, claim_id: int, submitter: str, output: bytes, trace_root: bytes) -> None:
        self.db.execute(
            "INSERT INTO results VALUES (?,?,?,?,?,'pending') ON CONFLICT(request_id) DO UPDATE SET "
            "claim_id = excluded.claim_id, submitter = excluded.submitter, output = excluded.output, "
            "trace_root = excluded.trace_root, status = 'pending'",
            (request_id, claim_id, submitter, output, trace_root))

    def result(self, request_id: int) -> tuple[int, str, bytes, bytes, str] | None:
        return self.db.execute("SELECT claim_id, submitter, output, trace_root, status FROM results "
                               "WHERE request_id = ?", (request_id,)).fetchone()

    def results_with_status(self, status: str) -> list[int]:
        return [r[0] for r in self.db.execute(
            "SELECT request_id FROM results WHERE status = ? ORDER BY request_id", (status,))]

    def results(self) -> list[tuple[int, int, str]]:
        """(request_id, claim_id, status) of every result this node posted."""
        return list(self.db.execute("SELECT request_id, claim_id, status FROM results ORDER BY request_id"))

    def delete_result(self, request_id: int) -> None:
        self.db.execute("DELETE FROM results WHERE request_id = ?", (request_id,))

    def set_result_status(self, request_id: int, status: str) -> None:
        self.db.execute("UPDATE results SET status = ? WHERE request_id = ?", (status, request_id))

    def add_game(self, game_id: int, claim_id: int, request_id: int, role: str) -> None:
        self.db.execute("INSERT OR IGNORE INTO games (game_id, claim_id, request_id, role) VALUES (?,?,?,?)",
                        (game_id, claim_id, request_id, role))

    def open_games(self) -> list[tuple[int, int, int, str]]:
        return list(self.db.execute(
            "SELECT game_id, claim_id, request_id, role FROM games WHERE status = 'open' ORDER BY game_id"))

    def games(self) -> list[tuple[int, int, int, str, str]]:
        """(game_id, claim_id, request_id, role, status) of every game, open or not."""
        return list(self.db.execute("SELECT game_id, claim_id, request_id, role, status FROM games ORDER BY game_id"))

    def games_with_status(self, status: str) -> list[tuple[int, int, int]]:
        return list(self.db.execute("SELECT game_id, claim_id, request_id FROM games WHERE status = ? ORDER BY game_id",
                                    (status,)))

    def delete_game(self, game_id: int) -> None:
        self.db.execute("DELETE FROM games WHERE game_id = ?", (game_id,))

    def set_game_status(self, game_id: int, status: str) -> None:
        self.db.execute("UPDATE games SET status = ? WHERE game_id = ?", (status, game_id))

    def game_counts(self) -> dict[str, int]:
        return dict(self.db.execute("SELECT status, COUNT(*) FROM games GROUP BY status"))

    def record_tx(self, action: str, status: str, tx_hash: str | None = None, gas_limit: int | None = None,
                  gas_used: int | None = None, detail: str = "") -> None:
        """Logs one transaction the node sent ('ok' / 'failed': its receipt's status) or a call it did not send:
        its gas estimate reverted ('reverted', ``detail`` the decoded error) or exceeded a block ('rejected')."""
        self.db.execute("INSERT INTO transactions (action, status, tx_hash, gas_limit, gas_used, detail) "
                        "VALUES (?,?,?,?,?,?)", (action, status, tx_hash, gas_limit, gas_used, detail))

    def tx_counts(self) -> dict[str, int]:
        """Transactions by status; ``tx_counts().get('failed', 0)`` is the node's failed_node_txs."""
        return dict(self.db.execute("SELECT status, COUNT(*) FROM transactions GROUP BY status"))

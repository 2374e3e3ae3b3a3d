"""The gateway's disk spool: every outgoing message waits here until the broker has it.

SQLite in WAL mode. A message's ``seq`` is assigned in the same transaction that stores it,
so the counter survives restarts and SIGKILL without gaps or repeats: a message either is
in the spool with its ``seq`` or never got one. The spool is bounded by ``max_bytes`` of
payload; past it the oldest messages are dropped, and every drop is counted (persistently).
"""

from __future__ import annotations

import contextlib
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    retain INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO counters VALUES ('seq', 0), ('dropped', 0), ('bytes', 0);
"""


class SpoolError(Exception):
    """The spool file cannot be opened or written."""


@dataclass(frozen=True, slots=True)
class Pending:
    """A message to spool: ``body`` is the envelope as a dict; ``seq`` is added when stored."""

    topic: str
    body: dict[str, Any]
    retain: bool = False
    numbered: bool = True


@dataclass(frozen=True, slots=True)
class Spooled:
    """A stored message, in order of ``id``."""

    id: int
    topic: str
    payload: bytes
    retain: bool


class Spool:
    """An ordered, bounded, crash-safe outbox.

    Raises:
        SpoolError: the file cannot be opened (on construction) or written (on append).
    """

    def __init__(self, path: Path | None, max_bytes: int = 512 * 1024 * 1024) -> None:
        """Open (or create) the spool at ``path``; ``None`` keeps it in memory (tests, demo)."""
        self.path = path
        self.max_bytes = max_bytes
        try:
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                ":memory:" if path is None else str(path), isolation_level=None
            )
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = NORMAL")  # WAL: durable across process crashes
            self._db.executescript(_SCHEMA)
            counters = dict(self._db.execute("SELECT name, value FROM counters"))
        except (OSError, sqlite3.Error) as exc:
            raise SpoolError(f"spool {path}: {exc}") from None
        self.seq: int = counters["seq"]
        self.dropped: int = counters["dropped"]
        self.bytes: int = counters["bytes"]
        self.depth: int = self._db.execute("SELECT count(*) FROM outbox").fetchone()[0]

    def append(self, messages: list[Pending]) -> None:
        """Store ``messages`` in one transaction, numbering those that need a ``seq``.

        When the spool would exceed ``max_bytes``, the oldest messages are dropped and counted.

        Raises:
            SpoolError: the write failed; nothing of this batch is stored.
        """
        if not messages:
            return
        seq = self.seq
        rows = []
        size = 0
        for message in messages:
            body = message.body
            if message.numbered:
                seq += 1
                body = {**body, "seq": seq}
            payload = orjson.dumps(body)
            size += len(payload)
            rows.append((message.topic, payload, int(message.retain)))
        try:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany(
                "INSERT INTO outbox (topic, payload, retain) VALUES (?, ?, ?)", rows
            )
            dropped = self._trim(self.bytes + size)
            self._db.execute("UPDATE counters SET value = ? WHERE name = 'seq'", (seq,))
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            self._rollback()
            raise SpoolError(f"spool {self.path}: {exc}") from None
        self.seq = seq
        self.depth += len(rows) - dropped[0]
        self.bytes = dropped[1]
        self.dropped += dropped[0]

    def _trim(self, total: int) -> tuple[int, int]:
        """Drop the oldest rows until ``total`` bytes fit; return (rows dropped, bytes kept)."""
        dropped = 0
        while total > self.max_bytes:
            rows = self._db.execute(
                "SELECT id, length(payload) FROM outbox ORDER BY id LIMIT 256"
            ).fetchall()
            if not rows:
                break
            excess, last = total - self.max_bytes, rows[0][0]
            for row_id, length in rows:
                total -= length
                dropped += 1
                last = row_id
                excess -= length
                if excess <= 0:
                    break
            self._db.execute("DELETE FROM outbox WHERE id <= ?", (last,))
        self._db.execute("UPDATE counters SET value = value + ? WHERE name = 'dropped'", (dropped,))
        self._db.execute("UPDATE counters SET value = ? WHERE name = 'bytes'", (total,))
        return dropped, total

    def peek(self, limit: int) -> list[Spooled]:
        """Return up to ``limit`` of the oldest messages, oldest first."""
        rows = self._db.execute(
            "SELECT id, topic, payload, retain FROM outbox ORDER BY id LIMIT ?", (limit,)
        ).fetchall()
        return [
            Spooled(row_id, topic, payload, bool(retain)) for row_id, topic, payload, retain in rows
        ]

    def remove(self, batch: list[Spooled]) -> None:
        """Forget messages the broker has acknowledged (those of ``batch`` still stored).

        Raises:
            SpoolError: the delete failed (the messages will be sent again: at least once).
        """
        if not batch:
            return
        try:
            self._db.execute("BEGIN IMMEDIATE")
            size = self._db.execute(
                "SELECT count(*), coalesce(sum(length(payload)), 0) FROM outbox "
                "WHERE id BETWEEN ? AND ?",
                (batch[0].id, batch[-1].id),
            ).fetchone()
            self._db.execute(
                "DELETE FROM outbox WHERE id BETWEEN ? AND ?", (batch[0].id, batch[-1].id)
            )
            self._db.execute(
                "UPDATE counters SET value = value - ? WHERE name = 'bytes'", (size[1],)
            )
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            self._rollback()
            raise SpoolError(f"spool {self.path}: {exc}") from None
        self.depth -= size[0]
        self.bytes -= size[1]

    def _rollback(self) -> None:
        """Undo the transaction, if SQLite has not already (it has after an I/O error)."""
        if self._db.in_transaction:
            with contextlib.suppress(sqlite3.Error):  # the write failed: that is reported
                self._db.execute("ROLLBACK")

    def close(self) -> None:
        """Close the file."""
        self._db.close()

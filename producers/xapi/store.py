"""Statement ids already accepted, with their content hash, on disk (SQLite under the data dir).

xAPI says a statement id already stored is a no-op when the content matches and a
``409 Conflict`` when it does not; across restarts that needs memory, so the ingest keeps
``statement id -> SHA-256 of the comparable content`` (:func:`~producers.xapi.mapping.content_hash`)
in ``<data_dir>/xapi/statements.sqlite``: 100 bytes a statement, no student data.

An id is recorded once its event was taken by the collector (published or spooled), so a refused
request (503, spool full) can be retried. A crash between the two lets a retried statement be
published again under the same ``event_id``: at-least-once, as everywhere in LabStream; the code
agent ignores a redelivered event id.

>>> import tempfile, pathlib
>>> s = StatementStore(pathlib.Path(tempfile.mkdtemp()) / "s.sqlite")
>>> s.lookup(["a"]), s.record([("a", "h1")]), s.lookup(["a"])
({}, None, {'a': 'h1'})
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

__all__ = ["StatementStore"]

_CHUNK = 500  # SQLite's default limit of host parameters is 999


class StatementStore:
    """``statement id -> content hash``, durable (WAL, synchronous=FULL), shared by threads."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("CREATE TABLE IF NOT EXISTS statements (id TEXT PRIMARY KEY, hash TEXT NOT NULL)")
        self._lock = threading.Lock()

    def lookup(self, ids: Sequence[str]) -> dict[str, str]:
        """The stored hash of each id that is known."""
        out: dict[str, str] = {}
        with self._lock:
            for i in range(0, len(ids), _CHUNK):
                chunk = list(ids[i : i + _CHUNK])
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(f"SELECT id, hash FROM statements WHERE id IN ({marks})", chunk)  # noqa: S608 - only "?" marks
                out.update(rows.fetchall())
        return out

    def record(self, items: Iterable[tuple[str, str]]) -> None:
        """Remember ``(id, hash)`` pairs in one transaction (an id already there keeps its hash)."""
        rows = list(items)
        if not rows:
            return
        with self._lock:
            self._db.execute("BEGIN")
            try:
                self._db.executemany("INSERT OR IGNORE INTO statements (id, hash) VALUES (?, ?)", rows)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._db.close()

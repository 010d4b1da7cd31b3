"""The witness's memory: per log, the last checkpoint it cosigned. SQLite, one row per origin.

Reading the old row, deciding and writing the new one happen in one ``BEGIN IMMEDIATE``
transaction, so two concurrent requests (threads or processes) cannot both cosign from the same
old size: the second sees the first's write and gets a 409.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

from stockade.tlog import Cosigned

Latest = tuple[int, bytes]
Decision = Callable[[Callable[[str], Latest | None]], Cosigned]


class WitnessStore:
    def __init__(self, path: Path) -> None:
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._lock = threading.Lock()
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # a cosignature handed out is never forgotten
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS latest (origin TEXT PRIMARY KEY, size INTEGER NOT NULL,"
            " root BLOB NOT NULL, cosigned_at INTEGER NOT NULL)"
        )

    def latest(self, origin: str) -> Latest | None:
        row = self._db.execute(
            "SELECT size, root FROM latest WHERE origin = ?", (origin,)
        ).fetchone()
        return None if row is None else (int(row[0]), bytes(row[1]))

    def cosign(self, decide: Decision) -> Cosigned:
        """Run ``decide`` against the stored rows and store what it cosigned, atomically; the
        cosignature is returned only once the new row is durable."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                cosigned = decide(self.latest)
                timestamp = int.from_bytes(cosigned.cosignature.signature[:8], "big")
                self._db.execute(
                    "INSERT INTO latest (origin, size, root, cosigned_at) VALUES (?, ?, ?, ?)"
                    " ON CONFLICT (origin) DO UPDATE SET size = excluded.size,"
                    " root = excluded.root, cosigned_at = excluded.cosigned_at",
                    (cosigned.origin, cosigned.size, cosigned.root, timestamp),
                )
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:  # a failed COMMIT (disk full) too
                    self._db.execute("ROLLBACK")
                raise
        return cosigned

    def close(self) -> None:
        self._db.close()

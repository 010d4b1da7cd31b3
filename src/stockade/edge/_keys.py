"""The keys edge admits as signed: every live API and session key, as the public log tells it.

Each key is public (``KeyAdded`` and ``KeyRemoved`` entries of core's log), so edge needs no
secret and no account data to know them. A thread follows the log from the relay, checking each
checkpoint's signature and that the entries pulled hash to its root, and applies the key entries
to the set. A key the log has not reached yet (a session opened a moment ago) is learned sooner
from the answer web gave to the log-in that edge itself forwarded (``Learned``), and passed to the
other workers. The set errs toward admitting: core checks every request again.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass

from stockade.client import FetchTile, MirrorRefused, RelayReader, newer_checkpoint, pull_entries
from stockade.errors import StockadeError
from stockade.keys import PublicKey
from stockade.tlog import (
    Checkpoint,
    EntryError,
    KeyAdded,
    KeyRemoved,
    Tree,
    Verifier,
    decode_entry,
)

#: How often the follower asks the relay for a newer checkpoint.
POLL_S = 0.2


class KeySet:
    """Public keys by their raw bytes; read by the event loop, written under a lock."""

    def __init__(self) -> None:
        self._keys: dict[bytes, PublicKey] = {}
        self._lock = threading.Lock()

    def get(self, raw: bytes) -> PublicKey | None:
        return self._keys.get(raw)

    def add(self, raw: bytes) -> None:
        if raw not in self._keys:
            with self._lock:
                self._keys[raw] = PublicKey(raw)

    def remove(self, raw: bytes) -> None:
        with self._lock:
            self._keys.pop(raw, None)

    def __len__(self) -> int:
        return len(self._keys)


@dataclass(frozen=True, slots=True)
class Learned:
    """A key change edge saw in an answer it forwarded, ahead of the log."""

    added: bool
    key: bytes

    def encode(self) -> bytes:
        return (b"+" if self.added else b"-") + self.key

    @classmethod
    def decode(cls, data: bytes) -> Learned | None:
        if len(data) != 33 or data[:1] not in (b"+", b"-"):
            return None
        return cls(data[:1] == b"+", data[1:])

    def apply(self, keys: KeySet) -> None:
        (keys.add if self.added else keys.remove)(self.key)


class KeyTail:
    """The log's key entries from where it left off, checked against each newer checkpoint.
    No I/O: ``advance`` is given the checkpoint and a way to fetch entry bundles."""

    def __init__(self, log: Verifier, keys: KeySet) -> None:
        self.log = log
        self.keys = keys
        self.tree = Tree()
        self.checkpoint: Checkpoint | None = None

    def advance(self, signed: bytes, fetch: FetchTile) -> int:
        """Take a newer checkpoint and apply the key entries it adds; how many entries it
        added. ``MirrorRefused`` (nothing applied) if the relay's answer does not check out."""
        opened = newer_checkpoint(signed, self.log, self.checkpoint)
        if opened is None:
            return 0
        checkpoint, start = opened.checkpoint, self.tree.size
        new = pull_entries(fetch, start, checkpoint.size)
        self.tree.extend(new)
        if self.tree.root(checkpoint.size) != checkpoint.root:
            # A relay that lies: start again from the first entry next time (keys it named
            # stay admitted, which costs at most what an unknown key costs: core refuses them).
            self.tree = Tree()
            self.checkpoint = None
            raise MirrorRefused("the entries served do not hash to the signed root")
        for data in new:
            self._apply(data)
        self.checkpoint = checkpoint
        return len(new)

    def _apply(self, data: bytes) -> None:
        try:
            entry = decode_entry(data)
        except EntryError:
            return
        if isinstance(entry, KeyAdded):
            self.keys.add(entry.public_key)
        elif isinstance(entry, KeyRemoved):
            self.keys.remove(entry.public_key)


def _report(line: str) -> None:
    print(f"edge: keys: {line}", file=sys.stderr, flush=True)


class KeyFollower:
    """Runs ``KeyTail`` against the relay in a thread of its own, every ``poll_s``."""

    def __init__(
        self,
        relay: str,
        tail: KeyTail,
        poll_s: float = POLL_S,
        report: Callable[[str], None] = _report,
    ) -> None:
        self.reader = RelayReader(relay)
        self.tail = tail
        self.poll_s = poll_s
        self.report = report
        self.caught_up = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="edge-key-follower", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        failing = False
        while not self._stop.is_set():
            try:
                self.tail.advance(self.reader.checkpoint_note(), self.reader.fetch_tile)
                self.caught_up.set()
                if failing:
                    self.report(f"following the log again ({len(self.tail.keys)} keys)")
                failing = False
            except (OSError, StockadeError, MirrorRefused) as exc:
                if not failing:  # once per outage, not every poll
                    self.report(f"cannot follow the log: {exc}")
                failing = True
            self._stop.wait(self.poll_s)

"""Replay protection, sans I/O: remembers each (sender, nonce) for as long as it could be valid.

A message is valid while its timestamp is within ``WINDOW_MS`` of our clock, so a nonce seen at
``now`` can come back up to and including ``2 * WINDOW_MS`` later and still pass the timestamp
check; it is kept until after that. Entries expire in arrival order, so purging is O(1) amortized.
The remembered entries can be exported and restored, so a restarted process keeps refusing them.
"""

from __future__ import annotations

from collections import deque

from stockade.wire._errors import Overloaded, Replayed

#: Most nonces remembered at once. At 20,000 signed messages per second over a 10 s memory that is
#: 200,000; the cap is 5x that, and reaching it refuses new messages instead of forgetting old ones.
MAX_REMEMBERED = 1_000_000


class ReplayCache:
    def __init__(self, window_ms: int, capacity: int = MAX_REMEMBERED) -> None:
        self.keep_ms = 2 * window_ms
        self.capacity = capacity
        self._seen: set[tuple[bytes, bytes]] = set()
        self._expiry: deque[tuple[int, tuple[bytes, bytes]]] = deque()

    def check_and_remember(self, sender: bytes, nonce: bytes, now_ms: int) -> None:
        self._purge(now_ms)
        key = (sender, nonce)
        if key in self._seen:
            raise Replayed("this nonce was already used by this sender")
        if len(self._seen) >= self.capacity:
            raise Overloaded("too many recent messages to remember; retry shortly")
        self._seen.add(key)
        self._expiry.append((now_ms + self.keep_ms, key))

    def _purge(self, now_ms: int) -> None:
        expiry, seen = self._expiry, self._seen
        while expiry and expiry[0][0] < now_ms:
            seen.discard(expiry.popleft()[1])

    def entries(self) -> list[tuple[int, bytes, bytes]]:
        """(expiry, sender, nonce) of every remembered nonce, oldest first."""
        return [(expiry, sender, nonce) for expiry, (sender, nonce) in self._expiry]

    def restore(self, entries: list[tuple[int, bytes, bytes]]) -> None:
        for expiry, sender, nonce in entries:
            self._seen.add((sender, nonce))
            self._expiry.append((expiry, (sender, nonce)))

    def __len__(self) -> int:
        return len(self._seen)

"""Web's copy of the public market data: a mirror of core's log (``client.LogMirror``, as the relay
keeps), advanced in a thread of its own that pulls each new checkpoint and the entries it adds.

The data is a function of the log, so every web instance derives the same events, with the same
``seq`` and ``log_index``, as the relay and any auditor replaying the log. It advances with core's
checkpoints (core signs one a second while entries arrive) and holds nothing that a restart
cannot pull again. The thread talks to core with a key made at start and never written: core
treats a key it never registered as public, able to read public data and nothing else.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Callable

from stockade.client import Client, LogMirror, MirrorRefused, Served, SiteFile
from stockade.errors import StockadeError
from stockade.keys import generate

#: How often the follower asks core for a newer checkpoint.
POLL_S = 0.1


def _report(line: str) -> None:
    print(f"web: market data: {line}", file=sys.stderr, flush=True)


class LogFollower:
    """Pulls core's log into ``mirror`` and hands each new view to ``on_view`` on the event
    loop that started it."""

    def __init__(
        self,
        site: SiteFile,
        mirror: LogMirror,
        on_view: Callable[[Served], None],
        poll_s: float = POLL_S,
        report: Callable[[str], None] = _report,
    ) -> None:
        self.site = site
        self.mirror = mirror
        self.on_view = on_view
        self.poll_s = poll_s
        self.report = report
        self._identity = generate("web-feed")  # in memory only
        self._client: Client | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._thread = threading.Thread(target=self._run, name="web-log-follower", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.step()
            except Exception as exc:  # a bug here must not leave the streams silently stale
                self.report(f"step failed: {type(exc).__name__}: {exc}")
                self._drop_client()
            self._stop.wait(self.poll_s)
        self._drop_client()

    def step(self) -> None:
        """One round: the latest checkpoint and the entries it adds, checked against its root,
        then handed to the loop."""
        try:
            client = self._client_to_core()
            new = self.mirror.advance(client.checkpoint_note(), client.fetch_tile)
        except (OSError, StockadeError) as exc:  # refused, unreachable, or no checkpoint yet
            self.report(f"core unreachable or refusing: {exc}")
            self._drop_client()
            return
        except MirrorRefused as exc:
            self.report(f"not shown: {exc}")
            return
        if new is None:
            return
        self.mirror.publish(new)
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self.on_view, new)

    def _client_to_core(self) -> Client:
        if self._client is None:
            site = self.site
            self._client = Client(site.core_address, self._identity, site.core_key)
        return self._client

    def _drop_client(self) -> None:
        if self._client is not None:
            self._client.channel.close()
            self._client = None

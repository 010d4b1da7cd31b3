"""The relay's only outbound work: pull checkpoints and entries from core over the wire, and ask
witnesses to cosign each new checkpoint (C2SP tlog-witness).

The relay talks to core with a key made at start and never written anywhere: core treats any key
it never registered as public, able to read public data and nothing else.
"""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from stockade.client import MirrorRefused, Served, expect
from stockade.errors import StockadeError
from stockade.keys import PublicKey, generate
from stockade.relay._mirror import Mirror
from stockade.tlog import SIZE_CONTENT_TYPE, AddCheckpoint, TileId, encode_add_checkpoint
from stockade.wire import (
    Address,
    Channel,
    CheckpointRequest,
    SignedCheckpointReply,
    TileReply,
    TileRequest,
)

#: Ask witnesses again this often even when the log is idle, so cosignatures stay fresh.
COSIGN_EVERY_S = 1.0
WITNESS_TIMEOUT_S = 5.0


class Puller:
    def __init__(
        self,
        mirror: Mirror,
        core: Address,
        core_key: PublicKey,
        witnesses: tuple[str, ...] = (),
        poll_s: float = 0.2,
        report: Callable[[str], None] = print,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.mirror = mirror
        self.core, self.core_key = core, core_key
        self.witnesses = witnesses
        self.poll_s = poll_s
        self.report = report
        self.clock = clock
        self._identity = generate("relay")  # in memory only
        self._channel: Channel | None = None
        self._witness_size: dict[str, int] = {}
        self._last_cosign = 0.0

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.step()
            except Exception as exc:  # a bug here must not leave the relay silently stale
                self.report(f"puller step failed: {type(exc).__name__}: {exc}")
                self._drop_channel()
            stop.wait(self.poll_s)
        if self._channel is not None:
            self._channel.close()

    def step(self) -> None:
        """One round: the latest checkpoint and its new entries, cosigned by the witnesses, then
        served; or, when the log is idle, fresh cosignatures of the served one each second."""
        try:
            new = self.mirror.advance(self._call_checkpoint(), self._fetch)
        except (OSError, StockadeError) as exc:  # refused, unreachable, or not yet signing
            self.report(f"core unreachable or refusing: {exc}")
            self._drop_channel()
            return
        except MirrorRefused as exc:
            self.report(f"not relayed: {exc}")
            return
        target = new or self.mirror.served
        if target is None or (new is None and self.clock() - self._last_cosign < COSIGN_EVERY_S):
            return
        self._last_cosign = self.clock()
        for url in self.witnesses:  # served only once cosigned: clients require it
            target = self._cosign(url, target)
        self.mirror.publish(target)

    def _channel_to_core(self) -> Channel:
        if self._channel is None:
            self._channel = Channel(self.core, self._identity, self.core_key, self.clock)
        return self._channel

    def _drop_channel(self) -> None:
        if self._channel is not None:
            self._channel.close()
            self._channel = None

    def _call_checkpoint(self) -> bytes:
        reply = self._channel_to_core().call(CheckpointRequest())
        return expect(reply, SignedCheckpointReply).note

    def _fetch(self, tile: TileId) -> bytes:
        reply = self._channel_to_core().call(TileRequest(tile.level, tile.index, tile.width))
        return expect(reply, TileReply).data

    def _cosign(self, url: str, served: Served) -> Served:
        """``served`` with the witness's cosignature, if it gives one; on a 409 retry once from
        the size the witness holds."""
        size = served.checkpoint.size
        for _attempt in range(2):
            old = min(self._witness_size.get(url, 0), size)
            proof = self.mirror.tree.consistency_proof(old, size) if 0 < old < size else []
            body = encode_add_checkpoint(AddCheckpoint(old, tuple(proof), served.encode()))
            try:
                status, content_type, answer = _post(url, body)
            except OSError as exc:
                self.report(f"witness {url} unreachable: {exc}")
                return served
            if status == 200:
                self._witness_size[url] = size
                return self.mirror.cosigned(served, answer.splitlines(keepends=True))
            sized = content_type.split(";")[0].strip() == SIZE_CONTENT_TYPE
            if status == 409 and sized and answer.strip().isdigit():
                self._witness_size[url] = int(answer)
                continue
            self.report(f"witness {url} refused: {status} {answer[:200]!r}")
            return served
        return served


def _post(url: str, body: bytes) -> tuple[int, str, bytes]:
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise OSError(f"not an http:// witness URL: {url}")
    conn = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=WITNESS_TIMEOUT_S)
    try:
        path = parts.path.rstrip("/") + "/add-checkpoint"
        conn.request("POST", path, body, {"Content-Type": "text/plain"})
        response = conn.getresponse()
        return response.status, response.getheader("Content-Type", ""), response.read(1 << 16)
    finally:
        conn.close()

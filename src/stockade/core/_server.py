"""The core's I/O: an asyncio listener feeding ``Core``, and a writer thread doing group commit.

Rules:
* A reply that depends on state (receipts, refusals by the engine, reads) is released only once
  every command applied before it is durable. Nothing a client sees can vanish in a crash.
* The event loop applies commands and appends them to ``_pending``; the writer thread takes all
  that is pending, writes it in one transaction (group commit), runs any history queries queued
  behind it, then tells the loop how far the journal is durable.
* Replies leave each connection in request order. A connection with too many replies outstanding
  stops being read until the backlog drains (backpressure instead of unbounded memory).
* A storage failure stops the process: without a durable journal the core must not acknowledge
  anything (fail closed); the supervisor restarts it and it restores from snapshot and journal.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import secrets
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import cast

from stockade.core._rows import Applied
from stockade.core._service import Core, Outcome, Query, wire_error
from stockade.core._storage import Snapshot, Storage
from stockade.keys import PublicKey
from stockade.wire import (
    MAX_REQUEST,
    Address,
    ErrorInfo,
    FrameReader,
    ReplyBody,
    WireError,
    frame,
    seal,
)

log = logging.getLogger("stockade.core")

#: Replies a connection may have waiting before the server stops reading from it. Enough for deep
#: pipelining by one client; beyond it the client's own TCP window pushes back.
MAX_OUTSTANDING = 4096


@dataclass
class _Job:
    applied: list[Applied] = field(default_factory=list)
    queries: list[tuple[_Connection, _Waiting, Query]] = field(default_factory=list)
    snapshot: Snapshot | None = None


@dataclass
class _Waiting:
    """A reply held until ``seq`` is durable; ``data`` is None while its query has not run."""

    seq: int
    data: bytes | None
    outcome: Outcome


class _Connection(asyncio.Protocol):
    def __init__(self, server: CoreServer) -> None:
        self.server = server
        self.reader = FrameReader(MAX_REQUEST)
        self.waiting: deque[_Waiting] = deque()
        self.transport: asyncio.Transport | None = None
        self.paused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it
        self.transport = cast(asyncio.Transport, transport)
        self.server.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.connections.discard(self)
        self.waiting.clear()
        self.transport = None

    def data_received(self, data: bytes) -> None:
        try:
            frames = self.reader.feed(data)
        except WireError as exc:  # an oversize frame: the stream cannot be resynchronised
            self.server.refuse_and_close(self, exc)
            return
        for payload in frames:
            self.server.handle(self, payload)
        if len(self.waiting) >= MAX_OUTSTANDING and not self.paused and self.transport:
            self.transport.pause_reading()
            self.paused = True

    def flush(self, durable_seq: int) -> None:
        out = []
        waiting = self.waiting
        while waiting and waiting[0].seq <= durable_seq and waiting[0].data is not None:
            out.append(frame(waiting.popleft().data))  # type: ignore[arg-type]  # checked above
        if out and self.transport is not None:
            self.transport.write(b"".join(out))
        if self.paused and len(waiting) < MAX_OUTSTANDING // 2 and self.transport:
            self.transport.resume_reading()
            self.paused = False


class CoreServer:
    def __init__(
        self,
        core: Core,
        storage: Storage,
        clock_ms: Callable[[], int],
        snapshot_every_s: int = 60,
        snapshot_every_seq: int = 200_000,
    ) -> None:
        self.core = core
        self.storage = storage
        self.clock_ms = clock_ms
        self.snapshot_every_s = snapshot_every_s
        self.snapshot_every_seq = snapshot_every_seq
        self.connections: set[_Connection] = set()
        self._lock = threading.Condition()
        self._pending = _Job()
        self._stopping = False
        self._failed: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._writer: threading.Thread | None = None
        self._servers: list[asyncio.Server] = []
        self._done = asyncio.Event()

    # ------------------------------------------------------------------ requests

    def now_ms(self) -> int:
        return self.clock_ms()

    def handle(self, conn: _Connection, payload: bytes) -> None:
        outcome = self.core.receive(payload, self.now_ms())
        if outcome.applied is not None:
            self._submit(applied=outcome.applied)
        ready_seq = self.core.seq if outcome.wait else 0
        if outcome.query is None and not conn.waiting and ready_seq <= self.core.durable_seq:
            assert outcome.reply is not None
            self._send_now(conn, outcome, outcome.reply)
            return
        waiting = _Waiting(ready_seq, None, outcome)
        if outcome.query is None:
            assert outcome.reply is not None
            waiting.data = self._seal(outcome, outcome.reply)
        else:
            self._submit(query=(conn, waiting, outcome.query))
        conn.waiting.append(waiting)

    def _send_now(self, conn: _Connection, outcome: Outcome, body: ReplyBody | ErrorInfo) -> None:
        if conn.transport is not None:
            conn.transport.write(frame(self._seal(outcome, body)))

    def _seal(self, outcome: Outcome, body: ReplyBody | ErrorInfo) -> bytes:
        recipient = PublicKey(outcome.recipient)
        message = outcome.reply_message(body)
        return seal(self.core.identity, recipient, message, secrets.token_bytes(16), self.now_ms())

    def refuse_and_close(self, conn: _Connection, exc: WireError) -> None:
        log.warning("closing connection: %s", exc.message)
        outcome = Outcome(bytes(32), bytes(16))
        self._send_now(conn, outcome, wire_error(exc))
        if conn.transport is not None:
            conn.transport.close()

    # ------------------------------------------------------------------ writer thread

    def _submit(
        self,
        applied: Applied | None = None,
        query: tuple[_Connection, _Waiting, Query] | None = None,
        snapshot: Snapshot | None = None,
    ) -> None:
        with self._lock:
            if applied is not None:
                self._pending.applied.append(applied)
            if query is not None:
                self._pending.queries.append(query)
            if snapshot is not None:
                self._pending.snapshot = snapshot
            self._lock.notify()

    def _writer_main(self) -> None:
        try:
            while True:
                with self._lock:
                    while not self._has_work() and not self._stopping:
                        self._lock.wait()
                    if not self._has_work():
                        return
                    job, self._pending = self._pending, _Job()
                self._write(job)
        except BaseException as exc:  # any storage failure is fatal: fail closed
            log.exception("storage failed; stopping the core")
            self._failed = exc
            if self._loop is not None:
                self._loop.call_soon_threadsafe(self._done.set)

    def _has_work(self) -> bool:
        job = self._pending
        return bool(job.applied or job.queries or job.snapshot)

    def _write(self, job: _Job) -> None:
        if job.applied:
            self.storage.write_batch(job.applied)
        if job.snapshot is not None:
            self.storage.save_snapshot(job.snapshot)
        answers = [(conn, waiting, query(self.storage)) for conn, waiting, query in job.queries]
        durable = job.applied[-1].seq if job.applied else None
        snap = job.snapshot.seq if job.snapshot is not None else None
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._on_written, durable, snap, answers)

    def _on_written(
        self,
        durable: int | None,
        snapshot_seq: int | None,
        answers: list[tuple[_Connection, _Waiting, ReplyBody | ErrorInfo]],
    ) -> None:
        core = self.core
        if durable is not None:
            core.durable_seq = max(core.durable_seq, durable)
        if snapshot_seq is not None:
            core.snapshot_seq = snapshot_seq
        for _conn, waiting, body in answers:
            waiting.data = self._seal(waiting.outcome, body)
        for conn in list(self.connections):
            if conn.waiting:
                conn.flush(core.durable_seq)

    # ------------------------------------------------------------------ snapshots

    def take_snapshot(self) -> None:
        core = self.core
        if core.seq == core.snapshot_seq:
            return
        state = core.state()
        digest = hashlib.sha256(state).digest()
        self._submit(snapshot=Snapshot(core.seq, self.now_ms(), digest, state))
        core.snapshot_seq = core.seq

    async def _snapshot_timer(self) -> None:
        last_time, last_seq = self.clock_ms(), self.core.seq
        while True:
            await asyncio.sleep(1)
            now = self.clock_ms()
            due = now - last_time >= self.snapshot_every_s * 1000 and self.core.seq != last_seq
            if due or self.core.seq - last_seq >= self.snapshot_every_seq:
                self.take_snapshot()
                last_time, last_seq = now, self.core.seq

    # ------------------------------------------------------------------ lifecycle

    async def start(self, addresses: list[Address]) -> None:
        loop = self._loop = asyncio.get_running_loop()
        self._writer = threading.Thread(target=self._writer_main, name="core-writer", daemon=True)
        self._writer.start()
        for address in addresses:
            if address.scheme == "unix":
                assert address.path is not None
                with contextlib.suppress(FileNotFoundError):
                    address.path.unlink()
                server = await loop.create_unix_server(lambda: _Connection(self), str(address.path))
                address.path.chmod(0o660)
            else:
                server = await loop.create_server(
                    lambda: _Connection(self), address.host, address.port
                )
            self._servers.append(server)
        self._timer = asyncio.create_task(self._snapshot_timer())

    def bound_ports(self) -> list[int]:
        ports = []
        for server in self._servers:
            for sock in server.sockets:
                name = sock.getsockname()
                if isinstance(name, tuple):
                    ports.append(int(name[1]))
        return ports

    async def wait(self) -> None:
        """Run until ``stop`` is called or storage fails; raise if it failed."""
        await self._done.wait()
        if self._failed is not None:
            raise RuntimeError("core storage failed") from self._failed

    def stop(self) -> None:
        self._done.set()

    async def shutdown(self) -> None:
        """Stop listening, write what is pending and a final snapshot, stop the writer."""
        self._timer.cancel()
        for server in self._servers:
            server.close()
        if self._failed is None:
            self.take_snapshot()
        with self._lock:
            self._stopping = True
            self._lock.notify()
        if self._writer is not None:
            await asyncio.to_thread(self._writer.join)
        for conn in list(self.connections):
            if conn.transport is not None:
                conn.transport.close()

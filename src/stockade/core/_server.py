"""The core's I/O: an asyncio listener feeding ``Core``, with group commit on the event loop.

Rules:
* A reply that depends on state (receipts, refusals by the engine, reads) is released only once
  every command applied before it is durable. Nothing a client sees can vanish in a crash.
* Each turn of the event loop reads whatever arrived on every connection and applies it; one
  callback scheduled for the end of the turn then writes everything applied in one transaction
  (group commit), runs the history queries queued behind it, and releases the replies. While it
  commits, new requests wait in the sockets' buffers and form the next group.
* The commit runs on the loop's own thread on purpose: a writer thread would have to win the GIL
  back from the busy loop after every database call, which stalls group commit under load.
* Replies leave each connection in request order, consecutive replies to one key sharing one
  signed envelope. A connection with too many replies outstanding stops being read until the
  backlog drains (backpressure instead of unbounded memory).
* Password work (hashing a sign-up's password, checking a log-in's) runs in one worker thread,
  never on the loop: the loop keeps matching while it runs, and the request's reply keeps its
  place in its connection's order until the work is done and core has applied what followed.
* A storage failure stops the process: without a durable journal the core must not acknowledge
  anything (fail closed); the supervisor restarts it and it restores from snapshot and journal.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import itertools
import logging
import secrets
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import cast

from stockade.core._rows import Applied
from stockade.core._service import Core, Outcome, Query, wire_error
from stockade.core._storage import Storage
from stockade.keys import PublicKey
from stockade.wire import (
    MAX_BATCH,
    MAX_REPLY,
    MAX_REQUEST,
    Address,
    CoreCommand,
    ErrorInfo,
    FrameReader,
    NonceSource,
    Overloaded,
    Replies,
    Reply,
    ReplyBody,
    WireError,
    encode_message,
    frame,
    seal,
)

log = logging.getLogger("stockade.core")

#: Replies a connection may have waiting before the server stops reading from it. Enough for deep
#: pipelining by one client; beyond it the client's own TCP window pushes back.
MAX_OUTSTANDING = 4096
#: Reply recipients' parsed public keys kept: one per active client key is plenty; bounded so a
#: flood of unknown senders cannot grow it.
MAX_CACHED_KEYS = 10_000
#: Bytes of replies buffered for a peer before its requests stop being read: a client that sends
#: but never reads cannot make the core hold more than this for it.
WRITE_BUFFER_HIGH = 4 * 1024 * 1024
#: The log signs a checkpoint this often while entries arrive (C2SP witnesses expect seconds).
CHECKPOINT_EVERY_MS = 1000
#: Bytes of replies sealed into one envelope at most, well under what a client accepts (1 MiB).
MAX_BATCH_BYTES = MAX_REPLY // 2
#: Password checks waiting for the worker at most; past it log-ins are refused as Overloaded
#: (about a second of work at 20 ms each: enough for people, not for a guessing flood).
MAX_PENDING_WORK = 50


@dataclass
class _Waiting:
    """A reply held until ``seq`` is durable; ``reply`` is None while its query has not run."""

    seq: int
    reply: Reply | None
    outcome: Outcome


@dataclass
class _Group:
    """What the next commit writes, and the queries to answer right after it."""

    applied: list[Applied] = field(default_factory=list)
    queries: list[tuple[_Waiting, Query]] = field(default_factory=list)


def _chunks(replies: list[Reply]) -> list[list[Reply]]:
    """Consecutive runs of at most ``MAX_BATCH`` replies and ``MAX_BATCH_BYTES`` encoded bytes."""
    chunks: list[list[Reply]] = []
    current: list[Reply] = []
    size = 0
    for reply in replies:
        length = len(encode_message(reply))
        if current and (len(current) == MAX_BATCH or size + length > MAX_BATCH_BYTES):
            chunks.append(current)
            current, size = [], 0
        current.append(reply)
        size += length
    if current:
        chunks.append(current)
    return chunks


class _Connection(asyncio.Protocol):
    def __init__(self, server: CoreServer) -> None:
        self.server = server
        self.reader = FrameReader(MAX_REQUEST)
        self.waiting: deque[_Waiting] = deque()
        self.transport: asyncio.Transport | None = None
        self.paused = False  # reading paused because too many replies wait
        self.writes_blocked = False  # reading paused because the peer does not read

    def pause_writing(self) -> None:
        """The peer is not reading its replies: stop reading its requests until it does."""
        self.writes_blocked = True
        if self.transport is not None:
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        self.writes_blocked = False
        if self.transport is not None and not self.paused:
            self.transport.resume_reading()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it
        self.transport = cast(asyncio.Transport, transport)
        self.transport.set_write_buffer_limits(high=WRITE_BUFFER_HIGH)
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
        """Send every reply that is ready, in order; consecutive ones to one key share a frame."""
        ready: list[tuple[bytes, Reply]] = []
        waiting = self.waiting
        while waiting and waiting[0].seq <= durable_seq:
            reply = waiting[0].reply
            if reply is None:
                break  # its query has not run: later replies wait behind it
            ready.append((waiting.popleft().outcome.recipient, reply))
        if ready and self.transport is not None:
            self.transport.write(b"".join(self.server.seal_batches(ready)))
        if self.paused and len(waiting) < MAX_OUTSTANDING // 2 and self.transport:
            self.paused = False
            if not self.writes_blocked:
                self.transport.resume_reading()


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
        self._group = _Group()
        self._commit_scheduled = False
        self._failed: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._servers: list[asyncio.Server] = []
        self._ticker: asyncio.Task[None] | None = None
        self._done = asyncio.Event()
        self._nonce = NonceSource(secrets.token_bytes(8))
        self._keys: dict[bytes, PublicKey] = {}
        self._durable_log_size = core.log.tree.size  # restored state is durable
        self._workers = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="passwords")
        self._pending_work = 0

    # ------------------------------------------------------------------ requests

    def now_ms(self) -> int:
        return self.clock_ms()

    def handle(self, conn: _Connection, payload: bytes) -> None:
        if self._failed is not None:
            return  # stopping: acknowledge nothing more
        try:
            outcome = self.core.receive(payload, self.now_ms())
        except Exception as exc:  # a bug: the state may be half-changed, so serve nothing more
            self._fail(exc)
            return
        if outcome.work is not None:
            self._start_work(conn, outcome)
            return
        if outcome.applied is not None:
            self._group.applied.append(outcome.applied)
            self._schedule_commit()
        ready_seq = self.core.seq if outcome.wait else 0
        if outcome.query is None and not conn.waiting and ready_seq <= self.core.durable_seq:
            assert outcome.reply is not None
            self._send_now(conn, outcome, outcome.reply)
            return
        waiting = _Waiting(ready_seq, None, outcome)
        if outcome.query is None:
            assert outcome.reply is not None
            waiting.reply = outcome.reply_message(outcome.reply)
        else:
            self._group.queries.append((waiting, outcome.query))
        self._schedule_commit()
        conn.waiting.append(waiting)

    def _start_work(self, conn: _Connection, outcome: Outcome) -> None:
        """Hold the reply's place in ``conn``'s order; run the work off the loop."""
        waiting = _Waiting(0, None, outcome)
        conn.waiting.append(waiting)
        if self._pending_work >= MAX_PENDING_WORK or self._loop is None:
            refusal = wire_error(Overloaded("too many log-ins at once; retry shortly"))
            waiting.reply = outcome.reply_message(refusal)
            self._schedule_commit()
            return
        assert outcome.work is not None
        self._pending_work += 1
        future = self._loop.run_in_executor(self._workers, outcome.work.compute)
        future.add_done_callback(lambda done: self._work_done(waiting, done))

    def _work_done(self, waiting: _Waiting, done: asyncio.Future[CoreCommand | ErrorInfo]) -> None:
        self._pending_work -= 1
        if self._failed is not None or done.cancelled():  # stopping: the pool was shut down
            return
        try:
            result = done.result()
            outcome = self.core.complete(waiting.outcome, result, self._nonce(), self.now_ms())
        except Exception as exc:  # a bug: fail closed, as for any other request
            self._fail(exc)
            return
        if outcome.applied is not None:
            self._group.applied.append(outcome.applied)
        waiting.seq = self.core.seq if outcome.wait else 0
        assert outcome.reply is not None
        waiting.reply = outcome.reply_message(outcome.reply)
        self._schedule_commit()

    def _send_now(self, conn: _Connection, outcome: Outcome, body: ReplyBody | ErrorInfo) -> None:
        if conn.transport is not None:
            reply = outcome.reply_message(body)
            conn.transport.write(frame(self._seal(outcome.recipient, reply)))

    def seal_batches(self, ready: list[tuple[bytes, Reply]]) -> list[bytes]:
        """Frames for ``ready`` replies: runs to the same recipient share one signed envelope."""
        frames = []
        for recipient, group in itertools.groupby(ready, key=lambda item: item[0]):
            for chunk in _chunks([reply for _, reply in group]):
                message = chunk[0] if len(chunk) == 1 else Replies(chunk)
                frames.append(frame(self._seal(recipient, message)))
        return frames

    def _seal(self, recipient: bytes, message: Reply | Replies) -> bytes:
        key = self._keys.get(recipient)
        if key is None:
            key = PublicKey(recipient)
            if len(self._keys) < MAX_CACHED_KEYS:
                self._keys[recipient] = key
        return seal(self.core.identity, key, message, self._nonce(), self.now_ms())

    def refuse_and_close(self, conn: _Connection, exc: WireError) -> None:
        log.warning("closing connection: %s", exc.message)
        self._send_now(conn, Outcome(bytes(32), bytes(16)), wire_error(exc))
        if conn.transport is not None:
            conn.transport.close()

    # ------------------------------------------------------------------ group commit

    def _schedule_commit(self) -> None:
        if not self._commit_scheduled and self._loop is not None:
            self._commit_scheduled = True
            self._loop.call_soon(self._commit)

    def _commit(self) -> bool:
        """Write the group, answer its queries, release every reply that became durable.

        Returns False when storage failed (the server is then stopping)."""
        self._commit_scheduled = False
        group, self._group = self._group, _Group()
        try:
            if group.applied:
                self.storage.write_batch(group.applied)
            for waiting, query in group.queries:
                waiting.reply = waiting.outcome.reply_message(query(self.storage))
        except Exception as exc:  # any storage failure is fatal: fail closed
            self._fail(exc)
            return False
        core = self.core
        if group.applied:
            last = group.applied[-1]
            core.durable_seq = last.seq
            self._durable_log_size = last.log_first + len(last.leaves)
        for conn in list(self.connections):
            if conn.waiting:
                conn.flush(core.durable_seq)
        self.sign_checkpoint()  # while entries arrive; the timer signs the ones after a lull
        return True

    def _fail(self, exc: BaseException) -> None:
        log.error("stopping: nothing more will be acknowledged", exc_info=exc)
        self._failed = exc
        self._done.set()

    # ------------------------------------------------------------------ checkpoints

    def sign_checkpoint(self, every_ms: int = CHECKPOINT_EVERY_MS) -> None:
        """Sign the durable log if it grew and the last checkpoint is ``every_ms`` old; save the
        checkpoint before serving it, so that a crash cannot make the log sign another tree of
        that size."""
        log = self.core.log
        size, now = self._durable_log_size, self.now_ms()
        last = log.last
        if self._failed is not None or (last is not None and last.size == size):
            return
        if size == 0 or (last is not None and now - last.ts < every_ms):
            return
        try:
            checkpoint = log.sign(size, now)
            self.storage.save_checkpoint(checkpoint)
        except Exception as exc:  # a fork about to be signed, or storage failing: fail closed
            self._fail(exc)
            return
        log.last = checkpoint

    # ------------------------------------------------------------------ snapshots

    def take_snapshot(self) -> None:
        """Write the state at the current sequence number (after committing what precedes it)."""
        core = self.core
        if core.seq == core.snapshot_seq or self._failed is not None:
            return
        if not self._commit():  # the journal must hold everything the snapshot does
            return
        try:
            self.storage.save_snapshot(core.snapshot(self.now_ms()))
        except Exception as exc:  # a storage failure, like any other: fail closed
            self._fail(exc)
            return
        core.snapshot_seq = core.seq

    async def _timer(self) -> None:
        last_time, last_seq = self.clock_ms(), self.core.seq
        while True:
            await asyncio.sleep(1)
            self.sign_checkpoint()
            now = self.clock_ms()
            due = now - last_time >= self.snapshot_every_s * 1000 and self.core.seq != last_seq
            if due or self.core.seq - last_seq >= self.snapshot_every_seq:
                self.take_snapshot()
                last_time, last_seq = now, self.core.seq

    # ------------------------------------------------------------------ lifecycle

    async def start(self, addresses: list[Address]) -> None:
        loop = self._loop = asyncio.get_running_loop()
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
        self._ticker = asyncio.create_task(self._timer())

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
            raise RuntimeError("the core stopped after a failure") from self._failed

    def stop(self) -> None:
        self._done.set()

    async def shutdown(self) -> None:
        """Stop listening, commit what is pending, write a final snapshot, close connections."""
        if self._ticker is not None:
            self._ticker.cancel()
        for server in self._servers:
            server.close()
        if self._failed is None:
            self._commit()
            self.sign_checkpoint(every_ms=0)
            self.take_snapshot()
        self._workers.shutdown(wait=False, cancel_futures=True)
        for conn in list(self.connections):
            if conn.transport is not None:
                conn.transport.close()

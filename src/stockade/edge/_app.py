"""Edge's process: it binds the port, then runs one worker per configured core, each its own
process with its own event loop (uvloop) on the shared socket, its own admission state and its
own follower of the log's keys. A key a worker learns from an answer it forwarded is passed to
its siblings over a datagram socket pair made before they were forked.

Once a second each worker reloads the rules file if it changed (a file that does not parse is
reported and the rules before it kept) and takes a snapshot of its counts for the metrics.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import secrets
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import uvloop

from stockade.edge import _metrics
from stockade.edge._admission import Admission
from stockade.edge._config import EdgeConfig
from stockade.edge._keys import KeyFollower, KeySet, KeyTail, Learned
from stockade.edge._lanes import Lanes
from stockade.edge._rules import RulesError, RuleSet, parse_rules
from stockade.edge._server import ClientConnection, Worker
from stockade.edge._upstream import Upstream

TICK_S = 1.0


def _report(line: str) -> None:
    print(f"edge: {line}", file=sys.stderr, flush=True)


def clock_ms() -> int:
    return time.time_ns() // 1_000_000


def bind(config: EdgeConfig) -> socket.socket:
    listen = config.listen
    family = socket.AF_INET6 if ":" in listen.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((listen.host, listen.port))
    sock.listen(4096)
    sock.setblocking(False)
    return sock


class RulesFile:
    """The operator's rules file, read again whenever it changes."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.stamp: tuple[int, int, int] | None = None

    def changed(self, report: Callable[[str], None]) -> RuleSet | None:
        """The new rules if the file changed and parses, else None (the old ones stay)."""
        if self.path is None:
            return None
        try:
            stat = self.path.stat()
            stamp = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
            if stamp == self.stamp:
                return None
            self.stamp = stamp
            rules = parse_rules(self.path.read_bytes())
        except OSError as exc:
            report(f"rules: cannot read {self.path}: {exc.strerror}; the rules before stay")
            return None
        except RulesError as exc:
            report(f"rules: {self.path}: {exc}; the rules before stay")
            return None
        report(f"rules: {len(rules.rules)} loaded from {self.path}")
        return rules


class Siblings:
    """Datagram sockets between the workers: each reads its own and writes everyone else's."""

    def __init__(self, count: int) -> None:
        self.pairs = [socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM) for _ in range(count)]
        self.index = 0

    def become(self, index: int) -> None:
        self.index = index
        for i, (mine, theirs) in enumerate(self.pairs):
            (theirs if i == index else mine).close()
            if i == index:
                mine.setblocking(False)

    def tell(self, learned: Learned) -> None:
        data = learned.encode()
        for i, (_, theirs) in enumerate(self.pairs):
            if i != self.index:
                # a sibling that is gone or full learns it from the log instead
                with contextlib.suppress(OSError):
                    theirs.send(data)

    def inbox(self) -> socket.socket:
        return self.pairs[self.index][0]


async def serve_worker(
    config: EdgeConfig,
    sock: socket.socket,
    seed_base: bytes,
    siblings: Siblings | None = None,
    report: Callable[[str], None] = _report,
    post: Callable[[_metrics.Snapshot], None] | None = None,
) -> None:
    """One worker, until cancelled; ``post`` takes its snapshot every second."""
    keys = KeySet()
    relay = config.site.relay
    assert relay is not None  # load_config requires one
    follower = KeyFollower(relay, KeyTail(config.site.log, keys), report=report)
    follower.start()
    admission = Admission(config.limits, keys, config.site.core_key.raw, seed_base)
    loop = asyncio.get_running_loop()
    lanes = Lanes(config.limits, admission.pressure, loop.time)

    def learned(change: Learned) -> None:
        change.apply(keys)
        if siblings is not None:
            siblings.tell(change)

    upstream = Upstream(config.web, config.limits.max_response)
    worker = Worker(admission, lanes, upstream, clock_ms, learned)
    if siblings is not None:
        inbox = siblings.inbox()
        loop.add_reader(inbox.fileno(), _read_inbox, inbox, keys)
    rules = RulesFile(config.rules)
    _tick(worker, rules, report, post)
    server = await loop.create_server(lambda: ClientConnection(worker), sock=sock)
    try:
        while True:
            await asyncio.sleep(TICK_S)
            _tick(worker, rules, report, post)
    finally:
        server.close()
        worker.upstream.close()
        follower.stop()


def _tick(
    worker: Worker,
    rules: RulesFile,
    report: Callable[[str], None],
    post: Callable[[_metrics.Snapshot], None] | None,
) -> None:
    admission = worker.admission
    pressure = admission.pressure
    was_on = pressure.on
    shed = pressure.shed
    now = clock_ms()
    pressure.tick(now)
    admission.sweep(now)
    if pressure.on != was_on:
        state = "on" if pressure.on else "off"
        report(f"attack mode {state} ({shed} shed in the last second; puzzle {pressure.bits} bits)")
    new_rules = rules.changed(report)
    if new_rules is not None:
        admission.rules = new_rules
    if post is not None:
        post(_metrics.snapshot(worker))


def _read_inbox(inbox: socket.socket, keys: KeySet) -> None:
    while True:
        try:
            data = inbox.recv(64)
        except BlockingIOError:
            return
        learned = Learned.decode(data)
        if learned is not None:
            learned.apply(keys)


def _run_worker(
    config: EdgeConfig,
    sock: socket.socket,
    seed: bytes,
    siblings: Siblings | None,
    post: Callable[[_metrics.Snapshot], None] | None,
) -> None:
    async def until_signalled() -> None:
        task = asyncio.current_task()
        assert task is not None
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, task.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await serve_worker(config, sock, seed, siblings, post=post)

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(until_signalled())


def main(config: EdgeConfig) -> None:
    """Serve until SIGTERM or SIGINT: in this process with one worker, else in forked ones."""
    sock = bind(config)
    # The puzzle seeds derive from this: public in effect (each seed is shown), only unguessable
    # in advance, so that no one can solve tomorrow's puzzles today.
    seed = secrets.token_bytes(16)
    _report(f"listening on {config.listen}, shielding {config.web}, {config.workers} worker(s)")
    board = _metrics.Board()
    if config.workers == 1:
        _serve_metrics(config, board)
        post = None if config.metrics is None else functools.partial(board.post, 0)
        _run_worker(config, sock, seed, None, post)
        return
    siblings = Siblings(config.workers)
    inbox, outbox = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    children = []
    for index in range(config.workers):
        pid = os.fork()
        if pid == 0:
            siblings.become(index)
            inbox.close()
            outbox.setblocking(False)
            try:
                sends = config.metrics is not None  # no one scrapes: nothing to post
                post = functools.partial(_metrics.send, outbox, index) if sends else None
                _run_worker(config, sock, seed, siblings, post)
            finally:
                os._exit(0)
        children.append(pid)
    outbox.close()
    # Threads only once every worker is forked: a fork copies no thread, but any lock it holds.
    _serve_metrics(config, board)
    threading.Thread(target=_metrics.receive, args=(inbox, board), daemon=True).start()
    _wait_for(children)


def _serve_metrics(config: EdgeConfig, board: _metrics.Board) -> None:
    if config.metrics is not None:
        _metrics.serve(config.metrics, board)
        _report(f"metrics on {config.metrics}")


def _wait_for(children: list[int]) -> None:
    def forward(sig: int, _frame: object) -> None:
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    for pid in children:
        os.waitpid(pid, 0)

"""``stockade up``: run a site's compartments as supervised child processes.

Each child gets its own working directory (its compartment's), a minimal environment (no secret is
passed through the environment), and a log file in its directory. A child that dies is restarted
with exponential backoff; Ctrl-C or SIGTERM stops every child cleanly (SIGTERM, then SIGKILL after a
grace period).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from stockade.core import load_config
from stockade.edge import CONFIG_FILE as EDGE_CONFIG
from stockade.edge import load_config as load_edge_config
from stockade.relay import CONFIG_FILE as RELAY_CONFIG
from stockade.relay import load_config as load_relay_config
from stockade.site._layout import SiteLayout
from stockade.web import CONFIG_FILE as WEB_CONFIG
from stockade.web import load_config as load_web_config
from stockade.wire import Address
from stockade.witness import CONFIG_FILE as WITNESS_CONFIG
from stockade.witness import load_config as load_witness_config

#: Seconds between a crash and the restart, doubling up to the cap while crashes continue.
BACKOFF_START, BACKOFF_CAP = 0.5, 10.0
#: A child that stayed up this long is considered healthy again: its backoff resets.
HEALTHY_AFTER = 30.0
#: Seconds a child gets to exit after SIGTERM before it is killed.
STOP_GRACE = 15.0


@dataclass
class ChildSpec:
    name: str
    argv: list[str]
    cwd: Path
    log_file: Path
    ready: Address | None = None


@dataclass
class _Child:
    spec: ChildSpec
    process: subprocess.Popen[bytes] | None = None
    log: IO[bytes] | None = None
    started: float = 0.0
    backoff: float = BACKOFF_START
    restart_at: float | None = None
    restarts: int = 0
    history: list[int] = field(default_factory=list)
    listening: bool = False


def child_environment() -> dict[str, str]:
    """Only what a Python child needs to start; nothing from the parent's secrets."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}
    if "PYTHONPATH" in os.environ:
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    return env


def site_children(layout: SiteLayout) -> list[ChildSpec]:
    """Core, then the witness, then the relay (which pulls from core and asks the witness), then
    web (which forwards to core), then edge (which forwards to web) if the site has one."""
    stockade = [sys.executable, "-m", "stockade"]
    core = load_config(layout.core_config)
    witness = load_witness_config(layout.witness / WITNESS_CONFIG)
    relay = load_relay_config(layout.relay / RELAY_CONFIG)
    web = load_web_config(layout.web / WEB_CONFIG)
    edge = [] if not (layout.edge / EDGE_CONFIG).exists() else [_edge_child(layout, stockade)]
    return [
        ChildSpec(
            "core",
            [*stockade, "run-core", str(layout.core_config)],
            layout.core,
            core.log_file,
            core.listen[0],
        ),
        ChildSpec(
            "witness",
            [*stockade, "witness", "run", str(layout.witness)],
            layout.witness,
            witness.log_file,
            witness.listen,
        ),
        ChildSpec(
            "relay",
            [*stockade, "relay", "run", str(layout.relay)],
            layout.relay,
            relay.log_file,
            relay.listen,
        ),
        ChildSpec(
            "web",
            [*stockade, "web", "run", str(layout.web)],
            layout.web,
            web.log_file,
            web.listen,
        ),
        *edge,
    ]


def _edge_child(layout: SiteLayout, stockade: list[str]) -> ChildSpec:
    """Edge, in front of web, when the site has one."""
    edge = load_edge_config(layout.edge / EDGE_CONFIG)
    argv = [*stockade, "edge", "run", str(layout.edge)]
    return ChildSpec("edge", argv, layout.edge, edge.log_file, edge.listen)


def is_listening(address: Address, timeout: float = 0.2) -> bool:
    try:
        if address.scheme == "unix":
            with socket.socket(socket.AF_UNIX) as s:
                s.settimeout(timeout)
                s.connect(str(address.path))
        else:
            socket.create_connection((address.host, address.port), timeout=timeout).close()
    except OSError:
        return False
    return True


def wait_until_listening(address: Address, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if is_listening(address):
            return True
        time.sleep(0.1)
    return False


class Supervisor:
    def __init__(self, specs: list[ChildSpec], clock: Callable[[], float] = time.monotonic) -> None:
        self.children = [_Child(spec) for spec in specs]
        self.clock = clock
        self._stopping = False

    def start(self) -> None:
        for child in self.children:
            self._spawn(child)

    def _spawn(self, child: _Child) -> None:
        spec = child.spec
        if child.log is None:
            child.log = open(spec.log_file, "ab")  # noqa: SIM115  # kept open for the child's life
        # argv is built by site_children from our own interpreter and the site's config path.
        child.process = subprocess.Popen(  # noqa: S603
            spec.argv,
            cwd=spec.cwd,
            stdin=subprocess.DEVNULL,
            stdout=child.log,
            stderr=subprocess.STDOUT,
            env=child_environment(),
            start_new_session=True,
        )
        child.started = self.clock()
        child.restart_at = None
        child.listening = False

    def poll(self) -> list[str]:
        """Restart children that died (after their backoff); return what happened."""
        events = []
        now = self.clock()
        for child in self.children:
            process = child.process
            ready = child.spec.ready
            if process is not None and not child.listening and ready and is_listening(ready):
                child.listening = True
                events.append(
                    f"{child.spec.name} listening on {ready} (log: {child.spec.log_file})"
                )
            if process is not None and process.poll() is not None:
                code = process.returncode
                child.history.append(code)
                if now - child.started >= HEALTHY_AFTER:
                    child.backoff = BACKOFF_START
                child.restart_at = now + child.backoff
                events.append(f"{child.spec.name} exited ({code}); restart in {child.backoff:.1f}s")
                child.backoff = min(child.backoff * 2, BACKOFF_CAP)
                child.process = None
            if child.process is None and child.restart_at is not None and now >= child.restart_at:
                child.restarts += 1
                self._spawn(child)
                events.append(f"{child.spec.name} restarted")
        return events

    def pid(self, name: str) -> int | None:
        for child in self.children:
            if child.spec.name == name and child.process is not None:
                return child.process.pid
        return None

    def stop(self) -> None:
        self._stopping = True
        for child in self.children:
            if child.process is not None and child.process.poll() is None:
                child.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE
        for child in self.children:
            process = child.process
            if process is None:
                continue
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            if child.log is not None:
                child.log.close()
                child.log = None

    def run(self, report: Callable[[str], None], interval: float = 0.2) -> None:
        """Supervise until SIGINT or SIGTERM, then stop every child."""

        def request_stop(_sig: int, _frame: object) -> None:
            self._stopping = True

        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)
        try:
            while not self._stopping:
                for event in self.poll():
                    report(event)
                time.sleep(interval)
        finally:
            self.stop()

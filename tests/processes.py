"""Real processes for tests: free loopback ports, sites on them, children started and stopped."""

from __future__ import annotations

import http.client
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from stockade.core import Budget
from stockade.site import SiteLayout, child_environment, init_site


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def new_site(
    root: Path,
    clients: tuple[str, ...] = (),
    database: str | None = None,
    budget: Budget | None = None,
    edge: bool = True,
) -> SiteLayout:
    """A site whose core, relay, witness, web and edge (unless not ``edge``) listen on free
    loopback ports."""
    init_site(
        root,
        clients=clients,
        core_address=f"tcp://127.0.0.1:{free_port()}",
        database=database,
        relay_address=f"tcp://127.0.0.1:{free_port()}",
        witness_address=f"tcp://127.0.0.1:{free_port()}",
        web_address=f"tcp://127.0.0.1:{free_port()}",
        budget=budget,
        edge_address=f"tcp://127.0.0.1:{free_port()}" if edge else None,
    )
    return SiteLayout(root)


def spawn(args: list[str], cwd: Path, log: Path) -> subprocess.Popen[bytes]:
    """``python -m stockade ARGS`` with the supervisor's minimal environment."""
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "stockade", *args],
            cwd=cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=child_environment(),
        )


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        process.wait(30)


def http_request(
    url: str,
    method: str,
    path: str,
    body: bytes | None = None,
    timeout: float = 5,
    headers: dict[str, str] | None = None,
) -> tuple[int, http.client.HTTPMessage, bytes]:
    """One plain HTTP request to ``http://HOST:PORT``: status, headers, body."""
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        conn.request(method, path, body, headers or {})
        answer = conn.getresponse()
        return answer.status, answer.headers, answer.read()
    finally:
        conn.close()


def http_get(url: str, path: str) -> tuple[int, bytes]:
    status, _, body = http_request(url, "GET", path)
    return status, body


def http_post(url: str, path: str, body: bytes) -> tuple[int, str, bytes]:
    status, headers, answer = http_request(url, "POST", path, body)
    return status, headers.get("Content-Type", ""), answer


def wait_for(condition: Callable[[], object], timeout: float = 60, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what or condition}")


def stockade(*args: str) -> subprocess.CompletedProcess[str]:
    """The ``stockade`` command, run to completion with a bare environment."""
    command = [sys.executable, "-m", "stockade", *args]
    env = {"PATH": "/usr/bin:/bin", "COLUMNS": "250"}
    return subprocess.run(
        command, capture_output=True, text=True, timeout=120, env=env, check=False
    )


def process_environment(command: str, directory: Path) -> dict[str, str]:
    """The environment of the running ``stockade COMMAND ... DIRECTORY`` process, read from /proc:
    what an attacker who takes over that process finds in it."""
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
            if command.encode() in cmdline and str(directory).encode() in cmdline:
                pairs = (proc / "environ").read_bytes().split(b"\0")
                return dict(p.decode().split("=", 1) for p in pairs if p)
        except OSError:  # the process ended meanwhile
            continue
    raise AssertionError(f"no running {command} process for {directory}")

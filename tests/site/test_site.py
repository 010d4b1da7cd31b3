"""Sites from the command line: init lays out compartments, up supervises them, demo trades."""

from __future__ import annotations

import os
import queue
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

from stockade.client import Client, OperatorClient, read_site_file
from stockade.core import load_config
from stockade.keys import read_public
from stockade.site import SiteLayout
from stockade.site._demo import setup_listing
from tests.processes import new_site


def stockade(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}  # rich wraps output at the terminal width
    return subprocess.run(
        [sys.executable, "-m", "stockade", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )


def test_init_gives_each_compartment_only_what_it_may_hold(tmp_path: Path) -> None:
    root = tmp_path / "site"
    done = stockade("init", str(root), "--operator", "ann", "--operator", "bo", "--client", "c1")
    assert done.returncode == 0, done.stderr
    layout = SiteLayout(root)
    for directory in (root, layout.core, layout.operators, layout.clients, layout.witness):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    secret_files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.key"))
    assert secret_files == [
        "clients/c1.key",
        "core/core.key",
        "core/log.key",
        "operators/ann.key",
        "operators/bo.key",
        "witness/witness.key",
    ]
    assert sorted(p.name for p in layout.relay.iterdir()) == ["relay.toml", "site.toml"]
    for key in root.rglob("*.key"):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
    site_text = layout.site_file.read_text()
    assert "seed" not in site_text
    site = read_site_file(layout.site_file)
    assert set(site.operators) == {"ann", "bo"}
    assert site.need == 1
    assert site.relay is not None
    assert (layout.relay / "site.toml").read_text() == site_text
    config = load_config(layout.core_config)
    assert [read_public(p)[1] for p in config.operators] == [
        site.operators["ann"],
        site.operators["bo"],
    ]
    again = stockade("init", str(root))
    assert again.returncode == 1
    assert "already holds a site" in again.stdout


def test_up_serves_restarts_a_killed_core_and_stops_cleanly(tmp_path: Path) -> None:
    root = tmp_path / "site"
    layout = new_site(root, clients=("c1",))
    up = subprocess.Popen(
        [sys.executable, "-m", "stockade", "up", str(root)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=_pump, args=(up, lines), daemon=True)
    reader.start()
    try:
        _expect(lines, "core listening on")
        with OperatorClient.from_site(root, layout.operator_key("operator")) as op:
            setup_listing(op)
            account = op.create_account("c1")
            op.register_key(account, read_public(layout.clients / "c1.pub")[1])
            op.credit(account, "BTC", 10**8, "seed")
            seq = op.status().seq
        core_pid = _child_pid(up.pid, "run-core")
        assert core_pid is not None
        os.kill(core_pid, signal.SIGKILL)
        _expect(lines, "core exited (-9)")
        _expect(lines, "core listening on")  # restarted, restored, serving
        assert _child_pid(up.pid, "run-core") not in (None, core_pid)
        with Client.from_site(root, layout.client_key("c1"), timeout=10) as client:
            assert client.balances()["BTC"] == (10**8, 0)
            assert client.ping().seq == seq
    finally:
        up.send_signal(signal.SIGINT)
        up.wait(60)
        reader.join(10)
    assert up.returncode == 0
    assert not Path(f"/proc/{up.pid}").exists() or _children(up.pid) == []


def _pump(process: subprocess.Popen[str], lines: queue.Queue[str]) -> None:
    assert process.stdout is not None
    with process.stdout:
        for line in process.stdout:
            lines.put(line)


def _expect(lines: queue.Queue[str], text: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if text in lines.get(timeout=max(0.1, deadline - time.monotonic())):
                return
        except queue.Empty:
            break
    raise AssertionError(f"stockade up never printed {text!r}")


def _children(parent: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{parent}/task/{parent}/children").read_text().split()]
    except FileNotFoundError:
        return []


def _child_pid(parent: int, marker: str) -> int | None:
    """The child whose command line holds ``marker``."""
    for pid in _children(parent):
        try:
            if marker.encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                return pid
        except FileNotFoundError:
            continue
    return None


def test_demo_runs_bots_and_shows_trades(tmp_path: Path) -> None:
    root = tmp_path / "demo"
    done = stockade("demo", "--seconds", "6", "--dir", str(root))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "order book" in done.stdout
    assert "latest trades" in done.stdout
    assert "demo stopped" in done.stdout
    assert (root / "core" / "core.db").exists()

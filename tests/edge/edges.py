"""Edges of a test's own, beside the one a live site runs: a directory with the site's public
file and an edge.toml, and the running process."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from stockade.edge import load_config, render_config
from stockade.site import wait_until_listening
from stockade.wire import Address, parse_address
from tests.live import LiveSite
from tests.processes import free_port, spawn, stop

#: Short deadlines and small caps, so that hostile stages are quick to show.
LIMITS = """
[edge.limits]
header_ms = 600
body_ms = 600
max_header_bytes = 4096
max_body = 8192
"""


def write_edge_toml(
    directory: Path, listen: Address, web_port: int, extra: str = "", table: str = ""
) -> None:
    """``extra`` goes into [edge.limits], ``table`` into [edge]."""
    web = parse_address(f"tcp://127.0.0.1:{web_port}")
    (directory / "edge.toml").write_text(render_config(listen, web) + table + LIMITS + extra)


def edge_directory(site: LiveSite, web_port: int, name: str, extra: str, table: str = "") -> Path:
    """A directory for another edge, in front of ``web_port``, with the site's public file."""
    directory = site.layout.root / name
    directory.mkdir()
    (directory / "site.toml").write_bytes((site.layout.edge / "site.toml").read_bytes())
    listen = parse_address(f"tcp://127.0.0.1:{free_port()}")
    write_edge_toml(directory, listen, web_port, extra, table)
    return directory


@contextlib.contextmanager
def edge_running(directory: Path) -> Iterator[str]:
    """The edge of ``directory``, running; its URL."""
    listen = load_config(directory / "edge.toml").listen
    edge = spawn(["edge", "run", str(directory)], directory, directory / "edge.log")
    try:
        assert wait_until_listening(listen, 60)
        yield f"http://{listen.host}:{listen.port}"
    finally:
        stop(edge)

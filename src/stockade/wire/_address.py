"""Addresses of wire endpoints: ``tcp://HOST:PORT`` or ``unix:///absolute/path``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Address:
    scheme: str  # "tcp" or "unix"
    host: str = ""
    port: int = 0
    path: Path | None = None

    def __str__(self) -> str:
        if self.scheme == "unix":
            return f"unix://{self.path}"
        return f"tcp://{self.host}:{self.port}"


def parse_address(text: str) -> Address:
    parts = urlsplit(text)
    if parts.scheme == "unix" and parts.path.startswith("/") and not parts.netloc:
        return Address("unix", path=Path(parts.path))
    if parts.scheme == "tcp" and parts.hostname and parts.port is not None and not parts.path:
        return Address("tcp", host=parts.hostname, port=parts.port)
    raise ValueError(f"not a wire address (tcp://HOST:PORT or unix:///PATH): {text!r}")

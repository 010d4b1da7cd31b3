"""The public site file: what any client needs to reach and trust the site, and nothing secret."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from stockade.client._log import LogWatcher
from stockade.keys import PublicKey, check_name
from stockade.tlog import COSIGNATURE_V1, NoteError, Verifier
from stockade.wire import Address, parse_address

#: The site file's name inside a site directory.
SITE_FILE = "site.toml"


class SiteFileError(Exception):
    """The site file is missing or malformed."""


@dataclass(frozen=True)
class SiteFile:
    name: str
    core_address: Address
    core_key: PublicKey
    operators: dict[str, PublicKey]
    log: Verifier  # the transparency log's origin and checkpoint key
    #: witnesses whose cosignatures clients look for, and how many a checkpoint must carry
    witnesses: tuple[Verifier, ...] = field(default=())
    need: int = 0
    relay: str | None = None  # http:// URL of a relay serving the log and market data
    web: str | None = None  # http:// URL of the site's web compartment (the HTTP API)
    edge: str | None = None  # http:// URL of the edge in front of web: where clients go

    @property
    def api(self) -> str | None:
        """Where a client sends HTTP: the edge when the site has one, else web."""
        return self.edge or self.web

    def __post_init__(self) -> None:
        if any(w.algorithm != COSIGNATURE_V1 for w in self.witnesses):
            raise ValueError("a witness key is a cosignature/v1 key")
        if not 0 <= self.need <= len(self.witnesses):
            raise ValueError("need is between 0 and the number of witnesses")

    def log_watcher(self) -> LogWatcher:
        """A fresh view of this site's log, requiring the cosignatures the site file asks for."""
        return LogWatcher(self.log, self.witnesses, self.need)

    def render(self) -> str:
        lines = [
            "# Public description of a Stockade site: addresses and public keys only.",
            "[site]",
            f'name = "{check_name(self.name)}"',
            "",
            "[core]",
            f'address = "{self.core_address}"',
            f'public_key = "{self.core_key.hex()}"',
            "",
            "[log]",
            f'verifier = "{self.log.encode()}"',
            "witnesses = [" + ", ".join(f'"{w.encode()}"' for w in self.witnesses) + "]",
            f"need = {self.need}",
            "",
        ]
        if self.relay is not None:
            lines += ["[relay]", f'url = "{self.relay}"', ""]
        if self.web is not None:
            lines += ["[web]", f'url = "{self.web}"', ""]
        if self.edge is not None:
            lines += ["[edge]", f'url = "{self.edge}"', ""]
        for name, key in sorted(self.operators.items()):
            lines += [f"[operators.{check_name(name)}]", f'public_key = "{key.hex()}"', ""]
        return "\n".join(lines)


def read_site_file(path: Path) -> SiteFile:
    try:
        doc = tomllib.loads(path.read_text())
        core = doc["core"]
        return SiteFile(
            name=check_name(doc["site"]["name"]),
            core_address=parse_address(core["address"]),
            core_key=PublicKey.from_hex(core["public_key"]),
            operators={
                check_name(n): PublicKey.from_hex(v["public_key"])
                for n, v in doc.get("operators", {}).items()
            },
            log=Verifier.decode(doc["log"]["verifier"]),
            witnesses=tuple(Verifier.decode(v) for v in doc["log"].get("witnesses", [])),
            need=int(doc["log"].get("need", 0)),
            relay=_http_url("relay", doc.get("relay", {}).get("url")),
            web=_http_url("web", doc.get("web", {}).get("url")),
            edge=_http_url("edge", doc.get("edge", {}).get("url")),
        )
    except (OSError, tomllib.TOMLDecodeError, KeyError, TypeError, ValueError, NoteError) as exc:
        raise SiteFileError(f"cannot read site file {path}: {exc}") from None


def _http_url(table: str, url: object) -> str | None:
    if url is None:
        return None
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ValueError(f"[{table}] url is an http:// or https:// URL")
    return url

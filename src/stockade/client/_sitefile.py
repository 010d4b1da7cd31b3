"""The public site file: what any client needs to reach and trust the site, and nothing secret."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from stockade.keys import PublicKey, check_name
from stockade.tlog import NoteError, Verifier
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
            "",
        ]
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
        )
    except (OSError, tomllib.TOMLDecodeError, KeyError, TypeError, ValueError, NoteError) as exc:
        raise SiteFileError(f"cannot read site file {path}: {exc}") from None

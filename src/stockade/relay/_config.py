"""The relay's configuration (relay.toml), strictly typed. The relay is told where core is and
which public keys to trust: its own copy of the public site file. It holds no secret."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import msgspec

from stockade.client import SiteFile, SiteFileError, read_site_file
from stockade.tlog import NoteError, Verifier
from stockade.wire import Address, parse_address

CONFIG_FILE = "relay.toml"


class ConfigError(Exception):
    """The configuration file is missing, malformed, or names a bad address or key."""


class _Table(msgspec.Struct, forbid_unknown_fields=True):
    site: str  # the public site file: core's address and key, the log's and operators' keys
    listen: str
    witnesses: list[str] = []  # base URLs of witnesses to ask for cosignatures
    witness_keys: list[str] = []  # their cosignature verifier keys
    poll_ms: int = 200


class _File(msgspec.Struct, forbid_unknown_fields=True):
    relay: _Table


@dataclass(frozen=True)
class RelayConfig:
    directory: Path
    site: SiteFile
    listen: Address
    witnesses: tuple[str, ...]
    witness_keys: tuple[Verifier, ...]
    poll_s: float

    @property
    def log_file(self) -> Path:
        return self.directory / "relay.log"


def load_config(path: Path) -> RelayConfig:
    base = path.parent.resolve()
    try:
        table = msgspec.toml.decode(path.read_bytes(), type=_File).relay
        site = read_site_file(base / table.site)
        keys = tuple(Verifier.decode(vkey) for vkey in table.witness_keys)
        listen = parse_address(table.listen)
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    except (msgspec.ValidationError, msgspec.DecodeError, ValueError, SiteFileError) as exc:
        raise ConfigError(f"{path}: {exc}") from None
    except NoteError as exc:
        raise ConfigError(f"{path}: a witness key: {exc.message}") from None
    if not 10 <= table.poll_ms <= 60_000:
        raise ConfigError(f"{path}: poll_ms is 10 to 60000")
    return RelayConfig(base, site, listen, tuple(table.witnesses), keys, table.poll_ms / 1000)


def render_config(listen: Address, witnesses: list[tuple[str, Verifier]]) -> str:
    urls = ", ".join(f'"{url}"' for url, _ in witnesses)
    keys = ", ".join(f'"{key.encode()}"' for _, key in witnesses)
    return (
        "# A relay: pulls the public log and market data from core, serves them to anyone.\n"
        "[relay]\n"
        'site = "site.toml"\n'
        f'listen = "{listen}"\n'
        f"witnesses = [{urls}]\n"
        f"witness_keys = [{keys}]\n"
    )

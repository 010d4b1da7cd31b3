"""Web's configuration (web.toml), strictly typed: where to listen, and its copy of the public
site file (core's address and public key). Web holds no secret on disk."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import msgspec

from stockade.client import SiteFile, SiteFileError, read_site_file
from stockade.wire import Address, parse_address

CONFIG_FILE = "web.toml"


class ConfigError(Exception):
    """The configuration file is missing, malformed, or names a bad address."""


class _Table(msgspec.Struct, forbid_unknown_fields=True):
    site: str
    listen: str
    # Follow core's log for tickers, candles and the stream. Replaying the log costs this
    # process CPU at every order (docs/benchmarks.md): an instance that only relays API
    # requests behind the same address may turn it off.
    market_data: bool = True


class _File(msgspec.Struct, forbid_unknown_fields=True):
    web: _Table


@dataclass(frozen=True)
class WebConfig:
    directory: Path
    site: SiteFile
    listen: Address
    market_data: bool = True

    @property
    def log_file(self) -> Path:
        return self.directory / "web.log"


def load_config(path: Path) -> WebConfig:
    base = path.parent.resolve()
    try:
        table = msgspec.toml.decode(path.read_bytes(), type=_File).web
        site = read_site_file(base / table.site)
        listen = parse_address(table.listen)
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    except (msgspec.ValidationError, msgspec.DecodeError, ValueError, SiteFileError) as exc:
        raise ConfigError(f"{path}: {exc}") from None
    return WebConfig(base, site, listen, table.market_data)


def render_config(listen: Address) -> str:
    return (
        "# The web compartment: the browser UI and the public API. It holds no secret.\n"
        "[web]\n"
        'site = "site.toml"\n'
        f'listen = "{listen}"\n'
    )

"""The core's configuration: a TOML file parsed into a frozen dataclass, read once at start.

Relative paths are relative to the configuration file's directory, which is the compartment's
data directory. There is no default for a secret: a missing identity key stops startup with a
clear error.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from stockade.core._limits import BURST, PER_S
from stockade.core._passkeys import RelyingParty
from stockade.wire import Address, parse_address


class ConfigError(Exception):
    """The configuration file is missing a setting or has a wrong one."""


@dataclass(frozen=True)
class CoreConfig:
    directory: Path
    listen: tuple[Address, ...]
    database: str
    identity: Path
    operators: tuple[Path, ...]
    log_key: Path
    log_origin: str
    snapshot_every_s: int = 60
    snapshot_every_seq: int = 200_000
    #: each account's request budget: sustained requests a second, and at once
    requests_per_s: int = PER_S
    request_burst: int = BURST
    #: who passkeys are made for (``webauthn_rp_id``, ``webauthn_origins``); None: no passkeys
    relying_party: RelyingParty | None = None

    @property
    def log_file(self) -> Path:
        return self.directory.joinpath("core.log")


def _require(table: dict[str, object], key: str, kind: type) -> object:
    if key not in table:
        raise ConfigError(f"[core] {key} is required")
    value = table[key]
    if not isinstance(value, kind):
        raise ConfigError(f"[core] {key} must be a {kind.__name__}")
    return value


def load_config(path: Path) -> CoreConfig:
    try:
        doc = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from None
    table = doc.get("core")
    if not isinstance(table, dict):
        raise ConfigError(f"{path} has no [core] table")
    known = {
        "listen",
        "database",
        "identity",
        "operators",
        "log_key",
        "log_origin",
        "snapshot_every_s",
        "snapshot_every_seq",
        "requests_per_s",
        "request_burst",
        "webauthn_rp_id",
        "webauthn_origins",
    }
    unknown = set(table) - known
    if unknown:
        raise ConfigError(f"unknown [core] settings: {', '.join(sorted(unknown))}")
    base = path.parent.resolve()
    listen = _require(table, "listen", list)
    operators = _require(table, "operators", list)
    assert isinstance(listen, list)
    assert isinstance(operators, list)
    try:
        addresses = tuple(parse_address(str(a)) for a in listen)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    if not addresses or not operators:
        raise ConfigError("[core] listen and operators must not be empty")
    return CoreConfig(
        directory=base,
        listen=addresses,
        database=str(_require(table, "database", str)).replace("{dir}", str(base)),
        identity=base.joinpath(str(_require(table, "identity", str))),
        operators=tuple(base.joinpath(str(p)) for p in operators),
        log_key=base.joinpath(str(_require(table, "log_key", str))),
        log_origin=str(_require(table, "log_origin", str)),
        snapshot_every_s=int(table.get("snapshot_every_s", 60)),
        snapshot_every_seq=int(table.get("snapshot_every_seq", 200_000)),
        requests_per_s=_positive(table, "requests_per_s", PER_S),
        request_burst=_positive(table, "request_burst", BURST),
        relying_party=_relying_party(table),
    )


def _positive(table: dict[str, object], key: str, default: int) -> int:
    value = table.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 1_000_000:
        raise ConfigError(f"[core] {key} must be an integer from 1 to 1000000")
    return value


_LABEL = r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
#: A DNS name whose last label is not all digits (so never an IPv4 address).
_DOMAIN = re.compile(rf"^(?=.{{1,253}}\Z)({_LABEL}\.)*[a-z]([a-z0-9-]{{0,61}}[a-z0-9])?\Z")


def _relying_party(table: dict[str, object]) -> RelyingParty | None:
    """The passkeys' relying party: a domain name (browsers refuse IP addresses) and the
    origins the site's pages come from, each on that domain; plain http only for localhost,
    the one name browsers treat as secure without TLS."""
    rp_id, origins = table.get("webauthn_rp_id"), table.get("webauthn_origins")
    if rp_id is None and origins is None:
        return None
    if not isinstance(rp_id, str) or not _DOMAIN.match(rp_id):
        raise ConfigError("[core] webauthn_rp_id must be a lower-case domain name")
    if not isinstance(origins, list) or not origins:
        raise ConfigError("[core] webauthn_origins must list the site's origins")
    for origin in origins:
        parts = urlsplit(origin) if isinstance(origin, str) else None
        host = "" if parts is None else parts.hostname or ""
        on_domain = host == rp_id or host.endswith("." + rp_id)
        secure = parts is not None and (parts.scheme == "https" or host == "localhost")
        if (
            parts is None
            or not on_domain
            or not secure
            or origin != f"{parts.scheme}://{parts.netloc}"
        ):
            raise ConfigError(f"[core] {origin!r} is no https (or localhost) origin on {rp_id}")
    return RelyingParty(rp_id, tuple(str(o) for o in origins))

"""Edge's configuration (edge.toml), strictly typed: where it listens, the web it shields, its
copy of the public site file (core's key, whose requests it checks, and the relay whose log
tells it the live keys), and the admission limits. Edge holds no secret on disk."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import msgspec

from stockade.client import SiteFile, SiteFileError, read_site_file
from stockade.edge._rules import RulesError, parse_rules
from stockade.rates import Rate
from stockade.wire import Address, parse_address

CONFIG_FILE = "edge.toml"


class ConfigError(Exception):
    """The configuration file is missing, malformed, or names a bad address or limit."""


class _Rate(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    per_s: int
    burst: int


class Limits(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """Every cap edge applies, per worker process. The defaults suit one small site."""

    max_connections: int = 10_000
    connections_per_ip: int = 64
    connections_per_prefix: int = 512  # an IPv4 /24, an IPv6 /56
    header_ms: int = 5_000  # from a request's first byte to the end of its headers
    body_ms: int = 5_000  # from the end of the headers to the end of the body
    idle_ms: int = 30_000  # a kept-alive connection between requests
    max_header_bytes: int = 16_384
    max_body: int = 65_536  # of an unsigned request (a signed one: the wire's MAX_HTTP_BODY)
    max_response: int = 8_388_608
    anonymous_per_ip: _Rate = _Rate(50, 200)
    signed_per_ip: _Rate = _Rate(2_000, 4_000)  # before any signature is checked
    per_key: _Rate = _Rate(200, 400)  # a key from an address it has not yet signed from
    per_proven_key: _Rate = _Rate(400, 800)  # a key from an address it signed from before
    refusals_per_ip: _Rate = _Rate(1, 4)  # past this, an address's connections are held
    hold_ms: int = 2_000  # how long: nothing more is read from them meanwhile
    upstream: int = 16  # requests in flight to web at once: more wait here, in their lanes
    known_share: int = 50  # the percentage of them known addresses may hold
    anonymous_share: int = 25  # and anonymous requests
    verified_queue: int = 4_096
    known_queue: int = 1_024
    anonymous_queue: int = 1_024
    verified_ms: int = 1_000  # how long a request may wait for web before it is shed
    known_ms: int = 1_000
    anonymous_ms: int = 1_000
    known_s: int = 600  # how long an address that signed a good request stays known
    pow_grace_s: int = 10  # how long a solved puzzle makes its address known
    pow_start_bits: int = 12
    pow_max_bits: int = 26
    calm_s: int = 30  # seconds without shedding before attack mode ends
    attack: Literal["auto", "on"] = "auto"  # "on": an operator holds attack mode on

    def __post_init__(self) -> None:
        counts = (
            self.max_connections,
            self.connections_per_ip,
            self.connections_per_prefix,
            self.upstream,
            self.verified_queue,
            self.known_queue,
            self.anonymous_queue,
        )
        times = (self.header_ms, self.body_ms, self.idle_ms, self.verified_ms, self.hold_ms)
        if min(counts) < 1 or min(times) < 1 or not 1 <= self.pow_start_bits <= self.pow_max_bits:
            raise ValueError("limits are positive, and pow_start_bits at most pow_max_bits")
        if not (1 <= self.known_share <= 100 and 1 <= self.anonymous_share <= 100):
            raise ValueError("a lane's share of the slots is 1 to 100 (percent)")
        if self.pow_max_bits > 32:
            raise ValueError("pow_max_bits is at most 32")

    def rate(self, name: str) -> Rate:
        rate: _Rate = getattr(self, name)
        return Rate(rate.per_s, rate.burst)


class _Table(msgspec.Struct, forbid_unknown_fields=True):
    site: str  # the public site file: core's key, the log's key, the relay's URL
    listen: str
    web: str  # the web it shields
    workers: int = 1
    rules: str | None = None  # the operator's rules file (YAML), reloaded when it changes
    metrics: str | None = None  # where Prometheus scrapes edge: tcp://HOST:PORT
    limits: Limits = Limits()


class _File(msgspec.Struct, forbid_unknown_fields=True):
    edge: _Table


@dataclass(frozen=True)
class EdgeConfig:
    directory: Path
    site: SiteFile
    listen: Address
    web: Address
    workers: int = 1
    limits: Limits = field(default_factory=Limits)
    rules: Path | None = None
    metrics: Address | None = None

    @property
    def log_file(self) -> Path:
        return self.directory / "edge.log"


def load_config(path: Path) -> EdgeConfig:
    base = path.parent.resolve()
    try:
        table = msgspec.toml.decode(path.read_bytes(), type=_File).edge
        site = read_site_file(base / table.site)
        listen, web = parse_address(table.listen), parse_address(table.web)
        metrics = parse_address(table.metrics) if table.metrics is not None else None
        rules = base / table.rules if table.rules is not None else None
        if rules is not None:
            parse_rules(rules.read_bytes())  # a bad file stops edge at start, not at reload
    except OSError as exc:
        raise ConfigError(f"cannot read {exc.filename or path}: {exc.strerror}") from None
    except (msgspec.ValidationError, msgspec.DecodeError, ValueError, SiteFileError) as exc:
        raise ConfigError(f"{path}: {exc}") from None
    except RulesError as exc:
        raise ConfigError(f"{table.rules}: {exc}") from None
    if any(a.scheme != "tcp" for a in (listen, web, *([metrics] if metrics else []))):
        raise ConfigError(f"{path}: edge listens on, and forwards to, tcp://HOST:PORT")
    if site.relay is None:
        raise ConfigError(f"{path}: the site file names no relay, whose log tells edge the keys")
    if not 1 <= table.workers <= 64:
        raise ConfigError(f"{path}: workers is 1 to 64")
    return EdgeConfig(base, site, listen, web, table.workers, table.limits, rules, metrics)


def render_config(listen: Address, web: Address, workers: int = 1) -> str:
    return (
        "# The edge compartment: admits requests to web, signed ones first. It holds no secret.\n"
        "# Limits (per worker) are in [edge.limits]; see docs/operating.md for each.\n"
        "[edge]\n"
        'site = "site.toml"\n'
        f'listen = "{listen}"\n'
        f'web = "{web}"\n'
        f"workers = {workers}\n"
    )

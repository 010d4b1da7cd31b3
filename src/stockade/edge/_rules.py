"""The operator's rules (``rules.yaml``): what to do with requests that match, before edge's own
admission decides. Parsed strictly here, without I/O; edge's process reads and reloads the file.

Each rule matches on every field it names (all must hold): ``path`` (a glob), ``method``, ``ip``
(addresses or networks), ``header`` (name to a glob of its value), ``key`` (key ids) and ``lane``
(the lane the request would be in). The first matching rule that is not a dry run acts:

- ``allow``: no more rules, and an unsigned request skips its address's rate and the puzzle;
- ``deny``: refused (403 ``RuleDenied``, naming the rule);
- ``lane``: the request waits in ``lane`` instead;
- ``limit``: at most ``limit`` a second per address, for the requests this rule matches;
- ``challenge``: an unsigned request must solve the puzzle even outside attack mode. It is never
  asked of a signed request: a challenge rule is passed over for those.

A rule with ``dry_run`` (or every rule, with the file's ``dry_run``) only counts what it would
have done. Every rule counts its matches and its actions.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from fnmatch import translate
from typing import Literal

import msgspec

from stockade.rates import Gcra, Rate

#: At most this many rules in a file: each request is matched against them in turn.
MAX_RULES = 256
MAX_FILE = 1 << 20

LaneName = Literal["verified", "known", "anonymous"]


class RulesError(Exception):
    """The rules file is not YAML, or a rule is malformed."""


class Action(Enum):
    allow = "allow"
    deny = "deny"
    lane = "lane"
    limit = "limit"
    challenge = "challenge"


class _Rate(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    per_s: int
    burst: int


class _Match(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    path: str | None = None
    method: list[str] | None = None
    ip: list[str] | None = None
    header: dict[str, str] | None = None
    key: list[str] | None = None
    lane: LaneName | None = None


class _Spec(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    name: str
    action: Action
    match: _Match = _Match()
    lane: LaneName | None = None  # for ``lane``
    limit: _Rate | None = None  # for ``limit``
    dry_run: bool = False


class _File(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    rules: list[_Spec] = []
    dry_run: bool = False


@dataclass(frozen=True, slots=True)
class Subject:
    """What a rule can see of a request once its headers are in."""

    method: str
    path: str
    ip: str
    header: Callable[[str], str | None]
    key: bytes | None  # the key id a signed request names
    lane: str  # the lane's name


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass
class Rule:
    name: str
    action: Action
    dry_run: bool
    path: re.Pattern[str] | None
    methods: frozenset[str] | None
    networks: tuple[Network, ...] | None
    headers: tuple[tuple[str, re.Pattern[str]], ...]
    keys: frozenset[bytes] | None
    lane: LaneName | None
    target: LaneName | None
    limiter: Gcra[str] | None
    matched: int = 0
    acted: int = 0

    def matches(self, subject: Subject) -> bool:
        if self.lane is not None and subject.lane != self.lane:
            return False
        if self.methods is not None and subject.method not in self.methods:
            return False
        if self.path is not None and not self.path.fullmatch(subject.path):
            return False
        if self.keys is not None and subject.key not in self.keys:
            return False
        if self.networks is not None and not _in_networks(subject.ip, self.networks):
            return False
        for name, pattern in self.headers:
            value = subject.header(name)
            if value is None or not pattern.fullmatch(value):
                return False
        return True

    def over_limit(self, ip: str, now_ms: int) -> int:
        """For a ``limit`` rule: how many seconds ``ip`` must wait (0 if this one may pass)."""
        assert self.limiter is not None
        _, wait_us = self.limiter.take(ip, now_ms * 1000)
        return -(-wait_us // 1_000_000)


@dataclass
class RuleSet:
    rules: list[Rule] = field(default_factory=list)

    def first(self, subject: Subject, signed: bool) -> Rule | None:
        """The rule that acts on ``subject``, counting every match on the way."""
        for rule in self.rules:
            if signed and rule.action is Action.challenge:
                continue  # a signed request is never asked for work
            if not rule.matches(subject):
                continue
            rule.matched += 1
            if not rule.dry_run:
                rule.acted += 1
                return rule
        return None

    def counts(self) -> dict[str, tuple[int, int]]:
        """Matches and actions by rule name."""
        return {rule.name: (rule.matched, rule.acted) for rule in self.rules}


def parse_rules(text: bytes) -> RuleSet:
    if len(text) > MAX_FILE:
        raise RulesError(f"a rules file is at most {MAX_FILE} bytes")
    try:
        document = msgspec.yaml.decode(text or b"{}", type=_File)
    except msgspec.ValidationError as exc:
        raise RulesError(str(exc)) from None
    except msgspec.DecodeError as exc:
        raise RulesError("not YAML: " + " ".join(str(exc).split())) from None
    if len(document.rules) > MAX_RULES:
        raise RulesError(f"at most {MAX_RULES} rules")
    names = [spec.name for spec in document.rules]
    if len(set(names)) != len(names):
        raise RulesError("each rule needs a name of its own")
    return RuleSet([_compiled(spec, document.dry_run) for spec in document.rules])


def _compiled(spec: _Spec, all_dry: bool) -> Rule:
    where = f"rule {spec.name!r}"
    match = spec.match
    if not re.fullmatch(r"[A-Za-z0-9_.:-]{1,64}", spec.name):
        raise RulesError(f"{where}: a name is 1-64 letters, digits or _.:-")
    if (spec.action is Action.lane) != (spec.lane is not None):
        raise RulesError(f"{where}: a lane rule, and only one, names its lane")
    if (spec.action is Action.limit) != (spec.limit is not None):
        raise RulesError(f"{where}: a limit rule, and only one, names its limit")
    if spec.action is Action.challenge and (match.key is not None or match.lane == "verified"):
        raise RulesError(f"{where}: signed requests are never challenged")
    try:
        limiter = Gcra[str](Rate(spec.limit.per_s, spec.limit.burst)) if spec.limit else None
        networks = tuple(ipaddress.ip_network(n, strict=False) for n in match.ip or ())
        keys = frozenset(bytes.fromhex(k) for k in match.key or ())
    except ValueError as exc:
        raise RulesError(f"{where}: {exc}") from None
    if any(len(k) != 32 for k in keys):
        raise RulesError(f"{where}: a key id is 64 hex digits")
    return Rule(
        name=spec.name,
        action=spec.action,
        dry_run=spec.dry_run or all_dry,
        path=re.compile(translate(match.path)) if match.path is not None else None,
        methods=frozenset(m.upper() for m in match.method) if match.method else None,
        networks=networks if match.ip is not None else None,
        headers=tuple(
            (name.lower(), re.compile(translate(glob), re.IGNORECASE))
            for name, glob in (match.header or {}).items()
        ),
        keys=keys if match.key is not None else None,
        lane=match.lane,
        target=spec.lane,
        limiter=limiter,
    )


def _in_networks(ip: str, networks: tuple[Network, ...]) -> bool:
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(address in network for network in networks)

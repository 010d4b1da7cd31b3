"""What edge lets through, decided without I/O: times are arguments, the seed base is given.

A signed request passes, in this order (the cheap checks first, so that a flood of bad
signatures on a real key id costs a dictionary lookup and a counter, not a signature check):

    signature headers -> the key is live -> timestamp window -> per-address, then per-key rate
    -> (the server reads the body under its deadline) -> Ed25519 signature -> nonce not seen

and then waits in the verified lane. So does a browser's page load with a good session ticket
(``wire._ticket``: the same checks up to the rates, then its signature, once). Every other
request is anonymous, unless its address signed a good request lately: then it is known. Under
attack an anonymous request must carry a solved puzzle (``wire._pow``), whose effort orders the
queue; a solution spares its address more puzzles for ``pow_grace_s``, in the anonymous lane
still, ranked by the effort it showed.

An address refused more often than ``refusals_per_ip`` is *held* for ``hold_ms``: the server reads
nothing more from its connections meanwhile, so a flood that only earns refusals costs edge a
timer per connection instead of a parse and an answer per request.

Attack mode turns on when work is shed and off after ``calm_s`` seconds without any; while it
is on, the puzzle's difficulty rises by a bit every second in which anonymous work was shed and
falls by one in every calm second, never below ``pow_start_bits``.
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from enum import IntEnum
from typing import TypeVar

from stockade.edge._config import Limits
from stockade.edge._keys import KeySet
from stockade.edge._rules import Action, Rule, RuleSet, Subject
from stockade.keys import PublicKey
from stockade.rates import Gcra
from stockade.wire import (
    MAX_HTTP_BODY,
    TICKET_MS,
    WINDOW_MS,
    HttpRequest,
    Malformed,
    Overloaded,
    PowChallenge,
    PowSolution,
    ReplayCache,
    Replayed,
    Ticket,
    signature_headers,
    verify_http,
    verify_ticket,
)

#: How long a puzzle seed is current; the one before it is still accepted.
SEED_MS = 60_000
#: Most addresses remembered as known at once (the oldest are forgotten first).
MAX_KNOWN = 200_000


class Code(IntEnum):
    """Edge's refusals (8000-8999 in docs/protocol.md's table of ranges)."""

    TooManyConnections = 8000
    SlowHeaders = 8001
    SlowBody = 8002
    HeadersTooLarge = 8003
    Oversize = 8004
    Malformed = 8005
    UnknownKey = 8006
    Expired = 8007
    FromTheFuture = 8008
    RateLimited = 8009
    BadSignature = 8010
    Replayed = 8011
    ProofOfWorkRequired = 8012
    BadProofOfWork = 8013
    Shed = 8014
    Late = 8015
    WebUnavailable = 8016
    MalformedSignature = 8017  # a Stockade-* header is not in its form
    RuleDenied = 8018  # an operator's rule (rules.yaml) refuses it


#: Refusals for edge's own want of room, not the client's doing: they never get it held.
NOT_AN_OFFENCE = frozenset({Code.Shed, Code.Late, Code.WebUnavailable})


class Lane(IntEnum):
    """The queues to web, served in this order."""

    verified = 0
    known = 1
    anonymous = 2


_STATUS = {
    Code.TooManyConnections: 503,
    Code.SlowHeaders: 408,
    Code.SlowBody: 408,
    Code.HeadersTooLarge: 431,
    Code.Oversize: 413,
    Code.Malformed: 400,
    Code.UnknownKey: 401,
    Code.Expired: 401,
    Code.FromTheFuture: 401,
    Code.RateLimited: 429,
    Code.BadSignature: 401,
    Code.Replayed: 401,
    Code.ProofOfWorkRequired: 429,
    Code.BadProofOfWork: 429,
    Code.Shed: 503,
    Code.Late: 503,
    Code.WebUnavailable: 502,
    Code.MalformedSignature: 401,
    Code.RuleDenied: 403,
}


@dataclass(frozen=True, slots=True)
class Refusal:
    code: Code
    message: str
    lane: Lane
    retry_after_s: int = 1
    field: str | None = None
    challenge: PowChallenge | None = None

    @property
    def status(self) -> int:
        return _STATUS[self.code]


@dataclass(frozen=True, slots=True)
class Pending:
    """A signed request whose headers passed: its body is read next, then checked."""

    key: PublicKey
    ts: int
    nonce: bytes
    signature: bytes
    proven: bool  # the key signed a good request from this prefix before
    lane: Lane = Lane.verified  # a rule may have put it in another


@dataclass(frozen=True, slots=True)
class Admitted:
    lane: Lane
    effort: int = 0  # a solved puzzle's zero bits: more is served sooner


@functools.lru_cache(maxsize=65_536)
def prefix_of(ip: str) -> str:
    """The network an address is counted with: its /24 (IPv4) or /56 (IPv6)."""
    head, dot, last = ip.rpartition(".")
    if dot and last.isdigit() and head.count(".") == 2 and ":" not in ip:
        return f"{head}.0/24"  # the common case, without ipaddress's cost
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    bits = 24 if address.version == 4 else 56
    return str(ipaddress.ip_network(f"{ip}/{bits}", strict=False))


def _wait_s(wait_us: int) -> int:
    return max(1, -(-wait_us // 1_000_000))


@dataclass
class Pressure:
    """Attack mode and the puzzle's difficulty, moved once a second by what was shed."""

    limits: Limits
    on: bool = False
    bits: int = 0
    calm_ticks: int = 0
    shed: int = 0  # requests shed since the last tick
    shed_anonymous: int = 0
    switches: list[tuple[int, bool]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.limits.attack == "on":
            self.on, self.bits = True, self.limits.pow_start_bits

    def tick(self, now_ms: int) -> None:
        limits = self.limits
        if self.shed:
            self.calm_ticks = 0
            if not self.on:
                self.on, self.bits = True, limits.pow_start_bits
                self.switches.append((now_ms, True))
            elif self.shed_anonymous:
                self.bits = min(limits.pow_max_bits, self.bits + 1)
        elif self.on:
            self.calm_ticks += 1
            self.bits = max(limits.pow_start_bits, self.bits - 1)
            if self.calm_ticks >= limits.calm_s and limits.attack == "auto":
                self.on, self.bits = False, 0
                self.switches.append((now_ms, False))
        self.shed = self.shed_anonymous = 0

    def count_shed(self, lane: Lane) -> None:
        self.shed += 1
        if lane is Lane.anonymous:
            self.shed_anonymous += 1


class Admission:
    """One worker's admission state: connection counts, rates, seen nonces, known addresses."""

    def __init__(self, limits: Limits, keys: KeySet, core_key: bytes, seed_base: bytes) -> None:
        self.limits = limits
        self.keys = keys
        self.core_key = core_key
        self.seed_base = seed_base
        self.pressure = Pressure(limits)
        self.rules = RuleSet()  # the operator's, replaced when the file changes
        self._connections: dict[str, int] = {}
        self._total = 0
        self._anonymous: Gcra[str] = Gcra(limits.rate("anonymous_per_ip"))
        self._signed_ip: Gcra[str] = Gcra(limits.rate("signed_per_ip"))
        self._key: Gcra[bytes] = Gcra(limits.rate("per_key"))
        self._proven_key: Gcra[tuple[bytes, str]] = Gcra(limits.rate("per_proven_key"))
        self._proven: dict[tuple[bytes, str], int] = {}  # (key, prefix) -> until (ms)
        self._known: dict[str, int] = {}  # address -> until (ms)
        self._graced: dict[str, tuple[int, int]] = {}  # address -> (until (ms), its effort)
        self._nonces = ReplayCache(WINDOW_MS)
        self._solved: dict[bytes, set[bytes]] = {}  # seed -> nonces already spent
        self._refusals: Gcra[str] = Gcra(limits.rate("refusals_per_ip"))
        self._held: dict[str, int] = {}  # address -> until (ms)
        self._tickets: dict[tuple[bytes, int], bytes] = {}  # (key, ts) -> a good signature

    # ---------------------------------------------------------------- connections

    def open_connection(self, ip: str) -> Refusal | None:
        limits, counts = self.limits, self._connections
        prefix = prefix_of(ip)
        if (
            self._total >= limits.max_connections
            or counts.get(ip, 0) >= limits.connections_per_ip
            or counts.get(prefix, 0) >= limits.connections_per_prefix
        ):
            return Refusal(Code.TooManyConnections, "too many connections", Lane.anonymous)
        self._total += 1
        counts[ip] = counts.get(ip, 0) + 1
        if prefix != ip:
            counts[prefix] = counts.get(prefix, 0) + 1
        return None

    def close_connection(self, ip: str) -> None:
        self._total -= 1
        for name in {ip, prefix_of(ip)}:
            left = self._connections.get(name, 0) - 1
            if left > 0:
                self._connections[name] = left
            else:
                self._connections.pop(name, None)

    def refused(self, ip: str, code: Code, now_ms: int) -> None:
        """Count a refusal against its address; past its budget, the address is held."""
        if code in NOT_AN_OFFENCE:
            return
        _, wait_us = self._refusals.take(ip, now_ms * 1000)
        if not wait_us:
            return
        _keep(self._held, ip, now_ms + self.limits.hold_ms)

    def sweep(self, now_ms: int) -> None:
        """Forget the holds that ended (once a second)."""
        self._held = {ip: until for ip, until in self._held.items() if until > now_ms}

    @property
    def held_count(self) -> int:
        return len(self._held)

    @property
    def connections(self) -> int:
        return self._total

    def held_ms(self, ip: str, now_ms: int) -> int:
        """How long more nothing is read from ``ip`` (0: it is not held)."""
        return max(0, self._held.get(ip, 0) - now_ms)

    # ---------------------------------------------------------------- signed requests

    def signed_headers(
        self,
        get: Callable[[str], str | None],
        ip: str,
        now_ms: int,
        method: str = "GET",
        path: str = "/",
    ) -> Refusal | Pending:
        """The checks made before the body is read: nothing here checks a signature."""
        lane = Lane.verified
        try:
            raw, ts, nonce, signature = signature_headers(get)
        except Malformed as exc:
            return Refusal(Code.MalformedSignature, exc.message, lane, field=exc.field)
        key = self.keys.get(raw)
        if key is None:
            return Refusal(Code.UnknownKey, "no live key has this id", lane, field="stockade-key")
        rule = self.rules.first(Subject(method, path, ip, get, raw, lane.name), signed=True)
        if rule is not None:
            denied = _by_rule(rule, ip, now_ms, lane)
            if denied is not None:
                return denied
            lane = Lane[rule.target] if rule.target is not None else lane
        if ts < now_ms - WINDOW_MS:
            return Refusal(Code.Expired, f"signed more than {WINDOW_MS} ms ago", lane)
        if ts > now_ms + WINDOW_MS:
            return Refusal(Code.FromTheFuture, f"signed over {WINDOW_MS} ms ahead", lane)
        over = self._over_rate(raw, ip, now_ms)
        if over is not None:
            what, wait_us = over
            return Refusal(Code.RateLimited, f"this {what} sends too much", lane, _wait_s(wait_us))
        return Pending(key, ts, nonce, signature, self._is_proven(raw, ip, now_ms), lane)

    def _is_proven(self, raw: bytes, ip: str, now_ms: int) -> bool:
        return self._proven.get((raw, prefix_of(ip)), 0) > now_ms

    def _over_rate(self, raw: bytes, ip: str, now_ms: int) -> tuple[str, int] | None:
        """The rates a key's request takes before its signature is checked: what is over its
        rate ("address" or "key"), and for how long (us); None if neither is."""
        now_us = now_ms * 1000
        _, wait_us = self._signed_ip.take(ip, now_us)
        if wait_us:
            return "address", wait_us
        if self._is_proven(raw, ip, now_ms):
            _, wait_us = self._proven_key.take((raw, prefix_of(ip)), now_us)
        else:  # one budget for everywhere else: it bounds the signatures a flood makes edge check
            _, wait_us = self._key.take(raw, now_us)
        return ("key", wait_us) if wait_us else None

    def ticketed(self, ticket: Ticket, ip: str, now_ms: int) -> bool:
        """Whether a browser's session ticket puts its request in the verified lane: a live
        key, a current ticket, within the key's rates (taken before the signature is checked,
        as for a signed request), and a good signature, checked once per worker."""
        key = self.keys.get(ticket.key)
        if key is None or not now_ms - TICKET_MS <= ticket.ts <= now_ms + WINDOW_MS:
            return False
        if self._over_rate(ticket.key, ip, now_ms) is not None:
            return False
        if self._tickets.get((ticket.key, ticket.ts)) != ticket.signature:
            if not verify_ticket(key, self.core_key, ticket):
                return False
            _keep(self._tickets, (ticket.key, ticket.ts), ticket.signature)
        self.prove(ticket.key, ip, now_ms)
        return True

    def signed_body(
        self, pending: Pending, request: HttpRequest, ip: str, now_ms: int
    ) -> Refusal | Admitted:
        """The signature over the whole request, then its nonce: a good one makes the key
        proven from this prefix and the address known."""
        lane = Lane.verified
        if len(request.body) > MAX_HTTP_BODY:
            return Refusal(Code.Oversize, f"a signed body is at most {MAX_HTTP_BODY} bytes", lane)
        ok = verify_http(
            pending.key, self.core_key, request, pending.nonce, pending.ts, pending.signature
        )
        if not ok:
            return Refusal(Code.BadSignature, "the signature does not verify", lane)
        try:
            self._nonces.check_and_remember(pending.key.raw, pending.nonce, now_ms)
        except Replayed:
            return Refusal(Code.Replayed, "this nonce was used already", lane)
        except Overloaded:  # the replay cache is full: shed rather than forget nonces
            return Refusal(Code.Shed, "too many recent requests; retry shortly", lane)
        self.prove(pending.key.raw, ip, now_ms)
        return Admitted(pending.lane)

    def prove(self, key: bytes, ip: str, now_ms: int) -> None:
        """``key`` signed a good request from ``ip``, or was just made there (a log-in's session
        key, an added key): its prefix gets the key's own budget, and the address is known."""
        until = now_ms + self.limits.known_s * 1000
        _keep(self._proven, (key, prefix_of(ip)), until)
        _keep(self._known, ip, until)

    # ---------------------------------------------------------------- everything else

    def unsigned(
        self,
        ip: str,
        solution: PowSolution | None,
        now_ms: int,
        get: Callable[[str], str | None] = lambda _: None,
        method: str = "GET",
        path: str = "/",
        ticket: Ticket | None = None,
    ) -> Refusal | Admitted:
        """A request signed by no key: its session ticket if it has a good one, the rules,
        then (without a ticket) its address's rate and, in the anonymous lane under attack
        or if a rule says so, its puzzle."""
        key = ticket.key if ticket is not None and self.ticketed(ticket, ip, now_ms) else None
        if key is not None:
            lane = Lane.verified
        else:
            lane = Lane.known if self.is_known(ip, now_ms) else Lane.anonymous
        signed = key is not None
        rule = self.rules.first(Subject(method, path, ip, get, key, lane.name), signed=signed)
        if rule is not None:
            denied = _by_rule(rule, ip, now_ms, lane)
            if denied is not None:
                return denied
            if rule.action is Action.allow:
                return Admitted(lane)
            lane = Lane[rule.target] if rule.target is not None else lane
        if signed:  # its key's rates were taken, as for a signed request
            return Admitted(lane)
        _, wait_us = self._anonymous.take(ip, now_ms * 1000)
        if wait_us:
            return Refusal(Code.RateLimited, "this address sends too much", lane, _wait_s(wait_us))
        challenged = rule is not None and rule.action is Action.challenge
        if not challenged and (lane is not Lane.anonymous or not self.pressure.on):
            return Admitted(lane)
        until, effort = self._graced.get(ip, (0, 0))
        if until > now_ms:  # solved a puzzle moments ago: no other yet, ranked by that effort
            return Admitted(lane, effort)
        bits = max(self.pressure.bits, self.limits.pow_start_bits)
        challenge = PowChallenge(self.seed(now_ms), bits)
        if solution is None:
            return Refusal(Code.ProofOfWorkRequired, "solve the puzzle", lane, challenge=challenge)
        refusal = self._check_solution(solution, bits, now_ms)
        if refusal is not None:
            return Refusal(Code.BadProofOfWork, refusal, lane, challenge=challenge)
        _keep(self._graced, ip, (now_ms + self.limits.pow_grace_s * 1000, solution.effort))
        return Admitted(lane, solution.effort)

    def _check_solution(self, solution: PowSolution, bits: int, now_ms: int) -> str | None:
        if solution.seed not in (self.seed(now_ms), self.seed(now_ms - SEED_MS)):
            return "the puzzle's seed is not current"
        if solution.effort < bits:
            return f"the solution has fewer than {bits} zero bits"
        spent = self._solved.setdefault(solution.seed, set())
        if solution.nonce in spent:
            return "this solution was used already"
        spent.add(solution.nonce)
        if len(self._solved) > 2:  # forget the spent nonces of seeds no longer accepted
            current = {self.seed(now_ms), self.seed(now_ms - SEED_MS)}
            self._solved = {s: n for s, n in self._solved.items() if s in current}
        return None

    def seed(self, now_ms: int) -> bytes:
        period = (now_ms // SEED_MS).to_bytes(8, "big")
        return hashlib.sha256(b"stockade/pow/seed\x00" + self.seed_base + period).digest()[:16]

    def is_known(self, ip: str, now_ms: int) -> bool:
        return self._known.get(ip, 0) > now_ms


def _by_rule(rule: Rule, ip: str, now_ms: int, lane: Lane) -> Refusal | None:
    """The refusal a deny or limit rule makes, if it makes one."""
    if rule.action is Action.deny:
        return Refusal(Code.RuleDenied, f"refused by rule {rule.name}", lane)
    if rule.action is Action.limit and (wait_s := rule.over_limit(ip, now_ms)):
        return Refusal(Code.RateLimited, f"over the limit of rule {rule.name}", lane, wait_s)
    return None


V = TypeVar("V")
H = TypeVar("H", bound=Hashable)


def _keep(table: dict[H, V], key: H, value: V) -> None:
    """Set ``key``, as the newest entry (a dict's order is its age); past MAX_KNOWN entries
    the oldest is forgotten to make room for a new one."""
    if table.pop(key, None) is None and len(table) >= MAX_KNOWN:
        del table[next(iter(table))]
    table[key] = value

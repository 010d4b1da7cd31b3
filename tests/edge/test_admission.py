"""Edge's admission decisions, stage by stage, without sockets: each hostile input gets its own
refusal, and the checks that cost a signature come last."""

from __future__ import annotations

import base64
import contextlib

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from stockade.edge import (
    Admission,
    Admitted,
    Code,
    KeySet,
    Lane,
    Limits,
    Pending,
    Pressure,
    Refusal,
)
from stockade.edge import _admission as admission_module
from stockade.keys import PublicKey, generate
from stockade.wire import (
    HEADERS,
    TICKET_MS,
    WINDOW_MS,
    HttpRequest,
    PowChallenge,
    PowFormatError,
    PowSolution,
    Ticket,
    TicketFormatError,
    make_ticket,
    parse_pow_challenge,
    parse_pow_cookie,
    parse_pow_solution,
    parse_ticket,
    sign_http,
    solve_pow,
    verify_ticket,
)

NOW = 1_800_000_000_000
CORE = generate("core")
USER = generate("user")
REQUEST = HttpRequest("GET", "/api/v1/balances", "", b"")


def _admission(**limits: object) -> Admission:
    keys = KeySet()
    keys.add(USER.public.raw)
    return Admission(msgspec.convert(limits, Limits), keys, CORE.public.raw, b"\x01" * 16)


def _headers(ts: int = NOW, nonce: bytes = b"\x07" * 16) -> dict[str, str]:
    signature = sign_http(USER, CORE.public, REQUEST, nonce, ts)
    values = (USER.public.hex(), str(ts), nonce.hex(), base64.b64encode(signature).decode())
    return dict(zip(HEADERS, values, strict=True))


def _code(verdict: object) -> Code | None:
    return verdict.code if isinstance(verdict, Refusal) else None


def _pending(admission: Admission, headers: dict[str, str], ip: str = "10.0.0.1") -> Pending:
    verdict = admission.signed_headers(headers.get, ip, NOW)
    assert isinstance(verdict, Pending), verdict
    return verdict


def test_a_good_signed_request_is_verified_and_makes_its_address_known() -> None:
    admission = _admission()
    pending = _pending(admission, _headers())
    assert not pending.proven
    assert admission.signed_body(pending, REQUEST, "10.0.0.1", NOW) == Admitted(Lane.verified)
    assert admission.is_known("10.0.0.1", NOW + 1)
    assert _pending(admission, _headers(nonce=b"\x08" * 16)).proven


@pytest.mark.parametrize(
    ("change", "code", "field"),
    [
        ({"stockade-key": "zz"}, Code.MalformedSignature, "stockade-key"),
        ({"stockade-timestamp": "-1"}, Code.MalformedSignature, "stockade-timestamp"),
        ({"stockade-nonce": "00"}, Code.MalformedSignature, "stockade-nonce"),
        ({"stockade-signature": "AAAA"}, Code.MalformedSignature, "stockade-signature"),
        ({"stockade-key": generate("stranger").public.hex()}, Code.UnknownKey, "stockade-key"),
        ({"stockade-timestamp": str(NOW - 60_000)}, Code.Expired, None),
        ({"stockade-timestamp": str(NOW + 60_000)}, Code.FromTheFuture, None),
    ],
)
def test_bad_headers_are_refused_before_any_signature_check(
    change: dict[str, str], code: Code, field: str | None
) -> None:
    verdict = _admission().signed_headers((_headers() | change).get, "10.0.0.1", NOW)
    assert isinstance(verdict, Refusal)
    assert (verdict.code, verdict.field, verdict.lane) == (code, field, Lane.verified)
    assert verdict.status in (400, 401)


def test_a_bad_signature_and_a_replay_are_refused_after_the_body() -> None:
    admission = _admission()
    forged = HttpRequest("GET", "/api/v1/orders", "", b"")  # not what was signed
    verdict = admission.signed_body(_pending(admission, _headers()), forged, "10.0.0.1", NOW)
    assert _code(verdict) is Code.BadSignature
    assert not admission.is_known("10.0.0.1", NOW)
    pending = _pending(admission, _headers())
    assert isinstance(admission.signed_body(pending, REQUEST, "10.0.0.1", NOW), Admitted)
    again = admission.signed_body(_pending(admission, _headers()), REQUEST, "10.0.0.1", NOW)
    assert _code(again) is Code.Replayed


def test_bad_signatures_on_a_real_key_from_elsewhere_do_not_spend_its_owners_budget() -> None:
    """The flood drains the key's budget for addresses it never signed from; its owner, who
    signed from their own prefix before (or made the key there), has a budget of their own."""
    admission = _admission(per_key={"per_s": 10, "burst": 5})
    owner = _pending(admission, _headers(nonce=b"\x01" * 16), ip="10.0.0.1")
    assert isinstance(admission.signed_body(owner, REQUEST, "10.0.0.1", NOW), Admitted)
    admission.prove(USER.public.raw, "10.7.7.7", NOW)  # a log-in there just made it
    refused = 0
    for i in range(50):
        verdict = admission.signed_headers(_headers(nonce=bytes([i]) * 16).get, f"192.0.{i}.9", NOW)
        refused += isinstance(verdict, Refusal) and verdict.code is Code.RateLimited
    assert refused == 50 - 4  # the burst of 5, one of which the owner's first request spent
    for i in range(5):
        for ip in ("10.0.0.2", "10.7.7.8"):
            assert _pending(admission, _headers(nonce=bytes([100 + i]) * 16), ip=ip).proven


def test_an_address_over_its_rate_is_refused_with_a_wait() -> None:
    admission = _admission(signed_per_ip={"per_s": 1, "burst": 2})
    verdicts = [admission.signed_headers(_headers().get, "10.0.0.1", NOW) for _ in range(3)]
    last = verdicts[-1]
    assert _code(last) is Code.RateLimited
    assert isinstance(last, Refusal)
    assert last.status == 429
    assert last.retry_after_s == 1


def test_connections_are_capped_per_address_and_per_prefix() -> None:
    admission = _admission(connections_per_ip=2, connections_per_prefix=3)
    assert admission.open_connection("10.0.0.1") is None
    assert admission.open_connection("10.0.0.1") is None
    refused = admission.open_connection("10.0.0.1")
    assert _code(refused) is Code.TooManyConnections
    assert admission.open_connection("10.0.0.2") is None
    assert admission.open_connection("10.0.0.3") is not None  # the /24 is full
    assert admission.open_connection("10.0.1.3") is None
    admission.close_connection("10.0.0.1")
    assert admission.open_connection("10.0.0.3") is None


def test_anonymous_requests_need_a_puzzle_only_under_attack() -> None:
    admission = _admission(pow_start_bits=8)
    assert admission.unsigned("10.0.0.1", None, NOW) == Admitted(Lane.anonymous)
    admission.pressure.count_shed(Lane.anonymous)
    admission.pressure.tick(NOW)
    asked = admission.unsigned("10.0.0.1", None, NOW)
    assert _code(asked) is Code.ProofOfWorkRequired
    assert isinstance(asked, Refusal)
    assert asked.challenge is not None
    assert (asked.challenge.bits, asked.status) == (8, 429)
    solution = solve_pow(asked.challenge)
    admitted = admission.unsigned("10.0.0.1", solution, NOW)
    assert admitted == Admitted(Lane.anonymous, solution.effort)
    # For a few seconds it needs no other puzzle, but stays anonymous, ranked by that effort.
    assert admission.unsigned("10.0.0.1", None, NOW + 1_000) == admitted
    assert not admission.is_known("10.0.0.1", NOW + 1_000)
    reused = admission.unsigned("10.0.0.2", solution, NOW)
    assert _code(reused) is Code.BadProofOfWork
    stale = solve_pow(PowChallenge(b"\x00" * 16, 8))
    assert isinstance(admission.unsigned("10.0.0.3", stale, NOW), Refusal)
    tries = (PowSolution(asked.challenge.seed, n.to_bytes(8, "big")) for n in range(999))
    weak = next(s for s in tries if s.effort < 8)
    assert isinstance(admission.unsigned("10.0.0.4", weak, NOW), Refusal)


def test_a_known_address_skips_the_puzzle() -> None:
    admission = _admission(attack="on")
    pending = _pending(admission, _headers())
    admission.signed_body(pending, REQUEST, "10.0.0.1", NOW)
    assert admission.unsigned("10.0.0.1", None, NOW) == Admitted(Lane.known)


def test_attack_mode_has_hysteresis_and_difficulty_follows_the_shedding() -> None:
    pressure = Pressure(Limits(pow_start_bits=10, pow_max_bits=12, calm_s=3))
    for _ in range(4):
        pressure.count_shed(Lane.anonymous)
        pressure.tick(NOW)
    assert (pressure.on, pressure.bits) == (True, 12)  # on at 10, then +1 a second, capped
    pressure.tick(NOW)
    pressure.tick(NOW)
    assert (pressure.on, pressure.bits) == (True, 10)
    pressure.tick(NOW)
    assert (pressure.on, pressure.bits) == (False, 0)
    assert [on for _, on in pressure.switches] == [True, False]


@given(st.binary(min_size=16, max_size=16), st.integers(1, 10))
def test_a_solved_puzzle_meets_its_bits_and_its_headers_round_trip(seed: bytes, bits: int) -> None:
    challenge = PowChallenge(seed, bits)
    assert parse_pow_challenge(challenge.header()) == challenge
    solution = solve_pow(challenge)
    assert solution.effort >= bits
    assert parse_pow_solution(solution.header()) == solution
    assert parse_pow_cookie(solution.cookie()) == solution


@given(st.text(max_size=300))
def test_puzzle_headers_parse_or_are_refused_precisely(text: str) -> None:
    for parse in (parse_pow_challenge, parse_pow_solution, parse_pow_cookie):
        with contextlib.suppress(PowFormatError):
            parse(text)


def test_an_address_refused_past_its_budget_is_held_and_edges_own_want_of_room_never_counts() -> (
    None
):
    admission = _admission(refusals_per_ip={"per_s": 5, "burst": 3}, hold_ms=700)
    for _ in range(10):  # shedding is edge's doing, not the client's
        admission.refused("10.0.0.1", Code.Shed, NOW)
    assert admission.held_ms("10.0.0.1", NOW) == 0
    for _ in range(3):
        admission.refused("10.0.0.1", Code.BadSignature, NOW)
    assert admission.held_ms("10.0.0.1", NOW) == 0  # within its burst
    admission.refused("10.0.0.1", Code.RateLimited, NOW)
    assert admission.held_ms("10.0.0.1", NOW + 100) == 600
    assert admission.held_ms("10.0.0.1", NOW + 700) == 0
    assert admission.held_ms("10.0.0.2", NOW) == 0  # its neighbours are not held


# ---------------------------------------------------------------- session tickets


def test_a_ticket_puts_a_page_load_in_the_verified_lane_and_is_checked_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    admission = _admission(attack="on")
    checked: list[Ticket] = []
    real = admission_module.verify_ticket

    def counting(key: PublicKey, recipient: bytes, ticket: Ticket) -> bool:
        checked.append(ticket)
        return real(key, recipient, ticket)

    monkeypatch.setattr(admission_module, "verify_ticket", counting)
    ticket = make_ticket(USER.secret, CORE.public.raw, NOW - 1_000)
    for _ in range(3):  # a page, its style and its script
        assert admission.unsigned("10.0.0.1", None, NOW, ticket=ticket) == Admitted(Lane.verified)
    assert checked == [ticket]
    assert admission.is_known("10.0.0.1", NOW + 1)


@pytest.mark.parametrize(
    "ticket",
    [
        make_ticket(USER.secret, generate("elsewhere").public.raw, NOW),  # another site's
        make_ticket(USER.secret, CORE.public.raw, NOW - TICKET_MS - 1),  # ended
        make_ticket(USER.secret, CORE.public.raw, NOW + WINDOW_MS + 1),  # from the future
        make_ticket(generate("stranger").secret, CORE.public.raw, NOW),  # no live key
        Ticket(USER.public.raw, NOW, b"\x00" * 64),  # forged
    ],
    ids=["other-site", "ended", "future", "unknown-key", "forged"],
)
def test_a_bad_ticket_is_no_ticket(ticket: Ticket) -> None:
    """Not a refusal (a stale cookie must not keep a browser from the page): the puzzle."""
    admission = _admission(attack="on")
    assert _code(admission.unsigned("10.0.0.1", None, NOW, ticket=ticket)) is (
        Code.ProofOfWorkRequired
    )
    assert not admission.is_known("10.0.0.1", NOW + 1)


def test_forged_tickets_on_a_live_key_cost_a_check_only_within_the_keys_budget(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    admission = _admission(attack="on", per_key={"per_s": 1, "burst": 5})
    checks = []
    monkeypatch.setattr(admission_module, "verify_ticket", lambda *a: checks.append(a) or False)
    for n in range(50):
        forged = Ticket(USER.public.raw, NOW - n, b"\x00" * 64)
        assert isinstance(admission.unsigned(f"10.9.{n}.1", None, NOW, ticket=forged), Refusal)
    assert len(checks) == 5


@given(st.binary(min_size=32, max_size=32), st.integers(0, 10**15 - 1))
def test_tickets_round_trip(key: bytes, ts: int) -> None:
    ticket = make_ticket(USER.secret, key, ts)
    assert parse_ticket(ticket.cookie()) == ticket
    assert verify_ticket(USER.public, key, ticket)


@given(st.text(max_size=300))
def test_ticket_cookies_parse_or_are_refused_precisely(text: str) -> None:
    with contextlib.suppress(TicketFormatError):
        ticket = parse_ticket(text)
        assert ticket.cookie() == text  # one spelling only

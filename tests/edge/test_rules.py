"""The operator's rules: strict parsing with precise errors, and each action as admission applies
it, with dry runs that only count."""

from __future__ import annotations

import base64
import contextlib

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from stockade.edge import Admission, Admitted, Code, KeySet, Lane, Limits, Pending, Refusal
from stockade.edge._rules import RulesError, parse_rules
from stockade.keys import generate
from stockade.wire import HEADERS, HttpRequest, sign_http, solve_pow

NOW = 1_800_000_000_000
CORE = generate("core")
USER = generate("user")


def _admission(rules: str, **limits: object) -> Admission:
    keys = KeySet()
    keys.add(USER.public.raw)
    admission = Admission(msgspec.convert(limits, Limits), keys, CORE.public.raw, b"\x01" * 16)
    admission.rules = parse_rules(rules.encode())
    return admission


def _signed(nonce: bytes = b"\x07" * 16) -> dict[str, str]:
    request = HttpRequest("GET", "/api/v1/balances", "", b"")
    signature = sign_http(USER, CORE.public, request, nonce, NOW)
    values = (USER.public.hex(), str(NOW), nonce.hex(), base64.b64encode(signature).decode())
    return dict(zip(HEADERS, values, strict=True))


def _code(verdict: object) -> Code | None:
    return verdict.code if isinstance(verdict, Refusal) else None


def test_deny_matches_on_every_field_it_names_and_the_first_match_acts() -> None:
    admission = _admission(
        """
rules:
  - name: scrapers
    match: {path: "/api/v1/trades*", method: [GET], ip: ["203.0.113.0/24"],
            header: {user-agent: "*scrapy*"}}
    action: deny
  - name: everyone
    match: {path: "/api/v1/trades*"}
    action: allow
"""
    )
    scraper = {"user-agent": "Mozilla Scrapy/2.11"}.get
    denied = admission.unsigned("203.0.113.7", None, NOW, scraper, "GET", "/api/v1/trades/BTC")
    assert (_code(denied), isinstance(denied, Refusal) and denied.status) == (Code.RuleDenied, 403)
    assert isinstance(denied, Refusal)
    assert "scrapers" in denied.message
    for ip, get, method in (
        ("203.0.113.7", {"user-agent": "curl"}.get, "GET"),  # another header
        ("198.51.100.1", scraper, "GET"),  # another network
        ("203.0.113.7", scraper, "POST"),  # another method
    ):
        assert isinstance(
            admission.unsigned(ip, None, NOW, get, method, "/api/v1/trades"), Admitted
        )
    counts = admission.rules.counts()
    assert counts == {"scrapers": (1, 1), "everyone": (3, 3)}


def test_allow_skips_the_puzzle_and_the_address_rate_and_challenge_asks_it_outside_attack() -> None:
    admission = _admission(
        """
rules:
  - {name: monitor, match: {ip: ["10.9.0.0/16"]}, action: allow}
  - {name: signup, match: {path: /api/v1/auth/signup}, action: challenge}
""",
        attack="on",
        anonymous_per_ip={"per_s": 1, "burst": 1},
    )
    for _ in range(5):
        assert admission.unsigned("10.9.1.1", None, NOW) == Admitted(Lane.anonymous)
    assert _code(admission.unsigned("10.8.1.1", None, NOW)) is Code.ProofOfWorkRequired
    calm = _admission("rules: [{name: signup, match: {path: /signup}, action: challenge}]")
    asked = calm.unsigned("10.0.0.1", None, NOW, path="/signup")
    assert _code(asked) is Code.ProofOfWorkRequired
    assert isinstance(asked, Refusal)
    assert asked.challenge is not None
    solved = calm.unsigned("10.0.0.1", solve_pow(asked.challenge), NOW, path="/signup")
    assert isinstance(solved, Admitted)
    assert calm.unsigned("10.0.0.2", None, NOW, path="/markets") == Admitted(Lane.anonymous)


def test_signed_requests_are_never_challenged_but_may_be_denied_limited_or_moved() -> None:
    key = USER.public.hex()
    admission = _admission(
        f"""
rules:
  - {{name: puzzle, match: {{path: "/api/*"}}, action: challenge}}
  - {{name: slow, match: {{key: ["{key}"]}}, action: limit, limit: {{per_s: 1, burst: 2}}}}
"""
    )
    verdicts = [admission.signed_headers(_signed().get, "10.0.0.1", NOW, "GET", "/api/v1/x")]
    verdicts += [admission.signed_headers(_signed().get, "10.0.0.1", NOW) for _ in range(2)]
    assert [_code(v) for v in verdicts] == [None, None, Code.RateLimited]
    assert admission.rules.counts() == {"puzzle": (0, 0), "slow": (3, 3)}
    moved = _admission(
        f"rules: [{{name: bulk, match: {{key: ['{key}']}}, action: lane, lane: known}}]"
    )
    pending = moved.signed_headers(_signed().get, "10.0.0.1", NOW)
    assert isinstance(pending, Pending)
    assert pending.lane is Lane.known
    request = HttpRequest("GET", "/api/v1/balances", "", b"")
    assert moved.signed_body(pending, request, "10.0.0.1", NOW) == Admitted(Lane.known)
    denied = _admission(f"rules: [{{name: gone, match: {{key: ['{key}']}}, action: deny}}]")
    assert _code(denied.signed_headers(_signed().get, "10.0.0.1", NOW)) is Code.RuleDenied


def test_a_dry_run_counts_what_it_would_do_and_does_nothing() -> None:
    for text in (
        "rules: [{name: all, match: {}, action: deny, dry_run: true}]",
        "dry_run: true\nrules: [{name: all, action: deny}]",
    ):
        admission = _admission(text)
        assert isinstance(admission.unsigned("10.0.0.1", None, NOW), Admitted)
        assert admission.rules.counts() == {"all": (1, 0)}


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("rules: [{name: a, action: explode}]", "action"),
        ("rules: [{name: a, action: deny, colour: red}]", "colour"),
        ("rules: [{name: a, action: deny}, {name: a, action: allow}]", "name of its own"),
        ("rules: [{name: 'a b', action: deny}]", "letters"),
        ("rules: [{name: a, action: lane}]", "lane"),
        ("rules: [{name: a, action: deny, lane: known}]", "lane"),
        ("rules: [{name: a, action: limit}]", "limit"),
        ("rules: [{name: a, action: challenge, match: {lane: verified}}]", "never challenged"),
        ("rules: [{name: a, action: deny, match: {ip: [300.1.2.3]}}]", "300.1.2.3"),
        ("rules: [{name: a, action: deny, match: {key: [abcd]}}]", "64 hex"),
        ("rules: [{name: a, action: limit, limit: {per_s: 0, burst: 1}}]", "rate"),
        ("rules: {a: 1}", "array"),
        ("rules: [", "YAML"),
    ],
)
def test_a_bad_rules_file_is_refused_precisely(text: str, says: str) -> None:
    with pytest.raises(RulesError) as caught:
        parse_rules(text.encode())
    assert says.lower() in str(caught.value).lower()


def test_too_many_rules_are_refused_and_an_empty_file_has_none() -> None:
    many = "rules:\n" + "".join(f"  - {{name: r{i}, action: allow}}\n" for i in range(257))
    with pytest.raises(RulesError, match="at most 256"):
        parse_rules(many.encode())
    assert parse_rules(b"").rules == []


@given(st.binary(max_size=400))
def test_any_bytes_parse_or_are_refused_as_a_rules_error(data: bytes) -> None:
    with contextlib.suppress(RulesError):
        parse_rules(data)

"""Passkeys over the HTTP API, against a running site: a session adds one, the passkey alone
then logs a fresh key in, a removed one no longer does, and bad input gets its precise error."""

from __future__ import annotations

import json
from collections.abc import Callable
from urllib.parse import urlsplit

from stockade.client import HttpApi
from stockade.wire import to_b64url
from tests.live import LiveSite
from tests.passkey_device import PasskeyDevice
from tests.processes import http_request
from tests.web.test_security import PASSWORD, refusal


def _device(live: LiveSite) -> PasskeyDevice:
    return PasskeyDevice("localhost", f"http://localhost:{urlsplit(live.web).port}")


def test_a_passkey_logs_in_over_http_until_it_is_removed(
    live: LiveSite, session: Callable[[str], HttpApi]
) -> None:
    owner = session("pk.owner")
    owner.sign_up("pk.owner", PASSWORD)
    account = owner.log_in("pk.owner", PASSWORD)
    device = _device(live)
    options = owner.passkey_options()
    assert (options.rp_id, options.username) == ("localhost", "pk.owner")
    owner.add_passkey(*device.create(options.challenge), "laptop")
    assert [p.credential_id for p in owner.passkeys().passkeys] == [device.credential_id]
    later = session("pk.later")
    assert later.log_in_with_passkey(device.get) == account
    assert later.balances() == {}
    assert [row.refused for row in later.logins().logins[:2]] == [None, None]
    # another origin's answer (a phishing page's) opens nothing
    phished = session("pk.phished")
    wrong = PasskeyDevice("localhost", "http://localhost:1")
    wrong.key, wrong.credential_id, wrong.count = device.key, device.credential_id, device.count
    assert refusal(lambda: phished.log_in_with_passkey(wrong.get))[:2] == (422, "BAD_PASSKEY")
    assert later.logins().logins[0].refused == "passkey"  # and its owner sees the attempt
    owner.remove_passkey(device.credential_id)
    assert owner.passkeys().passkeys == []
    gone = session("pk.gone")
    assert refusal(lambda: gone.log_in_with_passkey(device.get))[:2] == (422, "BAD_PASSKEY")


def test_bad_passkey_input_gets_its_precise_error(live: LiveSite) -> None:
    key = "ab" * 32
    good = {
        "session_key": key,
        "credential_id": to_b64url(bytes(16)),
        "client_data": to_b64url(b"{" * 40),
        "authenticator_data": to_b64url(bytes(37)),
        "signature": to_b64url(bytes(64)),
    }
    cases: list[tuple[str, bytes, str, int, str, str | None]] = [
        (
            "/api/v1/auth/passkey",
            json.dumps(good | {"signature": "no/t+url"}).encode(),
            "application/json",
            400,
            "Malformed",
            "signature",
        ),
        (
            "/api/v1/auth/passkey",
            json.dumps(good | {"session_key": "00"}).encode(),
            "application/json",
            400,
            "Malformed",
            "session_key",
        ),
        (
            "/api/v1/auth/passkey",
            json.dumps(good).encode(),
            "text/plain",
            415,
            "UnsupportedMediaType",
            "content-type",
        ),
        ("/api/v1/auth/passkey", b"{" * 9000, "application/json", 413, "Oversize", "body"),
        (
            "/api/v1/auth/passkey",
            json.dumps(good | {"extra": 1}).encode(),
            "application/json",
            400,
            "Malformed",
            "extra",
        ),
        (
            "/api/v1/auth/passkey",
            json.dumps(good | {"signature": "AA"}).encode(),
            "application/json",
            400,
            "Malformed",
            "signature",
        ),
        (
            "/api/v1/auth/passkey",
            json.dumps(good).encode(),
            "application/json",
            422,
            "BAD_PASSKEY",
            "credential_id",
        ),
        (
            "/api/v1/auth/passkey/challenge",
            b'{"session_key": 5}',
            "application/json",
            400,
            "Malformed",
            "session_key",
        ),
    ]
    for path, body, media, status, name, field in cases:
        got, headers, raw = http_request(
            live.web, "POST", path, body, headers={"Content-Type": media}
        )
        error = json.loads(raw)["error"]
        assert (got, error["name"], error["field"]) == (status, name, field), (path, body[:80])
        assert headers["Content-Type"] == "application/json"

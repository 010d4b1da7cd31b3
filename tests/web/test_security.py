"""Two-factor log-in and the log-in history over the HTTP API, against a running site: a
script's session turns two-factor on with an authenticator's code, after which log-ins need a
current code, each code works once, bad input gets its precise error, and every attempt shows
in the owner's history with where it came from."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import pyotp
import pytest

from stockade.client import ApiError, HttpApi, Refused
from tests.live import LiveSite, signed_raw

PASSWORD = "a long enough password"


def code_at(secret: str, seconds: float) -> str:
    return pyotp.TOTP(secret).at(seconds)


def refusal(call: Callable[[], object]) -> tuple[int | None, str, str | None]:
    """Status (None: core's signed refusal), name and field of the refusal ``call`` meets."""
    with pytest.raises((ApiError, Refused)) as caught:
        call()
    if isinstance(caught.value, Refused):
        return None, caught.value.info.name, caught.value.info.field
    return caught.value.status, caught.value.name, caught.value.field


def test_two_factor_log_in_over_http(session: Callable[[str], HttpApi]) -> None:
    first = session("tfa-1")
    first.sign_up("tfa.http", PASSWORD)
    account = first.log_in("tfa.http", PASSWORD)
    offer = first.totp_secret()
    assert f"secret={offer.secret}" in offer.uri
    wrong = f"{(int(code_at(offer.secret, time.time())) + 1) % 10**6:06d}"
    assert refusal(lambda: first.enable_totp(wrong)) == (None, "BAD_TOTP", "code")
    assert refusal(lambda: first.enable_totp("12345")) == (None, "Malformed", "code")
    assert not first.logins().two_factor  # refusals changed nothing
    first.enable_totp(code_at(offer.secret, time.time()))
    assert first.logins().two_factor

    second = session("tfa-2")
    assert refusal(lambda: second.log_in("tfa.http", PASSWORD)) == (422, "TOTP_REQUIRED", "totp")
    assert refusal(lambda: second.log_in("tfa.http", PASSWORD, "12ab56")) == (
        400,
        "Malformed",
        "totp",
    )
    assert refusal(lambda: second.log_in("tfa.http", "a wrong password", "000000")) == (
        422,
        "BAD_CREDENTIALS",
        None,
    )
    ahead = code_at(offer.secret, time.time() + 30)  # the next step: this one's code is spent
    assert second.log_in("tfa.http", PASSWORD, ahead) == account
    third = session("tfa-3")
    assert refusal(lambda: third.log_in("tfa.http", PASSWORD, ahead))[1] == "BAD_TOTP"

    history = second.logins()
    assert [row.refused for row in history.logins][:5] == [
        "code",
        None,
        "password",
        "code_missing",
        None,
    ]
    assert history.logins[1].session_key == second.identity.public.raw
    assert history.logins[0].client.startswith("127.0.0.1")
    assert len(first.logins(limit=2).logins) == 2

    new = "a brand new passphrase"
    assert refusal(lambda: second.change_password(PASSWORD, new))[1] == "TOTP_REQUIRED"
    assert refusal(lambda: second.change_password(PASSWORD, "short", "123456"))[1] == "Malformed"

    # without two-factor, the current password is enough
    plain = session("pw-1")
    plain.sign_up("pw.http", PASSWORD)
    plain_account = plain.log_in("pw.http", PASSWORD)
    assert refusal(lambda: plain.change_password("not the password", new))[1] == "BAD_CREDENTIALS"
    plain.change_password(PASSWORD, new)
    assert refusal(lambda: session("pw-2").log_in("pw.http", PASSWORD))[1] == "BAD_CREDENTIALS"
    assert session("pw-3").log_in("pw.http", new) == plain_account


def test_the_secret_comes_with_a_qr_code(session: Callable[[str], HttpApi]) -> None:
    api = session("qr-1")
    api.sign_up("qr.http", PASSWORD)
    api.log_in("qr.http", PASSWORD)
    status, value, signed_reply = api._send(*signed_raw(api, "POST", "/api/v1/account/2fa/secret"))
    assert status == 200
    assert isinstance(value, dict)
    rows = value["qr"]
    assert len(rows) == len(rows[0]) >= 21 + 8  # a square, version 1 or more, quiet zone of 4
    assert set("".join(rows)) == {"0", "1"}
    assert rows[0] == "0" * len(rows)  # the quiet zone is light
    assert value["uri"].startswith("otpauth://totp/")
    assert json.dumps(value).count(value["secret"]) == 2  # in ``secret`` and in the URI only
    assert signed_reply is not None  # core's own answer, to check: web added only the QR code


def test_an_api_key_cannot_touch_two_factor(live: LiveSite) -> None:
    with live.api("alice") as alice:  # an API key, of an account an operator opened
        assert refusal(alice.totp_secret)[1] == "NOT_A_SESSION"
        assert refusal(lambda: alice.disable_totp("123456"))[1] == "NOT_A_SESSION"
        assert alice.logins().logins == []

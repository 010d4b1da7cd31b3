"""Two-factor log-in (TOTP) and the log-in history, in the sans-IO core.

What must hold: once an account turns two-factor on, no session opens without a current code
from its authenticator; a code works once; an API key cannot turn it off; wrong codes are locked
out like wrong passwords; every log-in and refused attempt is in the owner's history, in order;
and all of it replays to the same state.
"""

from __future__ import annotations

import base64

import pyotp
import pytest
from hypothesis import given
from hypothesis import strategies as st

from stockade.core import JournalRecord
from stockade.core._null import MemoryStorage
from stockade.core._people import MAX_FAILURES, RECORDED_REFUSALS_PER_MINUTE
from stockade.core._totp import STEP_MS, matching_step
from stockade.keys import Identity
from stockade.wire import (
    AddKeyRequest,
    BalancesRequest,
    ChangePasswordRequest,
    DisableTotpRequest,
    EnableTotpRequest,
    ErrorInfo,
    LogInRequest,
    LogIns,
    LogInsRequest,
    Receipt,
    SessionOpened,
    TotpSecret,
    TotpSecretRequest,
)
from tests.conftest import fixed_identity
from tests.core.helpers import PASSWORD, CoreHarness, finish_work, sign_up


def code_at(secret: str, ms: int) -> str:
    """What an authenticator app shows at ``ms`` (pyotp's TOTP, seconds-based)."""
    return pyotp.TOTP(secret).at(ms / 1000)


def log_in(h: CoreHarness, name: str, key: Identity, code: str | None = None) -> object:
    request = LogInRequest(name, PASSWORD, key.public.raw, code, "127.0.0.1 test-browser")
    outcome = h.send(fixed_identity("browser"), request)
    return outcome.reply if outcome.work is None else finish_work(h, outcome)


def session(h: CoreHarness, name: str) -> Identity:
    key = fixed_identity(f"{name}-first-session")
    assert isinstance(log_in(h, name, key), SessionOpened)
    return key


def turned_on(h: CoreHarness, name: str) -> tuple[Identity, str]:
    """Sign ``name`` up, log in and turn two-factor on; the session and the base32 secret."""
    sign_up(h, name)
    first = session(h, name)
    offer = h.ok(first, TotpSecretRequest())
    assert isinstance(offer, TotpSecret)
    assert offer.uri.startswith("otpauth://totp/")
    assert f"secret={offer.secret}" in offer.uri
    enabled = h.ok(first, EnableTotpRequest(code_at(offer.secret, h.now_ms)))
    assert isinstance(enabled, Receipt)
    h.now_ms += STEP_MS  # the code that turned it on is spent: move to the next step
    return first, offer.secret


def history(h: CoreHarness, key: Identity) -> LogIns:
    outcome = h.send(key, LogInsRequest())
    assert outcome.query is not None
    storage = MemoryStorage()
    storage.write_batch(h.journal)
    found = outcome.query(storage)
    assert isinstance(found, LogIns)
    return found


@pytest.fixture
def h() -> CoreHarness:
    return CoreHarness()


def refused(outcome: object) -> str:
    assert isinstance(outcome, ErrorInfo), outcome
    return outcome.name


def test_once_on_a_log_in_needs_a_current_code_and_each_code_works_once(h: CoreHarness) -> None:
    _, secret = turned_on(h, "tess")
    assert refused(log_in(h, "tess", fixed_identity("t1"))) == "TOTP_REQUIRED"
    wrong = f"{(int(code_at(secret, h.now_ms)) + 1) % 10**6:06d}"
    assert refused(log_in(h, "tess", fixed_identity("t2"), wrong)) == "BAD_TOTP"
    now_code = code_at(secret, h.now_ms)
    assert isinstance(log_in(h, "tess", fixed_identity("t3"), now_code), SessionOpened)
    assert refused(log_in(h, "tess", fixed_identity("t4"), now_code)) == "BAD_TOTP"
    stale = code_at(secret, h.now_ms - 3 * STEP_MS)
    assert refused(log_in(h, "tess", fixed_identity("t5"), stale)) == "BAD_TOTP"
    h.now_ms += STEP_MS
    later = code_at(secret, h.now_ms)
    assert isinstance(log_in(h, "tess", fixed_identity("t6"), later), SessionOpened)


def test_a_refused_attempt_does_not_open_a_session(h: CoreHarness) -> None:
    _, _secret = turned_on(h, "ugo")
    key = fixed_identity("ugo-no-code")
    log_in(h, "ugo", key)
    assert h.error(key, BalancesRequest()).name == "Unauthorized"  # a stranger's key


def test_only_a_session_with_a_current_code_turns_it_off(h: CoreHarness) -> None:
    first, secret = turned_on(h, "vera")
    api_key = fixed_identity("vera-api")
    h.ok(first, AddKeyRequest(api_key.public.raw, "bot", code_at(secret, h.now_ms)))
    h.now_ms += STEP_MS
    code = code_at(secret, h.now_ms)
    assert h.error(api_key, DisableTotpRequest(code)).name == "NOT_A_SESSION"
    assert h.error(api_key, TotpSecretRequest()).name == "NOT_A_SESSION"
    assert h.error(first, EnableTotpRequest(code)).name == "TOTP_ALREADY_ON"
    assert h.error(first, TotpSecretRequest()).name == "TOTP_ALREADY_ON"  # never the one in use
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    assert h.error(first, DisableTotpRequest(wrong)).name == "BAD_TOTP"
    assert isinstance(h.ok(first, DisableTotpRequest(code)), Receipt)
    assert h.error(first, DisableTotpRequest(code)).name == "TOTP_NOT_ON"
    assert isinstance(log_in(h, "vera", fixed_identity("vera-2")), SessionOpened)


def test_turning_on_needs_a_code_from_the_new_secret(h: CoreHarness) -> None:
    sign_up(h, "wes")
    first = session(h, "wes")
    offer = h.ok(first, TotpSecretRequest())
    assert isinstance(offer, TotpSecret)
    other = pyotp.random_base32(32)
    bad = EnableTotpRequest(code_at(other, h.now_ms))
    if code_at(other, h.now_ms) != code_at(offer.secret, h.now_ms):
        assert h.error(first, bad).name == "BAD_TOTP"
    assert isinstance(log_in(h, "wes", fixed_identity("wes-2")), SessionOpened)  # still off
    assert h.error(h.alice, TotpSecretRequest()).name == "NOT_A_SESSION"


def test_wrong_codes_are_locked_out(h: CoreHarness) -> None:
    _, secret = turned_on(h, "xia")
    wrong = f"{(int(code_at(secret, h.now_ms)) + 7) % 10**6:06d}"
    for i in range(MAX_FAILURES):
        assert refused(log_in(h, "xia", fixed_identity(f"x{i}"), wrong)) == "BAD_TOTP"
    right = code_at(secret, h.now_ms)
    assert refused(log_in(h, "xia", fixed_identity("x-right"), right)) == "TOO_MANY_ATTEMPTS"


def test_two_log_ins_racing_with_one_code_open_one_session(h: CoreHarness) -> None:
    _, secret = turned_on(h, "yan")
    code = code_at(secret, h.now_ms)
    browser = fixed_identity("browser")
    keys = [fixed_identity("yan-a"), fixed_identity("yan-b")]
    started = [h.send(browser, LogInRequest("yan", PASSWORD, k.public.raw, code, "")) for k in keys]
    answers = [finish_work(h, o) for o in started]  # both checked the code before either applied
    assert isinstance(answers[0], SessionOpened)
    assert refused(answers[1]) == "BAD_TOTP"


def test_the_history_shows_every_attempt_and_the_state_replays(h: CoreHarness) -> None:
    first, secret = turned_on(h, "zoe")
    log_in(h, "zoe", fixed_identity("z1"))  # no code
    wrong_pw = h.send(
        fixed_identity("browser"),
        LogInRequest("zoe", "wrong password!", fixed_identity("z2").public.raw),
    )
    finish_work(h, wrong_pw)
    good = fixed_identity("z3")
    assert isinstance(log_in(h, "zoe", good, code_at(secret, h.now_ms)), SessionOpened)
    seen = history(h, good)
    assert seen.two_factor
    assert [(row.refused, row.session_key) for row in seen.logins] == [
        (None, good.public.raw),
        ("password", None),
        ("code_missing", None),
        (None, first.public.raw),
    ]
    assert seen.logins[0].client == "127.0.0.1 test-browser"
    assert [row.seq for row in seen.logins] == sorted(
        (row.seq for row in seen.logins), reverse=True
    )
    replayed = h.fresh()
    for applied in h.journal:
        replayed.replay(JournalRecord(applied.seq, applied.ts, applied.envelope))
    assert replayed.state_hash() == h.core.state_hash()
    restored = h.restored()
    assert restored.state_hash() == h.core.state_hash()


def test_secrets_are_derived_never_kept_and_new_each_time_it_is_turned_on(
    h: CoreHarness,
) -> None:
    first, secret = turned_on(h, "abe")
    raw = base64.b32decode(secret)
    assert raw not in h.core.state()
    assert all(raw not in applied.envelope for applied in h.journal)
    h.ok(first, DisableTotpRequest(code_at(secret, h.now_ms)))
    again = h.ok(first, TotpSecretRequest())
    assert isinstance(again, TotpSecret)
    assert again.secret != secret
    assert h.ok(first, TotpSecretRequest()) == again  # the same until it is taken
    h.now_ms += STEP_MS
    old_code = code_at(secret, h.now_ms)
    if old_code != code_at(again.secret, h.now_ms):
        assert h.error(first, EnableTotpRequest(old_code)).name == "BAD_TOTP"
    assert isinstance(h.ok(first, EnableTotpRequest(code_at(again.secret, h.now_ms))), Receipt)


def test_an_api_key_needs_a_current_code_once_it_is_on(h: CoreHarness) -> None:
    first, secret = turned_on(h, "bea")
    bot = fixed_identity("bea-bot").public.raw
    missing = h.error(first, AddKeyRequest(bot, "bot"))
    assert (missing.name, missing.field) == ("TOTP_REQUIRED", "totp")
    code = code_at(secret, h.now_ms)
    assert isinstance(h.ok(first, AddKeyRequest(bot, "bot", code)), Receipt)
    again = fixed_identity("bea-bot-2").public.raw
    assert h.error(first, AddKeyRequest(again, "bot2", code)).name == "BAD_TOTP"  # spent
    taken = h.error(first, AddKeyRequest(bot, "bot", code_at(secret, h.now_ms + STEP_MS)))
    assert taken.name == "KEY_ALREADY_REGISTERED"  # refused before the code was spent
    assert isinstance(
        h.ok(first, AddKeyRequest(again, "bot2", code_at(secret, h.now_ms + STEP_MS))), Receipt
    )


def test_turning_it_off_while_a_log_in_is_checked_refuses_that_log_in(h: CoreHarness) -> None:
    first, secret = turned_on(h, "cyd")
    code = code_at(secret, h.now_ms)
    browser = fixed_identity("browser")
    pending = h.send(
        browser, LogInRequest("cyd", PASSWORD, fixed_identity("cy-2").public.raw, code)
    )
    h.now_ms += STEP_MS
    h.ok(first, DisableTotpRequest(code_at(secret, h.now_ms)))
    assert refused(finish_work(h, pending)) == "BAD_TOTP"  # refused, and core still serves
    assert isinstance(log_in(h, "cyd", fixed_identity("cy-3")), SessionOpened)


def test_a_journaled_refusal_keeps_the_log_size(h: CoreHarness) -> None:
    sign_up(h, "dot")
    size = h.core.log.tree.size
    wrong = h.send(fixed_identity("browser"), LogInRequest("dot", "not it at all", bytes(32)))
    finish_work(h, wrong)
    last = h.journal[-1]
    assert last.leaves == []
    assert last.log_first == size == h.core.log.tree.size  # the server's durable log size


def test_refusals_past_the_budget_are_answered_not_journaled(h: CoreHarness) -> None:
    for i in range(RECORDED_REFUSALS_PER_MINUTE // MAX_FAILURES + 1):
        sign_up(h, f"user-{i}")
    journaled = len(h.journal)
    answers = []
    for i in range(RECORDED_REFUSALS_PER_MINUTE // MAX_FAILURES + 1):
        for j in range(MAX_FAILURES):
            key = fixed_identity(f"k-{i}-{j}").public.raw
            pending = h.send(
                fixed_identity("browser"), LogInRequest(f"user-{i}", "wrong one!!", key)
            )
            h.now_ms -= 1  # keep within the minute
            answers.append(refused(finish_work(h, pending)))
            h.now_ms -= 1
    assert set(answers) == {"BAD_CREDENTIALS"}
    assert len(h.journal) - journaled == RECORDED_REFUSALS_PER_MINUTE


@given(
    secret=st.binary(min_size=20, max_size=20),
    ms=st.integers(min_value=10**12, max_value=4 * 10**12),
    offset=st.integers(min_value=-3, max_value=3),
    used=st.integers(min_value=-3, max_value=3),
)
def test_a_code_counts_within_one_step_and_after_the_last_used(
    secret: bytes, ms: int, offset: int, used: int
) -> None:
    b32 = base64.b32encode(secret).decode()
    now = ms // STEP_MS
    code = code_at(b32, ms + offset * STEP_MS)
    found = matching_step(secret, code, ms, now + used)
    if abs(offset) <= 1 and offset > used:
        assert found == now + offset
    elif found is not None:  # another step's code can be equal (one in a million)
        assert code_at(b32, found * STEP_MS) == code
        assert found > now + used
        assert abs(found - now) <= 1


def change(h: CoreHarness, key: Identity, current: str, new: str, code: str | None) -> object:
    outcome = h.send(key, ChangePasswordRequest(current, new, code))
    return outcome.reply if outcome.work is None else finish_work(h, outcome)


def test_a_session_changes_its_password(h: CoreHarness) -> None:
    sign_up(h, "eve")
    first = session(h, "eve")
    new = "a brand new passphrase"
    assert refused(change(h, first, "not the password", new, None)) == "BAD_CREDENTIALS"
    assert refused(change(h, h.alice, PASSWORD, new, None)) == "NOT_A_SESSION"
    assert isinstance(change(h, first, PASSWORD, new, None), Receipt)
    assert refused(log_in(h, "eve", fixed_identity("eve-old"))) == "BAD_CREDENTIALS"
    request = LogInRequest("eve", new, fixed_identity("eve-new").public.raw)
    assert isinstance(finish_work(h, h.send(fixed_identity("browser"), request)), SessionOpened)
    assert new.encode() not in h.core.state()  # only its hash
    assert all(new.encode() not in applied.envelope for applied in h.journal)
    replayed = h.fresh()
    for applied in h.journal:
        replayed.replay(JournalRecord(applied.seq, applied.ts, applied.envelope))
    assert replayed.state_hash() == h.core.state_hash()


def test_with_two_factor_on_a_password_change_needs_a_code(h: CoreHarness) -> None:
    first, secret = turned_on(h, "fay")
    new = "another long passphrase"
    assert refused(change(h, first, PASSWORD, new, None)) == "TOTP_REQUIRED"
    wrong = f"{(int(code_at(secret, h.now_ms)) + 3) % 10**6:06d}"
    assert refused(change(h, first, PASSWORD, new, wrong)) == "BAD_TOTP"
    code = code_at(secret, h.now_ms)
    assert isinstance(change(h, first, PASSWORD, new, code), Receipt)
    assert refused(change(h, first, new, PASSWORD, code)) == "BAD_TOTP"  # the code is spent

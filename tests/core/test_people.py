"""Sign-up, log-in and sessions in the sans-IO core: the password work is run here in place of the
server's worker thread, so every step is deterministic.

What must hold: a password is checked by core and never kept or journaled, only its argon2id hash;
a session key acts for its account until it expires or logs out, and no longer; guessing is locked
out; everything replays to the same state; the log vouches for each change with core's key.
"""

from __future__ import annotations

import msgspec
import pytest

from stockade.core import JournalRecord
from stockade.core._people import LOCKOUT_MS, MAX_FAILURES, SESSION_MS
from stockade.exchange import Side, TimeInForce
from stockade.tlog import AccountOpened, KeyAdded, KeyRemoved, decode_entry
from stockade.wire import (
    AccountCreated,
    AddKeyRequest,
    Balances,
    BalancesRequest,
    CreditRequest,
    ErrorInfo,
    Keys,
    KeysRequest,
    LogInRequest,
    LogOutRequest,
    PlaceOrderRequest,
    Receipt,
    RevokeOwnKeyRequest,
    SessionOpened,
    SignUpRequest,
)
from tests.conftest import fixed_identity
from tests.core.helpers import LOT, PASSWORD, PRICE, CoreHarness, log_in, sign_up


@pytest.fixture
def h() -> CoreHarness:
    return CoreHarness()


def test_a_session_acts_for_its_account_until_it_logs_out(h: CoreHarness) -> None:
    created = sign_up(h, "dora")
    assert isinstance(created, AccountCreated)
    session = fixed_identity("dora-session-1")
    opened = log_in(h, "dora", session)
    assert isinstance(opened, SessionOpened)
    assert opened.account == created.account
    assert SESSION_MS - 1_000 < opened.expires_ms - opened.ts <= SESSION_MS
    h.ok(h.operator, CreditRequest(created.account, "USD", 10**12, "dora-usd"))
    order = PlaceOrderRequest("BTC-USD", Side.BUY, TimeInForce.GTC, LOT, PRICE)
    assert isinstance(h.ok(session, order), Receipt)
    balances = h.ok(session, BalancesRequest())
    assert isinstance(balances, Balances)
    held = {row.asset: row.held for row in balances.balances}
    assert held["USD"] == LOT * PRICE // 10**8
    assert isinstance(h.ok(session, LogOutRequest()), Receipt)
    assert h.error(session, BalancesRequest()).name == "UnknownSender"


def test_a_session_expires(h: CoreHarness) -> None:
    sign_up(h, "erin")
    session = fixed_identity("erin-session")
    opened = log_in(h, "erin", session)
    assert isinstance(opened, SessionOpened)
    h.now_ms = opened.expires_ms - 10
    assert not isinstance(h.send(session, BalancesRequest()).reply, ErrorInfo)
    h.now_ms = opened.expires_ms
    assert h.error(session, BalancesRequest()).name == "UnknownSender"


def test_a_clock_stepping_back_cannot_revive_an_expired_session(h: CoreHarness) -> None:
    sign_up(h, "ezra")
    session = fixed_identity("ezra-session")
    opened = log_in(h, "ezra", session)
    assert isinstance(opened, SessionOpened)
    order = PlaceOrderRequest("BTC-USD", Side.BUY, TimeInForce.GTC, LOT, PRICE)
    h.now_ms = opened.expires_ms + 10
    h.ok(h.alice, order)  # journaled: core's time is now past the session's end
    h.now_ms = opened.expires_ms - 60_000  # the wall clock steps back a minute
    assert h.error(session, order).name == "UnknownSender"
    replayed = h.fresh()
    for applied in h.journal:
        replayed.replay(JournalRecord(applied.seq, applied.ts, applied.envelope))
    assert replayed.state_hash() == h.core.state_hash()


def test_sign_up_and_log_in_refusals(h: CoreHarness) -> None:
    sign_up(h, "finn")
    taken = sign_up(h, "finn", "another password entirely")
    assert isinstance(taken, ErrorInfo)
    assert taken.name == "USERNAME_TAKEN"
    wrong = log_in(h, "finn", fixed_identity("finn-1"), "not the password")
    nobody = log_in(h, "nobody-here", fixed_identity("finn-2"))
    assert isinstance(wrong, ErrorInfo)
    assert isinstance(nobody, ErrorInfo)
    assert (wrong.name, nobody.name) == ("BAD_CREDENTIALS", "BAD_CREDENTIALS")
    assert wrong.message == nobody.message  # never says which of the two was wrong
    reused = log_in(h, "finn", h.alice)  # an API key cannot become a session key
    assert isinstance(reused, ErrorInfo)
    assert reused.name == "KEY_ALREADY_REGISTERED"
    api_logout = h.error(h.alice, LogOutRequest())
    assert api_logout.name == "NOT_A_SESSION"
    short = h.error(fixed_identity("browser"), SignUpRequest("gus", "short"))
    assert (short.name, short.field) == ("Malformed", "password")


def test_guessing_is_locked_out_then_let_through(h: CoreHarness) -> None:
    sign_up(h, "gwen")
    for i in range(MAX_FAILURES):
        failed = log_in(h, "gwen", fixed_identity(f"g-{i}"), f"guess number {i}")
        assert isinstance(failed, ErrorInfo)
        assert failed.name == "BAD_CREDENTIALS"
    locked = log_in(h, "gwen", fixed_identity("g-right"))
    assert isinstance(locked, ErrorInfo)
    assert locked.name == "TOO_MANY_ATTEMPTS"
    h.now_ms += LOCKOUT_MS
    assert isinstance(log_in(h, "gwen", fixed_identity("g-later")), SessionOpened)


def test_log_ins_in_flight_together_cannot_outrun_the_lock_out(h: CoreHarness) -> None:
    sign_up(h, "hugo")
    browser = fixed_identity("browser")
    guesses = [
        LogInRequest("hugo", f"guess number {i}", fixed_identity(f"h{i}").public.raw)
        for i in range(MAX_FAILURES + 3)
    ]
    started = [h.send(browser, guess) for guess in guesses]
    assert [o.work is not None for o in started] == [True] * MAX_FAILURES + [False] * 3
    assert {o.reply.name for o in started[MAX_FAILURES:]} == {"TOO_MANY_ATTEMPTS"}  # type: ignore[union-attr]


def test_the_password_is_nowhere_and_the_state_replays(h: CoreHarness) -> None:
    sign_up(h, "hana")
    session = fixed_identity("hana-session")
    log_in(h, "hana", session)
    h.ok(session, LogOutRequest())
    for applied in h.journal:
        assert PASSWORD.encode() not in msgspec.msgpack.encode(applied)
    assert PASSWORD.encode() not in h.core.state()
    replayed = h.fresh()
    for applied in h.journal:
        replayed.replay(JournalRecord(applied.seq, applied.ts, applied.envelope))
    assert replayed.state_hash() == h.core.state_hash()


def test_the_log_vouches_for_each_change_with_cores_key(h: CoreHarness) -> None:
    first = h.core.log.tree.size
    sign_up(h, "ivan")
    session = fixed_identity("ivan-session")
    log_in(h, "ivan", session)
    h.ok(session, LogOutRequest())
    entries = [decode_entry(leaf) for leaf in h.entries(h.core.log.tree.size)[first:]]
    assert [type(e) for e in entries] == [AccountOpened, KeyAdded, KeyRemoved]
    assert {e.operator for e in entries} == {h.core_identity.public.raw}  # type: ignore[union-attr]
    assert entries[1].public_key == session.public.raw  # type: ignore[union-attr]


def test_a_session_manages_its_api_keys_and_an_api_key_cannot(h: CoreHarness) -> None:
    sign_up(h, "jules")
    session = fixed_identity("jules-session")
    opened = log_in(h, "jules", session)
    assert isinstance(opened, SessionOpened)
    bot = fixed_identity("jules-bot")
    assert isinstance(h.ok(session, AddKeyRequest(bot.public.raw, "my bot")), Receipt)
    assert isinstance(h.ok(bot, BalancesRequest()), Balances)  # the new API key reads at once
    other = fixed_identity("jules-bot-2")
    assert h.error(bot, AddKeyRequest(other.public.raw, "more")).name == "NOT_A_SESSION"
    assert h.error(bot, RevokeOwnKeyRequest(session.public.raw)).name == "NOT_A_SESSION"
    again = h.error(session, AddKeyRequest(bot.public.raw, "twice"))
    assert again.name == "KEY_ALREADY_REGISTERED"
    foreign = h.error(session, RevokeOwnKeyRequest(h.alice.public.raw))  # alice's, not jules's
    assert foreign.name == "UNKNOWN_KEY"
    keys = h.ok(session, KeysRequest())
    assert isinstance(keys, Keys)
    assert [(k.label, k.session, k.live) for k in keys.keys] == [
        ("session", True, True),
        ("my bot", False, True),
    ]
    assert isinstance(h.ok(session, RevokeOwnKeyRequest(bot.public.raw)), Receipt)
    assert h.error(bot, BalancesRequest()).name == "UnknownSender"
    assert isinstance(h.send(h.alice, BalancesRequest()).reply, Balances)  # others untouched

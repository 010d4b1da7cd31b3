"""Passkeys in core: a session adds one (with a code once two-factor log-in is on), and then the
passkey alone logs in, for the session key its challenge named and no other. Answers for another
origin, purpose or time, from a cloned passkey, or of garbage are refused and change nothing but
the owner's log-in history."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stockade.core import JournalRecord, MemoryStorage
from stockade.core._passkeys import CHALLENGE_MS, RelyingParty
from stockade.keys import Identity
from stockade.wire import (
    AddKeyRequest,
    AddPasskeyRequest,
    Balances,
    BalancesRequest,
    EnableTotpRequest,
    ErrorInfo,
    LogOutRequest,
    PasskeyChallenge,
    PasskeyChallengeRequest,
    PasskeyLogInRequest,
    PasskeyOptionsRequest,
    Passkeys,
    PasskeysRequest,
    Receipt,
    RemovePasskeyRequest,
    SessionOpened,
    TotpSecret,
    TotpSecretRequest,
)
from tests.conftest import fixed_identity
from tests.core.helpers import CoreHarness, finish_work, sign_up
from tests.core.test_totp import code_at, session
from tests.passkey_device import PasskeyDevice

ORIGIN = "http://localhost:8080"
BROWSER = fixed_identity("browser")  # web's key: it relays log-ins


@pytest.fixture
def h() -> CoreHarness:
    harness = CoreHarness()
    harness.core.people.ceremonies.party = RelyingParty("localhost", (ORIGIN,))
    return harness


def worked(h: CoreHarness, sender: Identity, message: object) -> object:
    outcome = h.send(sender, message)  # type: ignore[arg-type]
    return outcome.reply if outcome.work is None else finish_work(h, outcome)


def add_passkey(
    h: CoreHarness, owner: Identity, device: PasskeyDevice, totp: str | None = None
) -> object:
    options = h.ok(owner, PasskeyOptionsRequest())
    assert isinstance(options, PasskeyChallenge)
    key_id, client_data, attestation = device.create(options.challenge)
    return worked(h, owner, AddPasskeyRequest(key_id, client_data, attestation, "laptop", totp))


def passkey_log_in(
    h: CoreHarness, device: PasskeyDevice, key: Identity, answer_for: Identity | None = None
) -> object:
    """Log in as ``key``; the passkey answers a challenge made for ``answer_for`` (default:
    the same key, as an honest web relays it)."""
    bound = (answer_for or key).public.raw
    challenge = h.ok(BROWSER, PasskeyChallengeRequest(bound))
    assert isinstance(challenge, PasskeyChallenge)
    key_id, client_data, data, signature = device.get(challenge.challenge)
    message = PasskeyLogInRequest(key.public.raw, key_id, client_data, data, signature, "test")
    return worked(h, BROWSER, message)


def refused(outcome: object) -> str:
    assert isinstance(outcome, ErrorInfo), outcome
    return outcome.name


def test_a_passkey_added_by_a_session_then_logs_in_alone(h: CoreHarness) -> None:
    sign_up(h, "pat")
    first = session(h, "pat")
    device = PasskeyDevice("localhost", ORIGIN)
    options = h.ok(first, PasskeyOptionsRequest())
    assert isinstance(options, PasskeyChallenge)
    assert (options.rp_id, options.username, options.exclude) == ("localhost", "pat", [])
    assert isinstance(add_passkey(h, first, device), Receipt)
    held = h.ok(first, PasskeysRequest())
    assert isinstance(held, Passkeys)
    assert [(p.credential_id, p.name) for p in held.passkeys] == [(device.credential_id, "laptop")]
    again = h.ok(first, PasskeyOptionsRequest())
    assert isinstance(again, PasskeyChallenge)
    assert again.exclude == [device.credential_id]  # the browser will not make a second one
    key = fixed_identity("pat-by-passkey")
    opened = passkey_log_in(h, device, key)
    assert isinstance(opened, SessionOpened)
    assert isinstance(h.ok(key, BalancesRequest()), Balances)
    storage = MemoryStorage()
    storage.write_batch(h.journal)
    account = h.core.registry.credentials["pat"].account
    assert [row.method for row in storage.logins_of(account, 2)] == ["passkey", "password"]
    replayed = h.fresh()
    for applied in h.journal:
        replayed.replay(JournalRecord(applied.seq, applied.ts, applied.envelope))
    assert replayed.state_hash() == h.core.state_hash()
    assert h.restored().state_hash() == h.core.state_hash()


def test_an_answer_opens_a_session_for_the_key_its_challenge_named_only(h: CoreHarness) -> None:
    sign_up(h, "quinn")
    device = PasskeyDevice("localhost", ORIGIN)
    add_passkey(h, session(h, "quinn"), device)
    browsers, webs = fixed_identity("browser-key"), fixed_identity("web-own-key")
    # web relays the browser's answer but asks for a session of its own key: refused
    assert refused(passkey_log_in(h, device, webs, answer_for=browsers)) == "BAD_PASSKEY"
    assert refused(h.send(webs, BalancesRequest()).reply) == "Unauthorized"
    assert isinstance(passkey_log_in(h, device, browsers), SessionOpened)


@pytest.mark.parametrize("flaw", ["origin", "purpose", "late", "cloned", "unknown"])
def test_a_wrong_answer_is_refused_and_opens_nothing(h: CoreHarness, flaw: str) -> None:
    sign_up(h, "robin")
    device = PasskeyDevice("localhost", ORIGIN)
    first = session(h, "robin")
    add_passkey(h, first, device)
    key = fixed_identity("robin-key")
    challenge = h.ok(BROWSER, PasskeyChallengeRequest(key.public.raw))
    assert isinstance(challenge, PasskeyChallenge)
    made, origin = challenge.challenge, ORIGIN
    if flaw == "origin":
        origin = "http://localhost:9999"
    elif flaw == "purpose":  # a challenge to add a passkey, answered as a log-in
        options = h.ok(first, PasskeyOptionsRequest())
        assert isinstance(options, PasskeyChallenge)
        made = options.challenge
    elif flaw == "late":
        h.now_ms += CHALLENGE_MS + 1
    elif flaw == "cloned":  # a copy of the passkey whose counter is behind the original's
        assert isinstance(passkey_log_in(h, device, fixed_identity("robin-first")), SessionOpened)
        device.count = 0
    elif flaw == "unknown":
        device.credential_id = bytes(16)
    key_id, client_data, data, signature = device.get(made, origin)
    message = PasskeyLogInRequest(key.public.raw, key_id, client_data, data, signature)
    passkeys = dict(h.core.registry.passkeys)
    assert refused(worked(h, BROWSER, message)) == "BAD_PASSKEY"
    assert refused(h.send(key, BalancesRequest()).reply) == "Unauthorized"
    if flaw != "cloned":
        assert h.core.registry.passkeys == passkeys


def test_adding_one_takes_a_session_and_a_code_once_two_factor_is_on(h: CoreHarness) -> None:
    sign_up(h, "sam")
    first = session(h, "sam")
    api = fixed_identity("sam-api")
    assert isinstance(h.ok(first, AddKeyRequest(api.public.raw, "bot")), Receipt)
    assert refused(h.send(api, PasskeyOptionsRequest()).reply) == "NOT_A_SESSION"
    device = PasskeyDevice("localhost", ORIGIN)
    offer = h.ok(first, TotpSecretRequest())
    assert isinstance(offer, TotpSecret)
    assert isinstance(h.ok(first, EnableTotpRequest(code_at(offer.secret, h.now_ms))), Receipt)
    h.now_ms += 30_000
    assert refused(add_passkey(h, first, device)) == "TOTP_REQUIRED"
    assert refused(add_passkey(h, first, device, "000000")) == "BAD_TOTP"
    assert isinstance(add_passkey(h, first, device, code_at(offer.secret, h.now_ms)), Receipt)
    assert refused(add_passkey(h, first, device, code_at(offer.secret, h.now_ms))) in (
        "PASSKEY_TAKEN",
        "BAD_TOTP",
    )
    # a passkey logs in although two-factor log-in is on: it verified its owner itself
    assert isinstance(passkey_log_in(h, device, fixed_identity("sam-key")), SessionOpened)


def test_a_passkey_asked_for_by_a_session_that_ended_meanwhile_is_not_added(
    h: CoreHarness,
) -> None:
    sign_up(h, "yara")
    first = session(h, "yara")
    device = PasskeyDevice("localhost", ORIGIN)
    options = h.ok(first, PasskeyOptionsRequest())
    assert isinstance(options, PasskeyChallenge)
    key_id, client_data, attestation = device.create(options.challenge)
    asked = h.send(first, AddPasskeyRequest(key_id, client_data, attestation, "phone"))
    assert isinstance(h.ok(first, LogOutRequest()), Receipt)  # while the check runs off the loop
    assert refused(finish_work(h, asked)) == "NOT_A_SESSION"
    assert h.core.registry.passkeys == {}


def test_a_removed_passkey_logs_in_no_more(h: CoreHarness) -> None:
    sign_up(h, "tess")
    sign_up(h, "uma")
    device = PasskeyDevice("localhost", ORIGIN)
    tess = session(h, "tess")
    add_passkey(h, tess, device)
    uma = session(h, "uma")
    assert refused(h.send(uma, RemovePasskeyRequest(device.credential_id)).reply) == (
        "UNKNOWN_PASSKEY"
    )
    assert isinstance(h.ok(tess, RemovePasskeyRequest(device.credential_id)), Receipt)
    assert refused(passkey_log_in(h, device, fixed_identity("tess-key"))) == "BAD_PASSKEY"


def test_a_site_without_a_relying_party_takes_no_passkeys(h: CoreHarness) -> None:
    h.core.people.ceremonies.party = None
    sign_up(h, "vic")
    first = session(h, "vic")
    assert refused(h.send(first, PasskeyOptionsRequest()).reply) == "PASSKEYS_OFF"
    request = PasskeyChallengeRequest(fixed_identity("vic-key").public.raw)
    assert refused(h.send(BROWSER, request).reply) == "PASSKEYS_OFF"


@settings(max_examples=60, deadline=None)
@given(
    client_data=st.binary(min_size=37, max_size=300),
    data=st.binary(min_size=37, max_size=300),
    signature=st.binary(min_size=32, max_size=120),
)
def test_garbage_answers_never_crash_core_and_add_nothing(
    client_data: bytes, data: bytes, signature: bytes
) -> None:
    h = CoreHarness()
    h.core.people.ceremonies.party = RelyingParty("localhost", (ORIGIN,))
    sign_up(h, "wren")
    first = session(h, "wren")
    device = PasskeyDevice("localhost", ORIGIN)
    add_passkey(h, first, device)
    before = (dict(h.core.registry.passkeys), dict(h.core.registry.keys))
    key = fixed_identity("wren-key").public.raw
    login = PasskeyLogInRequest(key, device.credential_id, client_data, data, signature)
    assert refused(worked(h, BROWSER, login)) == "BAD_PASSKEY"
    add = AddPasskeyRequest(bytes(16), client_data, data, "x")
    assert refused(worked(h, first, add)) == "BAD_PASSKEY"
    assert (dict(h.core.registry.passkeys), dict(h.core.registry.keys)) == before


@pytest.mark.parametrize(
    "client_data",
    [
        b"[" * 2000,
        b'{"challenge": "AAAA", "x": ' + b"[" * 1900 + b"}",
        b'{"challenge": 5, "type": "webauthn.get", "pad": "......"}',
    ],
    ids=["nested", "nested-inside", "mistyped"],
)
def test_client_data_nested_deep_or_mistyped_is_a_refusal(
    h: CoreHarness, client_data: bytes
) -> None:
    """JSON nested thousands deep makes Python's parsers recurse: core must answer, not stop."""
    sign_up(h, "xena")
    first = session(h, "xena")
    device = PasskeyDevice("localhost", ORIGIN)
    add_passkey(h, first, device)
    key = fixed_identity("xena-key").public.raw
    _, _, data, signature = device.get(bytes(32))
    login = PasskeyLogInRequest(key, device.credential_id, client_data, data, signature)
    assert refused(worked(h, BROWSER, login)) == "BAD_PASSKEY"
    add = AddPasskeyRequest(bytes(16), client_data, data, "x")
    assert refused(worked(h, first, add)) == "BAD_PASSKEY"

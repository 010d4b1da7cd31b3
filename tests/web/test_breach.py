"""Assume breach of web: the attacker has web's whole directory, its environment, and its place
in the middle of every request, against a real site.

What they still cannot do:
* find a secret: no key file, no database credential, no address but core's and its own;
* place, cancel or read anything for a user: a request is bound by its client's signature to
  every byte of it, so an altered request, a request forged under a user's key id, or one signed
  by a key of web's own is refused by core, and changes nothing;
* replay a user's request it has seen: core remembers every nonce inside the time window;
* read a user's private stream without that user asking: a stream grant is core's signature,
  which web cannot make; a grant web has relayed reads for its few minutes (the user asked for
  it, as the session's own reads) and stops at once when the user's key is revoked or logs out;
* log in again with a password and authenticator code it relayed: the code's step is spent, and
  the refused attempt shows in the owner's log-in history;
* turn a passkey's answer it relayed into a session of its own: the challenge the passkey signed
  names the browser's session key, so core opens a session for that key only.

Web can still drop or delay requests (the client sees a 5xx or nothing, and queries by client id);
edge and watch (issues 5 and later) deal with that.
"""

from __future__ import annotations

import json
import socket
import time
import tomllib
from urllib.parse import urlsplit

import pyotp

from stockade.client import HttpApi
from stockade.keys import Identity, generate, read_secret
from stockade.keys._files import SECRET_FORMAT
from stockade.wire import (
    GRANT_DOMAIN,
    MAX_REPLY,
    BalancesRequest,
    DisableTotpRequest,
    ErrorInfo,
    FrameReader,
    GrantedRead,
    HttpRequest,
    LogInRequest,
    Opener,
    PasskeyChallenge,
    PasskeyChallengeRequest,
    PasskeyLogInRequest,
    Reply,
    StreamGrant,
    decode_body,
    decode_envelope,
    frame,
    grant_bytes,
    http_envelope,
    parse_address,
    seal,
    sign_http,
)
from tests.live import LiveSite
from tests.passkey_device import PasskeyDevice
from tests.processes import process_environment

ORDER = json.dumps({"market": "BTC-USD", "side": "buy", "qty": 1000, "price": 10**10}).encode()
PLACE = HttpRequest("POST", "/api/v1/orders", "", ORDER)


def test_web_holds_no_secret(live: LiveSite) -> None:
    web = live.layout.web
    assert sorted(p.name for p in web.iterdir()) == ["site.toml", "web.log", "web.toml"]
    # its configuration is where to listen and the public site file, byte for byte
    assert tomllib.loads((web / "web.toml").read_text()) == {
        "web": {"site": "site.toml", "listen": str(parse_address(live.web.replace("http", "tcp")))}
    }
    assert (web / "site.toml").read_bytes() == live.layout.site_file.read_bytes()
    log = (web / "web.log").read_bytes()
    for marker in (SECRET_FORMAT.encode(), b"sqlite", b"postgres", b"password"):
        assert marker not in log
    assert set(process_environment("web", web)) <= {"PATH", "LANG", "PYTHONPATH"}


def _core_says(live: LiveSite, envelope: bytes) -> ErrorInfo | None:
    """Send one frame to core as web would; core's signed answer (its error, or None if it
    accepted the request)."""
    return _core_reply(live, envelope).error


def _core_replies(live: LiveSite, envelope: bytes) -> object:
    """What core answered: its reply's body."""
    return _core_reply(live, envelope).body


def _core_reply(live: LiveSite, envelope: bytes) -> Reply:
    address = live.site.core_address
    with socket.create_connection((address.host, address.port), timeout=10) as sock:
        sock.sendall(frame(envelope))
        reader = FrameReader(MAX_REPLY)
        while True:
            payloads = reader.feed(sock.recv(65536))
            if payloads:
                break
    env = decode_envelope(payloads[0], MAX_REPLY)
    Opener.verify_signature(env, live.site.core_key)
    reply = decode_body(env)
    assert isinstance(reply, Reply)
    return reply


def test_web_cannot_act_for_a_user(live: LiveSite) -> None:
    alice = read_secret(live.layout.client_key("alice"))
    core = live.site.core_key
    with live.api("alice") as api:
        orders_before, balances_before = api.open_orders().orders, api.balances()

    def envelope(signer: Identity, sent: HttpRequest, signed: HttpRequest, nonce: int) -> bytes:
        ts = int(time.time() * 1000)
        raw_nonce = nonce.to_bytes(16, "big")
        signature = sign_http(signer, core, signed, raw_nonce, ts)
        return http_envelope(alice.public.raw, core.raw, raw_nonce, ts, sent, signature)

    bigger = HttpRequest("POST", "/api/v1/orders", "", ORDER.replace(b"1000", b"9000"))
    altered = _core_says(live, envelope(alice, bigger, PLACE, 1))
    forged = _core_says(live, envelope(generate("web-thief"), PLACE, PLACE, 2))
    peek = HttpRequest("GET", "/api/v1/balances", "", b"")
    nosy = _core_says(live, envelope(generate("web-thief"), peek, peek, 3))
    assert altered is not None
    assert altered.name == "BadEnvelopeSignature"
    assert forged is not None
    assert forged.name == "BadEnvelopeSignature"
    assert nosy is not None
    assert nosy.name == "BadEnvelopeSignature"
    # web's own kind of key (one core never registered) may read public data, never trade
    thief = generate("web-thief")
    ts = int(time.time() * 1000)
    own = http_envelope(
        thief.public.raw,
        core.raw,
        bytes(16),
        ts,
        PLACE,
        sign_http(thief, core, PLACE, bytes(16), ts),
    )
    refused = _core_says(live, own)
    assert refused is not None
    assert refused.name == "Unauthorized"
    with live.api("alice") as api:
        assert api.open_orders().orders == orders_before
        assert api.balances() == balances_before


def test_web_cannot_make_itself_a_stream_grant(live: LiveSite) -> None:
    alice = read_secret(live.layout.client_key("alice"))
    thief = generate("web-thief")
    with live.api("alice") as api:
        real = api.stream_grant()  # to learn alice's account and pseudonym, as web would
    expires = int(time.time() * 1000) + 60_000
    signed = grant_bytes(real.account, alice.public.raw, real.user, expires)
    forged = StreamGrant(
        real.account, alice.public.raw, real.user, expires, thief.secret.sign(GRANT_DOMAIN, signed)
    )
    ts = int(time.time() * 1000)
    read = GrantedRead(forged, BalancesRequest())
    refused = _core_says(live, seal(thief, live.site.core_key, read, bytes(16), ts))
    assert refused is not None
    assert (refused.name, refused.message) == (
        "BAD_GRANT",
        "the grant is not signed by this exchange",
    )


def test_web_cannot_replay_what_it_saw(live: LiveSite) -> None:
    alice = read_secret(live.layout.client_key("alice"))
    core = live.site.core_key
    ts, nonce = int(time.time() * 1000), b"\x07" * 16
    cancel_all = HttpRequest("DELETE", "/api/v1/orders", "market=BTC-USD", b"")
    seen = http_envelope(
        alice.public.raw,
        core.raw,
        nonce,
        ts,
        cancel_all,
        sign_http(alice, core, cancel_all, nonce, ts),
    )
    assert _core_says(live, seen) is None  # the user's own request, once
    again = _core_says(live, seen)
    assert again is not None
    assert again.name == "Replayed"


def test_web_cannot_reuse_a_log_in_it_relayed(live: LiveSite) -> None:
    """Web sees a log-in's password and code go by; with both it still cannot open a session of
    its own (the code's step is spent), nor turn the owner's two-factor off with its own key."""
    core_key = live.site.core_key
    owner = HttpApi(live.web, generate("relayed-owner"), core_key, timeout=10)
    with owner:
        owner.sign_up("relayed.user", "a long enough password")
        owner.log_in("relayed.user", "a long enough password")
        secret = owner.totp_secret().secret
        owner.enable_totp(pyotp.TOTP(secret).now())
        code = pyotp.TOTP(secret).at(time.time() + 30)
        second = HttpApi(live.web, generate("relayed-second"), core_key, timeout=10)
        with second:
            second.log_in("relayed.user", "a long enough password", code)  # web relays this
        thief = generate("web-thief")
        seen = LogInRequest("relayed.user", "a long enough password", thief.public.raw, code)
        ts = int(time.time() * 1000)
        refused = _core_says(live, seal(thief, core_key, seen, bytes(range(16)), ts))
        assert refused is not None
        assert refused.name == "BAD_TOTP"
        off = seal(thief, core_key, DisableTotpRequest(code), bytes(range(1, 17)), ts)
        denied = _core_says(live, off)
        assert denied is not None
        assert denied.name == "Unauthorized"
        assert owner.logins().two_factor
        assert owner.logins().logins[0].refused == "code"  # the owner sees the attempt


def test_web_cannot_turn_a_relayed_passkey_answer_into_its_own_session(live: LiveSite) -> None:
    core_key = live.site.core_key
    owner = HttpApi(live.web, generate("passkey-owner"), core_key, timeout=10)
    device = PasskeyDevice("localhost", f"http://localhost:{urlsplit(live.web).port}")
    with owner:
        owner.sign_up("passkey.user", "a long enough password")
        owner.log_in("passkey.user", "a long enough password")
        owner.add_passkey(*device.create(owner.passkey_options().challenge), "phone")
        browser = generate("passkey-browser")  # the session key the browser made
        ts = int(time.time() * 1000)
        ask = PasskeyChallengeRequest(browser.public.raw)
        challenge = _core_replies(live, seal(generate("web"), core_key, ask, bytes(range(16)), ts))
        assert isinstance(challenge, PasskeyChallenge)
        key_id, client_data, data, signature = device.get(challenge.challenge)
        thief = generate("web-thief")
        stolen = PasskeyLogInRequest(thief.public.raw, key_id, client_data, data, signature)
        refused = _core_says(live, seal(thief, core_key, stolen, bytes(range(1, 17)), ts))
        assert refused is not None
        assert refused.name == "BAD_PASSKEY"
        assert owner.logins().logins[0].refused == "passkey"  # the owner sees the attempt

"""Stream grants in the sans-IO core: a key gets a short-lived, core-signed grant; presenting it
(under any key, as web does with its throwaway one) reads that account's orders and balances and
nothing else; a forged, altered, expired or orphaned grant reads nothing."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stockade.exchange import Side, TimeInForce
from stockade.keys import generate
from stockade.wire import (
    GRANT_DOMAIN,
    GRANT_MS,
    BalancesRequest,
    ErrorInfo,
    GrantedRead,
    OpenOrdersRequest,
    Orders,
    PlaceOrderRequest,
    RevokeKeyRequest,
    SessionOpened,
    StreamGrant,
    StreamGrantRequest,
    grant_bytes,
)
from tests.conftest import fixed_identity
from tests.core.helpers import LOT, PRICE, CoreHarness, log_in, sign_up

WEB = generate("web")  # never registered: a public reader, like web's own key


@pytest.fixture
def h() -> CoreHarness:
    return CoreHarness()


def _grant(h: CoreHarness) -> StreamGrant:
    grant = h.ok(h.alice, StreamGrantRequest())
    assert isinstance(grant, StreamGrant)
    return grant


def _read(h: CoreHarness, grant: StreamGrant, read: object) -> object:
    return h.send(WEB, GrantedRead(grant, read)).reply  # type: ignore[arg-type]


def test_a_grant_reads_its_account_and_only_its_account(h: CoreHarness) -> None:
    order = PlaceOrderRequest("BTC-USD", Side.BUY, TimeInForce.GTC, LOT, PRICE)
    placed = h.receipt(h.alice, order)
    h.receipt(h.bob, PlaceOrderRequest("BTC-USD", Side.SELL, TimeInForce.GTC, LOT, PRICE * 2))
    grant = _grant(h)
    assert grant.account == h.accounts["alice"]
    assert grant.user == h.core.log.pseudonym(grant.account)
    assert grant.expires_ms == h.now_ms + GRANT_MS
    orders = _read(h, grant, OpenOrdersRequest())
    assert isinstance(orders, Orders)
    assert [o.order_id for o in orders.orders] == [placed.order_id]
    direct = h.ok(h.alice, BalancesRequest())
    assert _read(h, grant, BalancesRequest()) == direct
    # without the grant, the same key reads nothing private
    assert h.error(WEB, BalancesRequest()).name == "Unauthorized"


def test_a_session_grant_ends_with_the_session(h: CoreHarness) -> None:
    sign_up(h, "gwen")
    session = fixed_identity("gwen-session")
    opened = log_in(h, "gwen", session)
    assert isinstance(opened, SessionOpened)
    h.now_ms = opened.expires_ms - 1_000
    grant = h.ok(session, StreamGrantRequest())
    assert isinstance(grant, StreamGrant)
    assert grant.expires_ms == opened.expires_ms


def _refusal(h: CoreHarness, grant: StreamGrant) -> ErrorInfo:
    reply = _read(h, grant, BalancesRequest())
    assert isinstance(reply, ErrorInfo), reply
    return reply


def test_an_expired_grant_or_one_whose_key_was_revoked_reads_nothing(h: CoreHarness) -> None:
    grant = _grant(h)
    h.now_ms = grant.expires_ms
    assert _refusal(h, grant).message == "the grant has expired: ask for a new one"
    fresh = _grant(h)
    h.ok(h.operator, RevokeKeyRequest(h.alice.public.raw))
    refused = _refusal(h, fresh)
    assert (refused.name, refused.field) == ("BAD_GRANT", "grant")
    assert refused.message == "the grant's key is no longer live"


def test_a_grant_signed_by_another_key_reads_nothing(h: CoreHarness) -> None:
    grant = _grant(h)
    other = generate("not-core")
    signed = grant_bytes(grant.account, grant.public_key, grant.user, grant.expires_ms)
    forged = msgspec.structs.replace(grant, signature=other.secret.sign(GRANT_DOMAIN, signed))
    assert _refusal(h, forged).message == "the grant is not signed by this exchange"


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(["account", "public_key", "user", "expires_ms", "signature"]), st.data())
def test_any_altered_field_voids_the_grant(field: str, data: st.DataObject) -> None:
    h = CoreHarness()
    grant = _grant(h)
    value = getattr(grant, field)
    if isinstance(value, bytes):
        flip = data.draw(st.integers(0, len(value) * 8 - 1))
        changed: object = bytes(
            b ^ (1 << (flip % 8)) if i == flip // 8 else b for i, b in enumerate(value)
        )
    else:
        changed = value + data.draw(st.integers(1, 10**6))
    if field == "account":
        changed = h.accounts["bob"]  # another real account: the grant must not read it
    altered = msgspec.structs.replace(grant, **{field: changed})
    assert _refusal(h, altered).name == "BAD_GRANT"

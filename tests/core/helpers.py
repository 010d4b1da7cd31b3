"""A sans-IO core with an operator, two funded users and the default market, for tests."""

from __future__ import annotations

import itertools
import secrets

from stockade.core import Applied, Core, Outcome
from stockade.keys import Identity
from stockade.site import BTC_USD, DEFAULT_ASSETS, DEFAULT_MARKETS
from stockade.wire import (
    AccountCreated,
    CreateAccountRequest,
    CreditRequest,
    ErrorInfo,
    ListAssetRequest,
    ListMarketRequest,
    LogInRequest,
    Receipt,
    RegisterKeyRequest,
    ReplyBody,
    Request,
    RevokeKeyRequest,
    SignUpRequest,
    seal,
)
from tests.conftest import fixed_identity, fresh_log

NOW_MS = 1_800_000_000_000
LOT, TICK = BTC_USD.lot, BTC_USD.tick
PRICE = 60_000 * 10**6


class CoreHarness:
    def __init__(self) -> None:
        self.core_identity = fixed_identity("core")
        self.operator = fixed_identity("operator")
        self.alice = fixed_identity("alice")
        self.bob = fixed_identity("bob")
        self.core = Core.new(
            self.core_identity, [self.operator.public], fresh_log(), not_before_ms=NOW_MS
        )
        self.now_ms = NOW_MS
        self.journal: list[Applied] = []
        self._nonces = itertools.count(1)
        for asset in DEFAULT_ASSETS:
            self.ok(self.operator, ListAssetRequest(asset))
        for market in DEFAULT_MARKETS:
            self.ok(self.operator, ListMarketRequest(market))
        self.accounts: dict[str, int] = {}
        for user in (self.alice, self.bob):
            created = self.ok(self.operator, CreateAccountRequest(user.name))
            assert isinstance(created, AccountCreated)
            self.accounts[user.name] = created.account
            self.ok(self.operator, RegisterKeyRequest(created.account, user.public.raw, user.name))
            for asset, amount in (("BTC", 10 * 10**8), ("USD", 1_000_000 * 10**6)):
                ref = f"seed-{user.name}-{asset}"
                self.ok(self.operator, CreditRequest(created.account, asset, amount, ref))

    def entries(self, count: int) -> list[bytes]:
        """The first ``count`` log entries, as storage would hand them back."""
        return [leaf for applied in self.journal for leaf in applied.leaves][:count]

    def restored(self, data: bytes | None = None, not_before_ms: int = 0) -> Core:
        """A core from this one's ``state()`` (or ``data``), its log rebuilt from the journal."""
        ops = [self.operator.public]
        state = self.core.state() if data is None else data
        return Core.from_state(
            self.core_identity, ops, fresh_log(), state, self.entries, not_before_ms
        )

    def fresh(self) -> Core:
        return Core.new(self.core_identity, [self.operator.public], fresh_log())

    def revoked(self) -> Identity:
        """A user key registered, then revoked: the core refuses anything it signs."""
        carol = fixed_identity("carol")
        self.ok(self.operator, RegisterKeyRequest(self.accounts["alice"], carol.public.raw, "c"))
        self.ok(self.operator, RevokeKeyRequest(carol.public.raw))
        return carol

    def frame(self, sender: Identity, message: Request, ts: int | None = None) -> bytes:
        nonce = next(self._nonces).to_bytes(16, "big")
        return seal(sender, self.core_identity.public, message, nonce, ts or self.now_ms)

    def receive(self, data: bytes) -> Outcome:
        self.now_ms += 1
        outcome = self.core.receive(data, self.now_ms)
        if outcome.applied is not None:
            self.journal.append(outcome.applied)
        return outcome

    def send(self, sender: Identity, message: Request) -> Outcome:
        return self.receive(self.frame(sender, message))

    def ok(self, sender: Identity, message: Request) -> ReplyBody:
        outcome = self.send(sender, message)
        assert not isinstance(outcome.reply, ErrorInfo), outcome.reply
        assert outcome.reply is not None
        return outcome.reply

    def error(self, sender: Identity, message: Request) -> ErrorInfo:
        outcome = self.send(sender, message)
        assert isinstance(outcome.reply, ErrorInfo), outcome.reply
        assert outcome.applied is None
        return outcome.reply

    def receipt(self, sender: Identity, message: Request) -> Receipt:
        reply = self.ok(sender, message)
        assert isinstance(reply, Receipt)
        return reply


def random_nonce() -> bytes:
    return secrets.token_bytes(16)


PASSWORD = "correct horse battery staple"


def finish_work(h: CoreHarness, outcome: Outcome) -> ReplyBody | ErrorInfo:
    """Do what the server does: run the work, then let core complete it."""
    assert outcome.work is not None, outcome.reply
    result = outcome.work.compute()
    h.now_ms += 1
    done = h.core.complete(outcome, result, next(h._nonces).to_bytes(16, "big"), h.now_ms)
    if done.applied is not None:
        h.journal.append(done.applied)
    assert done.reply is not None
    return done.reply


def sign_up(h: CoreHarness, username: str, password: str = PASSWORD) -> ReplyBody | ErrorInfo:
    outcome = h.send(fixed_identity("browser"), SignUpRequest(username, password))
    return outcome.reply if outcome.work is None else finish_work(h, outcome)


def log_in(h: CoreHarness, username: str, key: Identity, password: str = PASSWORD) -> object:
    outcome = h.send(fixed_identity("browser"), LogInRequest(username, password, key.public.raw))
    return outcome.reply if outcome.work is None else finish_work(h, outcome)

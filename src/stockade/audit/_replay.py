"""Replay a log of the exchange under the matching rules and name every entry that does not fit.

Balances are private (deposits are commitments), so the auditor cannot check funds: each
pseudonym is given ample funds of every asset instead. That changes no accepted order's matching
(funds decide only whether an order is accepted, and every logged order was), so the trades the
replay produces must be the trades in the log, field for field. Order ids are the core's sequence
numbers; the replay runs at ``SPREAD`` times them, leaving the numbers between for its own
top-ups, and translates the order ids that cancels and amends name.
"""

from __future__ import annotations

import functools
from collections import deque
from dataclasses import dataclass, field
from typing import Protocol

import msgspec

from stockade.errors import RemoteProtocolError
from stockade.exchange import (
    MAX_AMOUNT,
    AccountId,
    AmendOrder,
    CancelAll,
    CancelOrder,
    Command,
    CompleteWithdrawal,
    Deposit,
    Engine,
    Event,
    ListAsset,
    ListMarket,
    OrderAccepted,
    OrderAmended,
    OrderClosed,
    OrderId,
    PlaceOrder,
    RequestWithdrawal,
    ResultCode,
    SetMarketStatus,
    Side,
    Trade,
)
from stockade.keys import BadSignature, PublicKey
from stockade.tlog import (
    AccountOpened,
    DepositCredited,
    KeyAdded,
    KeyRemoved,
    LogEntry,
    SignedRequest,
    TradeEntry,
    decode_entry,
    trade_entry,
)
from stockade.wire import (
    MAX_REQUEST,
    AmendOrderRequest,
    BadEnvelopeSignature,
    CancelAllRequest,
    CancelOrderRequest,
    ListAssetRequest,
    ListMarketRequest,
    Message,
    Opener,
    PlaceOrderRequest,
    SetMarketStatusRequest,
    decode_body,
    decode_envelope,
)

#: Funds the replay gives a pseudonym whenever it runs below half of them.
TOP_UP = 1 << 56
#: Replay sequence numbers per core sequence number: room for the replay's own top-ups.
SPREAD = 1 << 24


@dataclass(frozen=True, slots=True)
class Finding:
    index: int  # the log entry
    kind: str  # machine-readable: forged-signature, unbacked-trade, trade-mismatch, ...
    message: str


@dataclass
class Report:
    entries: int = 0
    orders: int = 0
    trades: int = 0
    fees: dict[str, int] = field(default_factory=dict)  # per asset, both sides
    findings: list[Finding] = field(default_factory=list)


def signatures_valid(entries: list[bytes]) -> list[bool | None]:
    """Per entry: True if it is a signed request whose signature verifies, False if it does
    not, None for anything else (the replay checks and names it itself). Pure and picklable:
    ``stockade verify`` runs it in worker processes, ahead of the replay."""
    verdicts: list[bool | None] = []
    for data in entries:
        verdict = None
        try:
            entry = decode_entry(data)
            if isinstance(entry, SignedRequest):
                env = decode_envelope(entry.envelope, MAX_REQUEST)
                Opener.verify_signature(env, _sender_key(env.sender))
                verdict = True
        except BadEnvelopeSignature:
            verdict = False
        except (RemoteProtocolError, ValueError):
            pass
        verdicts.append(verdict)
    return verdicts


@functools.lru_cache(maxsize=100_000)
def _sender_key(raw: bytes) -> PublicKey:
    """A log repeats its users' keys: each is made once (per process), a bounded number kept."""
    return PublicKey(raw)


class Observer(Protocol):
    """Told of what the replay accepted, in log order (the market feed is one)."""

    def applied(self, index: int, events: list[Event]) -> None: ...

    def traded(self, index: int, trade: TradeEntry) -> None: ...


class _Refused(Exception):
    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind, self.message = kind, message


class Auditor:
    def __init__(
        self,
        core_key: PublicKey,
        operators: set[bytes],
        observer: Observer | None = None,
        check_signatures: bool = True,
    ) -> None:
        """``check_signatures=False`` is for a relay deriving market data: it vouches for
        nothing, and its clients and auditors check every signature themselves."""
        self.core_key = core_key
        self.observer = observer
        self.check_signatures = check_signatures
        self.operators = operators
        self.engine = Engine()
        self.report = Report()
        self._accounts: dict[bytes, AccountId] = {}  # pseudonym -> the replay's account
        self._keys: dict[bytes, bytes] = {}  # active key -> pseudonym
        self._expected: deque[TradeEntry] = deque()
        self._order_leaf: dict[int, int] = {}  # the replay's order id -> its entry
        self._seq = 0
        self._top_ups = 0
        self._nonces: set[tuple[bytes, bytes]] = set()  # every signed request seen
        #: The log's clock: the latest time a logged request was signed at. Core accepted each
        #: within its window (5 s) of its own clock; the maximum never goes back.
        self.time_ms = 0

    def feed(self, index: int, data: bytes, signed_ok: bool | None = None) -> None:
        """Replay entry ``index``. ``signed_ok`` is ``signatures_valid``'s verdict on it when the
        caller checked signatures ahead (in other processes); None: check it here."""
        self.report.entries += 1
        try:
            entry = decode_entry(data)
        except RemoteProtocolError as exc:
            self._find(index, "malformed-entry", exc.message)
            return
        if not isinstance(entry, TradeEntry) and self._expected:
            self._find(index, "missing-trade", f"{len(self._expected)} trade(s) were not logged")
            self._expected.clear()
        try:
            self._feed(index, entry, signed_ok)
        except _Refused as refused:
            self._find(index, refused.kind, refused.message)

    def finish(self) -> Report:
        if self._expected:
            count = len(self._expected)
            self._find(self.report.entries, "missing-trade", f"{count} trade(s) were not logged")
        return self.report

    def _find(self, index: int, kind: str, message: str) -> None:
        self.report.findings.append(Finding(index, kind, message))

    def _feed(self, index: int, entry: LogEntry, signed_ok: bool | None) -> None:
        if isinstance(entry, TradeEntry):
            self._check_trade(index, entry)
        elif isinstance(entry, SignedRequest):
            self._signed(index, entry, signed_ok)
        else:
            # Operators sign account changes. Core itself vouches for self-service ones (a
            # sign-up, a session's key, a key a session added or removed), having checked the
            # password; never for money: a credit by core's key alone is refused.
            self_service = entry.operator == self.core_key.raw and not isinstance(
                entry, DepositCredited
            )
            if entry.operator not in self.operators and not self_service:
                raise _Refused("unknown-operator", "an account change not signed by an operator")
            self._account_change(entry)

    def _account_change(
        self, entry: AccountOpened | KeyAdded | KeyRemoved | DepositCredited
    ) -> None:
        """The registry's rules: accounts open once; a key belongs to one account at a time and
        is never an operator's; only the owner's key is removed."""
        match entry:
            case AccountOpened():
                if entry.user in self._accounts:
                    raise _Refused("duplicate-account", "the account was already opened")
                self._accounts[entry.user] = AccountId(len(self._accounts) + 1)
            case KeyAdded():
                self._known(entry.user)
                if entry.public_key in self._keys or entry.public_key in self.operators:
                    raise _Refused("key-reassigned", "the key already belongs to someone")
                self._keys[entry.public_key] = entry.user
            case KeyRemoved():
                if self._keys.get(entry.public_key) != entry.user:
                    raise _Refused("key-not-owned", "removes a key the user does not hold")
                del self._keys[entry.public_key]
            case DepositCredited():
                self._known(entry.user)

    def _known(self, user: bytes) -> AccountId:
        account = self._accounts.get(user)
        if account is None:
            raise _Refused("unknown-pseudonym", "an entry about an account never opened")
        return account

    # ------------------------------------------------------------------ signed requests

    def _signed(self, index: int, entry: SignedRequest, signed_ok: bool | None) -> None:
        message, operator = self._open(entry, signed_ok)
        cmd = self._command(message, None if operator else self._known(entry.user))
        if cmd is None:
            raise _Refused("unexpected-request", f"{type(message).__name__} is never logged")
        if isinstance(cmd, (PlaceOrder, AmendOrder)):
            self._fund(cmd.user)
        if isinstance(cmd, ListAsset):  # the replay's funds are not real: no supply limit
            cmd = ListAsset(msgspec.structs.replace(cmd.asset, max_amount=MAX_AMOUNT))
        result = self.engine.apply(cmd, self._next_seq(entry.seq))
        if result.code is not ResultCode.OK:
            raise _Refused("rejected-by-rules", f"the matching rules refuse it: {result.code.name}")
        for event in result.events:
            if isinstance(event, OrderAccepted):
                self._order_leaf[event.order_id] = index
                self.report.orders += 1
            elif isinstance(event, OrderAmended):  # trades now follow the amend's signed terms
                self._order_leaf[event.order_id] = index
            elif isinstance(event, Trade):
                self._expected.append(self._trade_entry(entry.seq, event))
            elif isinstance(event, OrderClosed):
                self._order_leaf.pop(event.order_id, None)
        if self.observer is not None:
            self.observer.applied(index, result.events)

    def _open(self, entry: SignedRequest, signed_ok: bool | None) -> tuple[Message, bool]:
        """The signed request's message, and whether an operator signed it."""
        try:
            env = decode_envelope(entry.envelope, MAX_REQUEST)
            if env.recipient != self.core_key.raw:
                raise _Refused("wrong-recipient", "the request was signed for another exchange")
            if signed_ok is False:
                raise BadEnvelopeSignature("signature does not verify")
            if signed_ok is None and self.check_signatures:
                Opener.verify_signature(env, _sender_key(env.sender))
            message = decode_body(env)
        except (RemoteProtocolError, BadSignature, ValueError) as exc:
            raise _Refused("forged-signature", f"not a validly signed request: {exc}") from None
        if (env.sender, env.nonce) in self._nonces:
            raise _Refused("replayed-request", "the same signed request was logged before")
        self._nonces.add((env.sender, env.nonce))
        self.time_ms = max(self.time_ms, env.ts)
        if env.sender in self.operators:
            if entry.user:
                raise _Refused("wrong-pseudonym", "an operator's request names a user")
            return message, True
        if self._keys.get(env.sender) != entry.user or not entry.user:
            raise _Refused("unregistered-key", "signed by a key not registered to that user")
        return message, False

    def _command(self, message: Message, user: AccountId | None) -> Command | None:
        match message:
            case PlaceOrderRequest() if user is not None:
                return message.command(user)
            case CancelOrderRequest() if user is not None:
                oid = None if message.order_id is None else OrderId(SPREAD * message.order_id)
                return CancelOrder(user, oid, message.client_order_id)
            case CancelAllRequest() if user is not None:
                return CancelAll(user, message.market)
            case AmendOrderRequest() if user is not None:
                oid = OrderId(SPREAD * message.order_id)
                return AmendOrder(user, oid, message.qty, message.price)
            case ListAssetRequest() if user is None:
                return ListAsset(message.asset)
            case ListMarketRequest() if user is None:
                return ListMarket(message.market)
            case SetMarketStatusRequest() if user is None:
                return SetMarketStatus(message.market, message.status)
        return None

    def _next_seq(self, core_seq: int) -> int:
        seq = SPREAD * core_seq
        if seq <= self._seq:
            raise _Refused("sequence", f"sequence number {core_seq} does not increase")
        self._seq = seq
        return seq

    def _fund(self, user: AccountId) -> None:
        """Keep the pseudonym's available funds ample in every asset, at sequence numbers
        between the core's. The engine caps an asset's total deposits, so when a top-up would
        pass it, what others hold above half a top-up is withdrawn first."""
        for code in self.engine.assets:
            if self.engine.balance(user, code)[0] >= TOP_UP // 2:
                continue
            if not self._deposit(user, code):
                self._reclaim(code, user)
                if not self._deposit(user, code):
                    raise _Refused("auditor-limit", f"the replay cannot fund {code} any further")

    def _deposit(self, user: AccountId, code: str) -> bool:
        self._top_ups += 1
        return self._internal(Deposit(user, code, TOP_UP, f"audit-{self._top_ups}"))

    def _reclaim(self, code: str, user: AccountId) -> None:
        for other in self._accounts.values():
            surplus = self.engine.balance(other, code)[0] - TOP_UP // 2
            if other != user and surplus > 0:
                self._top_ups += 1
                ref = f"audit-{self._top_ups}"
                self._internal(RequestWithdrawal(other, code, surplus, ref))
                self._internal(CompleteWithdrawal(ref))

    def _internal(self, cmd: Command) -> bool:
        """Apply one of the replay's own commands at the next free sequence number."""
        seq = self._seq + 1
        if seq % SPREAD == 0:
            raise _Refused("auditor-limit", "too many top-ups between two commands")
        if self.engine.apply(cmd, seq).code is not ResultCode.OK:
            return False
        self._seq = seq
        return True

    # ------------------------------------------------------------------ trades

    def _trade_entry(self, seq: int, t: Trade) -> TradeEntry:
        leaves = self._order_leaf
        return trade_entry(
            seq, t, leaves.get(t.maker_order_id, -1), leaves.get(t.taker_order_id, -1)
        )

    def _check_trade(self, index: int, logged: TradeEntry) -> None:
        if not self._expected:
            raise _Refused("unbacked-trade", "no order in the log produces this trade")
        expected = self._expected.popleft()
        if logged != expected:
            raise _Refused(
                "trade-mismatch",
                f"the matching rules give trade {expected.trade_id} as {expected}, "
                f"the log shows {logged}",
            )
        self.report.trades += 1
        if self.observer is not None:
            self.observer.traded(index, logged)
        market = self.engine.markets[logged.market].market
        buyer_fee, seller_fee = logged.taker_fee, logged.maker_fee  # each pays in what it gets
        if logged.taker_side != Side.BUY:
            buyer_fee, seller_fee = seller_fee, buyer_fee
        fees = self.report.fees
        fees[market.base] = fees.get(market.base, 0) + buyer_fee
        fees[market.quote] = fees.get(market.quote, 0) + seller_fee

"""Private channels of the stream: a user's open orders, fills and balances, pushed when the log
shows something that concerns them.

Web cannot read anyone's data on its own. The client first asks core for a stream grant with a
signed request (``POST /api/v1/stream/grant``) and hands it to the stream (``auth``); each read
web then makes carries the grant, and core checks its own signature on it, its expiry (at most
``GRANT_MS``, never past the session) and that the key is still live. Web learns *when* to read
from its mirror of the log: an entry naming the grant's pseudonym (an order, a cancel, a credit,
a key change) or a trade of one of its orders. So a quiet account costs core nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal, Protocol

import msgspec

from stockade.errors import RemoteProtocolError
from stockade.keys import BadSignature, PublicKey
from stockade.tlog import SignedRequest, TradeEntry, decode_entry
from stockade.web._api import plain
from stockade.web._corelink import CoreAnswer, CoreUnavailable
from stockade.wire import (
    GRANT_DOMAIN,
    STREAM_AUTH_DOMAIN,
    Balances,
    BalancesRequest,
    GrantedRead,
    MyTradesRequest,
    OpenOrdersRequest,
    Orders,
    Request,
    StreamGrant,
    Trades,
    grant_bytes,
)

PrivateChannel = Literal["orders", "fills", "balances"]
CHANNEL_ORDER: tuple[PrivateChannel, ...] = ("orders", "fills", "balances")
PRIVATE_CHANNELS: frozenset[str] = frozenset(CHANNEL_ORDER)
#: Fills sent when ``fills`` starts, and read per page after that.
FILLS_PAGE = 100
#: Pages of fills read per refresh at most (the rest come with the next).
MAX_FILL_PAGES = 10

Ask = Callable[[Request], Awaitable[CoreAnswer]]
_encode = msgspec.json.Encoder().encode


class Refusal(Exception):
    def __init__(self, name: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.name, self.message, self.field = name, message, field


@dataclass
class PrivateState:
    grant: StreamGrant | None = None
    channels: set[str] = field(default_factory=set)
    last_trade_id: int = 0
    refreshing: bool = False
    again: bool = False  # something changed while a refresh was under way


class Follower(Protocol):
    private: PrivateState
    nonce: bytes  # the connection's, which an ``auth`` signs

    def push(self, data: bytes) -> bool:
        """Queue ``data``; False (and the connection is closing) if the client fell behind."""
        ...


def error_message(name: str, message: str, field: str | None = None) -> bytes:
    error = {"code": 0, "name": name, "message": message, "field": field}
    return _encode({"type": "error", "error": error})


def users_touched(entries: list[bytes], start: int, end: int) -> set[bytes]:
    """The pseudonyms entries ``start`` to ``end`` concern: those they name, and for a trade
    the owners of both orders (named by the orders' own entries)."""
    users: set[bytes] = set()
    for data in entries[start:end]:
        try:
            entry = decode_entry(data)
            if isinstance(entry, TradeEntry):
                for leaf in (entry.maker_leaf, entry.taker_leaf):
                    order = decode_entry(entries[leaf])
                    if isinstance(order, SignedRequest):
                        users.add(order.user)
            else:
                users.add(entry.user)
        except (RemoteProtocolError, IndexError):
            continue  # the mirror checked the root; a malformed entry concerns no one here
    return users


class PrivateStreams:
    def __init__(self, core_key: PublicKey, ask: Ask, clock_ms: Callable[[], int]) -> None:
        self.core_key = core_key
        self.ask = ask
        self.clock_ms = clock_ms
        self._tasks: set[asyncio.Task[None]] = set()

    def auth(self, follower: Follower, grant: StreamGrant, signature: bytes) -> list[bytes]:
        """Take ``grant`` for this connection (a fresh one before the last expires renews it),
        if its own key signed this connection's nonce: a grant alone is no bearer token."""
        signed = grant_bytes(grant.account, grant.public_key, grant.user, grant.expires_ms)
        try:
            self.core_key.verify(GRANT_DOMAIN, signed, grant.signature)
        except BadSignature:
            raise Refusal(
                "BAD_GRANT", "the grant is not signed by this exchange", "grant"
            ) from None
        try:
            PublicKey(grant.public_key).verify(STREAM_AUTH_DOMAIN, follower.nonce, signature)
        except (BadSignature, ValueError):
            text = "sign this connection's hello nonce with the grant's key"
            raise Refusal("BAD_GRANT", text, "signature") from None
        if grant.expires_ms <= self.clock_ms():
            raise Refusal("BAD_GRANT", "the grant has expired: ask for a new one", "grant")
        state = follower.private
        if state.grant is not None and state.grant.account != grant.account:
            state.channels.clear()  # another account: nothing of the last one carries over
            state.last_trade_id = 0
        state.grant = grant
        reply = {"type": "authenticated", "account": grant.account, "expires_ms": grant.expires_ms}
        return [_encode(reply)]

    def subscribe(self, follower: Follower, channel: str) -> None:
        state = follower.private
        if state.grant is None:
            raise Refusal("NotAuthenticated", "send auth with a stream grant first", "channel")
        if channel == "fills" and "fills" not in state.channels:
            state.last_trade_id = 0
        state.channels.add(channel)
        self.refresh(follower)

    def unsubscribe(self, follower: Follower, channel: str) -> None:
        follower.private.channels.discard(channel)

    def advanced(
        self, followers: Iterable[Follower], entries: list[bytes], start: int, end: int
    ) -> None:
        """New entries ``start`` to ``end``: refresh whoever they concern; end expired grants."""
        active = [f for f in followers if f.private.channels]
        if not active:
            return
        touched = users_touched(entries, start, end)
        now = self.clock_ms()
        for follower in active:
            grant = follower.private.grant
            assert grant is not None
            if grant.expires_ms <= now:
                self._end(follower, "the grant has expired: ask for a new one")
            elif grant.user in touched:
                self.refresh(follower)

    def refresh(self, follower: Follower) -> None:
        """Read and push the follower's channels (once more if asked again meanwhile)."""
        state = follower.private
        if state.refreshing:
            state.again = True
            return
        state.refreshing = True  # before the task runs: a second call must not start another
        task = asyncio.get_running_loop().create_task(self._refresh(follower))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _refresh(self, follower: Follower) -> None:
        state = follower.private
        try:
            state.again = True
            while state.again and state.grant is not None:
                state.again = False
                for channel in CHANNEL_ORDER:  # a fill's balances come after its fill
                    if channel in state.channels:
                        await self._push(follower, channel)
        finally:
            state.refreshing = False

    async def _push(self, follower: Follower, channel: str) -> None:
        state = follower.private
        if channel == "orders":
            orders = await self._read(follower, OpenOrdersRequest())
            if isinstance(orders, Orders):
                follower.push(_message(channel, orders=plain(orders.orders)))
        elif channel == "balances":
            balances = await self._read(follower, BalancesRequest())
            if isinstance(balances, Balances):
                rows = [plain(msgspec.structs.asdict(row)) for row in balances.balances]
                follower.push(_message(channel, balances=rows))
        else:
            first = state.last_trade_id == 0
            for _page in range(MAX_FILL_PAGES):
                after = state.last_trade_id
                read = MyTradesRequest(None, after, FILLS_PAGE, latest=first)
                trades = await self._read(follower, read)
                if not isinstance(trades, Trades) or not (trades.trades or first):
                    return
                if not follower.push(_message(channel, trades=plain(trades.trades))):
                    return  # the client stopped reading: it is being disconnected
                if trades.trades:
                    state.last_trade_id = trades.trades[-1].trade_id
                if first or len(trades.trades) < FILLS_PAGE:
                    return

    async def _read(
        self, follower: Follower, read: BalancesRequest | OpenOrdersRequest | MyTradesRequest
    ) -> object:
        grant = follower.private.grant
        if grant is None:
            return None
        try:
            answer = await self.ask(GrantedRead(grant, read))
        except CoreUnavailable:
            follower.push(error_message("CoreUnavailable", "the exchange is not reachable; retry"))
            return None
        error = answer.reply.error
        if error is not None:
            if error.name == "BAD_GRANT":
                self._end(follower, error.message)
            else:
                follower.push(error_message(error.name, error.message, error.field))
            return None
        return answer.reply.body

    @staticmethod
    def _end(follower: Follower, why: str) -> None:
        """The grant no longer reads: stop the private channels and say why."""
        state = follower.private
        state.grant = None
        state.channels.clear()
        follower.push(error_message("BAD_GRANT", why, "grant"))


def _message(channel: str, **fields: object) -> bytes:
    return _encode({"channel": channel, "type": channel, **fields})

"""The Python SDK: typed calls that sign requests and verify every reply.

``Client`` acts for the account its API key is registered to; ``OperatorClient`` adds the operator
commands. A refused request raises ``Refused`` with the machine-readable code, name and field; the
request changed nothing. Replies are checked by the channel: signed by the pinned core key,
addressed to this key, fresh, not replayed, answering the request they claim to answer.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Self, TypeVar

from stockade.client._sitefile import SITE_FILE, read_site_file
from stockade.errors import StockadeError
from stockade.exchange import Asset, Market, MarketStatus, SelfTrade, Side, TimeInForce
from stockade.keys import Identity, PublicKey, read_secret
from stockade.wire import (
    DEFAULT_TIMEOUT,
    AccountCreated,
    Address,
    AmendOrderRequest,
    Balances,
    BalancesRequest,
    Book,
    BookRequest,
    CancelAllRequest,
    CancelOrderRequest,
    Channel,
    CreateAccountRequest,
    CreditRequest,
    ErrorInfo,
    ListAssetRequest,
    ListMarketRequest,
    Markets,
    MarketsRequest,
    MyTradesRequest,
    OpenOrdersRequest,
    OrderInfo,
    OrderRequest,
    Orders,
    PingRequest,
    PlaceOrderRequest,
    Pong,
    Receipt,
    RegisterKeyRequest,
    Reply,
    ReplyBody,
    Request,
    RevokeKeyRequest,
    SetMarketStatusRequest,
    Status,
    StatusRequest,
    Trades,
    UnexpectedMessage,
)

_B = TypeVar("_B", bound=ReplyBody)


class Refused(StockadeError):
    """The core refused a request; nothing changed. ``info`` says why, machine-readably."""

    def __init__(self, info: ErrorInfo) -> None:
        super().__init__(f"{info.name} ({info.code}): {info.message}")
        self.info = info

    @property
    def code(self) -> int:
        return self.info.code


def expect(reply: Reply, kind: type[_B]) -> _B:
    """The reply's body if it is a ``kind``; raise ``Refused`` for an error reply."""
    if reply.error is not None:
        raise Refused(reply.error)
    if not isinstance(reply.body, kind):
        raise UnexpectedMessage(f"expected {kind.__name__}, got {type(reply.body).__name__}")
    return reply.body


class Client:
    def __init__(
        self,
        address: Address,
        identity: Identity,
        core_key: PublicKey,
        clock: Callable[[], float] = time.time,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.channel = Channel(address, identity, core_key, clock, timeout)

    @classmethod
    def from_site(cls, site: Path, key_file: Path, timeout: float = DEFAULT_TIMEOUT) -> Self:
        """Connect to the site described by ``site/site.toml`` with the key in ``key_file``."""
        info = read_site_file(site / SITE_FILE)
        return cls(info.core_address, read_secret(key_file), info.core_key, timeout=timeout)

    def call(self, request: Request, kind: type[_B]) -> _B:
        return expect(self.channel.call(request), kind)

    def close(self) -> None:
        self.channel.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ trading

    def place_order(
        self,
        market: str,
        side: Side,
        qty: int,
        price: int,
        tif: TimeInForce = TimeInForce.GTC,
        client_order_id: str | None = None,
        stp: SelfTrade = SelfTrade.CANCEL_RESTING,
    ) -> Receipt:
        request = PlaceOrderRequest(market, side, tif, qty, price, client_order_id, stp)
        return self.call(request, Receipt)

    def cancel_order(
        self, order_id: int | None = None, client_order_id: str | None = None
    ) -> Receipt:
        return self.call(CancelOrderRequest(order_id, client_order_id), Receipt)

    def cancel_all(self, market: str) -> Receipt:
        return self.call(CancelAllRequest(market), Receipt)

    def amend_order(self, order_id: int, qty: int, price: int) -> Receipt:
        return self.call(AmendOrderRequest(order_id, qty, price), Receipt)

    # ------------------------------------------------------------------ reading

    def balances(self) -> dict[str, tuple[int, int]]:
        rows = self.call(BalancesRequest(), Balances).balances
        return {row.asset: (row.available, row.held) for row in rows}

    def order(self, order_id: int | None = None, client_order_id: str | None = None) -> OrderInfo:
        return self.call(OrderRequest(order_id, client_order_id), OrderInfo)

    def open_orders(self, market: str | None = None) -> Orders:
        return self.call(OpenOrdersRequest(market), Orders)

    def my_trades(self, market: str | None = None, after: int = 0, limit: int = 100) -> Trades:
        return self.call(MyTradesRequest(market, after, limit), Trades)

    def book(self, market: str, depth: int = 50) -> Book:
        return self.call(BookRequest(market, depth), Book)

    def markets(self) -> Markets:
        return self.call(MarketsRequest(), Markets)

    def ping(self) -> Pong:
        return self.call(PingRequest(), Pong)


class OperatorClient(Client):
    """Operator commands. Today one pinned operator key signs them; quorum signing comes later."""

    def create_account(self, label: str = "") -> int:
        return self.call(CreateAccountRequest(label), AccountCreated).account

    def register_key(self, account: int, public_key: PublicKey, label: str = "") -> Receipt:
        return self.call(RegisterKeyRequest(account, public_key.raw, label), Receipt)

    def revoke_key(self, public_key: PublicKey) -> Receipt:
        return self.call(RevokeKeyRequest(public_key.raw), Receipt)

    def credit(self, account: int, asset: str, amount: int, ref: str) -> Receipt:
        return self.call(CreditRequest(account, asset, amount, ref), Receipt)

    def list_asset(self, asset: Asset) -> Receipt:
        return self.call(ListAssetRequest(asset), Receipt)

    def list_market(self, market: Market) -> Receipt:
        return self.call(ListMarketRequest(market), Receipt)

    def set_market_status(self, market: str, status: MarketStatus) -> Receipt:
        return self.call(SetMarketStatusRequest(market, status), Receipt)

    def status(self) -> Status:
        return self.call(StatusRequest(), Status)

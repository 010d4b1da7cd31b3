"""The Python SDK: typed calls that sign requests and verify every reply.

``Client`` acts for the account its API key is registered to; ``OperatorClient`` adds the operator
commands. A refused request raises ``Refused`` with the machine-readable code, name and field; the
request changed nothing. Replies are checked by the channel: signed by the pinned core key,
addressed to this key, fresh, not replayed, answering the request they claim to answer. Each
receipt's own log entries are checked (``_log``): they must be what the request as signed here
produces; ``prove`` then shows them included under a signed checkpoint consistent with the last
seen.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Self, TypeVar

from stockade.client._log import LogMismatch, LogWatcher, Proven
from stockade.client._relay import LogSource, RelayReader
from stockade.client._sitefile import SITE_FILE, read_site_file
from stockade.errors import StockadeError
from stockade.exchange import Asset, Market, MarketStatus, SelfTrade, Side, TimeInForce
from stockade.keys import Identity, PublicKey, read_secret
from stockade.tlog import Checkpoint, TileId
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
    CheckpointRequest,
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
    SignedCheckpointReply,
    Status,
    StatusRequest,
    TileReply,
    TileRequest,
    Trades,
    UnexpectedMessage,
)

_B = TypeVar("_B", bound=ReplyBody)
_L = TypeVar("_L", Receipt, AccountCreated)


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
        log: LogWatcher | None = None,
        source: LogSource | None = None,
    ) -> None:
        self.channel = Channel(address, identity, core_key, clock, timeout)
        self.log = log
        #: where checkpoints and tiles are read: a relay, or by default core itself
        self.source: LogSource = source or self

    @classmethod
    def from_site(cls, site: Path, key_file: Path, timeout: float = DEFAULT_TIMEOUT) -> Self:
        """Connect to the site described by ``site/site.toml`` with the key in ``key_file``;
        receipts are checked against the site's log, read from the site's relay if it names one
        (with the witnesses' cosignatures the site requires)."""
        info = read_site_file(site / SITE_FILE)
        identity = read_secret(key_file)
        source = None if info.relay is None else RelayReader(info.relay, timeout)
        return cls(
            info.core_address,
            identity,
            info.core_key,
            timeout=timeout,
            log=info.log_watcher(),
            source=source,
        )

    def call(self, request: Request, kind: type[_B]) -> _B:
        return expect(self.channel.call(request), kind)

    def call_logged(self, request: Request, kind: type[_L]) -> _L:
        """A state-changing call whose receipt's log entries are checked against the request
        exactly as this client signed it."""
        envelope, nonce = self.channel.seal(request)
        self.channel.send_sealed(envelope, nonce)
        body = expect(self.channel.receive(), kind)
        if self.log is not None:
            self.log.check_receipt(body, request, envelope)
        return body

    # ------------------------------------------------------------------ the log

    def fetch_tile(self, tile: TileId) -> bytes:
        return self.call(TileRequest(tile.level, tile.index, tile.width), TileReply).data

    def checkpoint_note(self) -> bytes:
        return self.call(CheckpointRequest(), SignedCheckpointReply).note

    def checkpoint(self) -> Checkpoint:
        """The log's latest checkpoint, verified and consistent with the last one seen."""
        source = self.source
        return self._watcher().accept_checkpoint(source.checkpoint_note(), source.fetch_tile)

    def prove(self, receipt: Receipt | AccountCreated) -> list[Proven]:
        """Inclusion proofs of a receipt's entries under a newer verified checkpoint."""
        watcher, ref = self._watcher(), receipt.log
        if ref is None:
            raise LogMismatch("the receipt names no log entry", "log")
        last = ref.first + len(ref.leaves) - 1
        if watcher.checkpoint is None or watcher.checkpoint.size <= last:
            self.checkpoint()
        fetch = self.source.fetch_tile
        return [watcher.prove(ref.first + i, leaf, fetch) for i, leaf in enumerate(ref.leaves)]

    def _watcher(self) -> LogWatcher:
        if self.log is None:
            raise LogMismatch("this client was given no log key to check against", "log")
        return self.log

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
        return self.call_logged(request, Receipt)

    def cancel_order(
        self, order_id: int | None = None, client_order_id: str | None = None
    ) -> Receipt:
        return self.call_logged(CancelOrderRequest(order_id, client_order_id), Receipt)

    def cancel_all(self, market: str) -> Receipt:
        return self.call_logged(CancelAllRequest(market), Receipt)

    def amend_order(self, order_id: int, qty: int, price: int) -> Receipt:
        return self.call_logged(AmendOrderRequest(order_id, qty, price), Receipt)

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
        return self.call_logged(CreateAccountRequest(label), AccountCreated).account

    def register_key(self, account: int, public_key: PublicKey, label: str = "") -> Receipt:
        return self.call_logged(RegisterKeyRequest(account, public_key.raw, label), Receipt)

    def revoke_key(self, public_key: PublicKey) -> Receipt:
        return self.call_logged(RevokeKeyRequest(public_key.raw), Receipt)

    def credit(self, account: int, asset: str, amount: int, ref: str) -> Receipt:
        return self.call_logged(CreditRequest(account, asset, amount, ref), Receipt)

    def list_asset(self, asset: Asset) -> Receipt:
        return self.call_logged(ListAssetRequest(asset), Receipt)

    def list_market(self, market: Market) -> Receipt:
        return self.call_logged(ListMarketRequest(market), Receipt)

    def set_market_status(self, market: str, status: MarketStatus) -> Receipt:
        return self.call_logged(SetMarketStatusRequest(market, status), Receipt)

    def status(self) -> Status:
        return self.call(StatusRequest(), Status)

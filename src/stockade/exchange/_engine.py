"""The matching engine and ledger: commands in, events out, nothing else.

Guarantees (checked by ``audit`` and the property tests):

* A rejected command returns a non-OK ``ResultCode``, no events, and changes no state: every check
  happens before the first mutation (the *commit point* marked in each handler).
* Conservation: per asset, users' available + held + fees + external == 0 at all times.
* No user balance is ever negative; a user's held balance equals exactly what their open orders
  (remaining * price / scale for buys, remaining for sells) and pending withdrawals reserve.
* Determinism: the state after a command sequence depends only on the commands and the sequence
  numbers given; ``_state.snapshot`` of two such engines is byte-identical.

Funds are reserved on entry at the order's limit (a MARKET buy at its protection bound); a fill at a
better price returns the difference at once, so nothing stays held once an order leaves the book.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from typing import Final, cast

from stockade.errors import LocalProtocolError
from stockade.exchange import _rules
from stockade.exchange._book import FastBook
from stockade.exchange._commands import (
    AmendOrder,
    CancelAll,
    CancelOrder,
    CancelWithdrawal,
    Command,
    CompleteWithdrawal,
    Deposit,
    ListAsset,
    ListMarket,
    PlaceOrder,
    RequestWithdrawal,
    SetMarketStatus,
)
from stockade.exchange._events import (
    AssetListed,
    Deposited,
    Event,
    MarketListed,
    MarketStatusChanged,
    OrderAccepted,
    OrderAmended,
    OrderClosed,
    Result,
    Trade,
    WithdrawalCancelled,
    WithdrawalCompleted,
    WithdrawalHeld,
)
from stockade.exchange._model import (
    AccountId,
    Asset,
    CloseReason,
    Market,
    MarketStatus,
    OrderId,
    SelfTrade,
    Side,
    TimeInForce,
)
from stockade.exchange._order import Balance, Order
from stockade.exchange._protocol import Book, Hit
from stockade.exchange._results import ResultCode

#: Client order ids stay reserved while their order is open and for this many orders after it
#: closes, so a client retrying a placement after a lost reply cannot place it twice. A bounded
#: window keeps the state small; ``core`` keeps every id in its database for queries.
CLIENT_ID_WINDOW: Final = 100_000

# Enum members bound once as constants: attribute lookups on enum classes are slow, and compiled
# code keeps a Final in a C static. They are compared with ``is``, never used as indexes.
BUY: Final = Side.BUY
SELL: Final = Side.SELL
OK: Final = ResultCode.OK
_OPEN: Final = MarketStatus.OPEN
_MARKET: Final = TimeInForce.MARKET
_POST_ONLY: Final = TimeInForce.POST_ONLY
_FOK: Final = TimeInForce.FOK
_GTC: Final = TimeInForce.GTC
_FILLED: Final = CloseReason.FILLED

BookFactory = Callable[[], Book]
Handler = Callable[[Command, int], "Result"]


class SequenceError(LocalProtocolError):
    """The caller broke the engine's contract: sequence numbers must increase."""


class MarketState:
    """A market, its book and its status, with the rule fields the hot path reads unpacked."""

    __slots__ = (
        "base",
        "book",
        "code",
        "lot",
        "maker_bps",
        "market",
        "max_price",
        "max_qty",
        "min_qty",
        "quote",
        "scale",
        "status",
        "taker_bps",
        "tick",
    )

    def __init__(self, market: Market, base: Asset, book: Book) -> None:
        self.market = market
        self.book = book
        self.status = MarketStatus.OPEN
        self.code = market.code
        self.lot, self.tick = market.lot, market.tick
        self.min_qty, self.max_qty, self.max_price = (
            market.min_qty,
            market.max_qty,
            market.max_price,
        )
        self.base = market.base
        self.quote = market.quote
        self.scale = base.scale
        self.maker_bps = market.maker_fee_bps
        self.taker_bps = market.taker_fee_bps


class Withdrawal:
    __slots__ = ("amount", "asset", "user")

    def __init__(self, user: AccountId, asset: str, amount: int) -> None:
        self.user, self.asset, self.amount = user, asset, amount


def _reject(code: ResultCode, seq: int, order_id: OrderId | None = None) -> Result:
    return Result(code, seq, [], order_id)


class Engine:
    def __init__(self, book_factory: BookFactory = FastBook) -> None:
        self.book_factory = book_factory
        self.seq = 0
        self.next_trade_id = 1
        self.assets: dict[str, Asset] = {}
        self.markets: dict[str, MarketState] = {}
        self.balances: dict[AccountId, dict[str, Balance]] = {}
        self.fees: dict[str, int] = {}
        self.external: dict[str, int] = {}  # minus net deposits: makes every asset sum to zero
        self.orders: dict[OrderId, Order] = {}
        self.open_by_user: dict[AccountId, dict[OrderId, Order]] = {}
        self.client_ids: dict[tuple[AccountId, str], OrderId] = {}
        self.closed_client_ids: deque[tuple[AccountId, str]] = deque()
        self.refs: set[str] = set()
        self.withdrawals: dict[str, Withdrawal] = {}
        self._hits: list[Hit] = []  # scratch list reused by every match
        # Dispatch by exact type: one dict lookup instead of a chain of isinstance checks.
        self._handlers: dict[type[Command], Handler] = {
            PlaceOrder: cast(Handler, self._place),
            CancelOrder: cast(Handler, self._cancel),
            CancelAll: cast(Handler, self._cancel_all),
            AmendOrder: cast(Handler, self._amend),
            Deposit: cast(Handler, self._deposit),
            RequestWithdrawal: cast(Handler, self._request_withdrawal),
            CompleteWithdrawal: cast(Handler, self._complete_withdrawal),
            CancelWithdrawal: cast(Handler, self._cancel_withdrawal),
            ListAsset: cast(Handler, self._list_asset),
            ListMarket: cast(Handler, self._list_market),
            SetMarketStatus: cast(Handler, self._set_market_status),
        }

    # ------------------------------------------------------------------ entry point

    def apply(self, cmd: Command, seq: int) -> Result:
        """Apply one command at sequence number ``seq`` (strictly above every earlier one)."""
        if seq <= self.seq:
            raise SequenceError(f"sequence {seq} is not above {self.seq}")
        # The three trading commands are tested first and called directly (a plain method call
        # compiles to a C call); the rest go through the table.
        if isinstance(cmd, PlaceOrder):
            result = self._place(cmd, seq)
        elif isinstance(cmd, CancelOrder):
            result = self._cancel(cmd, seq)
        elif isinstance(cmd, AmendOrder):
            result = self._amend(cmd, seq)
        else:
            result = self._handlers[type(cmd)](cmd, seq)
        if result.code is OK:
            self.seq = seq
        return result

    # ------------------------------------------------------------------ queries

    def balance(self, user: AccountId, asset: str) -> tuple[int, int]:
        cell = self.balances.get(user, {}).get(asset)
        return (cell.available, cell.held) if cell is not None else (0, 0)

    def open_orders(self, user: AccountId) -> list[Order]:
        return list(self.open_by_user.get(user, {}).values())

    def find_order(self, user: AccountId, client_order_id: str) -> OrderId | None:
        return self.client_ids.get((user, client_order_id))

    # ------------------------------------------------------------------ orders

    def _place(self, cmd: PlaceOrder, seq: int) -> Result:
        ms = self.markets.get(cmd.market)
        if ms is None or ms.status is not _OPEN:
            return _reject(
                ResultCode.UNKNOWN_MARKET if ms is None else ResultCode.MARKET_HALTED, seq
            )
        side, tif, qty, price, user = cmd.side, cmd.tif, cmd.qty, cmd.price, cmd.user
        if qty % ms.lot or not ms.min_qty <= qty <= ms.max_qty:
            return _reject(_rules.check_qty(ms.market, qty), seq)
        if tif is _MARKET and not price:
            best = ms.book.best(SELL if side is BUY else BUY)
            if best is None:
                return _reject(ResultCode.NO_LIQUIDITY, seq)
            price = _rules.protection_price(ms.market, side, best)
        if price % ms.tick or not ms.tick <= price <= ms.max_price:
            return _reject(_rules.check_price(ms.market, price), seq)
        cid = cmd.client_order_id
        if cid is not None and (user, cid) in self.client_ids:
            return _reject(ResultCode.DUPLICATE_CLIENT_ORDER_ID, seq, self.client_ids[user, cid])
        if tif is _POST_ONLY and self._crosses(ms, side, price):
            return _reject(ResultCode.POST_ONLY_WOULD_CROSS, seq)
        account = self.balances.get(user)
        if side is BUY:
            hold = qty * price // ms.scale
            cell = account.get(ms.quote) if account else None
        else:
            hold = qty
            cell = account.get(ms.base) if account else None
        if cell is None or account is None or cell.available < hold:
            return _reject(ResultCode.INSUFFICIENT_FUNDS, seq)
        if tif is _FOK and not ms.book.fillable(side, price, qty, user, cmd.stp):
            return _reject(ResultCode.FOK_NOT_FILLABLE, seq)
        # commit point
        cell.available -= hold
        cell.held += hold
        order_id: OrderId = seq  # type: ignore[assignment]  # NewType() costs a call; ids are seqs
        if cid is not None:
            self.client_ids[user, cid] = order_id
        events: list[Event] = [
            OrderAccepted(order_id, user, ms.code, side, tif, qty, price, cid, hold)
        ]
        order = self.new_order(
            ms, account, order_id, user, side, tif, price, qty, qty, seq, cid, cmd.stp
        )
        self._trade_and_rest(ms, order, events)
        return Result(OK, seq, events, order_id)

    @staticmethod
    def _crosses(ms: MarketState, side: Side, price: int) -> bool:
        best = ms.book.best(SELL if side is BUY else BUY)
        return best is not None and (best <= price if side is BUY else best >= price)

    @staticmethod
    def new_order(
        ms: MarketState,
        account: dict[str, Balance],
        order_id: OrderId,
        user: AccountId,
        side: Side,
        tif: TimeInForce,
        price: int,
        qty: int,
        remaining: int,
        priority: int,
        cid: str | None,
        stp: SelfTrade,
    ) -> Order:
        """An order of ``user`` in ``ms``'s market, bound to its cells in ``user``'s account."""
        return Order(
            order_id,
            user,
            ms.code,
            side,
            tif,
            price,
            qty,
            remaining,
            priority,
            cid,
            stp,
            account.get(ms.base) or account.setdefault(ms.base, Balance()),
            account.get(ms.quote) or account.setdefault(ms.quote, Balance()),
        )

    def _trade_and_rest(self, ms: MarketState, taker: Order, events: list[Event]) -> None:
        """Match ``taker`` (whose funds are already held), then rest or close what is left."""
        hits = self._hits
        stopped = ms.book.match(taker, hits)
        if hits:
            self._settle(ms, taker, hits, events)
            hits.clear()
        remaining = taker.remaining
        if not remaining:
            self._close(ms, taker, 0, _FILLED, events)
        elif stopped:
            self._close(ms, taker, remaining, CloseReason.SELF_TRADE, events)
        elif taker.tif is _GTC or taker.tif is _POST_ONLY:
            self.rest(ms, taker)
        else:
            self._close(ms, taker, remaining, CloseReason.IOC_REMAINDER, events)

    def rest(self, ms: MarketState, order: Order) -> None:
        """Put an order on its book and into the open-order indexes."""
        ms.book.add(order)
        self.orders[order.id] = order
        by_user = self.open_by_user.get(order.user)
        if by_user is None:
            by_user = self.open_by_user[order.user] = {}
        by_user[order.id] = order

    def _unindex(self, order: Order) -> None:
        """Take a resting order out of the open-order indexes (its book drops it separately)."""
        del self.orders[order.id]
        del self.open_by_user[order.user][order.id]

    def _settle(self, ms: MarketState, taker: Order, hits: list[Hit], events: list[Event]) -> None:
        scale = ms.scale
        maker_bps, taker_bps = ms.maker_bps, ms.taker_bps
        fees_base, fees_quote = self.fees[ms.base], self.fees[ms.quote]
        t_base, t_quote = taker.base_balance, taker.quote_balance
        limit, taker_buys = taker.price, taker.side is BUY
        taker_side, taker_id, taker_user = taker.side, taker.id, taker.user
        trade_id = self.next_trade_id
        for maker, qty in hits:
            if not qty:
                self._unindex(maker)
                self._close(ms, maker, maker.remaining, CloseReason.SELF_TRADE, events)
                continue
            price = maker.price
            quote = qty * price // scale
            m_base, m_quote = maker.base_balance, maker.quote_balance
            if taker_buys:
                taker_fee, maker_fee = _rules.fee(qty, taker_bps), _rules.fee(quote, maker_bps)
                released = qty * limit // scale - quote
                t_quote.held -= quote + released
                t_quote.available += released
                t_base.available += qty - taker_fee
                m_base.held -= qty
                m_quote.available += quote - maker_fee
                fees_base += taker_fee
                fees_quote += maker_fee
            else:
                taker_fee, maker_fee = _rules.fee(quote, taker_bps), _rules.fee(qty, maker_bps)
                released = 0
                t_base.held -= qty
                t_quote.available += quote - taker_fee
                m_quote.held -= quote
                m_base.available += qty - maker_fee
                fees_quote += taker_fee
                fees_base += maker_fee
            events.append(
                Trade(
                    trade_id,  # type: ignore[arg-type]  # a TradeId; NewType() costs a call
                    maker.market,
                    price,
                    qty,
                    taker_side,
                    maker.id,
                    taker_id,
                    maker.user,
                    taker_user,
                    quote,
                    maker_fee,
                    taker_fee,
                    released,
                )
            )
            trade_id += 1
            if not maker.remaining:
                self._unindex(maker)
                self._close(ms, maker, 0, _FILLED, events)
        self.next_trade_id = trade_id
        self.fees[ms.base], self.fees[ms.quote] = fees_base, fees_quote

    def _close(
        self,
        ms: MarketState,
        order: Order,
        remaining: int,
        reason: CloseReason,
        events: list[Event],
    ) -> None:
        """Close an order leaving with ``remaining`` unfilled: return that part's hold."""
        if not remaining:
            released = 0
        elif order.side is BUY:
            released = remaining * order.price // ms.scale
            cell = order.quote_balance
            cell.held -= released
            cell.available += released
        else:
            released = remaining
            cell = order.base_balance
            cell.held -= released
            cell.available += released
        oid = order.id
        events.append(
            OrderClosed(oid, order.user, order.market, order.side, reason, remaining, released)
        )
        order.remaining = 0
        cid = order.client_order_id
        if cid is not None:
            closed = self.closed_client_ids
            closed.append((order.user, cid))
            if len(closed) > CLIENT_ID_WINDOW:
                del self.client_ids[closed.popleft()]

    def _find_open(
        self, user: AccountId, order_id: OrderId | None, cid: str | None
    ) -> Order | None:
        if cid is not None:
            if order_id is not None:
                return None  # exactly one of the two may name the order
            order_id = self.client_ids.get((user, cid))
        order = self.orders.get(order_id) if order_id is not None else None
        return order if order is not None and order.user == user else None

    def _cancel(self, cmd: CancelOrder, seq: int) -> Result:
        if cmd.client_order_id is None and cmd.order_id is not None:
            order = self.orders.get(cmd.order_id)  # the common case, without a call
            if order is not None and order.user != cmd.user:
                order = None
        else:
            order = self._find_open(cmd.user, cmd.order_id, cmd.client_order_id)
        if order is None:
            return _reject(ResultCode.UNKNOWN_ORDER, seq)
        events: list[Event] = []
        self._cancel_open(order, events)
        return Result(OK, seq, events, order.id)

    def _cancel_open(self, order: Order, events: list[Event]) -> None:
        ms = self.markets[order.market]
        remaining = order.remaining
        ms.book.remove(order)
        self._unindex(order)
        self._close(ms, order, remaining, CloseReason.CANCELLED, events)

    def _cancel_all(self, cmd: CancelAll, seq: int) -> Result:
        if cmd.market not in self.markets:
            return _reject(ResultCode.UNKNOWN_MARKET, seq)
        mine = self.open_by_user.get(cmd.user, {})
        targets = sorted(oid for oid, o in mine.items() if o.market == cmd.market)
        events: list[Event] = []
        for order_id in targets:
            self._cancel_open(mine[order_id], events)
        return Result(OK, seq, events)

    def _amend(self, cmd: AmendOrder, seq: int) -> Result:
        order = self._find_open(cmd.user, cmd.order_id, None)
        if order is None:
            return _reject(ResultCode.UNKNOWN_ORDER, seq)
        ms = self.markets[order.market]
        if ms.status is not _OPEN:
            return _reject(ResultCode.MARKET_HALTED, seq)
        qty, price, market = cmd.qty, cmd.price, ms.market
        if price == order.price and qty == order.remaining:
            return _reject(ResultCode.NO_CHANGE, seq)
        keep = price == order.price and qty < order.remaining
        # Reducing in place may leave less than the minimum, as a partial fill does; anything
        # else joins the queue anew and is held to the rules of a new order.
        code = _rules.check_reduction(market, qty) if keep else _rules.check_qty(market, qty)
        if code is OK:
            code = _rules.check_price(market, price)
        if code is not OK:
            return _reject(code, seq)
        buy = order.side is BUY
        old_hold = order.remaining * order.price // ms.scale if buy else order.remaining
        new_hold = qty * price // ms.scale if buy else qty
        cell = order.quote_balance if buy else order.base_balance
        if new_hold - old_hold > cell.available:
            return _reject(ResultCode.INSUFFICIENT_FUNDS, seq)
        if not keep and order.tif is _POST_ONLY and self._crosses(ms, order.side, price):
            return _reject(ResultCode.POST_ONLY_WOULD_CROSS, seq)
        # commit point
        cell.available -= new_hold - old_hold
        cell.held += new_hold - old_hold
        events: list[Event] = [
            OrderAmended(
                order.id,
                order.user,
                order.market,
                order.side,
                qty,
                price,
                keep,
                new_hold - old_hold,
            )
        ]
        if keep:
            ms.book.reduce(order, qty)
            return Result(OK, seq, events, order.id)
        ms.book.remove(order)
        self._unindex(order)
        moved = self.new_order(
            ms,
            self.balances[order.user],
            order.id,
            order.user,
            order.side,
            order.tif,
            price,
            qty,
            qty,
            seq,
            order.client_order_id,
            order.stp,
        )
        self._trade_and_rest(ms, moved, events)
        return Result(OK, seq, events, order.id)

    # ------------------------------------------------------------------ funds

    def _cell(self, user: AccountId, asset: str) -> Balance:
        account = self.balances.get(user)
        if account is None:
            account = self.balances[user] = {}
        cell = account.get(asset)
        if cell is None:
            cell = account[asset] = Balance()
        return cell

    def _check_movement(self, cmd: Deposit | RequestWithdrawal) -> ResultCode:
        """A known asset, an amount within its range, a reference never used before."""
        asset = self.assets.get(cmd.asset)
        if asset is None:
            return ResultCode.UNKNOWN_ASSET
        if cmd.ref in self.refs:
            return ResultCode.DUPLICATE_REFERENCE
        return _rules.check_amount(asset, cmd.amount)

    def _deposit(self, cmd: Deposit, seq: int) -> Result:
        code = self._check_movement(cmd)
        if code is not OK:
            return _reject(code, seq)
        if cmd.amount - self.external[cmd.asset] > self.assets[cmd.asset].max_amount:
            return _reject(ResultCode.BALANCE_LIMIT, seq)
        # commit point
        self.refs.add(cmd.ref)
        self.external[cmd.asset] -= cmd.amount
        self._cell(cmd.user, cmd.asset).available += cmd.amount
        return Result(OK, seq, [Deposited(cmd.user, cmd.asset, cmd.amount, cmd.ref)])

    def _request_withdrawal(self, cmd: RequestWithdrawal, seq: int) -> Result:
        code = self._check_movement(cmd)
        if code is not OK:
            return _reject(code, seq)
        cell = self.balances.get(cmd.user, {}).get(cmd.asset)
        if cell is None or cell.available < cmd.amount:
            return _reject(ResultCode.INSUFFICIENT_FUNDS, seq)
        # commit point
        self.refs.add(cmd.ref)
        cell.available -= cmd.amount
        cell.held += cmd.amount
        self.withdrawals[cmd.ref] = Withdrawal(cmd.user, cmd.asset, cmd.amount)
        return Result(OK, seq, [WithdrawalHeld(cmd.user, cmd.asset, cmd.amount, cmd.ref)])

    def _complete_withdrawal(self, cmd: CompleteWithdrawal, seq: int) -> Result:
        w = self.withdrawals.pop(cmd.ref, None)
        if w is None:
            return _reject(ResultCode.UNKNOWN_REFERENCE, seq)
        self.balances[w.user][w.asset].held -= w.amount
        self.external[w.asset] += w.amount
        return Result(OK, seq, [WithdrawalCompleted(w.user, w.asset, w.amount, cmd.ref)])

    def _cancel_withdrawal(self, cmd: CancelWithdrawal, seq: int) -> Result:
        w = self.withdrawals.pop(cmd.ref, None)
        if w is None:
            return _reject(ResultCode.UNKNOWN_REFERENCE, seq)
        cell = self.balances[w.user][w.asset]
        cell.held -= w.amount
        cell.available += w.amount
        return Result(OK, seq, [WithdrawalCancelled(w.user, w.asset, w.amount, cmd.ref)])

    # ------------------------------------------------------------------ listings

    def _list_asset(self, cmd: ListAsset, seq: int) -> Result:
        if cmd.asset.code in self.assets:
            return _reject(ResultCode.DUPLICATE_ASSET, seq)
        self.add_asset(cmd.asset)
        return Result(OK, seq, [AssetListed(cmd.asset)])

    def add_asset(self, asset: Asset) -> None:
        self.assets[asset.code] = asset
        self.fees[asset.code] = 0
        self.external[asset.code] = 0

    def _list_market(self, cmd: ListMarket, seq: int) -> Result:
        market = cmd.market
        if market.code in self.markets:
            return _reject(ResultCode.DUPLICATE_MARKET, seq)
        base = self.assets.get(market.base)
        code = _rules.validate_market(market, base, self.assets.get(market.quote))
        if code is not OK or base is None:
            return _reject(code, seq)
        self.add_market(market, base)
        return Result(OK, seq, [MarketListed(market)])

    def add_market(self, market: Market, base: Asset) -> MarketState:
        ms = self.markets[market.code] = MarketState(market, base, self.book_factory())
        return ms

    def _set_market_status(self, cmd: SetMarketStatus, seq: int) -> Result:
        ms = self.markets.get(cmd.market)
        if ms is None:
            return _reject(ResultCode.UNKNOWN_MARKET, seq)
        if ms.status is cmd.status:
            return _reject(ResultCode.NO_CHANGE, seq)
        ms.status = cmd.status
        return Result(OK, seq, [MarketStatusChanged(cmd.market, cmd.status)])

    # ------------------------------------------------------------------ invariants

    def resting_orders(self) -> Iterator[Order]:
        for code in sorted(self.markets):
            yield from self.markets[code].book.orders()

"""Stateful property test over random sequences of every engine command.

Two engines, one with ``FastBook`` and one with the reference ``NaiveBook``, receive the same
commands at the same sequence numbers. After every step:

* both return identical results (codes, events, order ids) and identical state hashes;
* ``audit`` finds nothing: every asset balances, no balance is negative, holds equal reservations,
  no book is crossed;
* a rejected command changed nothing;
* every event's postings sum to zero per asset, and replaying all postings into a plain ledger gives
  exactly the engine's balances, fees and external totals.

Rules also restart the fast engine from its snapshot mid-run, and the teardown replays the whole
command log into a fresh engine and requires the same state hash (replay determinism).
"""

from __future__ import annotations

from collections import Counter

import hypothesis.strategies as st
from hypothesis import HealthCheck, settings
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from stockade.exchange import (
    SYSTEM,
    AccountId,
    AmendOrder,
    Asset,
    Bucket,
    CancelAll,
    CancelOrder,
    CancelWithdrawal,
    Command,
    CompleteWithdrawal,
    Deposit,
    Engine,
    ListAsset,
    ListMarket,
    Market,
    MarketStatus,
    NaiveBook,
    OrderAccepted,
    OrderId,
    PlaceOrder,
    RequestWithdrawal,
    Result,
    SelfTrade,
    SetMarketStatus,
    Side,
    TimeInForce,
    audit,
    postings_of,
    restore,
    snapshot,
    state_hash,
    statement_lines,
)

ASSETS = (Asset("BTC", 8, 21 * 10**14), Asset("USD", 2, 10**15), Asset("ETH", 8, 10**17))
MARKETS = (
    # 0.001 BTC lots, $10 ticks: lot * tick = 10**6 * 10**3 / ... exact notionals in cents
    Market(
        code="BTC-USD",
        base="BTC",
        quote="USD",
        lot=100_000,
        tick=1_000,
        min_qty=100_000,
        max_qty=10**9,
        max_price=10**9,
        maker_fee_bps=10,
        taker_fee_bps=25,
        protection_bps=300,
    ),
    Market(
        code="ETH-BTC",
        base="ETH",
        quote="BTC",
        lot=10**6,
        tick=100,
        min_qty=10**6,
        max_qty=10**10,
        max_price=10**8,
        maker_fee_bps=0,
        taker_fee_bps=7,
    ),
)
USERS = st.integers(1, 4).map(AccountId)
CIDS = st.none() | st.sampled_from(["a", "b", "c"])
REFS = st.sampled_from(["r1", "r2", "r3", "r4", "r5"])
SIDE = st.sampled_from(Side)
TIF = st.sampled_from(TimeInForce)
STP = st.sampled_from(SelfTrade)
MARKET = st.sampled_from(MARKETS)


def _qty(market: Market) -> st.SearchStrategy[int]:
    return st.builds(
        lambda lots, odd: lots * market.lot + odd, st.integers(0, 6), st.sampled_from([0, 0, 0, 1])
    )


def _price(market: Market) -> st.SearchStrategy[int]:
    # a narrow band of ticks around 40 so that orders cross often; sometimes off-tick or zero
    return st.builds(
        lambda ticks, odd: ticks * market.tick + odd,
        st.integers(34, 46) | st.just(0),
        st.sampled_from([0, 0, 0, 0, 1]),
    )


class EngineMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.fast = Engine()
        self.naive = Engine(NaiveBook)
        self.seq = 0
        self.log: list[tuple[int, Command]] = []
        self.order_ids: list[OrderId] = []
        self.ledger: Counter[tuple[AccountId, Bucket, str]] = Counter()
        self.statements: Counter[tuple[AccountId, str]] = Counter()
        self.statement_fees: Counter[str] = Counter()
        for asset in ASSETS:
            self.apply(ListAsset(asset))
        for market in MARKETS:
            self.apply(ListMarket(market))
        for user in range(1, 5):
            self.apply(Deposit(AccountId(user), "BTC", 5 * 10**8, f"seed-btc-{user}"))
            self.apply(Deposit(AccountId(user), "USD", 10**8, f"seed-usd-{user}"))
            self.apply(Deposit(AccountId(user), "ETH", 10**10, f"seed-eth-{user}"))

    def apply(self, cmd: Command) -> Result:
        self.seq += 1
        before = state_hash(self.fast)
        result = self.fast.apply(cmd, self.seq)
        assert self.naive.apply(cmd, self.seq) == result
        if result.code != 0:
            assert result.events == []
            assert state_hash(self.fast) == before, "a rejected command changed state"
            return result
        self.log.append((self.seq, cmd))
        for event in result.events:
            if isinstance(event, OrderAccepted):
                self.order_ids.append(event.order_id)
            postings = postings_of(event)
            per_asset: Counter[str] = Counter()
            for p in postings:
                per_asset[p.asset] += p.amount
                self.ledger[p.owner, p.bucket, p.asset] += p.amount
            assert not +per_asset, f"unbalanced transaction: {event}"
            assert not -per_asset, f"unbalanced transaction: {event}"
            for line in statement_lines(event):
                assert line.amount != 0
                self.statements[line.user, line.asset] += line.amount
                self.statement_fees[line.asset] += line.fee
        return result

    @rule(data=st.data(), count=st.integers(1, 5))
    def place_valid_orders(self, data: st.DataObject, count: int) -> None:
        for _ in range(count):
            market = data.draw(MARKET)
            qty = data.draw(st.integers(1, 6)) * market.lot
            price = data.draw(st.integers(36, 44)) * market.tick
            self.apply(
                PlaceOrder(
                    data.draw(USERS),
                    market.code,
                    data.draw(SIDE),
                    data.draw(TIF),
                    qty,
                    price,
                    data.draw(CIDS),
                    data.draw(STP),
                )
            )

    @rule(user=USERS, market=MARKET, data=st.data(), side=SIDE, tif=TIF, cid=CIDS, stp=STP)
    def place_any_order(
        self,
        user: AccountId,
        market: Market,
        data: st.DataObject,
        side: Side,
        tif: TimeInForce,
        cid: str | None,
        stp: SelfTrade,
    ) -> None:
        qty, price = data.draw(_qty(market)), data.draw(_price(market))
        self.apply(PlaceOrder(user, market.code, side, tif, qty, price, cid, stp))

    @precondition(lambda self: self.order_ids)
    @rule(data=st.data(), own=st.booleans())
    def cancel(self, data: st.DataObject, own: bool) -> None:
        oid = data.draw(st.sampled_from(self.order_ids))
        order = self.fast.orders.get(oid)
        user = order.user if order is not None and own else data.draw(USERS)
        self.apply(CancelOrder(user, order_id=oid))

    @rule(user=USERS, cid=st.sampled_from(["a", "b", "c"]))
    def cancel_by_client_id(self, user: AccountId, cid: str) -> None:
        self.apply(CancelOrder(user, client_order_id=cid))

    @rule(user=USERS, market=MARKET)
    def cancel_all(self, user: AccountId, market: Market) -> None:
        self.apply(CancelAll(user, market.code))

    @precondition(lambda self: self.order_ids)
    @rule(data=st.data())
    def amend(self, data: st.DataObject) -> None:
        oid = data.draw(st.sampled_from(self.order_ids))
        order = self.fast.orders.get(oid)
        if order is None:
            self.apply(AmendOrder(data.draw(USERS), oid, 100_000, 40_000))
            return
        market = self.fast.markets[order.market].market
        qty = data.draw(
            st.sampled_from([order.remaining - market.lot, order.remaining]) | _qty(market)
        )
        price = data.draw(st.just(order.price) | _price(market))
        self.apply(AmendOrder(order.user, oid, qty, price))

    @rule(
        user=USERS,
        asset=st.sampled_from(["BTC", "USD", "ETH", "XRP"]),
        ref=REFS,
        amount=st.integers(-1, 10**6),
    )
    def deposit(self, user: AccountId, asset: str, ref: str, amount: int) -> None:
        self.apply(Deposit(user, asset, amount, ref))

    @rule(user=USERS, asset=st.sampled_from(["BTC", "USD"]), ref=REFS, amount=st.integers(0, 10**9))
    def request_withdrawal(self, user: AccountId, asset: str, ref: str, amount: int) -> None:
        self.apply(RequestWithdrawal(user, asset, amount, ref))

    @rule(ref=REFS, complete=st.booleans())
    def finish_withdrawal(self, ref: str, complete: bool) -> None:
        self.apply(CompleteWithdrawal(ref) if complete else CancelWithdrawal(ref))

    @rule(market=MARKET, status=st.sampled_from([MarketStatus.OPEN] * 3 + [MarketStatus.HALTED]))
    def set_status(self, market: Market, status: MarketStatus) -> None:
        self.apply(SetMarketStatus(market.code, status))

    @rule()
    def restart_from_snapshot(self) -> None:
        data = snapshot(self.fast)
        self.fast = restore(data)
        assert snapshot(self.fast) == data

    @invariant()
    def books_agree_and_invariants_hold(self) -> None:
        assert audit(self.fast) == []
        assert audit(self.naive) == []
        assert state_hash(self.fast) == state_hash(self.naive)

    @invariant()
    def postings_reproduce_the_ledger(self) -> None:
        expected: Counter[tuple[AccountId, Bucket, str]] = Counter()
        for user, account in self.fast.balances.items():
            for asset, cell in account.items():
                expected[user, Bucket.AVAILABLE, asset] = cell.available
                expected[user, Bucket.HELD, asset] = cell.held
        for asset, amount in self.fast.fees.items():
            expected[SYSTEM, Bucket.FEES, asset] = amount
        for asset, amount in self.fast.external.items():
            expected[SYSTEM, Bucket.EXTERNAL, asset] = amount
        assert +expected == +self.ledger
        assert -expected == -self.ledger

    @invariant()
    def statements_add_up_to_each_balance_and_the_fees(self) -> None:
        """Each user's statement lines sum to their total (available plus held) of each asset,
        and the fees they show to what the exchange collected."""
        totals: Counter[tuple[AccountId, str]] = Counter()
        for user, account in self.fast.balances.items():
            for asset, cell in account.items():
                totals[user, asset] = cell.available + cell.held
        assert +totals == +self.statements
        assert -totals == -self.statements
        assert +Counter(self.fast.fees) == +self.statement_fees

    def teardown(self) -> None:
        replayed = Engine()
        for seq, cmd in self.log:
            assert replayed.apply(cmd, seq).code == 0
        assert state_hash(replayed) == state_hash(self.fast)


EngineMachine.TestCase.settings = settings(
    max_examples=150,
    stateful_step_count=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestEngineMachine = EngineMachine.TestCase

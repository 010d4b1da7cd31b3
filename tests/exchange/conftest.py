"""Shared helpers for exchange tests: a small market whose numbers are easy to read."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator

import pytest

from stockade.exchange import (
    AccountId,
    Asset,
    Command,
    Deposit,
    Engine,
    ListAsset,
    ListMarket,
    Market,
    Result,
    audit,
)

# BTC counted in satoshis; USD counted to 8 decimals (prices read as whole dollars * 10**8).
BTC = Asset("BTC", 8, 21_000_000 * 10**8)
USD = Asset("USD", 8, 10**18)
LOT = 1_000  # 0.00001 BTC
TICK = 10**8  # $1
MARKET = Market(
    code="BTC-USD",
    base="BTC",
    quote="USD",
    lot=LOT,
    tick=TICK,
    min_qty=LOT,
    max_qty=10**10,
    max_price=10**15,
    maker_fee_bps=10,
    taker_fee_bps=20,
    protection_bps=500,
)
ALICE, BOB, CAROL = AccountId(1), AccountId(2), AccountId(3)


def usd(dollars: int) -> int:
    return dollars * 10**8


class Harness:
    """An engine with a sequence counter that checks every invariant after every command."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._seq: Iterator[int] = itertools.count(1)

    def __call__(self, cmd: Command) -> Result:
        result = self.engine.apply(cmd, next(self._seq))
        assert audit(self.engine) == []
        return result

    def fund(self, user: AccountId, btc: int = 10**8, dollars: int = 1_000_000) -> None:
        assert self(Deposit(user, "BTC", btc, f"fund-btc-{user}")).code == 0
        assert self(Deposit(user, "USD", usd(dollars), f"fund-usd-{user}")).code == 0


@pytest.fixture
def make_harness() -> Callable[[Engine], Harness]:
    def make(engine: Engine) -> Harness:
        h = Harness(engine)
        for cmd in (ListAsset(BTC), ListAsset(USD), ListMarket(MARKET)):
            assert h(cmd).code == 0
        for user in (ALICE, BOB, CAROL):
            h.fund(user)
        return h

    return make


@pytest.fixture
def ex(make_harness: Callable[[Engine], Harness]) -> Harness:
    return make_harness(Engine())

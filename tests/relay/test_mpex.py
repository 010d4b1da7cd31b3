"""The MPEx breach, end to end: under heavy load a relay falls out of sync and relays an order the
engine cancelled as if it had executed. The client refuses the trade; `stockade verify` names it
and says what the log really holds at the index the relay cited."""

from __future__ import annotations

import threading
import time

import pytest

from stockade.client import ForgedTrade, MarketWatcher, RelayReader
from stockade.exchange import Side, TimeInForce
from tests.core.helpers import LOT, PRICE, TICK
from tests.live import LiveSite
from tests.relay.conftest import HostileRelay, follow
from tests.relay.test_hostile import MARKET, verify

LOAD_ORDERS = 600  # bounded: the load stops by itself
LOAD_SECONDS = 20.0


def heavy_load(live: LiveSite) -> None:
    """Bob and Carol trade with each other as fast as they can, bounded in count and time."""
    deadline = time.monotonic() + LOAD_SECONDS
    with live.client("bob") as bob, live.client("carol") as carol:
        for n in range(LOAD_ORDERS // 2):
            if time.monotonic() > deadline:
                return
            price = PRICE - (n % 7) * TICK
            carol.place_order(MARKET, Side.SELL, LOT, price, TimeInForce.GTC)
            bob.place_order(MARKET, Side.BUY, LOT, price, TimeInForce.IOC)


def test_a_relayed_trade_of_a_cancelled_order_is_refused_and_named(
    live: LiveSite, hostile: HostileRelay
) -> None:
    load = threading.Thread(target=heavy_load, args=(live,))
    load.start()
    try:
        time.sleep(0.5)  # in the thick of it
        with live.client("alice") as alice:
            placed = alice.place_order(MARKET, Side.SELL, 3 * LOT, PRICE + 50 * TICK)
            cancelled = alice.cancel_order(placed.order_id)
    finally:
        load.join(60)
    assert cancelled.log is not None
    cancel_index = cancelled.log.first
    live.relay_caught_up(cancel_index + 1)

    def out_of_sync(events: list[dict[str, object]]) -> list[dict[str, object]]:
        """The stale relay's view: Alice's order executed at the moment it was cancelled."""
        later_ones = (i for i, e in enumerate(events) if int(str(e["log_index"])) >= cancel_index)
        at = next(later_ones, len(events))
        trades = [int(str(e["trade_id"])) for e in events if e["type"] == "trade"]
        ghost = {
            "type": "trade",
            "market": MARKET,
            "seq": at + 1,
            "log_index": cancel_index,
            "trade_id": max(trades) + 1,
            "price": PRICE + 50 * TICK,
            "qty": 3 * LOT,
            "taker_side": "buy",
            "engine_seq": cancelled.seq,
            "ts": cancelled.ts,
        }
        later = [{**e, "seq": int(str(e["seq"])) + 1} for e in events[at:]]
        return [*events[:at], ghost, *later]

    hostile.events = out_of_sync
    watcher = MarketWatcher(RelayReader(hostile.url), MARKET, live.site.log_watcher())
    watcher.from_start()
    with pytest.raises(ForgedTrade) as refused:
        follow(watcher)
    assert f"entry {cancel_index} is a SignedRequest" in refused.value.message
    code, out = verify(live, hostile.url)
    assert code == 1, out
    assert "forged-trade" in out
    assert f"entry {cancel_index} is a SignedRequest at sequence {cancelled.seq}" in out

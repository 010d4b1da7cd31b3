"""An honest relay in a running site: clients prove their trades through it under a witness's
cosignature, its market data is the engine's book and trades, `stockade verify` reads it, and
its directory and environment hold nothing secret."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stockade.client import MarketWatcher, RelayReader
from stockade.exchange import Side, TimeInForce, Trade
from stockade.keys import generate
from stockade.tlog import open_checkpoint
from stockade.wire import Channel, PlaceOrderRequest
from tests.core.helpers import LOT, PRICE, TICK
from tests.live import LiveSite
from tests.processes import free_port, http_request, process_environment, stockade
from tests.relay.conftest import follow


def trade(live: LiveSite, price: int = PRICE) -> int:
    """Alice rests a sell, Bob takes part of it. Returns the log size after Bob's receipt."""
    with live.client("alice") as alice, live.client("bob") as bob:
        alice.place_order("BTC-USD", Side.SELL, 2 * LOT, price)
        receipt = bob.place_order("BTC-USD", Side.BUY, LOT, price)
    assert any(isinstance(e, Trade) for e in receipt.events)
    assert receipt.log is not None
    return receipt.log.first + len(receipt.log.leaves)


def test_a_client_proves_its_trade_through_the_relay_under_a_cosigned_checkpoint(
    live: LiveSite,
) -> None:
    with live.client("alice") as alice, live.client("bob") as bob:
        assert isinstance(bob.source, RelayReader)  # the site file names the relay
        alice.place_order("BTC-USD", Side.SELL, 2 * LOT, PRICE + TICK)
        receipt = bob.place_order("BTC-USD", Side.BUY, LOT, PRICE + TICK)
        assert receipt.log is not None
        live.relay_caught_up(receipt.log.first + len(receipt.log.leaves))
        proven = bob.prove(receipt)
    assert [type(p.entry).__name__ for p in proven] == ["SignedRequest", "TradeEntry"]
    note = RelayReader(live.relay).checkpoint_note()
    opened = open_checkpoint(note, live.site.log, live.site.witnesses, need=1)
    assert set(opened.cosigners) == {w.name for w in live.site.witnesses}


def test_the_relays_market_data_is_the_engines_book_and_trades(live: LiveSite) -> None:
    size = trade(live, PRICE + 2 * TICK)
    live.relay_caught_up(size)
    relay = RelayReader(live.relay)
    watcher = MarketWatcher(relay, "BTC-USD", live.site.log_watcher())
    watcher.from_start()
    follow(watcher)
    with live.client("carol") as carol:
        book = carol.book("BTC-USD", 50)  # from core itself
    assert watcher.book is not None
    assert (watcher.book.bids, watcher.book.asks) == (book.bids, book.asks)
    assert relay.book("BTC-USD") == watcher.book
    assert watcher.trades  # each one proven by its entry
    ticker = relay.ticker("BTC-USD")
    assert ticker.trades == len(watcher.trades)
    assert ticker.last == watcher.trades[-1].price


def test_stockade_verify_reads_the_relay_and_checks_its_market_data(live: LiveSite) -> None:
    live.relay_caught_up(trade(live))
    done = stockade("verify", str(live.layout.root))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "every entry verified" in done.stdout


def test_verify_refuses_a_bad_or_dead_relay_with_a_clear_message(live: LiveSite) -> None:
    bad = stockade("verify", str(live.layout.root), "--relay", "ftp://example.invalid/")
    assert (bad.returncode, "not an http:// relay URL" in bad.stdout) == (4, True), bad.stdout
    dead = stockade("verify", str(live.layout.root), "--relay", f"http://127.0.0.1:{free_port()}")
    assert dead.returncode == 4
    assert "unreachable" in dead.stdout


def test_the_relay_holds_no_secret_and_its_kind_of_key_buys_nothing(live: LiveSite) -> None:
    """Breach: the relay's whole directory and environment. No key file, no seed, no database
    credential; its identity toward core is made in memory, and any such key may only read."""
    files = sorted(p.name for p in live.layout.relay.iterdir())
    assert files == ["relay.log", "relay.toml", "site.toml"]
    for path in live.layout.relay.iterdir():
        text = path.read_bytes()
        assert b"secret" not in text.lower()
        assert b"seed" not in text
    assert b"sqlite" not in (live.layout.relay / "relay.toml").read_bytes()
    environ = process_environment("relay", live.layout.relay)
    assert set(environ) <= {"PATH", "LANG", "PYTHONPATH"}
    stranger = generate("thief")  # what the relay holds: a key core never registered
    with Channel(live.site.core_address, stranger, live.site.core_key) as channel:
        request = PlaceOrderRequest("BTC-USD", Side.BUY, TimeInForce.GTC, LOT, PRICE)
        reply = channel.call(request)
    assert reply.error is not None
    assert reply.error.name == "Unauthorized"


segments = st.sampled_from(
    [
        "tile",
        "entries",
        "0",
        "1",
        "63",
        "64",
        "x001",
        "000",
        "000.p",
        "256",
        "-1",
        "..",
        "%00",
        "markets",
        "BTC-USD",
        "NOPE",
        "book",
        "events",
        "ticker",
        "checkpoint",
        "",
    ]
)


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    path=st.lists(segments, max_size=6).map("/".join),
    query=st.sampled_from(["", "?after=-1", "?after=abc", "?after=" + "9" * 30, "?after=0"]),
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE"]),
)
def test_the_relay_answers_any_request_with_data_or_a_precise_error(
    live: LiveSite, path: str, query: str, method: str
) -> None:
    before = RelayReader(live.relay).checkpoint_note()
    status, headers, body = http_request(live.relay, method, "/" + path + query)
    assert status in (200, 400, 404, 405), (path, query, status)
    if status >= 400:
        assert headers.get("X-Error"), (path, body)
    assert headers.get("X-Content-Type-Options") == "nosniff"
    assert RelayReader(live.relay).checkpoint_note().split(b"\n")[:3] == before.split(b"\n")[:3]

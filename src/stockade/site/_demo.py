"""``stockade demo``: a fresh site in a temporary directory, live, with bots trading on it.

The operator key lists the default market, opens an account per bot, registers each bot's own API
key and credits it; market makers then quote around a drifting mid while takers cross the spread.
Everything goes through the signed wire like any other client. The terminal shows the book, the
latest trades and the core's sequence numbers, refreshed live.
"""

from __future__ import annotations

import random
import secrets
import tempfile
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

from stockade.client import Client, HttpApi, OperatorClient, Refused, read_site_file
from stockade.exchange import Side, TimeInForce, Trade
from stockade.keys import PublicKey, generate, read_public
from stockade.site._defaults import BTC, BTC_USD, DEFAULT_ASSETS, DEFAULT_MARKETS, USD
from stockade.site._init import init_site
from stockade.site._layout import SiteLayout
from stockade.site._supervisor import Supervisor, site_children, wait_until_listening
from stockade.wire import parse_address

MAKERS = ("maker-1", "maker-2")
PEOPLE = ("ann", "ben")  # browser logins the demo opens and funds
TAKERS = ("taker-1", "taker-2")
BTC_UNIT, USD_UNIT = 10**8, 10**6
START_MID = 60_000 * USD_UNIT


@dataclass
class DemoState:
    stop: threading.Event = field(default_factory=threading.Event)
    trades: deque[Trade] = field(default_factory=lambda: deque(maxlen=12))
    mid: int = START_MID
    errors: deque[str] = field(default_factory=lambda: deque(maxlen=3))
    lock: threading.Lock = field(default_factory=threading.Lock)


def setup_listing(operator: OperatorClient) -> None:
    """List the default assets and markets (skipping any already listed)."""
    listed = operator.markets()
    have_assets = {a.code for a in listed.assets}
    have_markets = {m.market.code for m in listed.markets}
    for asset in DEFAULT_ASSETS:
        if asset.code not in have_assets:
            operator.list_asset(asset)
    for market in DEFAULT_MARKETS:
        if market.code not in have_markets:
            operator.list_market(market)


def fund_bot(operator: OperatorClient, layout: SiteLayout, name: str) -> None:
    account = operator.create_account(name)
    _, public = read_public(layout.clients / f"{name}.pub")
    operator.register_key(account, public, name)
    operator.credit(account, "BTC", 50 * BTC_UNIT, f"demo-btc-{name}")
    operator.credit(account, "USD", 3_000_000 * USD_UNIT, f"demo-usd-{name}")


def _round(price: int) -> int:
    return max(BTC_USD.tick, price - price % BTC_USD.tick)


def run_maker(client: Client, state: DemoState, seed: int) -> None:
    rng = random.Random(seed)  # noqa: S311  # bot behaviour, not secrets
    while not state.stop.is_set():
        with state.lock:
            state.mid = _round(int(state.mid * (1 + rng.gauss(0, 0.0004))))
            mid = state.mid
        try:
            client.cancel_all(BTC_USD.code)
            for level in range(1, 6):
                qty = rng.randint(50, 2_000) * BTC_USD.lot
                spread = level * 5 * BTC_USD.tick + rng.randint(0, 3) * BTC_USD.tick
                client.place_order(BTC_USD.code, Side.BUY, qty, _round(mid - spread))
                client.place_order(BTC_USD.code, Side.SELL, qty, _round(mid + spread))
        except Refused as exc:
            state.errors.append(str(exc))
        state.stop.wait(0.3)


def run_taker(client: Client, state: DemoState, seed: int) -> None:
    rng = random.Random(seed)  # noqa: S311  # bot behaviour, not secrets
    while not state.stop.is_set():
        side = Side.BUY if rng.random() < 0.5 else Side.SELL
        qty = rng.randint(10, 1_000) * BTC_USD.lot
        try:
            receipt = client.place_order(BTC_USD.code, side, qty, 0, TimeInForce.MARKET)
            state.trades.extend(e for e in receipt.events if isinstance(e, Trade))
        except Refused as exc:
            state.errors.append(str(exc))
        state.stop.wait(rng.uniform(0.1, 0.6))


def _money(units: int, decimals: int, shown: int) -> str:
    """Integer minor units as a decimal string, truncated to ``shown`` places (no floats)."""
    whole, fraction = divmod(units, 10**decimals)
    return f"{whole:,}.{fraction:0{decimals}d}"[: len(f"{whole:,}") + 1 + shown]


def render(watcher: Client, state: DemoState, site: Path) -> Group:
    book = watcher.book(BTC_USD.code, depth=8)
    pong = watcher.ping()
    table = Table(title=f"{BTC_USD.code} order book (seq {book.seq})", expand=True)
    table.add_column("side")
    table.add_column("price (USD)", justify="right")
    table.add_column("size (BTC)", justify="right")
    for price, qty in reversed(book.asks):
        table.add_row("[red]ask", _money(price, USD.decimals, 2), _money(qty, BTC.decimals, 5))
    for price, qty in book.bids:
        table.add_row("[green]bid", _money(price, USD.decimals, 2), _money(qty, BTC.decimals, 5))
    trades = Table(title="latest trades", expand=True)
    trades.add_column("#", justify="right")
    trades.add_column("taker")
    trades.add_column("price (USD)", justify="right")
    trades.add_column("size (BTC)", justify="right")
    for t in reversed(state.trades):
        colour = "green" if t.taker_side is Side.BUY else "red"
        trades.add_row(
            str(t.trade_id),
            f"[{colour}]{t.taker_side.name.lower()}",
            _money(t.price, USD.decimals, 2),
            _money(t.qty, BTC.decimals, 5),
        )
    footer = f"site {site}  core seq {pong.seq}  (Ctrl-C to stop)"
    if state.errors:
        footer += f"\nlast refusal: {state.errors[-1]}"
    return Group(table, trades, footer)


def run_demo(seconds: float | None, directory: Path | None, console: Console) -> None:
    root = directory or Path(tempfile.mkdtemp(prefix="stockade-demo-")) / "site"
    init_site(root, name="demo", operators=("operator",), clients=MAKERS + TAKERS + ("watcher",))
    layout = SiteLayout(root)
    supervisor = Supervisor(site_children(layout))
    supervisor.start()
    try:
        address = site_children(layout)[0].ready
        assert address is not None
        if not wait_until_listening(address, 30):
            raise RuntimeError(f"core did not start; see {layout.core / 'core.log'}")
        console.print(f"site initialised in [bold]{root}[/]; core listening on {address}")
        site = read_site_file(layout.site_file)
        relay, web = site.relay, site.api
        assert web is not None
        if not wait_until_listening(parse_address("tcp://" + web.split("//", 1)[1]), 30):
            raise RuntimeError(f"edge did not start; see {layout.edge / 'edge.log'}")
        console.print(
            f"relay: {relay}/checkpoint, {relay}/markets/BTC-USD/book (log and market data); "
            f"audit it with: stockade verify {root}"
        )
        logins = _people(layout, web, site.core_key)
        page = web.replace("//127.0.0.1:", "//localhost:")  # passkeys need a name, not an IP
        console.print(f"[bold green]open {page}/ in a browser[/] and log in as any of:")
        for username, password in logins.items():
            console.print(f"    {username} / {password}")
        _run_bots(layout, seconds, console, supervisor)
    finally:
        supervisor.stop()


def _people(layout: SiteLayout, web: str, core_key: PublicKey) -> dict[str, str]:
    """Demo logins for the browser, each funded: username -> a fresh random password."""
    logins = {name: secrets.token_urlsafe(12) for name in PEOPLE}
    with OperatorClient.from_site(layout.root, layout.operator_key("operator")) as operator:
        setup_listing(operator)
        api = HttpApi(web, generate("demo"), core_key)
        for username, password in logins.items():
            account = api.sign_up(username, password)
            operator.credit(account, "BTC", 5 * BTC_UNIT, f"demo-btc-{username}")
            operator.credit(account, "USD", 500_000 * USD_UNIT, f"demo-usd-{username}")
        api.close()
    return logins


def _run_bots(
    layout: SiteLayout, seconds: float | None, console: Console, supervisor: Supervisor
) -> None:
    root = layout.root
    with OperatorClient.from_site(root, layout.operator_key("operator")) as operator:
        setup_listing(operator)
        for name in (*MAKERS, *TAKERS, "watcher"):
            fund_bot(operator, layout, name)
    state = DemoState()
    threads = [
        threading.Thread(target=run_maker, args=(_client(layout, n), state, i), daemon=True)
        for i, n in enumerate(MAKERS)
    ] + [
        threading.Thread(target=run_taker, args=(_client(layout, n), state, 10 + i), daemon=True)
        for i, n in enumerate(TAKERS)
    ]
    for thread in threads:
        thread.start()
    deadline = None if seconds is None else time.monotonic() + seconds
    with _client(layout, "watcher") as watcher, Live(console=console, auto_refresh=False) as live:
        try:
            while deadline is None or time.monotonic() < deadline:
                for event in supervisor.poll():
                    state.errors.append(event)
                live.update(render(watcher, state, root), refresh=True)
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            state.stop.set()
    for thread in threads:
        thread.join(timeout=5)
    console.print(f"\ndemo stopped. The site is left in {root}")


def _client(layout: SiteLayout, name: str) -> Client:
    return Client.from_site(layout.root, layout.client_key(name))

"""One storage suite, run on the in-memory storage, SQLite and PostgreSQL alike.

The batches come from a real sans-IO core, so the rows are the ones production writes.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from stockade.core import (
    Applied,
    MemoryStorage,
    Snapshot,
    SqlStorage,
    Storage,
    create_db_engine,
    downgrade,
    migrate,
)
from stockade.core._schema import metadata
from stockade.exchange import CloseReason, Side, TimeInForce
from stockade.wire import AmendOrderRequest, CancelOrderRequest, PlaceOrderRequest
from tests.conftest import fixed_identity
from tests.core.helpers import LOT, PRICE, CoreHarness, log_in, sign_up


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Storage]:
    store: Storage
    if request.param == "memory":
        store = MemoryStorage()
    elif request.param == "sqlite":
        store = SqlStorage(f"sqlite:///{tmp_path}/core.db")
    else:
        store = SqlStorage(str(request.getfixturevalue("pg_url")))
    yield store
    store.close()


def _place(h: CoreHarness, side: Side, lots: int, cid: str | None = None) -> int:
    receipt = h.receipt(
        h.alice if side is Side.SELL else h.bob,
        PlaceOrderRequest("BTC-USD", side, TimeInForce.GTC, lots * LOT, PRICE, cid),
    )
    assert receipt.order_id is not None
    return receipt.order_id


def test_journal_is_written_in_order_and_read_back(storage: Storage) -> None:
    h = CoreHarness()
    for lots in (1, 2, 3):
        _place(h, Side.SELL, lots)
    storage.write_batch(h.journal[:4])
    storage.write_batch(h.journal[4:])
    records = list(storage.journal_after(0))
    assert [(r.seq, r.ts, r.envelope) for r in records] == [
        (a.seq, a.ts, a.envelope) for a in h.journal
    ]
    assert storage.last_seq() == h.journal[-1].seq
    assert [r.seq for r in storage.journal_after(h.journal[-2].seq)] == [h.journal[-1].seq]


def test_a_failed_batch_writes_nothing(storage: Storage) -> None:
    h = CoreHarness()
    storage.write_batch(h.journal)
    _place(h, Side.SELL, 1)
    duplicate = Applied(h.journal[0].seq, 0, b"x", [])
    with pytest.raises(Exception, match=r"(?i)unique|already|duplicate|integrity"):
        storage.write_batch([h.journal[-1], duplicate])
    assert storage.last_seq() == h.journal[-2].seq
    assert storage.find_order(h.accounts["alice"], None, None) is None


def test_snapshots_latest_wins(storage: Storage) -> None:
    assert storage.latest_snapshot() is None
    storage.save_snapshot(Snapshot(5, 1, b"h5", b"state5", b"sig5"))
    storage.save_snapshot(Snapshot(9, 2, b"h9", b"state9", b"sig9"))
    latest = storage.latest_snapshot()
    assert latest is not None
    assert (latest.seq, latest.state_hash, latest.state, latest.signature) == (
        9,
        b"h9",
        b"state9",
        b"sig9",
    )


def test_orders_follow_their_lifecycle_across_batches(storage: Storage) -> None:
    h = CoreHarness()
    resting = _place(h, Side.SELL, 5, cid="ask-1")
    storage.write_batch(h.journal)
    written = len(h.journal)
    alice = h.accounts["alice"]
    found = storage.find_order(alice, resting, None)
    assert found is not None
    assert found.open
    assert (found.side, found.qty, found.client_order_id) == (Side.SELL, 5 * LOT, "ask-1")

    h.receipt(h.alice, AmendOrderRequest(resting, 3 * LOT, PRICE))
    taker = _place(h, Side.BUY, 1)  # fills against the resting ask, taker closes filled
    h.receipt(h.alice, CancelOrderRequest(order_id=resting))
    storage.write_batch(h.journal[written:])

    closed = storage.find_order(alice, None, "ask-1")
    assert closed is not None
    assert not closed.open
    assert closed.close_reason is CloseReason.CANCELLED
    assert closed.remaining == 2 * LOT
    bob = h.accounts["bob"]
    filled = storage.find_order(bob, taker, None)
    assert filled is not None
    assert (filled.open, filled.close_reason, filled.remaining) == (False, CloseReason.FILLED, 0)
    assert storage.find_order(bob, resting, None) is None  # not bob's


def test_trades_are_listed_per_account_in_pages(storage: Storage) -> None:
    h = CoreHarness()
    _place(h, Side.SELL, 10)
    for _ in range(5):
        _place(h, Side.BUY, 1)
    storage.write_batch(h.journal)
    alice, bob = h.accounts["alice"], h.accounts["bob"]
    all_alice = storage.trades_of(alice, None, 0, 100)
    assert len(all_alice) == 5
    assert all(t.maker_account == alice and t.taker_account == bob for t in all_alice)
    page = storage.trades_of(bob, "BTC-USD", all_alice[1].trade_id, 2)
    assert [t.trade_id for t in page] == [t.trade_id for t in all_alice[2:4]]
    assert storage.trades_of(bob, "ETH-USD", 0, 10) == []
    everyone = storage.trades_of(None, "BTC-USD", 0, 100)
    assert everyone == all_alice  # one maker, one taker: the market's trades are these
    latest = storage.trades_of(None, "BTC-USD", 0, 2, latest=True)
    assert [t.trade_id for t in latest] == [t.trade_id for t in all_alice[-2:]]


def test_log_ins_are_listed_per_account_newest_first(storage: Storage) -> None:
    h = CoreHarness()
    sign_up(h, "lena")
    sign_up(h, "mo")
    log_in(h, "lena", fixed_identity("lena-1"), "a wrong password")
    log_in(h, "mo", fixed_identity("mo-1"))
    log_in(h, "lena", fixed_identity("lena-2"))
    storage.write_batch(h.journal)
    lena = h.core.registry.credentials["lena"].account
    rows = storage.logins_of(lena, 10)
    assert [(r.refused, r.session_key) for r in rows] == [
        (None, fixed_identity("lena-2").public.raw),
        ("password", None),
    ]
    assert rows[0].seq > rows[1].seq
    assert rows[0].ts >= rows[1].ts
    assert storage.logins_of(lena, 1) == rows[:1]


def test_each_statement_adds_up_to_the_balances_and_pages(storage: Storage) -> None:
    h = CoreHarness()
    _place(h, Side.SELL, 10)
    for _ in range(3):
        _place(h, Side.BUY, 2)
    storage.write_batch(h.journal)
    for name in ("alice", "bob"):
        account = h.accounts[name]
        lines = storage.ledger_of(account, None, 0, 1000)
        assert [line.entry for line in lines] == sorted(line.entry for line in lines)
        totals: dict[str, int] = {}
        for line in lines:
            totals[line.asset] = totals.get(line.asset, 0) + line.amount
        cells = h.core.engine.balances[account]
        assert totals == {a: c.available + c.held for a, c in cells.items()}
        assert [line.kind for line in lines[:2]] == ["deposit", "deposit"]  # the seed credits
        trades = [line for line in lines if line.kind == "trade"]
        assert len(trades) == 6  # three fills, two assets each
        assert sum(line.fee for line in trades) == sum(
            t.maker_fee if name == "alice" else t.taker_fee
            for t in storage.trades_of(account, None, 0, 100)
        )
        page = storage.ledger_of(account, "BTC", lines[0].entry, 2)
        assert page == [line for line in lines[1:] if line.asset == "BTC"][:2]
        assert storage.ledger_of(account, None, 0, 3, latest=True) == lines[-3:]


def test_migrations_upgrade_downgrade_and_match_the_models(db_url: str) -> None:
    engine = create_db_engine(db_url)
    migrate(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []
    downgrade(engine, "base")
    tables = set(sa.inspect(engine).get_table_names()) - {"alembic_version"}
    assert tables == set()
    migrate(engine)
    assert set(metadata.tables) <= set(sa.inspect(engine).get_table_names())
    engine.dispose()

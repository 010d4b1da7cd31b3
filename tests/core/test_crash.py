"""Crash drill: client processes load the core while it is killed with SIGKILL again and again.

After every restart:
* every order the clients hold a receipt for is in the journal and the orders table, and every
  trade a receipt named is in the trades table (acknowledged means durable);
* the database state restores (snapshot + journal) to a core whose invariants hold, and that state
  equals a fresh replay of the whole journal from the first record;
* the query tables equal what replaying the journal derives: nothing unacknowledged was
  half-applied, because journal rows and their derived rows commit together.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TypeVar

import msgspec
import pytest
import sqlalchemy as sa

from stockade.client import OperatorClient
from stockade.core import (
    Budget,
    Core,
    CoreLog,
    JournalRecord,
    MemoryStorage,
    StoredOrder,
    StoredTrade,
    create_db_engine,
    load_config,
)
from stockade.core import _schema as t
from stockade.exchange import audit
from stockade.keys import read_public, read_secret
from stockade.site import SiteLayout, init_site, wait_until_listening
from stockade.site._demo import setup_listing

REPO = Path(__file__).resolve().parents[2]
_R = TypeVar("_R", StoredOrder, StoredTrade)
LOADERS = ("loader-1", "loader-2")


def start_core(layout: SiteLayout) -> subprocess.Popen[bytes]:
    log = (layout.core / "core.log").open("ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "stockade", "run-core", str(layout.core_config)],
        cwd=layout.core,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    log.close()
    assert wait_until_listening(load_config(layout.core_config).listen[0], 60), "core did not start"
    return process


def acknowledged(outputs: list[Path]) -> tuple[dict[str, tuple[int, int]], set[int]]:
    orders: dict[str, tuple[int, int]] = {}
    trades: set[int] = set()
    for path in outputs:
        lines = path.read_text().splitlines() if path.exists() else []
        for line in lines:
            parts = line.split(" ")
            if parts[0] == "ack" and parts[-1] == "." and len(parts) == 6:  # complete lines only
                orders[parts[1]] = (int(parts[2]), int(parts[3]))
                trades.update(int(x) for x in parts[4].split(",") if x)
    return orders, trades


def check_database(layout: SiteLayout, outputs: list[Path]) -> int:
    """All the promises above, against the database of a killed core. Returns the last seq."""
    config = load_config(layout.core_config)
    identity = read_secret(config.identity)
    operators = [read_public(p)[1] for p in config.operators]
    acked_orders, acked_trades = acknowledged(outputs)  # read first: all of it is durable now
    # One read transaction for all of it: PostgreSQL may still be finishing the COMMIT a killed
    # core sent, and separate reads could see the journal before it and the trades after it.
    reader = create_db_engine(config.database)
    level = "SERIALIZABLE" if config.database.startswith("sqlite") else "REPEATABLE READ"
    with reader.connect().execution_options(isolation_level=level) as conn, conn.begin():
        journal = [
            JournalRecord(r.seq, r.ts, bytes(r.envelope))
            for r in conn.execute(sa.select(t.journal).order_by(t.journal.c.seq))
        ]
        snap_row = conn.execute(
            sa.select(t.snapshots).order_by(t.snapshots.c.seq.desc()).limit(1)
        ).first()
        orders_db = {r.order_id: r._asdict() for r in conn.execute(sa.select(t.orders))}
        trades_db = {r.trade_id: r._asdict() for r in conn.execute(sa.select(t.trades))}
        log_db = [
            bytes(r.data)
            for r in conn.execute(sa.select(t.log_entries).order_by(t.log_entries.c.idx))
        ]
        checkpoint_row = conn.execute(
            sa.select(t.checkpoints).order_by(t.checkpoints.c.size.desc()).limit(1)
        ).first()
    reader.dispose()
    snapshot = None if snap_row is None else bytes(snap_row.state)
    journaled = {r.seq for r in journal}
    for cid, (seq, order_id) in acked_orders.items():
        assert seq in journaled, f"acknowledged {cid} at seq {seq} is not in the journal"
        assert order_id in orders_db, f"acknowledged order {order_id} ({cid}) is missing"
    assert acked_trades <= set(trades_db), "an acknowledged trade is missing"

    log_key = read_secret(config.log_key)
    fresh = Core.new(identity, operators, CoreLog(config.log_origin, log_key))
    derived = MemoryStorage()
    derived.write_batch([fresh.replay(record, verify=False) for record in journal])
    assert audit(fresh.engine) == []
    assert derived.log == log_db, "the log and the journal disagree"
    if checkpoint_row is not None:  # the last signed checkpoint is a prefix of the durable log
        assert checkpoint_row.size <= len(log_db)
        assert fresh.log.tree.root(checkpoint_row.size) == bytes(checkpoint_row.root)
    if snapshot is not None:
        log = CoreLog(config.log_origin, log_key)
        restored = Core.from_state(identity, operators, log, snapshot, lambda n: log_db[:n])
        for record in journal:
            if record.seq > restored.seq:
                restored.replay(record, verify=False)
        assert restored.state_hash() == fresh.state_hash(), "snapshot + journal != full replay"
    assert _as(StoredTrade, trades_db.values()) == sorted(derived.trades, key=_key)
    assert _as(StoredOrder, orders_db.values()) == _as(StoredOrder, derived.orders.values())
    return journal[-1].seq


def _key(record: StoredOrder | StoredTrade) -> int:
    return record.trade_id if isinstance(record, StoredTrade) else record.order_id


def _as(kind: type[_R], rows: Iterable[Mapping[str, object]]) -> list[_R]:
    converted = (
        msgspec.convert({str(k): v for k, v in r.items()}, kind, strict=False) for r in rows
    )
    return sorted(converted, key=_key)


@pytest.mark.slow
@pytest.mark.parametrize(("backend", "kills"), [("sqlite", 30), ("postgresql", 30)])
def test_core_survives_repeated_sigkill_under_load(
    backend: str, kills: int, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    database = None if backend == "sqlite" else str(request.getfixturevalue("pg_url"))
    root = tmp_path / "site"
    init_site(
        root,
        name="crash",
        clients=LOADERS,
        core_address="tcp://127.0.0.1:0",
        database=database,
        budget=Budget(1_000_000, 1_000_000),  # the loaders are meant to flood core
        edge_address=None,
    )
    layout = SiteLayout(root)
    _use_free_port_and_fast_snapshots(layout)
    core = start_core(layout)
    loaders: list[subprocess.Popen[bytes]] = []
    stack = contextlib.ExitStack()
    try:
        with OperatorClient.from_site(root, layout.operator_key("operator")) as op:
            setup_listing(op)
            for name in LOADERS:
                account = op.create_account(name)
                op.register_key(account, read_public(root / "clients" / f"{name}.pub")[1], name)
                op.credit(account, "BTC", 10_000 * 10**8, f"{name}-btc")
                op.credit(account, "USD", 10**15, f"{name}-usd")
        outputs = [tmp_path / f"{name}.acks" for name in LOADERS]
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        loaders = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tests.core.crash_loader",
                    str(root),
                    name,
                    str(out),
                    str(i),
                ],
                cwd=REPO,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=stack.enter_context((tmp_path / f"{name}.err").open("wb")),
            )
            for i, (name, out) in enumerate(zip(LOADERS, outputs, strict=True))
        ]
        rng = random.Random(kills)
        last_seqs = []
        for _ in range(kills):
            time.sleep(rng.uniform(0.2, 1.2))
            core.send_signal(signal.SIGKILL)
            assert core.wait(10) == -signal.SIGKILL
            last_seqs.append(check_database(layout, outputs))
            core = start_core(layout)  # restores from snapshot + journal, audits, serves
            with OperatorClient.from_site(root, layout.operator_key("operator")) as op:
                status = op.status()
            assert status.invariant_violations == []
            assert status.seq >= last_seqs[-1]  # nothing durable was lost in the restart
        acked, trades = acknowledged(outputs)
        assert len(acked) > 20 * kills, "the loaders barely got through"
        assert trades, "no trades happened under load"
        assert last_seqs == sorted(last_seqs)
    finally:
        for loader in loaders:
            loader.kill()
            loader.wait()
        core.send_signal(signal.SIGTERM)
        core.wait(30)
        stack.close()


def _use_free_port_and_fast_snapshots(layout: SiteLayout) -> None:
    """Rewrite the generated core.toml: a free port, and snapshots every second."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    text = layout.core_config.read_text().replace("tcp://127.0.0.1:0", f"tcp://127.0.0.1:{port}")
    text = text.replace("snapshot_every_s = 60", "snapshot_every_s = 1")
    layout.core_config.write_text(text)
    site = layout.site_file.read_text().replace("tcp://127.0.0.1:0", f"tcp://127.0.0.1:{port}")
    layout.site_file.write_text(site)

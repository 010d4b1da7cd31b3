"""The transparency log of a running core: receipts, checkpoints, proofs, privacy, and the rule
that the log never signs two trees that contradict each other, across restarts."""

from __future__ import annotations

import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

import msgspec
import pytest
import sqlalchemy as sa

from stockade.client import (
    SITE_FILE,
    Client,
    ForkedLog,
    LogMismatch,
    LogWatcher,
    SiteFile,
    log_entries,
)
from stockade.core import (
    JournalCorrupt,
    LogForked,
    SqlStorage,
    create_db_engine,
    now_ms,
    restore_core,
)
from stockade.core import _schema as t
from stockade.exchange import Side
from stockade.keys import write_secret
from stockade.tlog import (
    ED25519,
    AccountOpened,
    CheckpointError,
    DepositCredited,
    KeyAdded,
    SignedRequest,
    TileId,
    TradeEntry,
    Verifier,
    decode_entry,
    hash_tile,
)
from stockade.wire import CheckpointRequest, Receipt, SignedCheckpointReply
from tests.conftest import TEST_ORIGIN, fixed_identity, fresh_log
from tests.core.helpers import LOT, PRICE
from tests.core.server_fixture import (
    Running,
    list_defaults,
    log_verifier,
    make_config,
    open_account,
    running_core,
)

BTC, USD = 10**8, 10**6


def wait_for_checkpoint(client: Client, size: int) -> None:
    deadline = time.monotonic() + 10
    while True:
        checkpoint = client.checkpoint()
        if checkpoint.size >= size:
            return
        assert time.monotonic() < deadline, f"no checkpoint of size {size} after 10 s"
        time.sleep(0.2)


def trade_between(running: Running, stack: ExitStack) -> tuple[Client, Receipt, Client, Receipt]:
    """Two funded users; one rests an order, the other crosses it. Clients close with ``stack``."""
    op = stack.enter_context(running.operator_client())
    list_defaults(op)
    alice, bob = fixed_identity("alice"), fixed_identity("bob")
    open_account(op, alice, 5 * BTC, 10**6 * USD)
    open_account(op, bob, 5 * BTC, 10**6 * USD)
    maker = stack.enter_context(running.client(alice))
    taker = stack.enter_context(running.client(bob))
    resting = maker.place_order("BTC-USD", Side.SELL, 3 * LOT, PRICE)
    crossing = taker.place_order("BTC-USD", Side.BUY, 2 * LOT, PRICE)
    return maker, resting, taker, crossing


def test_receipts_are_proven_and_trades_name_both_signed_orders(
    db_url: str, tmp_path: Path
) -> None:
    with running_core(make_config(tmp_path / "core", db_url)) as running, ExitStack() as stack:
        maker, resting, taker, crossing = trade_between(running, stack)
        assert resting.log is not None
        assert crossing.log is not None
        wait_for_checkpoint(taker, crossing.log.first + len(crossing.log.leaves))
        proven = taker.prove(crossing)
        order, trade = proven[0].entry, proven[1].entry
        assert isinstance(order, SignedRequest)
        assert isinstance(trade, TradeEntry)
        assert (trade.maker_leaf, trade.taker_leaf) == (resting.log.first, crossing.log.first)
        assert (trade.price, trade.qty) == (PRICE, 2 * LOT)
        maker_order = maker.prove(resting)[0].entry
        assert isinstance(maker_order, SignedRequest)
        assert maker_order.user != order.user  # two users, two pseudonyms
        assert maker_order.seq < order.seq == trade.seq


def test_the_public_log_names_no_account_label_or_amount(sqlite_url: str, tmp_path: Path) -> None:
    config = make_config(tmp_path / "core", sqlite_url)
    with running_core(config) as running, ExitStack() as stack:
        maker, _, _, crossing = trade_between(running, stack)
        assert crossing.log is not None
        size = crossing.log.first + len(crossing.log.leaves)
        wait_for_checkpoint(maker, size)
        raw = list(log_entries(maker.fetch_tile, size))
    entries = [decode_entry(e) for e in raw]
    kinds = {type(e) for e in entries}
    assert {AccountOpened, KeyAdded, DepositCredited, SignedRequest, TradeEntry} <= kinds
    blob = b"".join(raw)
    amounts = [msgspec.msgpack.encode(a) for a in (5 * BTC, 10**6 * USD)]
    for secret in (b"alice", b"bob", b"fund-alice-btc", *amounts):
        assert secret not in blob
    credits = [e for e in entries if isinstance(e, DepositCredited)]
    assert len({c.user for c in credits}) == 2
    assert len({c.commitment for c in credits}) == len(credits)


def test_hostile_answers_are_refused_by_the_client(sqlite_url: str, tmp_path: Path) -> None:
    config = make_config(tmp_path / "core", sqlite_url)
    with running_core(config) as running, ExitStack() as stack:
        _, _, taker, crossing = trade_between(running, stack)
        assert crossing.log is not None
        wait_for_checkpoint(taker, crossing.log.first + 2)
        old_note = taker.call(CheckpointRequest(), SignedCheckpointReply).note
        # A tile served with one hash changed: the proof no longer reaches the signed root.
        honest = taker.fetch_tile

        def forged(tile: TileId) -> bytes:
            data = bytearray(honest(tile))
            data[-1] ^= 1
            return bytes(data)

        watcher = taker.log
        assert watcher is not None
        leaf = crossing.log.leaves[0]
        with pytest.raises(LogMismatch, match="not in the log"):
            watcher.prove(crossing.log.first, leaf, forged)
        # An entry that is not the one the receipt named.
        with pytest.raises(LogMismatch, match="not in the log"):
            watcher.prove(crossing.log.first, crossing.log.leaves[1], honest)
        # A checkpoint from another key, and one older than what the client has seen.
        impostor = LogWatcher(Verifier(TEST_ORIGIN, ED25519, fixed_identity("x").public.raw))
        with pytest.raises(CheckpointError, match="lacks the log's signature"):
            impostor.accept_checkpoint(old_note, honest)
        op = stack.enter_context(running.operator_client())
        op.create_account("carol")  # one more entry, then a newer checkpoint
        wait_for_checkpoint(taker, crossing.log.first + len(crossing.log.leaves) + 1)
        with pytest.raises(LogMismatch, match="stale checkpoint"):
            watcher.accept_checkpoint(old_note, honest)


def _stopped_site(tmp_path: Path) -> tuple[str, int]:
    """A core that traded and stopped (its final checkpoint signed); its database URL and the
    size of that checkpoint."""
    config = make_config(tmp_path / "core", f"sqlite:///{tmp_path}/core.db")
    with running_core(config) as running, ExitStack() as stack:
        _, _, taker, crossing = trade_between(running, stack)
        assert crossing.log is not None
        wait_for_checkpoint(taker, crossing.log.first + len(crossing.log.leaves))
    storage = SqlStorage(config.database)
    checkpoint = storage.latest_checkpoint()
    storage.close()
    assert checkpoint is not None
    return config.database, checkpoint.size


def _restore(tmp_path: Path, url: str) -> None:
    storage = SqlStorage(url)
    try:
        restore_core(make_config(tmp_path / "core", url), storage, now_ms())
    finally:
        storage.close()


def test_a_rewritten_log_entry_stops_the_core_from_starting(tmp_path: Path) -> None:
    url, _ = _stopped_site(tmp_path)
    _restore(tmp_path, url)  # untouched, it restores
    engine = create_db_engine(url)
    with engine.begin() as conn:
        conn.execute(t.snapshots.delete())  # make it replay the journal over the stored log
        conn.execute(t.log_entries.update().where(t.log_entries.c.idx == 3).values(data=b"x"))
    engine.dispose()
    with pytest.raises(JournalCorrupt, match="log entry 3 differs"):
        _restore(tmp_path, url)


def test_a_log_rolled_back_under_its_checkpoint_is_refused(tmp_path: Path) -> None:
    """Entries and journal rows removed from the end (a partial restore of an old backup): the
    core would sign a different tree of a size it already signed, so it refuses to start."""
    url, size = _stopped_site(tmp_path)
    engine = create_db_engine(url)
    with engine.begin() as conn:
        seq = conn.execute(
            sa.select(t.log_entries.c.seq).where(t.log_entries.c.idx == size - 1)
        ).scalar_one()
        conn.execute(t.snapshots.delete())
        conn.execute(t.journal.delete().where(t.journal.c.seq >= seq))
        conn.execute(t.log_entries.delete().where(t.log_entries.c.seq >= seq))
        conn.execute(t.trades.delete().where(t.trades.c.seq >= seq))
    engine.dispose()
    with pytest.raises(JournalCorrupt, match=f"refusing to sign size .* after signing size {size}"):
        _restore(tmp_path, url)


def test_the_log_never_signs_a_tree_that_contradicts_its_last_checkpoint() -> None:
    honest = fresh_log()
    honest.tree.extend([b"one", b"two"])
    honest.last = honest.sign(2, 0)
    forked = fresh_log()
    forked.tree.extend([b"one", b"TWO", b"three"])
    forked.last = honest.last
    with pytest.raises(LogForked, match="no longer holds the tree of size 2"):
        forked.sign(3, 1)
    honest.tree.extend([b"three"])
    assert honest.sign(3, 1).size == 3
    with pytest.raises(LogForked, match="refusing to sign size 1 after signing size 2"):
        honest.sign(1, 2)


def stockade(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "stockade", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def test_stockade_verify_audits_the_log_and_keeps_its_checkpoint(tmp_path: Path) -> None:
    """The auditor's command, as a process, against a running core, with the site's public file
    and one user's key: it verifies, keeps the checkpoint, and verifies the next one against it."""
    config = make_config(tmp_path / "core", f"sqlite:///{tmp_path}/core.db")
    with running_core(config) as running, ExitStack() as stack:
        _, _, taker, crossing = trade_between(running, stack)
        assert crossing.log is not None
        wait_for_checkpoint(taker, crossing.log.first + len(crossing.log.leaves))
        site = tmp_path / "public"
        site.mkdir()
        operators = {"operator": running.operator.public}
        info = SiteFile(
            "test", running.address, running.core_identity.public, operators, log_verifier()
        )
        (site / SITE_FILE).write_text(info.render())
        key = site / "auditor.key"
        write_secret(key, fixed_identity("alice"))
        state = tmp_path / "last-checkpoint"
        first = stockade("verify", str(site), "--key", str(key), "--state", str(state))
        assert first.returncode == 0, first.stdout + first.stderr
        assert "every entry verified" in first.stdout
        assert "1 trades" in first.stdout
        assert state.read_text().startswith(TEST_ORIGIN)
        taker.place_order("BTC-USD", Side.BUY, LOT, PRICE)  # trades with the rest of the order
        wait_for_checkpoint(taker, crossing.log.first + len(crossing.log.leaves) + 2)
        second = stockade("verify", str(site), "--key", str(key), "--state", str(state))
        assert second.returncode == 0, second.stdout + second.stderr
        assert "2 trades" in second.stdout


def test_a_client_shown_two_histories_detects_the_fork() -> None:
    """A log (or a relay with a stolen log key) shows one client a tree and later another that
    does not extend it: the second checkpoint is refused as a fork, not accepted."""
    honest, forked = fresh_log(), fresh_log()
    honest.tree.extend([b"a", b"b", b"c"])
    forked.tree.extend([b"a", b"B", b"c", b"d"])
    watcher = LogWatcher(log_verifier())
    first = honest.sign(3, 0)
    watcher.accept_checkpoint(first.note, lambda tile: hash_tile(honest.tree, tile))
    second = forked.sign(4, 1)
    with pytest.raises(ForkedLog, match="the log forked"):
        watcher.accept_checkpoint(second.note, lambda tile: hash_tile(forked.tree, tile))
    assert watcher.checkpoint is not None
    assert watcher.checkpoint.size == 3


def test_a_bad_tile_is_not_taken_for_a_fork() -> None:
    """Only hashes that lead to the later root yet contradict the earlier one prove a fork; a
    relay serving a wrong tile gets its answer refused, and the log is not accused."""
    log = fresh_log()
    log.tree.extend([b"a", b"b", b"c"])
    watcher = LogWatcher(log_verifier())
    watcher.accept_checkpoint(log.sign(3, 0).note, lambda tile: hash_tile(log.tree, tile))
    log.tree.extend([b"d", b"e"])

    def wrong(tile: TileId) -> bytes:
        return bytes(32) + hash_tile(log.tree, tile)[32:]

    with pytest.raises(LogMismatch, match="not shown") as refused:
        watcher.accept_checkpoint(log.sign(5, 1).note, wrong)
    assert not isinstance(refused.value, ForkedLog)
    watcher.accept_checkpoint(log.sign(5, 1).note, lambda tile: hash_tile(log.tree, tile))

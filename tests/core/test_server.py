"""The core over real loopback sockets, on SQLite and PostgreSQL."""

from __future__ import annotations

import socket
from pathlib import Path

import msgspec
import pytest

from stockade.client import Refused
from stockade.core import SqlStorage
from stockade.core._server import _chunks
from stockade.exchange import CloseReason, Side, TimeInForce, Trade
from stockade.keys import PublicKey
from stockade.wire import (
    MAX_REPLY,
    Address,
    Book,
    Channel,
    ErrorInfo,
    FrameReader,
    Opener,
    PeerRefusedFrame,
    PlaceOrderRequest,
    Pong,
    Receipt,
    Replies,
    Reply,
    decode_body,
    decode_envelope,
    encode_message,
    frame,
)
from tests.conftest import fixed_identity
from tests.core.helpers import LOT, PRICE
from tests.core.server_fixture import list_defaults, make_config, open_account, running_core

BTC, USD = 10**8, 10**6


def test_trading_over_tcp_with_durable_receipts(db_url: str, tmp_path: Path) -> None:
    config = make_config(tmp_path / "core", db_url)
    alice, bob = fixed_identity("alice"), fixed_identity("bob")
    with running_core(config) as core:
        with core.operator_client() as op:
            list_defaults(op)
            open_account(op, alice, 5 * BTC, 10**6 * USD)
            open_account(op, bob, 5 * BTC, 10**6 * USD)
        with core.client(alice) as a, core.client(bob) as b:
            ask = a.place_order("BTC-USD", Side.SELL, 10 * LOT, PRICE, client_order_id="ask")
            durable = SqlStorage(config.database)
            assert durable.last_seq() >= ask.seq  # the receipt came after the commit
            durable.close()
            bought = b.place_order("BTC-USD", Side.BUY, 4 * LOT, PRICE, TimeInForce.IOC)
            assert [e.qty for e in bought.events if isinstance(e, Trade)] == [4 * LOT]
            a.cancel_order(client_order_id="ask")
            info = a.order(client_order_id="ask")  # closed: answered from the database
            assert (info.open, info.close_reason, info.remaining) == (
                False,
                CloseReason.CANCELLED,
                6 * LOT,
            )
            trades = b.my_trades().trades
            assert [(t.side, t.maker, t.qty) for t in trades] == [(Side.BUY, False, 4 * LOT)]
            assert a.balances()["BTC"] == (5 * BTC - 4 * LOT, 0)
            with pytest.raises(Refused) as refused:
                a.place_order("BTC-USD", Side.SELL, 10**4 * BTC, PRICE)
            assert refused.value.info.name == "QTY_ABOVE_MAXIMUM"


def test_pipelined_requests_get_replies_in_order(sqlite_url: str, tmp_path: Path) -> None:
    config = make_config(tmp_path / "core", sqlite_url)
    alice = fixed_identity("alice")
    with running_core(config, unix=tmp_path / "core.sock") as core:
        with core.operator_client() as op:
            list_defaults(op)
            open_account(op, alice, 50 * BTC, 10**7 * USD)
        unix = Address("unix", path=tmp_path / "core.sock")
        channel = Channel(unix, alice, core.core_identity.public)
        requests = [
            PlaceOrderRequest("BTC-USD", Side.BUY, TimeInForce.GTC, LOT, PRICE - i * 10**5, f"c{i}")
            for i in range(300)
        ]
        channel.send_many(requests)
        replies = [channel.receive() for _ in requests]
        channel.close()
    assert all(isinstance(r.body, Receipt) for r in replies)
    seqs = [r.body.seq for r in replies if isinstance(r.body, Receipt)]
    assert seqs == sorted(seqs)
    assert len(set(seqs)) == 300


def _raw_replies(sock: socket.socket, core_key: PublicKey, count: int) -> list[Reply]:
    """Read ``count`` replies, checking each is signed by the core (they are addressed to no one:
    the frames they answer were too broken to name a sender)."""
    reader, replies = FrameReader(MAX_REPLY), []
    while len(replies) < count:
        data = sock.recv(65536)
        if not data:
            break
        for payload in reader.feed(data):
            env = decode_envelope(payload, MAX_REPLY)
            Opener.verify_signature(env, core_key)
            reply = decode_body(env)
            assert isinstance(reply, Reply)
            replies.append(reply)
    return replies


def test_garbage_and_hostile_frames_get_errors_and_change_nothing(
    sqlite_url: str, tmp_path: Path
) -> None:
    config = make_config(tmp_path / "core", sqlite_url)
    with running_core(config) as core:
        with core.operator_client() as op:
            list_defaults(op)
            before = op.status()
        sock = socket.create_connection((core.address.host, core.address.port))
        hostile = [b"", b"\x00" * 10, b"\xc1", msgspec.msgpack.encode([1, 2, 3]), b"\x91" * 500]
        sock.sendall(b"".join(frame(h) for h in hostile))
        replies = _raw_replies(sock, core.core_identity.public, len(hostile))
        assert [r.error.name for r in replies if r.error] == ["Malformed"] * len(hostile)
        sock.sendall((10**7).to_bytes(4, "big"))  # declares an oversize frame
        (last,) = _raw_replies(sock, core.core_identity.public, 1)
        assert isinstance(last.error, ErrorInfo)
        assert last.error.name == "Oversize"
        assert sock.recv(10) == b""  # and the connection is closed
        sock.close()
        with core.operator_client() as op:
            after = op.status()
        assert (after.seq, after.durable_seq) == (before.seq, before.durable_seq)


def test_restart_restores_the_same_state_from_snapshot_and_journal(
    db_url: str, tmp_path: Path
) -> None:
    config = make_config(tmp_path / "core", db_url)
    alice, bob = fixed_identity("alice"), fixed_identity("bob")
    with running_core(config) as core:
        with core.operator_client() as op:
            list_defaults(op)
            open_account(op, alice, 5 * BTC, 10**6 * USD)
            open_account(op, bob, 5 * BTC, 10**6 * USD)
        with core.client(alice) as a, core.client(bob) as b:
            for i in range(20):
                a.place_order("BTC-USD", Side.SELL, (i + 1) * LOT, PRICE + i * 10**5)
                b.place_order("BTC-USD", Side.BUY, LOT, PRICE + i * 10**5)
            open_before = a.open_orders().orders
        state = core.server.core.state_hash()
        seq = core.server.core.seq
    storage = SqlStorage(config.database)
    snapshot = storage.latest_snapshot()
    storage.close()
    assert snapshot is not None
    assert snapshot.seq == seq  # written at shutdown
    with running_core(config) as core:
        assert core.server.core.state_hash() == state
        with core.client(alice) as a:
            assert a.open_orders().orders == open_before
            assert len(open_before) > 10


def test_a_client_with_a_wrong_clock_learns_why_and_nothing_is_applied(
    sqlite_url: str, tmp_path: Path
) -> None:
    config = make_config(tmp_path / "core", sqlite_url)
    alice = fixed_identity("alice")
    with running_core(config) as core:
        with core.operator_client() as op:
            list_defaults(op)
            open_account(op, alice, BTC, 10**6 * USD)
            seq = op.status().seq
        late = Channel(core.address, alice, core.core_identity.public, clock=lambda: 1.0)
        with late, pytest.raises(PeerRefusedFrame) as refused:
            late.call(PlaceOrderRequest("BTC-USD", Side.BUY, TimeInForce.GTC, LOT, PRICE))
        assert refused.value.error.name == "Expired"
        with core.operator_client() as op:
            assert op.status().seq == seq


def test_large_reply_groups_are_split_under_the_frame_limit() -> None:
    big = Reply(bytes(16), body=Book("BTC-USD", 1, [(10**12, 10**12)] * 1000, []))
    chunks = _chunks([big] * 100)
    assert sum(len(c) for c in chunks) == 100
    for chunk in chunks:
        assert len(encode_message(Replies(chunk) if len(chunk) > 1 else chunk[0])) < MAX_REPLY
    small = Reply(bytes(16), body=Pong(1, 1))
    assert [len(c) for c in _chunks([small] * 600)] == [256, 256, 88]

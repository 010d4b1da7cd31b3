"""Hostile-relay drills against a running site. A relay (here a proxy in front of the real one)
forges, drops, replays, reorders or splits what it serves; each time the client refuses it and
`stockade verify` names it."""

from __future__ import annotations

import time
from pathlib import Path

import msgspec
import pytest

from stockade.client import (
    FeedGap,
    FeedReordered,
    ForkedLog,
    LogMismatch,
    LogWatcher,
    MarketWatcher,
    RelayReader,
    StaleCheckpoint,
    log_entries,
)
from stockade.keys import read_secret
from stockade.tlog import (
    ENTRIES,
    AddCheckpoint,
    Checkpoint,
    CheckpointError,
    TradeEntry,
    Tree,
    decode_bundle,
    decode_entry,
    encode_add_checkpoint,
    encode_bundle,
    encode_entry,
    hash_tile,
    parse_tile_path,
    sign_text,
)
from stockade.witness import CONFIG_FILE, load_config
from tests.live import LiveSite
from tests.processes import http_post, stockade
from tests.relay.conftest import HostileRelay
from tests.relay.test_relay import trade

MARKET = "BTC-USD"


def verify(live: LiveSite, relay: str, *extra: str) -> tuple[int, str]:
    done = stockade("verify", str(live.layout.root), "--relay", relay, *extra)
    return done.returncode, done.stdout + done.stderr


def a_trade_entry(live: LiveSite) -> tuple[int, TradeEntry]:
    """The log index and entry of the first trade in the log."""
    relay = RelayReader(live.relay)
    size = int(relay.checkpoint_note().split(b"\n")[1])
    for index, leaf in enumerate(log_entries(relay.fetch_tile, size)):
        entry = decode_entry(leaf)
        if isinstance(entry, TradeEntry):
            return index, entry
    raise AssertionError("no trade in the log")


def rewrite_entry(index: int, new: bytes | None):  # type: ignore[no-untyped-def]
    """A tamper that replaces (or, with None, drops) entry ``index`` in the bundle holding it."""

    def tamper(path: str, body: bytes) -> bytes:
        if not path.startswith("/tile/entries/"):
            return body
        tile = parse_tile_path(path[1:])
        if not tile.index * 256 <= index < tile.index * 256 + tile.width:
            return body
        entries = decode_bundle(body, tile.width)
        position = index - tile.index * 256
        entries[position : position + 1] = [] if new is None else [new]
        return encode_bundle(entries)

    return tamper


def test_a_forged_trade_entry_is_refused_by_the_client_and_named_by_verify(
    live: LiveSite, hostile: HostileRelay
) -> None:
    live.relay_caught_up(trade(live))
    index, entry = a_trade_entry(live)
    forged = msgspec.structs.replace(entry, price=entry.price * 2)
    hostile.tamper = rewrite_entry(index, encode_entry(forged))
    watcher = live.site.log_watcher()
    relay = RelayReader(hostile.url)
    watcher.accept_checkpoint(relay.checkpoint_note(), relay.fetch_tile)
    with pytest.raises(LogMismatch, match=f"entry {index} is not in the log"):
        watcher.prove_index(index, relay.fetch_tile)
    code, out = verify(live, hostile.url)
    assert code == 1, out
    assert f"entry {index}: entry-altered" in out


def test_dropped_entries_and_dropped_events_are_detected(
    live: LiveSite, hostile: HostileRelay
) -> None:
    live.relay_caught_up(trade(live))
    hostile.tamper = rewrite_entry(3, None)
    code, out = verify(live, hostile.url)
    assert code == 4, out
    assert "bundle holds" in out
    hostile.tamper = lambda _path, body: body
    hostile.events = lambda events: events[:2] + events[3:]
    watcher = MarketWatcher(RelayReader(hostile.url), MARKET, live.site.log_watcher())
    watcher.from_start()
    with pytest.raises(FeedGap, match="events 3 to 3 are missing"):
        watcher.poll()
    code, out = verify(live, hostile.url)
    assert code == 1, out
    assert "market-data" in out


def test_a_stale_checkpoint_is_refused(
    live: LiveSite, hostile: HostileRelay, tmp_path: Path
) -> None:
    live.relay_caught_up(trade(live))
    old = RelayReader(live.relay).checkpoint_note()
    live.relay_caught_up(trade(live))
    state = tmp_path / "auditor-state"
    code, out = verify(live, live.relay, "--state", str(state))  # the auditor saw the new one
    assert code == 0, out
    hostile.tamper = lambda path, body: old if path == "/checkpoint" else body
    code, out = verify(live, hostile.url, "--state", str(state))
    assert code == 3, out
    assert "stale checkpoint" in out
    # a client that never saw the newer one still refuses a view whose cosignatures grow old
    watcher = LogWatcher(live.site.log, live.site.witnesses, 1, max_age_s=1)
    time.sleep(2.5)
    relay = RelayReader(hostile.url)
    with pytest.raises(StaleCheckpoint, match="cosigned"):
        watcher.accept_checkpoint(relay.checkpoint_note(), relay.fetch_tile)


def test_reordered_market_data_is_refused_and_named(live: LiveSite, hostile: HostileRelay) -> None:
    live.relay_caught_up(trade(live))

    def swap(events: list[dict[str, object]]) -> list[dict[str, object]]:
        """Swap the first trade with the event before it, renumbering so seq still counts."""
        i = next(n for n, e in enumerate(events) if e["type"] == "trade")
        events = [dict(e) for e in events]
        events[i - 1], events[i] = events[i], events[i - 1]
        events[i - 1]["seq"], events[i]["seq"] = i, i + 1
        return events

    def repeat_a_trade(events: list[dict[str, object]]) -> list[dict[str, object]]:
        """The first trade shown twice, the second renumbered to look like the next event."""
        i = next(n for n, e in enumerate(events) if e["type"] == "trade")
        again = {**events[i], "seq": i + 2}
        return [
            *events[: i + 1],
            again,
            *({**e, "seq": int(str(e["seq"])) + 1} for e in events[i + 1 :]),
        ]

    for tamper in (swap, repeat_a_trade):
        hostile.events = tamper
        watcher = MarketWatcher(RelayReader(hostile.url), MARKET, live.site.log_watcher())
        watcher.from_start()
        with pytest.raises(FeedReordered):
            watcher.poll()
    hostile.events = swap
    code, out = verify(live, hostile.url)
    assert code == 1, out
    assert "market-data" in out


def test_two_clients_shown_two_trees(live: LiveSite, hostile: HostileRelay, tmp_path: Path) -> None:
    """The relay shows client B a history other than client A's, signed with the log's key
    stolen from core. The witness refuses to cosign it, so B (which requires the witness)
    refuses it; B without witnesses, having seen A's view, proves the fork; verify keeps it."""
    live.relay_caught_up(trade(live))
    honest = RelayReader(live.relay)
    state = tmp_path / "a-state"
    code, out = verify(live, live.relay, "--state", str(state))  # client A's view
    assert code == 0, out
    size = int(state.read_bytes().split(b"\n")[1])
    entries = list(log_entries(honest.fetch_tile, size))
    entries[2] = entries[2][:-1] + bytes([entries[2][-1] ^ 1])  # history rewritten early on
    forked = Tree()
    forked.extend([*entries, b"one more"])
    log_key = read_secret(live.layout.core / "log.key")
    text = Checkpoint(live.site.log.name, forked.size, forked.root()).text()
    note = sign_text(text, live.site.log.name, log_key.secret, log_key.public.raw).encode()

    def split_view(path: str, body: bytes) -> bytes:
        if path == "/checkpoint":
            return note
        tile = parse_tile_path(path[1:])
        if tile.level == ENTRIES:
            start = tile.index * 256
            return encode_bundle([*entries, b"one more"][start : start + tile.width])
        return hash_tile(forked, tile)

    hostile.tamper = split_view
    b_relay = RelayReader(hostile.url)
    with pytest.raises(CheckpointError, match="0 of the 1 cosignatures"):
        live.site.log_watcher().accept_checkpoint(b_relay.checkpoint_note(), b_relay.fetch_tile)
    witness_url = f"http://127.0.0.1:{load_config(live.layout.witness / CONFIG_FILE).listen.port}"
    status, _, latest = http_post(witness_url, "/add-checkpoint", b"old 0\n\n" + note)
    assert status == 409  # it has cosigned the honest log further than nothing
    old = int(latest)
    proof = tuple(forked.consistency_proof(old, forked.size)) if old < forked.size else ()
    body = encode_add_checkpoint(AddCheckpoint(old, proof, note))
    assert http_post(witness_url, "/add-checkpoint", body)[0] in (400, 409, 422)
    a_view = LogWatcher(live.site.log)
    a_view.accept_checkpoint(state.read_bytes(), honest.fetch_tile)
    with pytest.raises(ForkedLog, match="forked"):
        a_view.accept_checkpoint(note, b_relay.fetch_tile)
    code, out = verify(live, hostile.url, "--state", str(state))
    assert code == 2, out
    proof_file = state.with_name(f"{state.name}.equivocation")
    assert note in proof_file.read_bytes()

"""`stockade verify`'s replay checks signatures in worker processes on large logs: the report is
the same as checking them inline, and a forged signature is still named."""

from __future__ import annotations

import msgspec
import pytest

from stockade.client import SiteFile
from stockade.client import _verify as verify
from stockade.exchange import SelfTrade, Side, TimeInForce
from stockade.tlog import (
    TILE_WIDTH,
    SignedRequest,
    TileId,
    Tree,
    decode_entry,
    encode_entry,
    tile_bytes,
)
from stockade.wire import parse_address
from tests.audit.test_replay import all_entries, run_flow
from tests.conftest import fresh_log
from tests.core.helpers import CoreHarness
from tests.core.server_fixture import log_verifier


class MemoryLog:
    """A log served from memory, checkpointed by the test log key."""

    def __init__(self, entries: list[bytes]) -> None:
        self.entries = entries
        log = fresh_log()
        log.tree.extend(entries)
        self.tree: Tree = log.tree
        self.note = log.sign(len(entries), 0).note

    def checkpoint_note(self) -> bytes:
        return self.note

    def fetch_tile(self, tile: TileId) -> bytes:
        return tile_bytes(self.tree, self.entries, tile)


def site_of(h: CoreHarness) -> SiteFile:
    address = parse_address("tcp://127.0.0.1:1")
    return SiteFile("t", address, h.core_identity.public, {"op": h.operator.public}, log_verifier())


def flow_log() -> tuple[CoreHarness, list[bytes]]:
    """Alice and Bob rest and take orders around the price: a log with trades."""
    h = CoreHarness()
    steps: list[object] = [
        (
            Side.BUY if n % 2 else Side.SELL,
            TimeInForce.IOC if n % 3 == 0 else TimeInForce.GTC,
            3,
            n % 4 - 2,
            False,
            SelfTrade.CANCEL_RESTING,
        )
        for n in range(200)
    ]
    run_flow(h, steps)
    return h, all_entries(h)


def test_checking_signatures_in_workers_gives_the_same_report(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    h, entries = flow_log()
    inline = verify.verify_log(MemoryLog(entries), site_of(h), None).report
    monkeypatch.setattr(verify, "PARALLEL_FROM", 1)
    parallel = verify.verify_log(MemoryLog(entries), site_of(h), None).report
    assert parallel == inline
    assert inline.findings == []
    assert inline.trades > 0

    index = next(i for i, e in enumerate(entries) if isinstance(decode_entry(e), SignedRequest))
    entry = decode_entry(entries[index])
    assert isinstance(entry, SignedRequest)
    forged = bytearray(entry.envelope)
    forged[-10] ^= 1  # inside the signature
    entries[index] = encode_entry(msgspec.structs.replace(entry, envelope=bytes(forged)))
    report = verify.verify_log(MemoryLog(entries), site_of(h), None).report
    assert (report.findings[0].index, report.findings[0].kind) == (index, "forged-signature")


def test_an_altered_entry_with_matching_leaf_tiles_is_still_found() -> None:
    """A server that alters an entry and rewrites the level-0 hash tile to match it, keeping the
    higher tiles honest, must not get a clean report (the level-0 tiles are checked on their own
    against the signed root)."""
    h, entries = flow_log()
    assert len(entries) > TILE_WIDTH  # so a higher tile covers the altered entry
    honest = MemoryLog(entries)
    index = next(i for i, e in enumerate(entries) if isinstance(decode_entry(e), SignedRequest))
    altered = list(entries)
    altered[index] = altered[index][:-1] + bytes([altered[index][-1] ^ 1])
    lying = MemoryLog(altered)
    lying.note = honest.note

    def fetch(tile: TileId) -> bytes:  # altered entries and level 0; honest higher levels
        return MemoryLog.fetch_tile(lying if tile.level <= 0 else honest, tile)

    lying.fetch_tile = fetch  # type: ignore[method-assign]
    findings = verify.verify_log(lying, site_of(h), None).report.findings
    assert "entries-differ" in {f.kind for f in findings}
    assert "entry-altered" not in {f.kind for f in findings}  # leaf tiles not authentic

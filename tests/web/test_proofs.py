"""A receipt's log entry and its inclusion proof, served by web from its mirror of the log and
checked here with the log's key alone: the proof must lead from the entry to the root the log
signed, and the entry must be the very request the client signed."""

from __future__ import annotations

import base64
import json

import pytest

from stockade.exchange import Side
from stockade.site._defaults import BTC_USD
from stockade.tlog import ProofError, decode_entry, leaf_hash, open_checkpoint, verify_inclusion
from tests.live import LiveSite
from tests.processes import http_request, wait_for

PRICE = 55_000 * 10**6


def _entry(live: LiveSite, index: object) -> tuple[int, dict[str, object]]:
    status, _, body = http_request(live.web, "GET", f"/api/v1/log/entries/{index}")
    return status, json.loads(body)


def _covered(live: LiveSite, index: int) -> dict[str, object]:
    found: dict[str, object] = {}

    def served() -> bool:
        status, body = _entry(live, index)
        found.update(body)
        return status == 200

    wait_for(served, 30, f"a checkpoint covering entry {index}")
    return found


def test_a_receipts_entry_is_proven_under_the_signed_checkpoint(live: LiveSite) -> None:
    with live.api("alice") as alice:
        receipt = alice.place_order("BTC-USD", Side.BUY, BTC_USD.lot, PRICE, client_order_id="p-1")
        assert receipt.log is not None
        index = receipt.log.first
        answer = _covered(live, index)
        alice.cancel_order(receipt.order_id)
    signed = open_checkpoint(str(answer["checkpoint"]).encode(), live.site.log)
    size = answer["size"]
    assert size == signed.checkpoint.size
    assert isinstance(size, int)
    assert size > index
    entry = base64.b64decode(str(answer["entry"]))
    assert entry == receipt.log.leaves[0]  # what the receipt said was logged
    proof = [base64.b64decode(h) for h in answer["proof"]]  # type: ignore[union-attr]
    verify_inclusion(index, size, leaf_hash(entry), proof, signed.checkpoint.root)
    says = answer["says"]
    assert isinstance(says, dict)
    assert says["type"] == "SignedRequest"
    assert says["request"]["type"] == "PlaceOrderRequest"
    assert says["request"]["client_order_id"] == "p-1"
    assert says["signed_by"] == alice.identity.public.hex()
    assert says["seq"] == decode_entry(entry).seq == receipt.seq
    with pytest.raises(ProofError):  # the proof is for that entry only
        verify_inclusion(index, size, leaf_hash(entry + b"x"), proof, signed.checkpoint.root)


def test_bad_and_future_indexes_get_precise_errors(live: LiveSite) -> None:
    status, body = _entry(live, "x1")
    assert status == 400
    assert (body["error"]["name"], body["error"]["field"]) == ("Malformed", "index")  # type: ignore[index]
    status, body = _entry(live, 10**15)
    assert status == 404
    assert body["error"]["name"] == "NotInLogYet"  # type: ignore[index]
    status, body = _entry(live, "9" * 20)
    assert status == 400
    for page in ("/log/x", "/log/-1", "/log/" + "9" * 5000):
        status, _, html = http_request(live.web, "GET", page)
        assert status == 404, page
        assert b"no such log entry" in html

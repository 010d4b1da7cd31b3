"""Each account's request budget over HTTP: core counts it, web shows it in ``RateLimit-*``
headers, and a spent budget is a 429 with ``Retry-After`` that changed nothing."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from stockade.client import Refused
from stockade.core import Budget
from stockade.exchange import Side
from stockade.site._defaults import BTC_USD
from tests.live import LiveSite, running_site, signed_raw
from tests.processes import http_request

BURST = 4


@pytest.fixture(scope="module")
def tight(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveSite]:
    """A site whose accounts may send four requests at once, then one a second."""
    with running_site(tmp_path_factory.mktemp("limits") / "site", Budget(1, BURST)) as site:
        yield site


def test_headers_count_down_then_429_changes_nothing(tight: LiveSite) -> None:
    with tight.api("alice") as alice, tight.api("bob") as bob:
        seen = []
        for _ in range(BURST):
            method, path, body, signed = signed_raw(alice, "GET", "/api/v1/balances")
            status, headers, _ = http_request(tight.web, method, path, body, headers=signed)
            assert status == 200
            seen.append((headers["RateLimit-Limit"], headers["RateLimit-Remaining"]))
            assert int(headers["RateLimit-Reset"]) >= 1
        assert seen == [(str(BURST), str(BURST - n)) for n in range(1, BURST + 1)]
        with pytest.raises(Refused) as refused:
            alice.place_order(BTC_USD.code, Side.BUY, BTC_USD.lot, BTC_USD.tick)
        assert refused.value.info.name == "RATE_LIMITED"
        assert alice.quota is not None  # core's signed refusal says how long to wait
        assert alice.quota.remaining == 0
        assert 0 < alice.quota.retry_after_ms <= 1_000
        method, path, body, headers = signed_raw(alice, "GET", "/api/v1/open-orders")
        status, answer, raw = http_request(tight.web, method, path, body, headers=headers)
        assert status == 429
        assert answer["Content-Type"] == "application/json"
        assert int(answer["Retry-After"]) >= 1
        assert json.loads(raw)["error"]["name"] == "RATE_LIMITED"
        assert bob.balances()  # another account's budget is untouched
        time.sleep(alice.quota.retry_after_ms / 1_000 + 0.1)
        assert alice.open_orders().orders == []  # the refused order was never placed

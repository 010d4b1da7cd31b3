"""Each account's request budget: a burst at once, then the steady rate, and never more."""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stockade.core import Budget, ConfigError, Limiter, load_config
from stockade.exchange import Side, TimeInForce
from stockade.site import SiteLayout, init_site
from stockade.wire import Balances, BalancesRequest, ErrorInfo, PlaceOrderRequest
from tests.core.helpers import LOT, PRICE, CoreHarness


def test_a_burst_then_one_request_per_interval() -> None:
    limiter = Limiter(Budget(per_s=10, burst=3))
    quotas = [limiter.take(1, 1_000) for _ in range(4)]
    assert [q.remaining for q in quotas] == [2, 1, 0, 0]
    assert [q.retry_after_ms for q in quotas] == [0, 0, 0, 100]
    assert quotas[2].reset_ms == 300  # three intervals of 100 ms until the budget is full
    assert limiter.take(1, 1_099).retry_after_ms == 1
    assert limiter.take(1, 1_100).retry_after_ms == 0
    assert limiter.take(2, 1_100).remaining == 2  # another account has its own budget


def test_a_refused_request_costs_nothing() -> None:
    limiter = Limiter(Budget(per_s=1, burst=1))
    assert limiter.take(7, 0).retry_after_ms == 0
    for t in range(0, 1_000, 50):  # hammering while refused does not push the wait back
        assert limiter.take(7, t).retry_after_ms == 1_000 - t
    assert limiter.take(7, 1_000).retry_after_ms == 0


def test_a_clock_stepping_back_costs_at_most_one_spent_budget() -> None:
    limiter = Limiter(Budget(per_s=10, burst=2))
    for _ in range(2):
        limiter.take(1, 3_600_000)
    stepped_back = limiter.take(1, 0)  # the wall clock went back an hour
    assert 0 < stepped_back.retry_after_ms <= 100
    assert limiter.take(1, 100).retry_after_ms == 0


@pytest.mark.parametrize(("per_s", "burst"), [(0, 1), (1, 0), (1_000_001, 1)])
def test_a_budget_is_at_least_one_request(per_s: int, burst: int) -> None:
    with pytest.raises(ValueError, match="budget"):
        Budget(per_s, burst)


@given(
    per_s=st.integers(1, 2_000),
    burst=st.integers(1, 50),
    gaps=st.lists(st.integers(0, 200), min_size=1, max_size=300),
)
def test_the_same_as_a_bucket_of_tokens(per_s: int, burst: int, gaps: list[int]) -> None:
    """A request is accepted exactly when a bucket of ``burst`` tokens, refilled at the rate,
    holds a whole token: so never more than the burst plus the refill, and never a refusal
    while budget is left. The quota tells the bucket's state."""
    limiter = Limiter(Budget(per_s, burst))
    interval_us = max(1, 1_000_000 // per_s)
    tokens, now = Fraction(burst), 0
    for gap in gaps:
        now += gap
        tokens = min(Fraction(burst), tokens + Fraction(gap * 1_000, interval_us))
        quota = limiter.take(1, now)
        assert quota.limit == burst
        if tokens >= 1:
            tokens -= 1
            assert quota.retry_after_ms == 0
        else:
            wait_ms = (1 - tokens) * interval_us / 1_000
            assert quota.retry_after_ms == math.ceil(wait_ms)
        assert quota.remaining == math.floor(tokens)


def test_core_refuses_a_spent_budget_and_changes_nothing() -> None:
    h = CoreHarness()
    h.core.limiter = Limiter(Budget(per_s=1, burst=2))
    for remaining in (1, 0):
        outcome = h.send(h.alice, BalancesRequest())
        assert outcome.quota is not None
        assert outcome.quota.remaining == remaining
    seq, size = h.core.seq, h.core.log.tree.size
    refused = h.send(h.alice, PlaceOrderRequest("BTC-USD", Side.BUY, TimeInForce.GTC, LOT, PRICE))
    assert isinstance(refused.reply, ErrorInfo)
    assert refused.reply.name == "RATE_LIMITED"
    assert refused.applied is None
    assert (h.core.seq, h.core.log.tree.size) == (seq, size)
    assert refused.quota is not None
    assert refused.quota.retry_after_ms > 0
    reply = refused.reply_message(refused.reply)
    assert reply.quota == refused.quota  # the budget travels in core's signed reply
    assert h.send(h.bob, BalancesRequest()).quota is not None  # bob's budget is his own
    # operators and public reads are not counted against anyone
    assert h.send(h.operator, BalancesRequest()).quota is None
    h.now_ms += 1_000
    assert isinstance(h.send(h.alice, BalancesRequest()).reply, Balances)


@pytest.mark.parametrize("value", ["0", "-5", "1.5", "true", '"200"', "1000001"])
def test_core_toml_refuses_a_budget_that_is_not_a_count(tmp_path: Path, value: str) -> None:
    init_site(tmp_path / "site")
    config = SiteLayout(tmp_path / "site").core_config
    text = config.read_text().replace("requests_per_s = 200", f"requests_per_s = {value}")
    config.write_text(text)
    with pytest.raises(ConfigError, match="requests_per_s must be an integer"):
        load_config(config)
    config.write_text(text.replace(f"requests_per_s = {value}", "requests_per_s = 7"))
    assert load_config(config).requests_per_s == 7

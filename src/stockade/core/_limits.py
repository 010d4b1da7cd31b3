"""Each account's request budget, kept by core: the one place every signed request passes,
whichever web instance relayed it.

A GCRA (``stockade.rates``) per account: an account may send ``burst`` requests at once, then one
every ``1 / per_s`` seconds. Only a request's arrival is counted, so the budget is live state,
never journaled: replay re-applies what was accepted and needs no budget. A restart gives
everyone a full budget.
"""

from __future__ import annotations

from dataclasses import dataclass

from stockade.rates import Gcra, Rate
from stockade.wire import Quota

#: Each account's budget unless core.toml sets one: requests a second, and at once.
PER_S, BURST = 200, 400


@dataclass(frozen=True, slots=True)
class Budget:
    per_s: int = PER_S  # sustained requests a second, per account
    burst: int = BURST  # requests an account may send at once

    def __post_init__(self) -> None:
        if not (1 <= self.per_s <= 1_000_000 and 1 <= self.burst <= 1_000_000):
            raise ValueError("a request budget is 1 to 1,000,000 requests (a second, at once)")


class Limiter:
    def __init__(self, budget: Budget | None = None) -> None:
        self.budget = budget or Budget()
        self._gcra: Gcra[int] = Gcra(Rate(self.budget.per_s, self.budget.burst))

    def take(self, account: int, now_ms: int) -> Quota:
        """Spend one request of ``account``'s budget, if it has one left; the quota says how much
        is left (``retry_after_ms`` is non-zero when nothing was)."""
        used_us, wait_us = self._gcra.take(account, now_ms * 1000)
        remaining = self._gcra.remaining(used_us)
        return Quota(self.budget.burst, remaining, -(-used_us // 1000), -(-wait_us // 1000))

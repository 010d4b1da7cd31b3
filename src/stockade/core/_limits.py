"""Each account's request budget, kept by core: the one place every signed request passes,
whichever web instance relayed it.

The generic cell rate algorithm (GCRA) in integer microseconds: an account may send ``burst``
requests at once, then one every ``1 / per_s`` seconds. Only a request's arrival is counted, so
the budget is live state, never journaled: replay re-applies what was accepted and needs no
budget. A restart gives everyone a full budget.
"""

from __future__ import annotations

from dataclasses import dataclass

from stockade.wire import Quota

#: Each account's budget unless core.toml sets one: requests a second, and at once.
PER_S, BURST = 200, 400
#: Past this many accounts tracked, those whose budget is full again are forgotten.
SWEEP_AT = 100_000


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
        self._interval_us = max(1, 1_000_000 // self.budget.per_s)
        self._capacity_us = self._interval_us * self.budget.burst
        #: account -> the theoretical arrival time (us) of its next request at the steady rate
        self._tat: dict[int, int] = {}

    def take(self, account: int, now_ms: int) -> Quota:
        """Spend one request of ``account``'s budget, if it has one left; the quota says how much
        is left (``retry_after_ms`` is non-zero when nothing was)."""
        now = now_ms * 1000
        tat = max(self._tat.get(account, now), now)
        if tat > now + self._capacity_us:  # the wall clock stepped back: lock no one out for it
            tat = self._tat[account] = now + self._capacity_us
        after = tat + self._interval_us
        if after - now > self._capacity_us:
            wait_us = after - now - self._capacity_us
            return self._quota(tat - now, retry_after_ms=-(-wait_us // 1000))
        if len(self._tat) >= SWEEP_AT and account not in self._tat:
            self._tat = {a: t for a, t in self._tat.items() if t > now}
        self._tat[account] = after
        return self._quota(after - now)

    def _quota(self, used_us: int, retry_after_ms: int = 0) -> Quota:
        remaining = (self._capacity_us - used_us) // self._interval_us
        return Quota(self.budget.burst, max(0, remaining), -(-used_us // 1000), retry_after_ms)

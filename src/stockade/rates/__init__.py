"""Rate limits, pure: the generic cell rate algorithm (GCRA) in integer microseconds.

A key may spend ``burst`` at once, then one every ``1 / per_s`` seconds. Only what is let
through is counted, so hammering while refused does not push the wait back. Core keeps one per
account (its request budgets); edge keeps them per address, per key and per proven key and
address, before anything costs it a signature check. No clock is read here: times are arguments.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = ["SWEEP_AT", "Gcra", "Rate"]

#: Past this many keys tracked, those whose budget is full again are forgotten.
SWEEP_AT = 100_000

K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True, slots=True)
class Rate:
    per_s: int  # sustained a second
    burst: int  # at once

    def __post_init__(self) -> None:
        if not (1 <= self.per_s <= 1_000_000 and 1 <= self.burst <= 1_000_000):
            raise ValueError("a rate is 1 to 1,000,000 (a second, at once)")


class Gcra(Generic[K]):
    def __init__(self, rate: Rate, sweep_at: int = SWEEP_AT) -> None:
        self.rate = rate
        self.interval_us = max(1, 1_000_000 // rate.per_s)
        self.capacity_us = self.interval_us * rate.burst
        self._sweep_at = sweep_at
        #: key -> the theoretical arrival time (us) of its next request at the steady rate
        self._tat: dict[K, int] = {}

    def take(self, key: K, now_us: int) -> tuple[int, int]:
        """Spend one of ``key``'s budget if it has one left: (the budget now used, in us; how
        long until one is left, 0 when this one was spent)."""
        tat = max(self._tat.get(key, now_us), now_us)
        if tat > now_us + self.capacity_us:  # the clock stepped back: lock no one out for it
            tat = self._tat[key] = now_us + self.capacity_us
        after = tat + self.interval_us
        if after - now_us > self.capacity_us:
            return tat - now_us, after - now_us - self.capacity_us
        if len(self._tat) >= self._sweep_at and key not in self._tat:
            self._tat = {k: t for k, t in self._tat.items() if t > now_us}
        self._tat[key] = after
        return after - now_us, 0

    def remaining(self, used_us: int) -> int:
        """How many could be spent at once, given the budget used (from ``take``)."""
        return max(0, (self.capacity_us - used_us) // self.interval_us)

    def __len__(self) -> int:
        return len(self._tat)

"""The queues in front of web: a fixed number of requests in flight, and three bounded lanes of
waiters, served verified first, then known, then anonymous (the most puzzle effort first).

A waiter past its lane's deadline is dropped, never served late: its client has likely given up,
and serving it would only make the next one late too. A full lane refuses newcomers, except that
the anonymous lane drops its least-effort waiter for a newcomer that did more work.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

from stockade.edge._admission import Code, Lane, Pressure, Refusal
from stockade.edge._config import Limits


class ShedError(Exception):
    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.message)
        self.refusal = refusal


@dataclass(order=True)
class _Waiter:
    rank: tuple[int, int]  # (-effort, arrival): the heap's order
    deadline: float = field(compare=False)
    future: asyncio.Future[None] = field(compare=False)


class Lanes:
    def __init__(self, limits: Limits, pressure: Pressure, clock: Callable[[], float]) -> None:
        self.slots = limits.upstream
        self.pressure = pressure
        self.clock = clock
        # A lane below verified may hold only part of the slots, so that what web is busy with
        # is mostly signed work even before anything waits.
        self._caps = {
            Lane.verified: limits.upstream,
            Lane.known: max(1, limits.upstream * limits.known_share // 100),
            Lane.anonymous: max(1, limits.upstream * limits.anonymous_share // 100),
        }
        self._sizes = {
            Lane.verified: limits.verified_queue,
            Lane.known: limits.known_queue,
            Lane.anonymous: limits.anonymous_queue,
        }
        self._waits = {
            Lane.verified: limits.verified_ms / 1000,
            Lane.known: limits.known_ms / 1000,
            Lane.anonymous: limits.anonymous_ms / 1000,
        }
        self._queues: dict[Lane, list[_Waiter]] = {lane: [] for lane in Lane}
        self._arrivals = itertools.count()
        self.in_flight = 0
        self.flying = dict.fromkeys(Lane, 0)
        self.served = dict.fromkeys(Lane, 0)

    def depth(self, lane: Lane) -> int:
        return len(self._queues[lane])

    def _may_start(self, lane: Lane) -> bool:
        return self.in_flight < self.slots and self.flying[lane] < self._caps[lane]

    def _start(self, lane: Lane) -> None:
        self.in_flight += 1
        self.flying[lane] += 1
        self.served[lane] += 1

    async def enter(self, lane: Lane, effort: int = 0) -> None:
        """Wait for a slot; ``ShedError`` if the lane is full or the deadline passes first.
        The caller must ``leave(lane)`` once its request is done."""
        ahead = any(self._queues[other] for other in Lane if other <= lane)
        if not ahead and self._may_start(lane):
            self._start(lane)
            return
        queue = self._queues[lane]
        waiter = _Waiter(
            (-effort, next(self._arrivals)),
            self.clock() + self._waits[lane],
            asyncio.get_running_loop().create_future(),
        )
        if len(queue) >= self._sizes[lane]:
            self._make_room(lane, queue, waiter)
        heapq.heappush(queue, waiter)
        try:
            await asyncio.wait_for(waiter.future, self._waits[lane])
        except TimeoutError:
            future = waiter.future
            if future.done() and not future.cancelled() and future.exception() is None:
                return  # the slot came as the deadline passed (Python 3.12's wait_for): keep it
            self._forget(lane, waiter)
            raise self._shed(lane, Code.Late, "waited past the lane's deadline") from None
        except asyncio.CancelledError:
            if waiter.future.done() and not waiter.future.cancelled():
                self.leave(lane)  # the slot was handed over just as the client went away
            else:
                self._forget(lane, waiter)
            raise

    def _make_room(self, lane: Lane, queue: list[_Waiter], newcomer: _Waiter) -> None:
        weakest = max(queue) if lane is Lane.anonymous else None
        if weakest is None or weakest.rank[0] <= newcomer.rank[0]:
            raise self._shed(lane, Code.Shed, f"the {lane.name} lane is full")
        queue.remove(weakest)
        heapq.heapify(queue)
        weakest.future.set_exception(self._shed(lane, Code.Shed, "displaced by more work"))

    def _forget(self, lane: Lane, waiter: _Waiter) -> None:
        queue = self._queues[lane]
        if waiter in queue:
            queue.remove(waiter)
            heapq.heapify(queue)

    def _shed(self, lane: Lane, code: Code, message: str) -> ShedError:
        self.pressure.count_shed(lane)
        return ShedError(Refusal(code, message, lane))

    def leave(self, lane: Lane) -> None:
        """A request of ``lane`` is done: start the first waiters still in time, verified
        first, as far as the slots and the lanes' shares allow."""
        self.in_flight -= 1
        self.flying[lane] -= 1
        now = self.clock()
        for waiting in Lane:
            queue = self._queues[waiting]
            while queue and self._may_start(waiting):
                waiter = heapq.heappop(queue)
                if waiter.future.done():
                    continue
                if waiter.deadline < now:
                    waiter.future.set_exception(
                        self._shed(waiting, Code.Late, "waited past the lane's deadline")
                    )
                    continue
                self._start(waiting)
                waiter.future.set_result(None)

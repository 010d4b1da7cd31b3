"""The queues to web: verified first, deadlines kept, lower lanes held to their share."""

from __future__ import annotations

import asyncio

import pytest

from stockade.edge import Lane, Limits, Pressure
from stockade.edge._lanes import Lanes, ShedError


def _lanes(**limits: int) -> tuple[Lanes, list[float]]:
    now = [0.0]
    config = Limits(**limits)  # type: ignore[arg-type]
    return Lanes(config, Pressure(config), lambda: now[0]), now


def test_a_freed_slot_goes_to_the_verified_lane_first() -> None:
    async def scenario() -> list[str]:
        lanes, _ = _lanes(upstream=1)
        order: list[str] = []
        await lanes.enter(Lane.verified)  # the one slot is busy

        async def wait(lane: Lane, name: str) -> None:
            await lanes.enter(lane)
            order.append(name)
            lanes.leave(lane)

        waiters = [
            asyncio.create_task(wait(Lane.anonymous, "anonymous")),
            asyncio.create_task(wait(Lane.known, "known")),
            asyncio.create_task(wait(Lane.verified, "verified")),
        ]
        await asyncio.sleep(0)
        lanes.leave(Lane.verified)
        await asyncio.gather(*waiters)
        return order

    assert asyncio.run(scenario()) == ["verified", "known", "anonymous"]


def test_anonymous_requests_hold_only_their_share_of_the_slots() -> None:
    async def scenario() -> tuple[int, bool]:
        lanes, _ = _lanes(upstream=8, anonymous_share=25, anonymous_ms=50)
        await lanes.enter(Lane.anonymous)
        await lanes.enter(Lane.anonymous)
        with pytest.raises(ShedError) as shed:  # two of eight: the third waits, then is late
            await lanes.enter(Lane.anonymous)
        await lanes.enter(Lane.verified)  # signed work still finds a slot at once
        return lanes.in_flight, shed.value.refusal.code.name == "Late"

    assert asyncio.run(scenario()) == (3, True)


def test_a_full_anonymous_lane_drops_its_least_effort_waiter_for_more_work() -> None:
    async def scenario() -> str:
        lanes, _ = _lanes(upstream=1, anonymous_queue=1)
        await lanes.enter(Lane.verified)
        weak = asyncio.create_task(lanes.enter(Lane.anonymous, effort=8))
        await asyncio.sleep(0)
        strong = asyncio.create_task(lanes.enter(Lane.anonymous, effort=12))
        await asyncio.sleep(0)
        lanes.leave(Lane.verified)
        await strong
        with pytest.raises(ShedError) as shed:
            await weak
        return shed.value.refusal.code.name

    assert asyncio.run(scenario()) == "Shed"


def test_a_full_lane_refuses_a_newcomer_with_no_more_work() -> None:
    async def scenario() -> str:
        lanes, _ = _lanes(upstream=1, anonymous_queue=1)
        await lanes.enter(Lane.verified)
        waiting = asyncio.create_task(lanes.enter(Lane.anonymous, effort=12))
        await asyncio.sleep(0)
        with pytest.raises(ShedError) as full:
            await lanes.enter(Lane.anonymous, effort=4)
        waiting.cancel()
        return full.value.refusal.code.name

    assert asyncio.run(scenario()) == "Shed"


def test_shedding_turns_attack_mode_on() -> None:
    async def scenario() -> bool:
        lanes, _ = _lanes(upstream=1, anonymous_ms=10)
        await lanes.enter(Lane.verified)
        with pytest.raises(ShedError):
            await lanes.enter(Lane.anonymous)
        lanes.pressure.tick(0)
        return lanes.pressure.on

    assert asyncio.run(scenario())

"""The stream's sockets against clients that misbehave at the socket level, with a stand-in
WebSocket driven by hand: a client that never reads is cut off when a send times out, one that
is dropped goes as soon as its close is out (whether or not it ever sends again), and the
connection cap counts every socket that still has a handler."""

from __future__ import annotations

import asyncio
import json

import pytest

from stockade.web import _streams
from stockade.web._streams import MAX_CONNECTIONS, MAX_MESSAGE, Hub


class StandIn:
    """A WebSocket whose peer sends ``frames`` and then nothing, and reads only if ``reads``."""

    def __init__(self, frames: list[str], reads: bool = True) -> None:
        self.frames = list(frames)
        self.reads = reads
        self.sent: list[str] = []
        self.accepted = False
        self.closed: tuple[int, str] | None = None

    async def accept(self) -> None:
        self.accepted = True

    async def receive(self) -> dict[str, object]:
        if self.frames:
            return {"type": "websocket.receive", "text": self.frames.pop(0)}
        await asyncio.Event().wait()  # a peer that says nothing more, ever
        raise AssertionError("unreachable")

    async def send_text(self, data: str) -> None:
        if not self.reads:
            await asyncio.Event().wait()  # the peer's window is full and stays full
        self.sent.append(data)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        self.closed = code, reason


def run(hub: Hub, socket: StandIn, within: float = 5.0) -> None:
    asyncio.run(asyncio.wait_for(hub.stream(socket), within))  # type: ignore[arg-type]


@pytest.fixture
def hub() -> Hub:
    return Hub(None, None)  # type: ignore[arg-type]  # neither is reached by these clients


def test_a_client_that_never_reads_is_cut_off(hub: Hub, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_streams, "SEND_TIMEOUT_S", 0.2)
    monkeypatch.setattr(_streams, "CLOSE_TIMEOUT_S", 0.2)
    socket = StandIn([json.dumps({"op": "ping"})], reads=False)
    run(hub, socket)
    assert socket.sent == []
    assert (hub.sockets, hub.connections) == (0, set())


def test_a_dropped_client_goes_though_it_never_sends_again(hub: Hub) -> None:
    socket = StandIn(["x" * (MAX_MESSAGE + 1)])
    run(hub, socket)
    assert socket.closed == (1008, "Oversize")
    assert json.loads(socket.sent[-1])["error"]["name"] == "Oversize"
    assert (hub.sockets, hub.connections) == (0, set())


def test_the_cap_counts_sockets_not_followers(hub: Hub) -> None:
    hub.sockets = MAX_CONNECTIONS  # e.g. dropped clients whose sends have not timed out yet
    socket = StandIn([])
    run(hub, socket)
    assert not socket.accepted
    assert socket.closed == (1013, "TooManyConnections")
    assert hub.sockets == MAX_CONNECTIONS


def test_a_cancelled_handler_leaves_nothing_behind(hub: Hub) -> None:
    socket = StandIn([])

    async def cancel_midway() -> None:
        handler = asyncio.create_task(hub.stream(socket))  # type: ignore[arg-type]
        await asyncio.sleep(0.05)
        assert hub.sockets == 1
        handler.cancel()
        with pytest.raises(asyncio.CancelledError):
            await handler
        assert (hub.sockets, hub.connections) == (0, set())
        left = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        assert left == []

    asyncio.run(cancel_midway())

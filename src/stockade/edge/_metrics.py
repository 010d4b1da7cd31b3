"""Edge's metrics for Prometheus: each worker takes a snapshot of its counts every second; one
collector sums the workers' latest snapshots when scraped (attack mode and the puzzle's bits
are the highest of any worker). With more than one worker the snapshots come to the parent
process over a datagram socket, and the parent serves them; with one, the worker itself does.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING

import msgspec
from prometheus_client import start_http_server
from prometheus_client.core import CollectorRegistry, CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from stockade.edge._admission import Lane
from stockade.wire import Address

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric

    from stockade.edge._server import Worker

#: A snapshot is well under this; a bigger datagram is not one of ours.
MAX_SNAPSHOT = 1 << 16


class Snapshot(msgspec.Struct, forbid_unknown_fields=True):
    refused: dict[str, int]
    forwarded: int
    lanes: dict[str, tuple[int, int, int]]  # lane -> (waiting, in flight, served)
    attack: bool
    bits: int
    switches: int
    connections: int
    held: int
    keys: int
    rules: dict[str, tuple[int, int]]  # rule -> (matched, acted)


def snapshot(worker: Worker) -> Snapshot:
    admission, lanes = worker.admission, worker.lanes
    return Snapshot(
        refused=dict(worker.refused),
        forwarded=worker.forwarded,
        lanes={
            lane.name: (lanes.depth(lane), lanes.flying[lane], lanes.served[lane]) for lane in Lane
        },
        attack=admission.pressure.on,
        bits=admission.pressure.bits,
        switches=len(admission.pressure.switches),
        connections=admission.connections,
        held=admission.held_count,
        keys=len(admission.keys),
        rules=admission.rules.counts(),
    )


_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder(Snapshot).decode


class Board(Collector):
    """The latest snapshot of each worker, collected as the sum of them."""

    def __init__(self) -> None:
        self._latest: dict[int, Snapshot] = {}
        self._lock = threading.Lock()

    def post(self, worker: int, shot: Snapshot) -> None:
        with self._lock:
            self._latest[worker] = shot

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            shots = list(self._latest.values())
        yield _counter(
            "stockade_edge_refused",
            "Requests and connections edge refused, by refusal",
            ["code"],
            [((code,), n) for shot in shots for code, n in shot.refused.items()],
        )
        forwarded = sum(shot.forwarded for shot in shots)
        yield _counter(
            "stockade_edge_forwarded", "Requests edge forwarded to web", [], [((), forwarded)]
        )
        for index, name, help_text in (
            (0, "stockade_edge_lane_waiting", "Requests waiting in each lane"),
            (1, "stockade_edge_lane_in_flight", "Requests of each lane in flight to web"),
        ):
            yield _gauge(
                name,
                help_text,
                ["lane"],
                [((lane,), v[index]) for shot in shots for lane, v in shot.lanes.items()],
            )
        yield _counter(
            "stockade_edge_lane_served",
            "Requests each lane sent to web",
            ["lane"],
            [((lane,), v[2]) for shot in shots for lane, v in shot.lanes.items()],
        )
        yield _gauge(
            "stockade_edge_attack_mode",
            "1 while attack mode is on (in any worker)",
            [],
            [((), max((int(s.attack) for s in shots), default=0))],
        )
        yield _gauge(
            "stockade_edge_pow_bits",
            "The puzzle's difficulty in zero bits (0 outside attack mode)",
            [],
            [((), max((s.bits for s in shots), default=0))],
        )
        yield _counter(
            "stockade_edge_attack_switches",
            "Times attack mode switched on or off",
            [],
            [((), sum(s.switches for s in shots))],
        )
        for name, help_text, field in (
            ("stockade_edge_connections", "Client connections open", "connections"),
            ("stockade_edge_held_addresses", "Addresses held for refusals", "held"),
            ("stockade_edge_live_keys", "Live keys known (each worker's set)", "keys"),
        ):
            yield _gauge(name, help_text, [], [((), sum(getattr(s, field) for s in shots))])
        for index, name, help_text in (
            (0, "stockade_edge_rule_matched", "Requests each rule matched (dry runs too)"),
            (1, "stockade_edge_rule_acted", "Requests each rule acted on"),
        ):
            yield _counter(
                name,
                help_text,
                ["rule"],
                [((rule,), v[index]) for shot in shots for rule, v in shot.rules.items()],
            )


Samples = list[tuple[tuple[str, ...], int]]


def _totals(samples: Samples) -> dict[tuple[str, ...], int]:
    totals: dict[tuple[str, ...], int] = {}
    for labels, value in samples:
        totals[labels] = totals.get(labels, 0) + value
    return totals


def _counter(name: str, help_text: str, labels: list[str], samples: Samples) -> Metric:
    return _family(CounterMetricFamily(name, help_text, labels=labels), samples)


def _gauge(name: str, help_text: str, labels: list[str], samples: Samples) -> Metric:
    return _family(GaugeMetricFamily(name, help_text, labels=labels), samples)


def _family(family: CounterMetricFamily | GaugeMetricFamily, samples: Samples) -> Metric:
    for values, total in _totals(samples).items():
        family.add_metric(list(values), total)
    return family


def serve(address: Address, board: Board) -> None:
    """``/metrics`` (any path, as prometheus_client serves it) on ``address``, in a thread."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(board)
    start_http_server(address.port, address.host, registry=registry)


def send(sock: socket.socket, worker: int, shot: Snapshot) -> None:
    with contextlib.suppress(OSError):  # a parent that is gone or slow misses one second
        sock.send(worker.to_bytes(2, "big") + _encode(shot))


def receive(sock: socket.socket, board: Board) -> None:
    """The parent's loop: post each worker's snapshot as it comes (in a thread)."""
    while data := sock.recv(MAX_SNAPSHOT):
        with contextlib.suppress(msgspec.DecodeError, msgspec.ValidationError):
            board.post(int.from_bytes(data[:2], "big"), _decode(data[2:]))

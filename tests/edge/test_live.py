"""Edge in front of a real site (``stockade up``), with a tap between edge and web that counts
the bytes edge sends web: every hostile stage gets its precise refusal and nothing reaches web.

A second edge, held in attack mode, shows the puzzle: asked of anonymous requests (as JSON under
/api, as a page for a browser), solved by the Python client, never asked of a signed request.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import httptools
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from websockets.sync.client import connect

from stockade.client import ApiError, HttpApi
from stockade.edge import load_config
from stockade.keys import generate, read_secret
from stockade.site import SiteLayout, wait_until_listening
from stockade.wire import (
    HEADERS,
    POW_CHALLENGE_HEADER,
    POW_HEADER,
    TICKET_COOKIE,
    TICKET_MS,
    HttpRequest,
    Ticket,
    make_ticket,
    parse_address,
    parse_pow_challenge,
    sign_http,
    solve_pow,
)
from tests.edge.edges import edge_directory, edge_running, write_edge_toml
from tests.live import LiveSite, running_site
from tests.processes import free_port, wait_for


class Tap:
    """A TCP relay from edge to web that counts what edge sent."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.sent = 0
        self.seen = bytearray()  # what edge sent, as far as the first MiB
        self.sockets: list[socket.socket] = []
        self.streams: list[bytearray] = []  # each connection's, as far as its first MiB
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            self.sockets += [client, upstream]
            self.streams.append(stream := bytearray())
            threading.Thread(
                target=self._pipe, args=(client, upstream, stream), daemon=True
            ).start()
            threading.Thread(target=self._pipe, args=(upstream, client, None), daemon=True).start()

    def close(self) -> None:
        for s in [self.server, *self.sockets]:
            s.close()

    def _pipe(self, source: socket.socket, sink: socket.socket, stream: bytearray | None) -> None:
        try:
            while data := source.recv(65536):
                if stream is not None:  # edge to web
                    self.sent += len(data)
                    self.seen += data[: max(0, (1 << 20) - len(self.seen))]
                    stream += data[: max(0, (1 << 20) - len(stream))]
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                s.close()


@pytest.fixture(scope="module")
def shielded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveSite, Tap, str]]:
    """The site, the tap, and the URL of a second edge held in attack mode."""
    taps: list[Tap] = []

    def prepare(layout: SiteLayout) -> None:
        web = parse_address(
            (layout.web / "web.toml").read_text().split('listen = "')[1].split('"')[0]
        )
        taps.append(Tap((web.host, web.port)))
        write_edge_toml(layout.edge, load_config(layout.edge / "edge.toml").listen, taps[0].port)

    root = tmp_path_factory.mktemp("edge") / "site"
    with running_site(root, prepare=prepare) as site:
        tap = taps[0]
        assert wait_until_listening(parse_address("tcp://" + site.edge.split("//")[1]), 60)
        try:
            with edge_running(edge_directory(site, tap.port, "edge-attack", HELD)) as attacked:
                yield site, tap, attacked
        finally:
            tap.close()


HELD = 'attack = "on"\npow_start_bits = 8\npow_max_bits = 8\n'


def _known(api: HttpApi) -> None:
    """Wait until the edge knows the API's key (from the log, a second or two after it was
    registered by an operator), then expect every signed request to pass."""

    def passes() -> bool:
        try:
            api.balances()
        except ApiError as exc:
            if exc.name != "UnknownKey":
                raise
            return False
        return True

    wait_for(passes, 20, "the edge to learn the key from the log")


def _raw(
    url: str, data: bytes, pause: float = 0.0, more: bytes = b"", source: str = ""
) -> tuple[int, dict[str, str], bytes]:
    """Send ``data`` (then, after ``pause``, ``more``) on a fresh connection from ``source``;
    the answer's status, headers and body."""
    address = parse_address("tcp://" + url.split("//")[1])
    where = (address.host, address.port)
    with socket.create_connection(where, timeout=10, source_address=(source, 0)) as conn:
        conn.sendall(data)
        if pause:
            time.sleep(pause)
        if more:
            with contextlib.suppress(OSError):
                conn.sendall(more)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
            if b"\r\n\r\n" in answer:
                head, _, body = answer.partition(b"\r\n\r\n")
                length = next(
                    (
                        int(line.split(b":")[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length")
                    ),
                    0,
                )
                if len(body) >= length:
                    break
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, body


def _signed_head(
    api: HttpApi, path: str = "/api/v1/balances", ts_shift: int = 0, forge: bool = False
) -> bytes:
    request = HttpRequest("GET", path, "", b"")
    nonce, ts = os.urandom(16), int(time.time() * 1000) + ts_shift
    signature = sign_http(api.identity, api.core_key, request, nonce, ts)
    if forge:
        signature = bytes([signature[0] ^ 1]) + signature[1:]
    headers = api.signature_headers(nonce, ts, signature)
    lines = [f"GET {path} HTTP/1.1", "Host: x", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def test_signed_clients_trade_through_the_edge_and_new_sessions_pass_at_once(
    shielded: tuple[LiveSite, Tap, str],
) -> None:
    site, tap, _ = shielded
    with site.api("alice", through_edge=True) as api:
        _known(api)
        assert api.balances()["BTC"][0] > 0
    assert tap.sent > 0
    # A session opened through the edge signs its first request at once: the edge learned its
    # key from the log-in's answer, before the log shows it.
    with HttpApi(site.edge, generate("browser"), site.site.core_key) as session:
        session.sign_up("edgeuser", "correct horse battery")
        session.log_in("edgeuser", "correct horse battery")
        assert session.balances() == {}


HOSTILE = [
    # (what, first bytes, pause, more, status, name)
    ("slow headers", b"GET / HTTP/1.1\r\nHost: x\r\n", 1.2, b"", 408, "SlowHeaders"),
    (
        "slow body",
        b"POST /api/v1/auth/signup HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 100\r\n\r\n{",
        1.2,
        b"",
        408,
        "SlowBody",
    ),
    (
        "oversize body",
        b"POST /api/v1/auth/signup HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n",
        0,
        b"",
        413,
        "Oversize",
    ),
    (
        "oversize headers",
        b"GET / HTTP/1.1\r\nX-Pad: " + b"a" * 5000 + b"\r\n\r\n",
        0,
        b"",
        431,
        "HeadersTooLarge",
    ),
    ("not HTTP", b"\x16\x03\x01 hello\r\n\r\n", 0, b"", 400, "Malformed"),
    (
        "malformed signature",
        b"GET /api/v1/balances HTTP/1.1\r\nHost: x\r\nStockade-Signature: x\r\n\r\n",
        0,
        b"",
        401,
        "MalformedSignature",
    ),
]


@pytest.mark.parametrize("case", HOSTILE, ids=[c[0] for c in HOSTILE])
def test_each_hostile_stage_is_refused_precisely_and_never_reaches_web(
    shielded: tuple[LiveSite, Tap, str], case: tuple[str, bytes, float, bytes, int, str]
) -> None:
    site, tap, _ = shielded
    _, data, pause, more, status, name = case
    before = tap.sent
    answer_status, headers, body = _raw(site.edge, data, pause, more)
    assert (answer_status, json.loads(body)["error"]["name"]) == (status, name)
    assert headers["content-type"] == "application/json"
    assert tap.sent == before


def test_bad_signed_requests_are_refused_at_the_edge(shielded: tuple[LiveSite, Tap, str]) -> None:
    site, tap, _ = shielded
    api = site.api("bob", through_edge=True)
    _known(api)
    api.close()
    stranger = HttpApi(site.edge, generate("stranger"), site.site.core_key)
    stranger.close()  # it only signs here
    cases = {
        "UnknownKey": _signed_head(stranger),
        "Expired": _signed_head(api, ts_shift=-120_000),
        "FromTheFuture": _signed_head(api, ts_shift=120_000),
        "BadSignature": _signed_head(api, forge=True),
    }
    for name, head in cases.items():
        before = tap.sent
        status, _, body = _raw(site.edge, head)
        assert (status, json.loads(body)["error"]["name"]) == (401, name)
        assert json.loads(body)["error"]["lane"] == "verified"
        assert tap.sent == before, name
    good = _signed_head(api)
    assert _raw(site.edge, good)[0] == 200
    before = tap.sent
    status, _, body = _raw(site.edge, good)  # the same request again
    assert (status, json.loads(body)["error"]["name"]) == (401, "Replayed")
    assert tap.sent == before


def _ask(conn: socket.socket, data: bytes) -> tuple[int, float]:
    """Send one request on a kept-alive connection: its status and how long the answer took."""
    started = time.monotonic()
    conn.sendall(data)
    answer = b""
    while not answer.endswith(b"}") and (chunk := conn.recv(65536)):
        answer += chunk  # every refusal is one JSON object, and nothing follows it
    return int(answer.split(b" ", 2)[1]), time.monotonic() - started


def test_an_address_refused_too_often_is_held_and_others_are_not(
    shielded: tuple[LiveSite, Tap, str],
) -> None:
    """Past 4 refusals at once, nothing more is read from the address for 2 s, on any of its
    connections; another address's signed requests pass meanwhile at their usual speed."""
    site, _, _ = shielded
    address = parse_address("tcp://" + site.edge.split("//")[1])
    bad = b"GET /api/v1/balances HTTP/1.1\r\nHost: x\r\nStockade-Signature: x\r\n\r\n"
    api = site.api("alice", through_edge=True)
    _known(api)
    with socket.create_connection((address.host, address.port), 10, ("127.0.0.9", 0)) as conn:
        answers = [_ask(conn, bad) for _ in range(5)]
        assert {status for status, _ in answers} == {401}
        assert max(seconds for _, seconds in answers) < 0.5
        # The 5th was one too many: this connection and a new one from the address wait.
        with socket.create_connection((address.host, address.port), 10, ("127.0.0.9", 0)) as new:
            waited: list[float] = []
            asking = [
                threading.Thread(target=lambda c=c: waited.append(_ask(c, bad)[1]))
                for c in (conn, new)
            ]
            for thread in asking:
                thread.start()
            started = time.monotonic()
            api.balances()
            assert time.monotonic() - started < 0.3
            for thread in asking:
                thread.join()
            assert min(waited) > 0.5
    # A client that sends on while held is not read again: no answer, however long it waits.
    with socket.create_connection((address.host, address.port), 10, ("127.0.0.10", 0)) as rude:
        assert [_ask(rude, bad)[0] for _ in range(5)] == [401] * 5
        rude.sendall(bad * 3)
        rude.settimeout(3)
        with pytest.raises(TimeoutError):
            rude.recv(1)
    api.close()


def _until_closed(url: str, data: bytes) -> bytes:
    address = parse_address("tcp://" + url.split("//")[1])
    with socket.create_connection((address.host, address.port), timeout=10) as conn:
        conn.sendall(data)
        answer = b""
        with contextlib.suppress(OSError):
            while chunk := conn.recv(65536):
                answer += chunk
    return answer


SMUGGLED = b"GET /api/v1/markets HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 6.6.6.6\r\n\r\n"


def test_a_websocket_passes_edge_and_nothing_can_be_smuggled_in_an_upgrade_or_a_trailer(
    shielded: tuple[LiveSite, Tap, str],
) -> None:
    site, tap, _ = shielded
    stream = site.edge.replace("http://", "ws://") + "/api/v1/stream"
    with connect(stream, open_timeout=10) as ws:
        assert json.loads(ws.recv(10))["type"] == "hello"
    # Two Connection headers, which web would read as keep-alive: edge sends its own upgrade,
    # web refuses it (no key), edge relays that and closes: the request behind it is never read.
    upgrade = (
        b"GET /api/v1/stream HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\n"
        b"Connection: keep-alive\r\nUpgrade: websocket\r\n\r\n"
    )
    answer = _until_closed(site.edge, upgrade + SMUGGLED)
    assert answer.count(b"HTTP/1.1 ") == 1
    assert not answer.startswith(b"HTTP/1.1 101")
    assert b"6.6.6.6" not in tap.seen
    elsewhere = upgrade.replace(b"/api/v1/stream", b"/api/v1/markets")
    assert _until_closed(site.edge, elsewhere).startswith(b"HTTP/1.1 400")
    # A chunked body's trailers come after admission: never forwarded as headers.
    before = len(tap.seen)
    chunked = (
        b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\nStockade-Key: 00\r\n"
        b"Stockade-Signature: forged\r\n\r\n"
    )
    status, _, _ = _raw(site.edge, chunked)
    assert status in (400, 401, 422)  # web's answer to an empty log-in
    assert b"stockade-signature" not in bytes(tap.seen[before:]).lower()


RULES = """
rules:
  - name: no-trades
    match: {path: "/api/v1/trades*", method: [GET]}
    action: deny
  - name: markets-someday
    match: {path: /api/v1/markets}
    action: deny
    dry_run: true
"""


def _metrics(url: str) -> dict[str, float]:
    with urllib.request.urlopen(url, timeout=5) as answer:
        text = answer.read().decode()
    return {
        name: float(value)
        for name, _, value in (line.rpartition(" ") for line in text.splitlines())
        if name and not name.startswith("#")
    }


def test_rules_act_count_and_reload_and_metrics_show_them_with_attack_mode(
    shielded: tuple[LiveSite, Tap, str],
) -> None:
    site, tap, _ = shielded
    port = free_port()
    table = f'rules = "rules.yaml"\nmetrics = "tcp://127.0.0.1:{port}"\n'
    ruled = edge_directory(site, tap.port, "edge-ruled", HELD, table)
    config = ruled / "edge.toml"  # two workers: the parent sums what each counted
    config.write_text(config.read_text().replace("workers = 1", "workers = 2"))
    (ruled / "rules.yaml").write_text(RULES)
    metrics = f"http://127.0.0.1:{port}/metrics"
    with edge_running(ruled) as url:
        before = tap.sent
        status, headers, body = _raw(url, b"GET /api/v1/trades/BTC-USD HTTP/1.1\r\nHost: x\r\n\r\n")
        error = json.loads(body)["error"]
        assert (status, error["name"], error["lane"]) == (403, "RuleDenied", "anonymous")
        assert "no-trades" in error["message"]
        assert headers["stockade-refused-by"] == "edge"
        assert tap.sent == before
        with HttpApi(url, generate("anon"), site.site.core_key) as anonymous:
            assert anonymous.public("/api/v1/markets")  # the dry run let it through

        def counted() -> bool:
            seen = _metrics(metrics)
            return seen.get('stockade_edge_rule_matched_total{rule="markets-someday"}', 0) >= 1

        wait_for(counted, 10, "the rule counts in the metrics")
        seen = _metrics(metrics)
        assert seen['stockade_edge_rule_acted_total{rule="no-trades"}'] == 1
        assert seen['stockade_edge_rule_acted_total{rule="markets-someday"}'] == 0
        assert seen['stockade_edge_refused_total{code="RuleDenied"}'] == 1
        assert seen['stockade_edge_refused_total{code="ProofOfWorkRequired"}'] >= 1
        assert (seen["stockade_edge_attack_mode"], seen["stockade_edge_pow_bits"]) == (1, 8)
        assert seen["stockade_edge_forwarded_total"] >= 1
        # A changed file is read again within a second or two; a broken one leaves the rules be.
        (ruled / "rules.yaml").write_text("rules: [{name: trades-too, action: bogus}]\n")
        wait_for(lambda: "the rules before stay" in (ruled / "edge.log").read_text(), 10, "")
        trades = b"GET /api/v1/trades/BTC-USD HTTP/1.1\r\nHost: x\r\n\r\n"
        assert _raw(url, trades)[0] == 403
        (ruled / "rules.yaml").write_text("rules: []\n")
        wait_for(lambda: _raw(url, trades)[0] != 403, 10, "the rules to be reloaded")


def test_under_attack_anonymous_requests_solve_a_puzzle_and_signed_ones_never_do(
    shielded: tuple[LiveSite, Tap, str],
) -> None:
    site, tap, attacked = shielded
    before = tap.sent
    ask = b"GET /api/v1/markets HTTP/1.1\r\nHost: x\r\nAccept: text/html\r\n\r\n"
    status, headers, body = _raw(attacked, ask)
    assert (status, json.loads(body)["error"]["name"]) == (429, "ProofOfWorkRequired")
    assert headers["content-type"] == "application/json"  # never a page under /api
    assert "retry-after" in headers
    challenge = parse_pow_challenge(headers[POW_CHALLENGE_HEADER])
    assert challenge.bits == 8
    weak = f"seed={challenge.seed.hex()}; nonce={'00' * 8}"
    if solve_pow(challenge).nonce == bytes(8):  # vanishingly rare: the zero nonce solves it
        weak = f"seed={challenge.seed.hex()}; nonce={'ff' * 8}"
    status, _, body = _raw(
        attacked, ask.replace(b"\r\n\r\n", f"\r\n{POW_HEADER}: {weak}\r\n\r\n".encode())
    )
    assert json.loads(body)["error"]["name"] in ("BadProofOfWork",)
    assert tap.sent == before
    page = _raw(attacked, b"GET / HTTP/1.1\r\nHost: x\r\nAccept: text/html\r\n\r\n")
    assert page[0] == 429
    assert page[1]["content-type"].startswith("text/html")
    assert "script-src 'self'" in page[1]["content-security-policy"]
    assert b"stockade-pow.js" in page[2]
    # The Python client solves it by itself; a signed client is never asked.
    with HttpApi(attacked, generate("anon"), site.site.core_key) as anonymous:
        assert anonymous.public("/api/v1/markets")
    identity = read_secret(site.layout.client_key("carol"))
    with HttpApi(attacked, identity, site.site.core_key) as signed:
        _known(signed)
        assert signed.balances()["USD"][0] > 0


def test_a_browser_session_ticket_takes_page_loads_past_the_puzzle(
    shielded: tuple[LiveSite, Tap, str],
) -> None:
    """From an address edge does not know, under attack: a page load with a good ticket of a
    live key is served; a forged, stale, future or unknown key's ticket is no ticket."""
    site, tap, attacked = shielded
    identity = read_secret(site.layout.client_key("carol"))
    with HttpApi(attacked, identity, site.site.core_key) as signed:
        _known(signed)  # carol's key is live at this edge
    now = int(time.time() * 1000)

    def load(ticket: Ticket | None) -> int:
        cookie = f"Cookie: other=1; {TICKET_COOKIE}={ticket.cookie()}\r\n" if ticket else ""
        ask = f"GET /markets/BTC-USD HTTP/1.1\r\nHost: x\r\nAccept: text/html\r\n{cookie}\r\n"
        return _raw(attacked, ask.encode(), source="127.0.0.11")[0]

    good = make_ticket(identity.secret, site.site.core_key, now)
    forged = Ticket(good.key, good.ts, bytes([good.signature[0] ^ 1]) + good.signature[1:])
    other_site = make_ticket(identity.secret, bytes(32), now)
    stale = make_ticket(identity.secret, site.site.core_key, now - TICKET_MS - 1_000)
    ahead = make_ticket(identity.secret, site.site.core_key, now + 60_000)
    unknown = make_ticket(generate("nobody").secret, site.site.core_key, now)
    before = tap.sent
    assert [load(t) for t in (None, forged, other_site, stale, ahead, unknown)] == [429] * 6
    assert tap.sent == before
    assert load(good) == 200
    assert tap.sent > before


# ---------------------------------------------------------------- fuzzing the HTTP front

_NAMES = [
    *(name.encode() for name in HEADERS),
    *(b"host", b"content-length", b"transfer-encoding", b"connection", b"upgrade", b"te"),
    *(b"expect", b"cookie", b"accept", b"x-forwarded-for", b"stockade-pow", b"trailer"),
]
_VALUES = [
    *(b"0", b"5", b"-1", b"99999999999", b"chunked", b"chunked, identity", b"keep-alive"),
    *(b"close", b"Upgrade", b"websocket", b"100-continue", b"text/html", b"6.6.6.6", b"KEY"),
    *(b"stockade-ticket=KEY.1.x", b"stockade-pow=00.00", b"0" * 32, b"A" * 88),
]


def _mostly(valid: list[bytes], garbage: st.SearchStrategy[bytes]) -> st.SearchStrategy[bytes]:
    """One of ``valid`` nine times in ten, else ``garbage``: enough well-formed requests get
    past the parser to test what comes after it."""
    return st.integers(0, 9).flatmap(lambda n: garbage if n == 0 else st.sampled_from(valid))


def _request(
    method: bytes,
    target: bytes,
    version: bytes,
    headers: list[tuple[bytes, bytes]],
    end: bytes,
    body: bytes,
) -> bytes:
    head = [method + b" " + target + b" " + version, *(n + b": " + v for n, v in headers)]
    return end.join(head) + end + end + body


_TARGETS = [
    *(b"/", b"/api/v1/markets", b"/api/v1/time", b"/api/v1/stream", b"/api/v1/orders"),
    *(b"/api/v1/balances", b"/markets/BTC-USD", b"/.well-known/stockade-pow.js", b"*"),
]
_REQUESTS = st.builds(
    _request,
    _mostly([b"GET", b"POST", b"PATCH", b"DELETE", b"PUT", b"CONNECT"], st.binary(max_size=8)),
    _mostly(_TARGETS, st.binary(max_size=30)),
    _mostly([b"HTTP/1.1", b"HTTP/1.0"], st.binary(max_size=10)),
    st.lists(
        st.tuples(
            _mostly(_NAMES, st.binary(max_size=12)), _mostly(_VALUES, st.binary(max_size=40))
        ),
        max_size=8,
    ),
    _mostly([b"\r\n"], st.sampled_from([b"\n", b"\r", b"\r\r\n"])),
    st.binary(max_size=100),
)
_SOURCES = itertools.count()


class _Messages:
    """httptools callbacks that keep each whole message's status, headers and body."""

    def __init__(self) -> None:
        self.done: list[tuple[list[tuple[bytes, bytes]], bytes]] = []
        self.headers: list[tuple[bytes, bytes]] = []
        self.body = b""

    def on_message_begin(self) -> None:
        self.headers, self.body = [], b""

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name.lower(), value))

    def on_body(self, body: bytes) -> None:
        self.body += body

    def on_message_complete(self) -> None:
        self.done.append((self.headers, self.body))


def _exchange(url: str, data: bytes, source: str) -> bytes:
    """``data`` on a fresh connection that then half-closes; all edge answered."""
    address = parse_address("tcp://" + url.split("//")[1])
    with socket.create_connection((address.host, address.port), 10, (source, 0)) as conn:
        answer = b""
        with contextlib.suppress(OSError):  # edge may close on us early
            conn.sendall(data)
            conn.shutdown(socket.SHUT_WR)
            while chunk := conn.recv(65536):
                answer += chunk
    return answer


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    _mostly([b""], st.binary(max_size=400)).flatmap(
        lambda junk: (
            st.just(junk) if junk else st.lists(_REQUESTS, min_size=1, max_size=3).map(b"".join)
        )
    )
)
def test_fuzzed_bytes_get_well_formed_answers_and_nothing_unchecked_reaches_web(
    shielded: tuple[LiveSite, Tap, str], data: bytes
) -> None:
    """Whatever a client sends: every answer is whole HTTP/1.1, edge's own refusals are JSON
    with a code of edge's range, and what edge forwards is well framed, says where it came
    from, carries no transfer coding and no signature header (none of these can verify)."""
    site, tap, _ = shielded
    key = read_secret(site.layout.client_key("carol")).public.hex().encode()
    marks = [len(stream) for stream in tap.streams]
    n = next(_SOURCES)
    source = f"127.1.{n // 200}.{n % 200 + 1}"
    answer = _exchange(site.edge, data.replace(b"KEY", key), source)

    answers = _Messages()
    with contextlib.suppress(httptools.HttpParserUpgrade):  # a stream opened: it is not HTTP on
        httptools.HttpResponseParser(answers).feed_data(answer)  # raises if it is not HTTP
    said = []
    for headers, body in answers.done:
        if (b"stockade-refused-by", b"edge") in headers:
            error = json.loads(body)["error"]
            assert 8000 <= error["code"] <= 8999, error
            assert (b"content-type", b"application/json") in headers
            said.append(error["name"])
        else:
            said.append("web")
    event(f"the first answer: {(said or ['none'])[0]}")
    time.sleep(0.05)  # what edge forwarded has crossed the tap
    marks += [0] * (len(tap.streams) - len(marks))  # connections edge opened meanwhile
    for stream, mark in zip(list(tap.streams), marks, strict=False):
        forwarded = _Messages()
        with contextlib.suppress(httptools.HttpParserUpgrade):
            httptools.HttpRequestParser(forwarded).feed_data(bytes(stream[mark:]))
        for headers, _ in forwarded.done:
            names = [name for name, _ in headers]
            assert names.count(b"x-forwarded-for") == 1
            assert dict(headers)[b"x-forwarded-for"] == source.encode()
            assert b"transfer-encoding" not in names
            assert names.count(b"content-length") <= 1
            assert not {b"stockade-signature", b"stockade-key"} & set(names)


def test_edge_still_serves_after_the_fuzzing(shielded: tuple[LiveSite, Tap, str]) -> None:
    site, _, _ = shielded
    with site.api("carol", through_edge=True) as api:
        _known(api)
        assert api.balances()["USD"][0] > 0


def test_breach_edge_holds_no_secret(shielded: tuple[LiveSite, Tap, str]) -> None:
    """Given edge's directory and environment, an attacker finds no key to sign with: no
    secret of the site appears there, and its environment is the supervisor's minimal one."""
    site, _, _ = shielded
    layout = site.layout
    secrets_of_site = [
        p.read_text() for p in layout.root.rglob("*.key") if layout.edge not in p.parents
    ]
    assert secrets_of_site
    edge_files = [p for p in layout.edge.rglob("*") if p.is_file()]
    assert {p.name for p in edge_files} <= {"edge.toml", "site.toml", "edge.log"}
    for path in edge_files:
        text = path.read_text(errors="replace")
        for secret in secrets_of_site:
            body = [line for line in secret.splitlines() if line and not line.startswith("#")]
            assert not any(line in text for line in body), path
    pid = subprocess.run(
        ["pgrep", "-f", f"stockade edge run {layout.edge}"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.split()
    assert pid
    environ = Path(f"/proc/{pid[0]}/environ").read_bytes().split(b"\0")
    names = {entry.split(b"=")[0].decode() for entry in environ if entry}
    assert names <= {"PATH", "LANG", "PYTHONPATH"}

"""Edge's HTTP/1.1 server: one asyncio protocol per client connection, parsed by httptools.

Every stage has a bound: connections per address and prefix, a deadline for the headers (from the
request's first byte) and one for the body, the size of each; a slow client is answered 408 and
closed, which the usual servers do not do. A request that passes admission waits in its lane for
one of the slots to web, is forwarded rebuilt (edge's own ``X-Forwarded-For``, no hop-by-hop
header of the client's), and web's answer is relayed. A refusal is JSON, with its lane and, for a
refusal to wait, ``Retry-After``; under ``/api`` never anything but JSON.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import cast

import httptools
import msgspec

from stockade.edge._admission import Admission, Admitted, Code, Lane, Pending, Refusal
from stockade.edge._challenge import PAGE_CSP, POW_SCRIPT, POW_SCRIPT_PATH, challenge_page
from stockade.edge._keys import Learned
from stockade.edge._lanes import Lanes, ShedError
from stockade.edge._upstream import HOP_BY_HOP, Upstream, UpstreamError
from stockade.wire import (
    MAX_HTTP_BODY,
    POW_COOKIE,
    POW_HEADER,
    TICKET_COOKIE,
    HttpMethod,
    HttpRequest,
    PowFormatError,
    PowSolution,
    Ticket,
    TicketFormatError,
    parse_pow_cookie,
    parse_pow_solution,
    parse_ticket,
)
from stockade.wire._http import MAX_PATH, MAX_QUERY

#: Request headers edge drops: hop-by-hop ones, and any claim about where the client is.
_DROPPED = HOP_BY_HOP | {b"x-forwarded-for", b"forwarded", b"x-real-ip", b"expect"}
_METHODS = {"GET", "POST", "PATCH", "DELETE"}
#: At most this many requests read ahead of the one being answered (pipelining).
MAX_PIPELINED = 8
#: The one path a WebSocket upgrade may take, and the client headers its upgrade keeps.
STREAM_PATH = "/api/v1/stream"
_UPGRADE_KEEPS = frozenset(
    {b"host", b"origin", b"cookie", b"user-agent", b"sec-websocket-key"}
    | {b"sec-websocket-version", b"sec-websocket-protocol", b"sec-websocket-extensions"}
)
#: What a connection holds unparsed while it is held or upgrading, and a tunnel's buffer.
MAX_PARKED = 65_536


@dataclass
class _Request:
    method: str = ""
    url: bytearray = field(default_factory=bytearray)
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytearray = field(default_factory=bytearray)
    lane: Lane = Lane.anonymous
    effort: int = 0
    pending: Pending | None = None
    keep_alive: bool = True
    refusal: Refusal | None = None  # answered in its turn, after those before it
    head_size: int = 0
    by_name: dict[str, str | None] | None = None

    def header(self, name: str) -> str | None:
        """The value of the header ``name`` (lower case); None if absent or given twice (a
        request that repeats one means two things, and edge reads it as neither)."""
        if self.by_name is None:
            self.by_name = {}
            for raw_name, raw_value in self.headers:
                key = raw_name.decode("latin-1").lower()
                self.by_name[key] = None if key in self.by_name else raw_value.decode("latin-1")
        return self.by_name.get(name)

    @property
    def signed(self) -> bool:
        """Whether it claims a signature (once, twice or malformed: then it is refused)."""
        self.header("stockade-key")
        assert self.by_name is not None
        return "stockade-key" in self.by_name or "stockade-signature" in self.by_name

    @property
    def path_and_query(self) -> tuple[str, str]:
        path, _, query = self.url.decode("latin-1").partition("?")
        return path, query


class Worker:
    """What one worker's connections share."""

    def __init__(
        self,
        admission: Admission,
        lanes: Lanes,
        upstream: Upstream,
        clock_ms: Callable[[], int],
        learned: Callable[[Learned], None],
    ) -> None:
        self.admission = admission
        self.limits = admission.limits
        self.lanes = lanes
        self.upstream = upstream
        self.clock_ms = clock_ms
        self.learned = learned
        self.refused: dict[str, int] = {}  # refusals by name, since start
        self.forwarded = 0

    def count(self, refusal: Refusal, ip: str) -> None:
        name = refusal.code.name
        self.refused[name] = self.refused.get(name, 0) + 1
        self.admission.refused(ip, refusal.code, self.clock_ms())


class ClientConnection(asyncio.Protocol):
    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self.limits = worker.limits
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.ip = ""
        self.counted = False
        self.closing = False
        self.closing_input = False  # a refusal waits its turn; nothing more is read
        self.held = False  # its address was refused too often: nothing is read for a while
        self.released = False  # a hold just ended: what comes first is looked at
        self.upgrading = False  # bytes wait in ``parked`` until web has answered the upgrade
        self.parked = bytearray()
        self.in_body = False
        self.input_ended = False
        self.writable = asyncio.Event()
        self.writable.set()
        self.request = _Request()
        self.head_bytes = 0
        self.in_head = False
        self.ready: deque[_Request] = deque()
        self.task: asyncio.Task[None] | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.tunnel: asyncio.StreamWriter | None = None
        self.draining: asyncio.Task[None] | None = None

    # ------------------------------------------------------------ connection

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport = cast(asyncio.Transport, transport)  # uvloop's is one, without subclassing
        self.transport = transport
        peer = transport.get_extra_info("peername")
        self.ip = _unmapped(str(peer[0])) if peer else "?"
        refusal = self.worker.admission.open_connection(self.ip)
        if refusal is not None:
            self.worker.count(refusal, self.ip)
            transport.abort()  # before any byte: the cheapest refusal there is
            return
        self.counted = True
        self._rest()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closing = True
        self._disarm()
        if self.counted:
            self.counted = False
            self.worker.admission.close_connection(self.ip)
        if self.task is not None:
            self.task.cancel()
        if self.tunnel is not None:
            self.tunnel.close()

    def eof_received(self) -> bool:
        """The client sent all it will: what it is owed is still written, then it is closed."""
        self.input_ended = True
        return self.task is not None or bool(self.ready)  # False: closed at once

    def data_received(self, data: bytes) -> None:
        if self.closing or self.closing_input:
            return
        if self.tunnel is not None:
            self._to_tunnel(data)
            return
        if self.held or self.upgrading:  # uvloop reads once more after a pause: keep it
            self._park(data)
            return
        if self.released:
            self.released = False
            if data.count(b"\r\n\r\n") > 1:  # it sent on while told to wait
                self._stall()
                return
        self.head_bytes += len(data)  # reset when headers end: this bounds what the parser holds
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade as upgrade:
            self._upgrade(data[int(upgrade.args[0]) :] if upgrade.args else b"")
        except httptools.HttpParserError:
            self._refuse(Code.Malformed, "not an HTTP/1.1 request", close=True)
            return
        if self.in_head and self.head_bytes > self.limits.max_header_bytes:
            self._headers_too_large()

    def _stall(self) -> None:
        """Never read again, and closed once idle: answering what it piled up would cost edge
        as much as if it had never been held."""
        self.held = True
        if self.transport is not None:
            self.transport.pause_reading()
        self._arm(self.limits.idle_ms, None)

    def _park(self, data: bytes) -> None:
        self.parked += data
        if self.transport is not None:
            self.transport.pause_reading()
        if len(self.parked) > MAX_PARKED:
            self._close()

    def pause_writing(self) -> None:
        self.writable.clear()

    def resume_writing(self) -> None:
        self.writable.set()

    async def _drained(self) -> bool:
        """Wait until the client has read what it was sent; a client that stops reading for
        ``idle_ms`` is closed, so that it cannot make edge hold its answers."""
        if self.writable.is_set():
            return True
        try:
            await asyncio.wait_for(self.writable.wait(), self.limits.idle_ms / 1000)
        except TimeoutError:
            self._close()
            return False
        return not self.closing

    def _headers_too_large(self) -> None:
        limit = self.limits.max_header_bytes
        self._refuse(Code.HeadersTooLarge, f"headers over {limit} bytes", close=True)

    # ------------------------------------------------------------ timers

    def _arm(self, ms: int, code: Code | None) -> None:
        self._disarm()
        loop = asyncio.get_running_loop()
        self.timer = loop.call_later(ms / 1000, self._expired, code)

    def _disarm(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def _rest(self) -> None:
        """Between requests: wait for the next (under its deadline if it has begun), unless
        the address is held, when nothing is read until the hold ends."""
        if self.input_ended:  # nothing more can come
            self._close()
            return
        if self.in_head:  # the next request began while this one was answered
            self._arm(self.limits.header_ms, Code.SlowHeaders)
            return
        if self.in_body:
            self._arm(self.limits.body_ms, Code.SlowBody)
            return
        hold_ms = self.worker.admission.held_ms(self.ip, self.worker.clock_ms())
        if not hold_ms or self.transport is None:
            self._arm(self.limits.idle_ms, None)
            return
        self._disarm()
        self.held = True
        self.transport.pause_reading()
        self.timer = asyncio.get_running_loop().call_later(hold_ms / 1000, self._release)

    def _release(self) -> None:
        self.timer = None
        self.held = False
        self.released = True
        if self.transport is not None and not self.closing:
            self.transport.resume_reading()
            self._rest()
            parked, self.parked = bytes(self.parked), bytearray()
            if parked:
                self.data_received(parked)

    def _expired(self, code: Code | None) -> None:
        self.timer = None
        if code is None or self.transport is None:  # idle between requests: just close
            self._close()
            return
        what = "headers" if code is Code.SlowHeaders else "body"
        self._refuse(code, f"the {what} took too long", close=True)

    # ------------------------------------------------------------ httptools callbacks

    def on_message_begin(self) -> None:
        if self.closing or self.closing_input:
            return
        self.request = _Request()
        self.in_head = True
        if not self.ready and self.task is None and not self.held:
            self._arm(self.limits.header_ms, Code.SlowHeaders)

    def on_url(self, url: bytes) -> None:
        self.request.url += url
        self.request.head_size += len(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        if not self.in_head:  # a chunked body's trailer: after admission, so never forwarded
            return
        self.request.headers.append((name, value))
        self.request.head_size += len(name) + len(value) + 4

    def on_headers_complete(self) -> None:
        self.in_head = False
        self.head_bytes = 0
        if self.closing or self.closing_input:
            return
        self.in_body = True
        request = self.request
        if request.head_size > self.limits.max_header_bytes:
            self._headers_too_large()
            return
        request.method = self.parser.get_method().decode("latin-1")
        request.keep_alive = self.parser.should_keep_alive()
        if self.parser.should_upgrade():
            return  # data_received takes it from here
        verdict = self._admit(request)
        if isinstance(verdict, Refusal):
            if _bodiless(request):  # answered once its (empty) message ends; kept alive
                request.refusal = verdict
            else:  # its body is not worth reading
                self._refuse_in_turn(verdict, close=True)
            return
        declared = request.header("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self._cap()):
            self._refuse(Code.Oversize, f"the body is over {self._cap()} bytes", close=True)
            return
        if not self.ready and self.task is None:
            self._arm(self.limits.body_ms, Code.SlowBody)

    def on_body(self, body: bytes) -> None:
        if self.closing or self.closing_input:
            return
        self.request.body += body
        if len(self.request.body) > self._cap():
            self._refuse(Code.Oversize, f"the body is over {self._cap()} bytes", close=True)

    def on_message_complete(self) -> None:
        self.head_bytes = 0
        self.in_body = False
        if self.closing or self.closing_input or self.parser.should_upgrade():
            return  # an upgrade is taken up by data_received, once the parser stops
        request = self.request
        if request.refusal is not None:
            self._refuse_in_turn(request.refusal, close=not request.keep_alive)
            return
        if request.pending is not None:
            verdict = self._verify(request, request.pending)
            if isinstance(verdict, Refusal):
                self._refuse_in_turn(verdict, close=not request.keep_alive)
                return
        self._queue(request)

    def _refuse_in_turn(self, refusal: Refusal, close: bool) -> None:
        """Refuse now if nothing is being answered, else after the answers before it (a
        pipelining client reads them in order); reading stops if the connection will close."""
        if self.task is None and not self.ready:
            self._refusal(refusal, close)
            if not self.closing:
                self._rest()
            return
        request = self.request
        request.refusal = refusal
        if close:
            request.keep_alive = False
            self.closing_input = True
        self._queue(request)

    def _queue(self, request: _Request) -> None:
        self.ready.append(request)
        if len(self.ready) >= MAX_PIPELINED and self.transport is not None:
            self.transport.pause_reading()
        if self.task is None:
            self._disarm()
            self.task = asyncio.get_running_loop().create_task(self._serve())

    # ------------------------------------------------------------ admission

    def _cap(self) -> int:
        return MAX_HTTP_BODY if self.request.pending is not None else self.limits.max_body

    def _admit(self, request: _Request) -> Refusal | Admitted | Pending:
        admission, now = self.worker.admission, self.worker.clock_ms()
        path, _ = request.path_and_query
        method, get = request.method, request.header
        if path == POW_SCRIPT_PATH and not request.signed:
            return Admitted(Lane.anonymous)  # edge's own puzzle solver, which _forward serves
        if request.signed:
            verdict = admission.signed_headers(get, self.ip, now, method, path)
            if isinstance(verdict, Pending):
                request.pending = verdict
                request.lane = verdict.lane
            return verdict
        cookies = _cookies(request.header("cookie"))
        solution, ticket = _solution(request, cookies), _ticket(cookies)
        unsigned = admission.unsigned(self.ip, solution, now, get, method, path, ticket)
        if isinstance(unsigned, Admitted):
            request.lane, request.effort = unsigned.lane, unsigned.effort
        return unsigned

    def _verify(self, request: _Request, pending: Pending) -> Refusal | Admitted:
        path, query = request.path_and_query
        lane = Lane.verified
        if request.method not in _METHODS:
            return Refusal(Code.Malformed, f"{request.method[:8]} is never signed", lane)
        if len(path) > MAX_PATH or len(query) > MAX_QUERY:
            return Refusal(Code.Oversize, "the path or query is too long", lane)
        method = cast(HttpMethod, request.method)
        signed = HttpRequest(method, path, query, bytes(request.body))
        return self.worker.admission.signed_body(pending, signed, self.ip, self.worker.clock_ms())

    # ------------------------------------------------------------ answering

    async def _serve(self) -> None:
        try:
            while self.ready and not self.closing:
                if not await self._drained():
                    return
                request = self.ready.popleft()
                if self.transport and len(self.ready) < MAX_PIPELINED and not self.held:
                    self.transport.resume_reading()
                await self._forward(request)
                if not request.keep_alive:
                    self._close()
                    return
        finally:
            self.task = None
        if not self.closing:
            self._rest()

    async def _forward(self, request: _Request) -> None:
        worker = self.worker
        if request.refusal is not None:
            self._refusal(request.refusal, close=not request.keep_alive, request=request)
            return
        path, _ = request.path_and_query
        if path == POW_SCRIPT_PATH:
            self._write(200, [(b"content-type", b"text/javascript")], POW_SCRIPT, request)
            return
        try:
            await worker.lanes.enter(request.lane, request.effort)
        except ShedError as exc:
            self._refusal(exc.refusal, close=False, request=request)
            return
        try:
            answer = await worker.upstream.forward(*self._rebuilt(request))
        except UpstreamError:
            refusal = Refusal(Code.WebUnavailable, "web did not answer", request.lane)
            self._refusal(refusal, close=False, request=request)
            return
        finally:
            worker.lanes.leave(request.lane)
        worker.forwarded += 1
        headers = [(n, v) for n, v in answer.headers if n.lower() not in HOP_BY_HOP]
        body = b"" if request.method == "HEAD" else bytes(answer.body)
        self._write(answer.status, headers, body, request, len(answer.body))
        if answer.status == 200:
            self._learn(request)

    def _rebuilt(self, request: _Request) -> tuple[bytes, bytes]:
        method = "GET" if request.method == "HEAD" else request.method
        lines = [f"{method} ".encode() + bytes(request.url) + b" HTTP/1.1"]
        lines += [n + b": " + v for n, v in request.headers if n.lower() not in _DROPPED]
        lines.append(b"x-forwarded-for: " + self.ip.encode())
        if request.body or method in ("POST", "PATCH"):
            lines.append(b"content-length: " + str(len(request.body)).encode())
        return b"\r\n".join(lines) + b"\r\n\r\n", bytes(request.body)

    def _learn(self, request: _Request) -> None:
        """Keys the answer shows live (or gone) before the log does."""
        path, _ = request.path_and_query
        learned = _learned(request.method, path, bytes(request.body), request.pending)
        if learned is not None:
            self.worker.learned(learned)
            if learned.added:  # made by this client, here: a flood on its id elsewhere spares it
                self.worker.admission.prove(learned.key, self.ip, self.worker.clock_ms())

    def _upgrade(self, rest: bytes) -> None:
        """A WebSocket to the stream: rebuilt with edge's own ``Connection`` and ``Upgrade``
        (a client's own could mean something else to web), relayed only once web said 101."""
        request = self.request
        path, _ = request.path_and_query
        wants = (request.header("upgrade") or "").lower() == "websocket"
        if not wants or request.method != "GET" or path != STREAM_PATH:
            self._refuse(Code.Malformed, f"only WebSocket upgrades to {STREAM_PATH}", close=True)
            return
        verdict = self._admit(request)
        if isinstance(verdict, Refusal):
            self._refusal(verdict, close=True)
            return
        self._disarm()
        self.upgrading = True
        self.parked += rest
        lines = [b"GET " + bytes(request.url) + b" HTTP/1.1"]
        lines += [n + b": " + v for n, v in request.headers if n.lower() in _UPGRADE_KEEPS]
        lines += [b"connection: Upgrade", b"upgrade: websocket"]
        lines.append(b"x-forwarded-for: " + self.ip.encode())
        head = b"\r\n".join(lines) + b"\r\n\r\n"
        self.task = asyncio.get_running_loop().create_task(self._pipe(head))

    async def _pipe(self, head: bytes) -> None:
        try:
            reader, writer = await self.worker.upstream.tunnel(head)
        except UpstreamError:
            refusal = Refusal(Code.WebUnavailable, "web did not answer", Lane.anonymous)
            self._refusal(refusal, close=True)
            return
        try:
            answer = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
            if self.transport is None or self.transport.is_closing():
                return
            self.transport.write(answer)
            if not answer.startswith(b"HTTP/1.1 101 "):  # refused by web: its answer, then close
                length = _content_length(answer)
                self.transport.write(await asyncio.wait_for(reader.readexactly(length), 30))
                return
            self.tunnel, self.upgrading = writer, False
            parked, self.parked = bytes(self.parked), bytearray()
            self._to_tunnel(parked)
            while data := await reader.read(1 << 16):
                if self.transport.is_closing() or not await self._drained():
                    break
                self.transport.write(data)
        except (OSError, TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()
            self._close()

    def _to_tunnel(self, data: bytes) -> None:
        """Client bytes to web; reading stops while web has not taken what it was sent."""
        tunnel = self.tunnel
        assert tunnel is not None
        tunnel.write(data)
        full = tunnel.transport.get_write_buffer_size() > MAX_PARKED
        if full and self.transport is not None and self.draining is None:
            self.transport.pause_reading()
            self.draining = asyncio.get_running_loop().create_task(self._tunnel_drained(tunnel))

    async def _tunnel_drained(self, tunnel: asyncio.StreamWriter) -> None:
        try:
            with contextlib.suppress(OSError):
                await tunnel.drain()
                if self.transport is not None and not self.closing:
                    self.transport.resume_reading()
        finally:
            self.draining = None

    def _refuse(self, code: Code, message: str, close: bool) -> None:
        self._refuse_in_turn(Refusal(code, message, self.request.lane), close)

    def _refusal(self, refusal: Refusal, close: bool, request: _Request | None = None) -> None:
        self.worker.count(refusal, self.ip)
        request = request or self.request
        path, _ = request.path_and_query
        # The mark tells a client (and bench/flood.py) that web never saw the request.
        headers = [(b"content-type", b"application/json"), (b"stockade-refused-by", b"edge")]
        if refusal.status in (408, 429, 503, 502):
            headers.append((b"retry-after", str(refusal.retry_after_s).encode()))
        if refusal.challenge is not None:
            headers.append((b"stockade-pow-challenge", refusal.challenge.header().encode()))
            page = challenge_page(refusal.challenge) if _wants_page(request, path) else None
            if page is not None:
                headers[0] = (b"content-type", b"text/html; charset=utf-8")
                headers.append((b"content-security-policy", PAGE_CSP))
                self._write(refusal.status, headers, page, request, close=close)
                return
        error = {
            "code": int(refusal.code),
            "name": refusal.code.name,
            "message": refusal.message,
            "field": refusal.field,
            "lane": refusal.lane.name,
        }
        body = json.dumps({"error": error}).encode()
        self._write(refusal.status, headers, body, request, close=close)

    def _write(
        self,
        status: int,
        headers: list[tuple[bytes, bytes]],
        body: bytes,
        request: _Request,
        length: int | None = None,
        close: bool = False,
    ) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        close = close or not request.keep_alive
        lines = [b"HTTP/1.1 " + str(status).encode() + b" " + _reason(status)]
        lines += [n + b": " + v for n, v in headers]
        lines.append(b"content-length: " + str(len(body) if length is None else length).encode())
        if close:
            lines.append(b"connection: close")
        transport.write(b"\r\n".join(lines) + b"\r\n\r\n" + body)
        if close:
            self._close()

    def _close(self) -> None:
        self.closing = True
        self._disarm()
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()


def _content_length(head: bytes) -> int:
    for line in head.lower().split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name == b"content-length" and value.strip().isdigit():
            return min(int(value), MAX_PARKED)
    return 0


def _unmapped(ip: str) -> str:
    """An IPv4 peer of a dual-stack socket as the IPv4 address it is (``::ffff:a.b.c.d``)."""
    return ip[7:] if ip.startswith("::ffff:") and "." in ip else ip


def _bodiless(request: _Request) -> bool:
    length = request.header("content-length")
    return request.header("transfer-encoding") is None and length in (None, "0")


def _reason(status: int) -> bytes:
    try:
        return HTTPStatus(status).phrase.encode()
    except ValueError:
        return b""


def _cookies(header: str | None) -> dict[str, str]:
    """Edge's own cookies of a ``Cookie`` header (any other is web's business)."""
    found = {}
    for part in (header or "").split(";"):
        name, _, value = part.strip().partition("=")
        if name in (POW_COOKIE, TICKET_COOKIE):
            found[name] = value
    return found


def _solution(request: _Request, cookies: dict[str, str]) -> PowSolution | None:
    try:
        header = request.header(POW_HEADER)
        if header is not None:
            return parse_pow_solution(header)
        cookie = cookies.get(POW_COOKIE)
        return parse_pow_cookie(cookie) if cookie is not None else None
    except PowFormatError:
        return None


def _ticket(cookies: dict[str, str]) -> Ticket | None:
    """A session ticket; one that is not in its form is no ticket (a stale cookie must not
    keep its browser from the page)."""
    try:
        text = cookies.get(TICKET_COOKIE)
        return parse_ticket(text) if text is not None else None
    except TicketFormatError:
        return None


def _wants_page(request: _Request, path: str) -> bool:
    """A browser's page load (never under /api, where every answer is JSON)."""
    accept = request.header("accept") or ""
    return request.method == "GET" and not path.startswith("/api/") and "text/html" in accept


class _KeyBody(msgspec.Struct):
    session_key: str | None = None
    public_key: str | None = None


_key_body = msgspec.json.Decoder(_KeyBody)
_LOG_INS = ("/api/v1/auth/login", "/api/v1/auth/passkey")


def _learned(method: str, path: str, body: bytes, signer: Pending | None) -> Learned | None:
    if method == "POST" and (path in _LOG_INS or (path == "/api/v1/keys" and signer)):
        try:
            fields = _key_body.decode(body)
        except (msgspec.DecodeError, msgspec.ValidationError):
            return None
        text = fields.session_key if path in _LOG_INS else fields.public_key
        try:
            raw = bytes.fromhex(text or "")
        except ValueError:
            return None
        return Learned(True, raw) if len(raw) == 32 else None
    if signer is not None and method == "POST" and path == "/api/v1/auth/logout":
        return Learned(False, signer.key.raw)
    return None

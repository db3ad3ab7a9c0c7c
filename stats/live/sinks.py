"""Where a live frame leaves the process: one sink per socket, one class per ASGI server.

This is the one module that touches servers' internals. A sink can write a prepared frame
(stats.live.frames.OutFrame), say how many bytes wait unsent (ASGI has no backpressure for
WebSockets), and raises SocketGone, whatever the server raised, when the peer is gone, and
SendRefused when the server refuses a frame on an open socket.

- UvicornSink (uvicorn's websockets-sansio protocol): writes each frame's bytes, built once
  per frame, straight to the transport, as `websockets.broadcast` does; the backlog is the
  transport's write buffer, and a paused transport counts as over any cap.
- DaphneSink (daphne on Twisted): sends through daphne; the backlog is the Twisted
  transport's unsent bytes.
- AsgiSink (any other server, the test communicator): sends through ASGI; no backlog probe.

Each touch is named in INTERNALS, and tests/test_live_sinks.py has a canary per touch that
fails naming the dependency and its version when an upgrade moves what it relies on. A
server whose internals do not match gets the plain AsgiSink: slower, never wrong.
"""

import asyncio
import functools
from collections.abc import Awaitable, Callable
from importlib.metadata import version

from django.conf import settings

from stats.ops import metrics

SCOPE_KEY = "webgame.sink"
DRAIN_POLL_SECONDS = 0.25
PAUSED = 1 << 62  # the backlog reported while the server has paused writing
# What each sink relies on, per dependency (the canary tests check each against the code).
INTERNALS = {
    "daphne": "daphne.server.Server calls the app with send = functools.partial(server.handle_reply, protocol)",
    "twisted": "a TCP transport keeps unsent bytes in dataBuffer (from offset) and _tempDataLen",
    "uvicorn": "websockets-sansio: send is the protocol's bound method; protocol.transport, .writable "
    "(asyncio.Event), .close_sent, .handshake_complete, .conn (websockets ServerProtocol)",
    "websockets": "conn.state (State.OPEN), conn.extensions (empty: no compression negotiated)",
    "autobahn": "sendMessage raises PayloadExceededError (a RuntimeError) for a message over the server's "
    "limit, and leaves the socket open",
}


class SocketGone(Exception):
    """The peer is gone (or the socket closing): send nothing more to it."""


class SendRefused(Exception):
    """The server refused to send this frame on a socket that is still open (daphne: a
    message over its size limit). Not a socket gone: the socket must be closed, with a code."""


try:
    from autobahn.exception import PayloadExceededError
except ImportError:  # no daphne here
    PayloadExceededError = ()

# daphne (autobahn's Disconnected is a RuntimeError); uvicorn (ClientDisconnected is an
# OSError, and a send after websocket.close a RuntimeError).
_SERVER_GONE = (OSError, RuntimeError)


def send_refused(exc: BaseException) -> bool:
    """Whether what a server's send raised is a refusal on an open socket, not a socket gone:
    autobahn raises both as RuntimeErrors, and taking the refusal for a socket gone left a
    daphne viewer silently stopped (issue #19)."""
    return isinstance(exc, PayloadExceededError)


class AsgiSink:
    __slots__ = ("send",)

    def __init__(self, send) -> None:
        self.send = send

    async def write(self, frame) -> None:
        try:
            await self.send(frame.asgi)
        except _SERVER_GONE as exc:
            if send_refused(exc):
                raise SendRefused(str(exc)) from exc
            raise SocketGone from exc

    def backlog(self) -> int:
        return 0


class DaphneSink(AsgiSink):
    __slots__ = ("transport",)

    def __init__(self, send, transport) -> None:
        super().__init__(send)
        self.transport = transport

    @classmethod
    def attach(cls, send) -> "DaphneSink | None":
        protocol = send.args[0] if isinstance(send, functools.partial) and send.args else None
        transport = getattr(protocol, "transport", None)
        if transport is None or not all(hasattr(transport, a) for a in ("dataBuffer", "offset", "_tempDataLen")):
            return None
        return cls(send, transport)

    def backlog(self) -> int:
        t = self.transport
        return len(t.dataBuffer) - t.offset + t._tempDataLen


class UvicornSink(AsgiSink):
    __slots__ = ("protocol",)

    def __init__(self, send, protocol) -> None:
        super().__init__(send)
        self.protocol = protocol

    @classmethod
    def attach(cls, send) -> "UvicornSink | None":
        protocol = getattr(send, "__self__", None)
        conn = getattr(protocol, "conn", None)
        needed = ("close_sent", "handshake_complete", "transport", "writable")
        if conn is None or not hasattr(conn, "extensions") or not all(hasattr(protocol, a) for a in needed):
            return None
        return cls(send, protocol)

    async def write(self, frame) -> None:
        # The sans-I/O connection keeps no state for whole outgoing data frames, and uvicorn
        # writes each of its own frames (pings, close) in one call, so frames never interleave.
        p = self.protocol
        if p.close_sent or not p.handshake_complete or p.conn.extensions or p.conn.state.name != "OPEN":
            return await super().write(frame)  # uvicorn handles it (or says the socket is gone)
        if p.transport.is_closing():
            raise SocketGone
        p.transport.write(frame.wire())

    def backlog(self) -> int:
        p = self.protocol
        return p.transport.get_write_buffer_size() if p.writable.is_set() else PAUSED


def sink_for(send) -> AsgiSink:
    return UvicornSink.attach(send) or DaphneSink.attach(send) or AsgiSink(send)


def versions() -> dict[str, str]:
    """The versions the canary tests report when an internal has moved."""
    return {name: version(name) for name in INTERNALS}


class SinkMiddleware:
    """Puts the socket's sink into the scope, made from the server's own `send`: live frames
    go straight to it, past the session and consumer layers (they do nothing for a frame but
    cost per viewer). Outermost in webgame.asgi, to see the server's `send`."""

    def __init__(self, app):
        self.app = app

    def __call__(self, scope, receive, send):
        # Not a coroutine function: it returns the inner application's awaitable for the
        # caller (channels' ProtocolTypeRouter) to await, so no frame of its own stays alive
        # for the socket's life. A sink already in the scope (a test's) is kept.
        sink = scope.get(SCOPE_KEY) or sink_for(send)
        return self.app({**scope, SCOPE_KEY: sink}, receive, send)


class BoundedSender:
    """Per-socket bookkeeping: are we skipping frames because the peer reads too slowly?
    Past WS_MAX_BACKLOG unsent bytes, live frames are dropped; once the backlog
    drains, `resync` (a replay or a snapshot from the database) replaces all of them."""

    __slots__ = ("_watcher", "burst", "cap", "lagging", "sink", "skipped")  # one per viewer

    def __init__(self, sink: AsgiSink):
        self.sink = sink
        self.cap = settings.WS_MAX_BACKLOG  # read once: this runs per viewer per frame
        self.lagging = False
        self.skipped = 0
        self.burst: object | None = None  # the burst whose first frame was let through
        self._watcher: asyncio.Task | None = None

    def should_skip(self, resync: Callable[[], Awaitable[None]], frame=None) -> bool:
        """True if a live frame must be dropped now; starts the wait for the buffer to drain,
        after which `resync` replaces everything dropped. The frames cut from one burst are
        judged once, by the first: the rest follow it (the backlog they make is the burst's,
        which went whole as one frame before it was cut; a cut must not turn into a resync)."""
        burst = getattr(frame, "burst", None)
        if not self.lagging and burst is not None and burst is self.burst:
            return False
        if not self.lagging and self.sink.backlog() <= self.cap:
            self.burst = burst
            return False
        self.skipped += 1
        metrics.frame_dropped()
        if not self.lagging:
            self.lagging = True
            self._watcher = asyncio.ensure_future(self._drain_then(resync))
        return True

    async def _drain_then(self, resync: Callable[[], Awaitable[None]]) -> None:
        # Resume below a quarter of the cap, so one resync frame does not trip it again.
        while self.sink.backlog() > self.cap // 4:  # noqa: ASYNC110 - Twisted signals no drain
            await asyncio.sleep(DRAIN_POLL_SECONDS)
        # No await between the two: the resync starts holding live frames before any can pass.
        self.lagging = False
        await resync()

    def cancel(self) -> None:
        if self._watcher is not None and not self._watcher.done():
            self._watcher.cancel()

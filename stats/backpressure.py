"""How far behind a viewer's socket is, so a slow or dead reader cannot grow server memory.

ASGI has no backpressure for WebSockets: under daphne, `send` hands the frame to Twisted,
which buffers whatever the peer does not read, without limit. The consumers therefore ask,
before each live frame, how many bytes are still waiting in the socket's write buffer; past
WEBGAME_WS_MAX_BACKLOG they stop sending, and once the buffer drains they resync the viewer
from the database (a replay or a snapshot) instead of the frames it missed.

The probe is found by OutgoingBacklogMiddleware from the `send` callable the server gives the
app (daphne's Twisted transport, or an asyncio transport as under uvicorn). Under another
server (or the test communicator) there is no probe and nothing is skipped;
the daphne ping timeout and the channel layer's per-channel capacity still bound the rest.
"""

import asyncio
import functools
from collections.abc import Awaitable, Callable

from django.conf import settings

SCOPE_KEY = "webgame.backlog"
SEND_KEY = "webgame.send"
DRAIN_POLL_SECONDS = 0.25


def _twisted_backlog(send) -> Callable[[], int] | None:
    """daphne passes `partial(server.handle_reply, protocol)`; the protocol's Twisted
    transport keeps unsent bytes in dataBuffer (from offset) plus a list of pending writes."""
    protocol = send.args[0] if isinstance(send, functools.partial) and send.args else None
    transport = getattr(protocol, "transport", None)
    if transport is None or not all(hasattr(transport, a) for a in ("dataBuffer", "offset", "_tempDataLen")):
        return None
    return lambda: len(transport.dataBuffer) - transport.offset + transport._tempDataLen


PAUSED = 1 << 62  # what the probe reports while the server has paused writing


def _asyncio_backlog(send) -> Callable[[], int] | None:
    """uvicorn passes its protocol's bound `send`, which waits while the transport is paused
    (above its high-water mark): a paused socket counts as over the cap, so a fan-out never
    awaits a slow reader (that would hold up every other viewer of the game)."""
    protocol = getattr(send, "__self__", None)
    transport = getattr(protocol, "transport", None)
    if transport is None or not hasattr(transport, "get_write_buffer_size"):
        return None
    writable = getattr(protocol, "writable", None)
    if not isinstance(writable, asyncio.Event):
        return transport.get_write_buffer_size
    return lambda: transport.get_write_buffer_size() if writable.is_set() else PAUSED


class OutgoingBacklogMiddleware:
    """Puts a `() -> pending bytes` probe for the socket into the scope (or None), and the
    server's own `send` (SEND_KEY): live frames go straight to it, skipping the session and
    consumer layers, which do nothing for a websocket.send message but cost per viewer."""

    def __init__(self, app):
        self.app = app

    def __call__(self, scope, receive, send):
        # Not a coroutine function: it returns the inner application's awaitable for the
        # caller (channels' ProtocolTypeRouter) to await, so no frame of its own stays alive
        # for the socket's life. A probe already in the scope (only a server or a test can put
        # one there) is kept.
        probe = scope.get(SCOPE_KEY) or _twisted_backlog(send) or _asyncio_backlog(send)
        return self.app({**scope, SCOPE_KEY: probe, SEND_KEY: send}, receive, send)


class BoundedSender:
    """Per-socket bookkeeping: are we skipping frames because the peer reads too slowly?"""

    __slots__ = ("_watcher", "cap", "lagging", "probe", "skipped")  # one per viewer

    def __init__(self, scope: dict):
        self.probe: Callable[[], int] | None = scope.get(SCOPE_KEY)
        self.cap = settings.WEBGAME_WS_MAX_BACKLOG  # read once: this runs per viewer per frame
        self.lagging = False
        self.skipped = 0
        self._watcher: asyncio.Task | None = None

    def pending(self) -> int:
        return self.probe() if self.probe is not None else 0

    def should_skip(self, resync: Callable[[], Awaitable[None]]) -> bool:
        """True if a live frame must be dropped now; starts the wait for the buffer to drain,
        after which `resync` replaces everything dropped."""
        if not self.lagging and (self.probe is None or self.probe() <= self.cap):
            return False
        self.skipped += 1
        if not self.lagging:
            self.lagging = True
            self._watcher = asyncio.ensure_future(self._drain_then(resync))
        return True

    async def _drain_then(self, resync: Callable[[], Awaitable[None]]) -> None:
        # Resume below a quarter of the cap, so one resync frame does not trip it again.
        while self.pending() > self.cap // 4:  # noqa: ASYNC110 - Twisted signals no drain
            await asyncio.sleep(DRAIN_POLL_SECONDS)
        # No await between the two: the resync starts holding live frames before any can pass.
        self.lagging = False
        await resync()

    def cancel(self) -> None:
        if self._watcher is not None and not self._watcher.done():
            self._watcher.cancel()

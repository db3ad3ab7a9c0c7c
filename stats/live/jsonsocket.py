"""The base of every webgame WebSocket consumer: JSON frames in, error frames for bad ones
(the socket stays open), a rate limit per socket, and one path for a socket that closes or
vanishes, however that happens (`socket_gone`). Nothing is raised for a bad frame or a
peer that left: a viewer leaving is normal, never logged as an error."""

import functools
import json
import logging

from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.db import DatabaseError
from pydantic import ValidationError

from stats import ratelimit
from stats.live import frames, rights, sinks
from stats.live.cut import utf8_len
from stats.live.sinks import SCOPE_KEY, AsgiSink, BoundedSender
from stats.ops import metrics
from stats.ratelimit import ConnectionRate
from stats.schemas import errors_describe
from webgame import wsstack

logger = logging.getLogger(__name__)
MAX_FRAME_CHARS = 64 * 1024
# Close codes from 4000-4999 only: daphne (autobahn) lets an application send nothing but
# 1000 and 3000-4999, and raises on anything else (1011 and 1013 included). docs/protocol.md.
CLOSE_NOT_FOUND = 4404
CLOSE_FLOOD = 4429
CLOSE_INTERNAL = 4500  # the database failed under a live socket: reconnect, the snapshot resyncs
CLOSE_TRY_AGAIN = 4503  # the database is unreachable: reconnect with backoff
CLOSE_FORBIDDEN = 4403  # the socket's user may no longer watch the game (stats.live.rights)
CLOSE_TOO_LARGE = 4413  # a frame (a snapshot) over WS_MAX_FRAME_BYTES: refused, not sent
# A send the server refused on an open socket (daphne: over its size limit) closes it with
# CLOSE_INTERNAL: the client reconnects and resyncs from its snapshot.
# What a send through the server raises for a socket that is already gone: daphne,
# autobahn's Disconnected (a RuntimeError); uvicorn, ClientDisconnected (an OSError), or a
# RuntimeError for a send after websocket.close.
SOCKET_GONE = (OSError, RuntimeError)


def _reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


class JsonFrameConsumer(AsyncJsonWebsocketConsumer):
    """Turns every bad frame into an error frame; the socket stays open, nothing is raised."""

    handlers: dict[str, str] = {}
    frame_rate_limited = True  # WS_RATE per socket (viewers); the ingest socket counts per key
    closing = False  # close sent, or the socket found gone: nothing more is sent
    socket_caps = ratelimit.ws_caps  # which count of open sockets per address this one joins

    async def __call__(self, scope, receive, send):
        """Without a channel layer, read the socket in this task: channels' loop makes a task per
        message and keeps the last one (and the message) for the socket's life: ~3 KB/viewer.
        The caps on open sockets per address and per user (WS_MAX_PER_ADDRESS/_USER) are held
        for the socket's whole life and released however it ends. (One coroutine frame per
        socket: each frame more is ~0.5 KB per idle viewer.)"""
        admission = ratelimit.SocketAdmission(scope, self.socket_caps)
        kind = metrics.socket_opened(type(self))
        try:
            if admission.refused:
                return await ratelimit.socket_refuse(admission, receive, send)  # close 4430
            if self.channel_layer_alias is not None:
                return await self.serve_with_layer(scope, receive, send)
            self.scope, self.channel_layer, self.base_send = scope, None, send
            while True:
                await self.dispatch(await receive())
        except StopConsumer:
            pass
        finally:
            admission.release()
            metrics.socket_closed(kind)

    async def serve_with_layer(self, scope, receive, send):
        return await super().__call__(scope, receive, send)

    @classmethod
    def as_asgi(cls, **initkwargs):
        # channels' app awaits the consumer, so its frame lives as long as the socket: return it.
        def consumer_run(scope, receive, send):
            return cls(**initkwargs)(scope, receive, send)

        return functools.update_wrapper(consumer_run, super().as_asgi(**initkwargs))

    async def websocket_connect(self, message):
        self.rate = ConnectionRate()
        # Live frames go straight to the server, or to the socket itself (stats.live.sinks).
        self.sink = self.scope.get(SCOPE_KEY) or AsgiSink(self.base_send)
        self.outbox = BoundedSender(self.sink)
        await super().websocket_connect(message)

    async def handshake_refuse(self, *, status: int, code: str, message: str) -> None:
        """Refuse the socket before accept, saying why where the server lets us (uvicorn: an
        HTTP answer with a JSON error body; daphne: a bare 403). Nothing is sent after it."""
        self.closing = True
        await wsstack.handshake_deny(self.scope, self.base_send, status=status, code=code, message=message)

    async def send(self, text_data=None, bytes_data=None, close=False):
        if self.closing:
            return
        if text_data is not None and utf8_len(text_data) > settings.WS_MAX_FRAME_BYTES:
            return await self.frame_too_large(text_data)
        try:
            await super().send(text_data=text_data, bytes_data=bytes_data, close=close)
        except SOCKET_GONE as exc:
            await (self.send_refused(exc) if sinks.send_refused(exc) else self.socket_gone())

    async def frame_too_large(self, text: str) -> None:
        """A frame over WS_MAX_FRAME_BYTES that cannot be cut (`events` frames are cut before
        they get here): an error frame and a close, never a frame some server refuses."""
        logger.warning(
            "%s: a frame of %d bytes (%s...) is over WS_MAX_FRAME_BYTES (%d); refused, socket closed with %d",
            type(self).__name__, utf8_len(text), text[:30], settings.WS_MAX_FRAME_BYTES, CLOSE_TOO_LARGE,
        )  # fmt: skip
        await self.send_json(frames.error("too_large", "this frame is over the server's frame limit"))
        await self.close(code=CLOSE_TOO_LARGE)

    async def frame_send(self, frame: frames.OutFrame) -> None:
        """A frame built once for many sockets (stats.live.fanout), written through the sink."""
        try:
            await self.sink.write(frame)
        except sinks.SocketGone:
            await self.socket_gone()
        except sinks.SendRefused as exc:  # refused on an open socket: closed with a code (issue #19)
            await self.send_refused(exc)

    async def send_refused(self, exc: BaseException) -> None:
        """The server refused a frame on an open socket: close it with a code, so the client
        reconnects (and resyncs from its snapshot), and say so once."""
        logger.warning(
            "%s: the server refused to send a frame (%s: %s); socket closed with %d",
            type(self).__name__, type(exc).__name__, exc, CLOSE_INTERNAL,
        )  # fmt: skip
        await self.close(code=CLOSE_INTERNAL)

    async def send_json(self, content, close=False):
        # channels' send_json calls its parent's send, past the guard above: route it through.
        await self.send(text_data=await self.encode_json(content), close=close)

    async def close(self, code=None, reason=None):
        if self.closing:
            return
        await self.socket_gone()  # release first: nothing may be handed to a closing socket
        try:
            await super().close(code=code, reason=reason)
        except SOCKET_GONE:
            pass

    async def socket_gone(self) -> None:
        """The socket is closing or closed, however that came about: send nothing more to it
        and release what it holds. Idempotent; disconnect() ends here too."""
        self.closing = True
        self.outbox.cancel()
        if getattr(self, "rights_user_id", None) is not None:  # no rights check for it any more
            rights.watch_get().unwatch(self, self.rights_user_id)
            self.rights_user_id = None

    async def disconnect(self, code):
        await self.socket_gone()

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        if self.closing:
            return  # a frame that crossed our close: nothing to answer it with
        verdict = self.rate.take() if self.frame_rate_limited else "ok"
        if verdict != "ok":
            return await self.refuse_frame(verdict)
        if text_data is None:
            return await self.send_json(frames.error("binary_unsupported", "send JSON text frames"))
        if len(text_data) > MAX_FRAME_CHARS:
            return await self.send_json(frames.error("too_large", f"frames are limited to {MAX_FRAME_CHARS} chars"))
        try:
            content = json.loads(text_data, parse_constant=_reject_constant)
        except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser's stack
            return await self.send_json(frames.error("bad_json", "the frame is not valid JSON"))
        await self.receive_json(content)

    async def refuse_frame(self, verdict: str) -> None:
        """Over the rate: one error frame per run of refused frames, then a close if it goes on."""
        if verdict == "refuse":
            await self.send_json(frames.error("rate_limited", f"at most {self.rate.rate:g} frames/s; slow down"))
        elif verdict == "close" and not getattr(self, "flood_closed", False):
            self.flood_closed = True
            await self.close(code=CLOSE_FLOOD)

    async def receive_json(self, content, **kwargs):
        kind = content.get("type") if isinstance(content, dict) else None
        if not isinstance(kind, str):
            return await self.send_json(frames.error("bad_message", 'expected a JSON object with a string "type"'))
        handler = self.handlers.get(kind)
        if handler is None:
            known = ", ".join(sorted(self.handlers))
            return await self.send_json(frames.error("unknown_type", f"unknown type; known types: {known}"))
        try:
            await getattr(self, handler)(content)
        except ValidationError as exc:
            await self.send_json(frames.error("bad_field", "invalid fields", details=errors_describe(exc)))
        except DatabaseError as exc:  # answered, not raised: the client tries again at its next ping
            metrics.backend_error("socket_frame")
            logger.warning("%s failed for %s (%s: %s)", kind, type(self).__name__, type(exc).__name__, exc)
            await self.send_json(frames.error("unavailable", "the database is unreachable; try again shortly"))

"""WebSocket consumers: thin. They validate frames, call selectors, and forward the frames
that stats.broadcast encoded once per publish."""

import asyncio
import functools
import json
import logging
import uuid

from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.db import DatabaseError
from pydantic import ValidationError

from stats import backpressure, broadcast, fanout, presence, selectors
from stats.models import Game
from stats.outframe import OutFrame, direct_writer
from stats.ratelimit import ConnectionRate
from stats.schemas import PingIn, ResumeIn, errors_describe
from stats.wire import game_wire

logger = logging.getLogger(__name__)
MAX_FRAME_CHARS = 64 * 1024
# Close codes from 4000-4999 only: daphne (autobahn) lets an application send nothing but
# 1000 and 3000-4999, and raises on anything else (1011 and 1013 included). docs/protocol.md.
CLOSE_NOT_FOUND = 4404
CLOSE_FLOOD = 4429
CLOSE_INTERNAL = 4500  # the database failed under a socket: reconnect, the snapshot resyncs
CLOSE_TRY_AGAIN = 4503  # the database is unreachable: reconnect with backoff
# What a send to a socket that is already gone raises: daphne, autobahn's Disconnected (a
# RuntimeError); uvicorn, ClientDisconnected (an OSError), or a RuntimeError for a send after
# websocket.close. A viewer leaving is normal: it is never logged as an error.
SOCKET_GONE = (OSError, RuntimeError)


def _reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


STATUS_DEGRADED = {"type": "status", "live": False, "reason": "layer_down"}
STATUS_LIVE = {"type": "status", "live": True}


def error_frame(code: str, message: str, **extra) -> dict:
    return {"type": "error", "code": code, "message": message, **extra}


class JsonFrameConsumer(AsyncJsonWebsocketConsumer):
    """Turns every bad frame into an error frame; the socket stays open, nothing is raised."""

    handlers: dict[str, str] = {}
    closing = False  # close sent, or the socket found gone: nothing more is sent

    async def __call__(self, scope, receive, send):
        """Without a channel layer, read the socket in this task: channels' loop makes a task per
        message and keeps the last one (and the message) for the socket's life: ~3 KB/viewer."""
        if self.channel_layer_alias is not None:
            return await super().__call__(scope, receive, send)
        self.scope, self.channel_layer, self.base_send = scope, None, send
        try:
            while True:
                await self.dispatch(await receive())
        except StopConsumer:
            pass

    @classmethod
    def as_asgi(cls, **initkwargs):
        # channels' app awaits the consumer, so its frame lives as long as the socket: return it.
        def consumer_run(scope, receive, send):
            return cls(**initkwargs)(scope, receive, send)

        return functools.update_wrapper(consumer_run, super().as_asgi(**initkwargs))

    async def websocket_connect(self, message):
        self.rate = ConnectionRate()
        self.outbox = backpressure.BoundedSender(self.scope)
        await super().websocket_connect(message)

    async def send(self, text_data=None, bytes_data=None, close=False):
        if self.closing:
            return
        try:
            await super().send(text_data=text_data, bytes_data=bytes_data, close=close)
        except SOCKET_GONE:
            await self.socket_gone()

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

    async def disconnect(self, code):
        await self.socket_gone()

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        if self.closing:
            return  # a frame that crossed our close: nothing to answer it with
        verdict = self.rate.take()
        if verdict != "ok":
            return await self.refuse_frame(verdict)
        if text_data is None:
            return await self.send_json(error_frame("binary_unsupported", "send JSON text frames"))
        if len(text_data) > MAX_FRAME_CHARS:
            return await self.send_json(error_frame("too_large", f"frames are limited to {MAX_FRAME_CHARS} chars"))
        try:
            content = json.loads(text_data, parse_constant=_reject_constant)
        except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser's stack
            return await self.send_json(error_frame("bad_json", "the frame is not valid JSON"))
        await self.receive_json(content)

    async def refuse_frame(self, verdict: str) -> None:
        """Over the rate: one error frame per run of refused frames, then a close if it goes on."""
        if verdict == "refuse":
            await self.send_json(error_frame("rate_limited", f"at most {self.rate.rate:g} frames/s; slow down"))
        elif verdict == "close" and not getattr(self, "flood_closed", False):
            self.flood_closed = True
            await self.close(code=CLOSE_FLOOD)

    async def receive_json(self, content, **kwargs):
        kind = content.get("type") if isinstance(content, dict) else None
        if not isinstance(kind, str):
            return await self.send_json(error_frame("bad_message", 'expected a JSON object with a string "type"'))
        handler = self.handlers.get(kind)
        if handler is None:
            known = ", ".join(sorted(self.handlers))
            return await self.send_json(error_frame("unknown_type", f"unknown type; known types: {known}"))
        try:
            await getattr(self, handler)(content)
        except ValidationError as exc:
            await self.send_json(error_frame("bad_field", "invalid fields", details=errors_describe(exc)))
        except DatabaseError as exc:  # answered, not raised: the client tries again at its next ping
            logger.warning("%s failed for %s (%s: %s)", kind, type(self).__name__, type(exc).__name__, exc)
            await self.send_json(error_frame("unavailable", "the database is unreachable; try again shortly"))


class GameConsumer(JsonFrameConsumer):
    """One game's live stream: a snapshot first, then events in seq order without gaps.

    Frames reach it through this process's stats.fanout feed of the game, not through a
    channel-layer membership of its own (one per process is enough), hence no layer alias.
    While a snapshot or replay is read from the database, arriving frames are held and then
    forwarded in order, so nothing overtakes the snapshot and nothing falls between."""

    handlers = {"ping": "on_ping", "resume": "on_resume"}
    channel_layer_alias = None

    async def connect(self):
        self.slug = self.scope["url_route"]["kwargs"]["slug"]
        self.group = broadcast.game_group(self.slug)
        self.channel_name = f"viewer.{uuid.uuid4().hex}"  # presence's member id
        self.sent_seq = 0
        self.joined = False
        self.held: list[tuple] | None = []  # frames that arrive while the database is read
        # Live frames go straight to the server (see backpressure.OutgoingBacklogMiddleware),
        # or to the socket itself where the server allows it (see stats.outframe).
        self.wire_send = self.scope.get(backpressure.SEND_KEY) or self.base_send
        self.direct = direct_writer(self.wire_send)
        self.resync_task: asyncio.Task | None = None
        await self.accept()
        try:
            game = await database_sync_to_async(selectors.game_get_visible)(slug=self.slug, user=self.scope["user"])
        except selectors.GameNotVisible:
            await self.send_json(error_frame("not_found", "no such game, or you may not watch it"))
            return await self.close(code=CLOSE_NOT_FOUND)
        except DatabaseError as exc:
            return await self.refuse_unavailable(exc)
        self.game_id = game.pk
        # Join before reading the snapshot, so no event can fall between the two. In a layer
        # outage the feed keeps trying; meanwhile pings keep this viewer current from the database.
        self.feed = await fanout.hub_get().join(self.group, self, game_id=self.game_id)
        self.joined = True
        viewers = await presence.presence_join(slug=self.slug, channel=self.channel_name)
        try:
            await self.from_database(self.send_snapshot)
        except DatabaseError as exc:
            return await self.refuse_unavailable(exc)
        await self.send_json({"type": "connection_established", "message": "You are now connected!", "game": self.slug})
        if not self.feed.live:
            await self.send_json(STATUS_DEGRADED)
        if viewers is not None:
            await broadcast.presence_publish(slug=self.slug, viewers=viewers)

    async def refuse_unavailable(self, exc: Exception) -> None:
        logger.warning("%s: database unreachable (%s: %s); client told to retry", self.slug, type(exc).__name__, exc)
        await self.send_json(error_frame("unavailable", "the database is unreachable; retry shortly"))
        await self.close(code=CLOSE_TRY_AGAIN)

    async def socket_gone(self) -> None:
        await super().socket_gone()
        if not self.joined:
            return
        self.joined = False
        self.held = None
        task = self.resync_task
        if task is not None and task is not asyncio.current_task():
            task.cancel()
        hub = fanout.hub_get()
        hub.leave(self.group, self)  # at once, so no frame is handed to this socket again
        hub.spawn(self.presence_leave())  # off the caller's path: it may be a feed's hand-out

    async def presence_leave(self) -> None:
        viewers = await presence.presence_leave(slug=self.slug, channel=self.channel_name)
        if viewers is not None:
            await broadcast.presence_publish(slug=self.slug, viewers=viewers)

    async def from_database(self, read, *args) -> None:
        """Run a snapshot or replay, holding live frames meanwhile, then forward those. A
        forwarded frame that shows a new gap holds again (see events_forward): the caller's
        loop (resync_background) reads once more."""
        if self.held is None:
            self.held = []
        try:
            await read(*args)
        except BaseException:
            self.held = None  # the read failed or was cancelled: the socket is closing
            raise
        held, self.held = self.held, None
        for item in held or ():  # None: the socket went meanwhile, and its frames with it
            await (self.events_forward(*item) if len(item) == 3 else self.text_forward(*item))

    async def send_snapshot(self) -> None:
        snapshot = await database_sync_to_async(selectors.game_snapshot_shared)(game_id=self.game_id)
        snapshot["viewers"] = await presence.presence_count(slug=self.slug)
        self.sent_seq = snapshot["seq"]
        await self.send_json(snapshot)

    async def send_after(self, after_seq: int) -> None:
        """Send what follows `after_seq` from the database, or a snapshot if that is too much."""
        frame = await database_sync_to_async(selectors.game_events_after)(
            game_id=self.game_id, after_seq=after_seq, limit=settings.WEBGAME_RESUME_MAX
        )
        if frame is None:
            return await self.send_snapshot()
        frame["resumed"] = True
        self.sent_seq = frame["last_seq"]
        await self.send_json(frame)

    async def on_ping(self, content):
        PingIn.model_validate(content)
        await presence.presence_join(slug=self.slug, channel=self.channel_name)
        # The database is the source of truth: a push lost while Redis was down shows up
        # here, at the latest one ping after it, even if no later event follows it.
        if self.held is None and await self.feed.latest_seq() > self.sent_seq:
            await self.from_database(self.send_after, self.sent_seq)
        await self.send_json({"type": "pong", "seq": self.sent_seq})

    async def on_resume(self, content):
        resume = ResumeIn.model_validate(content)
        await self.from_database(self.send_after, resume.after_seq)

    async def frame_send(self, frame: OutFrame) -> None:
        if self.direct is None or not self.direct(frame):
            try:
                await self.wire_send(frame.asgi)
            except SOCKET_GONE:
                await self.socket_gone()

    async def events_forward(self, first_seq: int, last_seq: int, frame: OutFrame) -> None:
        """Called by the fan-out feed (stats.fanout) for each events frame."""
        if self.held is not None:
            self.held.append((first_seq, last_seq, frame))
        elif last_seq <= self.sent_seq or not self.joined:
            return  # already covered by the snapshot or a replay, or the socket is gone
        elif self.outbox.should_skip(self.resync_after_lag):
            return  # the socket is not being read: drop frames, resync once it drains
        elif first_seq != self.sent_seq + 1:
            # Something was dropped, reordered or half-covered by the snapshot: fill from the
            # database in the background, so the feed's other viewers do not wait for it.
            self.held = [(first_seq, last_seq, frame)]
            self.resync_start()
        else:
            self.sent_seq = last_seq
            await self.frame_send(frame)

    async def text_forward(self, frame: OutFrame) -> None:
        if self.held is not None:
            self.held.append((frame,))
        elif self.joined and not self.outbox.should_skip(self.resync_after_lag):
            await self.frame_send(frame)

    async def live_forward(self, last_seq: int | None) -> None:
        """The feed is live again after an outage: say so, and catch up on what it missed."""
        if not self.joined:
            return
        await self.send_json(STATUS_LIVE)
        if self.held is None and (last_seq is None or last_seq > self.sent_seq):
            self.held = []
            self.resync_start()

    async def resync_after_lag(self) -> None:
        await self.from_database(self.send_after, self.sent_seq)

    def resync_start(self) -> None:
        """One gap fill at a time per socket, and none once it is gone: a fill that finds
        another gap loops in the same task (resync_background) instead of starting one."""
        running = self.resync_task is not None and not self.resync_task.done()
        if self.joined and not running:
            self.resync_task = asyncio.ensure_future(self.resync_background())

    async def resync_background(self) -> None:
        """A gap fill off the feed's path. Its failures end this socket cleanly (the client
        reconnects and gets a snapshot); they are never left as unretrieved task errors."""
        try:
            while self.joined and self.held is not None:
                await self.from_database(self.send_after, self.sent_seq)
        except asyncio.CancelledError:
            raise
        except Game.DoesNotExist:
            await self.send_json(error_frame("not_found", "this game no longer exists"))
            await self.close(code=CLOSE_NOT_FOUND)
        except Exception as exc:  # noqa: BLE001 - e.g. the database is down: log once per socket
            logger.warning(
                "gap fill for %s failed (%s: %s); closing so the client resyncs", self.slug, type(exc).__name__, exc
            )
            await self.close(code=CLOSE_INTERNAL)


class LobbyConsumer(JsonFrameConsumer):
    """All visible games with live totals: the lobby-wide broadcast."""

    handlers = {"ping": "on_ping"}

    async def __call__(self, scope, receive, send):
        try:
            return await super().__call__(scope, receive, send)
        except Exception as exc:
            # channels makes the socket's layer channel before reading the handshake: with
            # Redis down that raises, and daphne would answer the handshake with a 500. Serve
            # the lobby from the database instead, without live updates (it says so).
            if self.channel_layer is None or getattr(self, "channel_name", None):
                raise
            broadcast.outage.failed(exc)
            self.channel_layer_alias = None
            return await super().__call__(scope, receive, send)

    async def connect(self):
        user = self.scope["user"]
        self.sees_private = bool(user.is_authenticated and user.is_staff)
        self.private_slugs: set[str] = set()  # private games this (non-staff) viewer is listed on
        live = self.channel_layer is not None
        if live:
            try:
                await self.channel_layer.group_add(broadcast.LOBBY_GROUP, self.channel_name)
            except Exception as exc:  # noqa: BLE001 - Redis down: the lobby is served, not refused
                broadcast.outage.failed(exc)
                live = False
        await self.accept()
        await self.send_json({"type": "connection_established", "message": "You are now connected!"})
        games = await database_sync_to_async(self.games_list)(user)
        self.private_slugs = {g["slug"] for g in games if not g["is_public"]}
        await self.send_json({"type": "games", "games": games})
        if not live:
            await self.send_json(STATUS_DEGRADED)

    @staticmethod
    def games_list(user) -> list[dict]:
        return [game_wire(g) for g in selectors.game_list_visible(user=user)]

    async def disconnect(self, code):
        await self.socket_gone()
        if self.channel_layer is None:
            return
        try:
            await self.channel_layer.group_discard(broadcast.LOBBY_GROUP, self.channel_name)
        except Exception as exc:  # noqa: BLE001 - leaving must never raise
            broadcast.outage.failed(exc)

    async def on_ping(self, content):
        PingIn.model_validate(content)
        await self.send_json({"type": "pong"})

    async def lobby_game(self, message):
        visible = message["is_public"] or self.sees_private or message.get("slug") in self.private_slugs
        if visible and not self.outbox.should_skip(self.resync_after_lag):
            await self.send(text_data=message["text"])

    async def resync_after_lag(self) -> None:
        games = await database_sync_to_async(self.games_list)(self.scope["user"])
        await self.send_json({"type": "games", "games": games})

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
from pydantic import ValidationError

from stats import backpressure, broadcast, fanout, presence, selectors
from stats.models import Game
from stats.outframe import OutFrame, direct_writer
from stats.ratelimit import ConnectionRate
from stats.schemas import PingIn, ResumeIn, errors_describe
from stats.wire import game_wire

logger = logging.getLogger(__name__)
MAX_FRAME_CHARS = 64 * 1024
CLOSE_NOT_FOUND = 4404
CLOSE_TRY_AGAIN = 1013
CLOSE_FLOOD = 4429
CLOSE_INTERNAL = 1011


def _reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def error_frame(code: str, message: str, **extra) -> dict:
    return {"type": "error", "code": code, "message": message, **extra}


class JsonFrameConsumer(AsyncJsonWebsocketConsumer):
    """Turns every bad frame into an error frame; the socket stays open, nothing is raised."""

    handlers: dict[str, str] = {}

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

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
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
        try:
            game = await database_sync_to_async(selectors.game_get_visible)(slug=self.slug, user=self.scope["user"])
        except selectors.GameNotVisible:
            await self.accept()
            await self.send_json(error_frame("not_found", "no such game, or you may not watch it"))
            return await self.close(code=CLOSE_NOT_FOUND)
        self.game_id = game.pk
        try:
            # Join before reading the snapshot, so no event can fall between the two.
            await fanout.hub_get().join(self.group, self, game_id=self.game_id)
        except Exception as exc:  # noqa: BLE001 - layer down: tell the client to retry, no traceback
            broadcast.outage.failed(exc)
            await self.accept()
            await self.send_json(error_frame("unavailable", "live updates are down; retry shortly"))
            return await self.close(code=CLOSE_TRY_AGAIN)
        self.joined = True
        await self.accept()
        viewers = await presence.presence_join(slug=self.slug, channel=self.channel_name)
        await self.from_database(self.send_snapshot)
        await self.send_json({"type": "connection_established", "message": "You are now connected!", "game": self.slug})
        if viewers is not None:
            await broadcast.presence_publish(slug=self.slug, viewers=viewers)

    async def disconnect(self, code):
        self.outbox.cancel()
        if not self.joined:
            return
        self.joined = False
        if self.resync_task is not None:
            self.resync_task.cancel()
        try:
            await fanout.hub_get().leave(self.group, self)
        except Exception as exc:  # noqa: BLE001 - leaving must never raise
            broadcast.outage.failed(exc)
        viewers = await presence.presence_leave(slug=self.slug, channel=self.channel_name)
        if viewers is not None:
            await broadcast.presence_publish(slug=self.slug, viewers=viewers)

    async def from_database(self, read, *args) -> None:
        """Run a snapshot or replay, holding live frames meanwhile, then forward those."""
        if self.held is None:
            self.held = []
        try:
            await read(*args)
        finally:
            held, self.held = self.held, None
            for item in held:
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
        latest = await database_sync_to_async(selectors.game_last_seq)(game_id=self.game_id)
        if latest > self.sent_seq and self.held is None:
            await self.from_database(self.send_after, self.sent_seq)
        await self.send_json({"type": "pong", "seq": self.sent_seq})

    async def on_resume(self, content):
        resume = ResumeIn.model_validate(content)
        await self.from_database(self.send_after, resume.after_seq)

    async def frame_send(self, frame: OutFrame) -> None:
        if self.direct is None or not self.direct(frame):
            await self.wire_send(frame.asgi)

    async def events_forward(self, first_seq: int, last_seq: int, frame: OutFrame) -> None:
        """Called by the fan-out feed (stats.fanout) for each events frame."""
        if self.held is not None:
            self.held.append((first_seq, last_seq, frame))
        elif last_seq <= self.sent_seq:
            return  # already covered by the snapshot or a replay
        elif self.outbox.should_skip(self.resync_after_lag):
            return  # the socket is not being read: drop frames, resync once it drains
        elif first_seq != self.sent_seq + 1:
            # Something was dropped, reordered or half-covered by the snapshot: fill from the
            # database in the background, so the feed's other viewers do not wait for it.
            self.held = [(first_seq, last_seq, frame)]
            self.resync_task = asyncio.ensure_future(self.resync_background())
        else:
            self.sent_seq = last_seq
            await self.frame_send(frame)

    async def text_forward(self, frame: OutFrame) -> None:
        if self.held is not None:
            self.held.append((frame,))
        elif not self.outbox.should_skip(self.resync_after_lag):
            await self.frame_send(frame)

    async def resync_after_lag(self) -> None:
        await self.from_database(self.send_after, self.sent_seq)

    async def resync_background(self) -> None:
        """A gap fill off the feed's path. Its failures end this socket cleanly (the client
        reconnects and gets a snapshot); they are never left as unretrieved task errors."""
        try:
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

    async def connect(self):
        user = self.scope["user"]
        self.sees_private = bool(user.is_authenticated and user.is_staff)
        self.private_slugs: set[str] = set()  # private games this (non-staff) viewer is listed on
        await self.channel_layer.group_add(broadcast.LOBBY_GROUP, self.channel_name)
        await self.accept()
        await self.send_json({"type": "connection_established", "message": "You are now connected!"})
        games = await database_sync_to_async(self.games_list)(user)
        self.private_slugs = {g["slug"] for g in games if not g["is_public"]}
        await self.send_json({"type": "games", "games": games})

    @staticmethod
    def games_list(user) -> list[dict]:
        return [game_wire(g) for g in selectors.game_list_visible(user=user)]

    async def disconnect(self, code):
        self.outbox.cancel()
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

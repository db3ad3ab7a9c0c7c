"""The ingest socket: a game server's events in, one `ack` per frame, in the order sent.

Frames are pipelined: each is checked and handed to the game's committer at once, and a task
of the socket's own sends the answers in order as their commits complete, so a client may
keep many frames in flight. At most INGEST_MAX_IN_FLIGHT frames wait for answers; past that
the socket is not read until answers go out (the client's sends then wait: TCP backpressure).
"""

import asyncio
import logging
from collections import deque

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from django.conf import settings
from django.db import DatabaseError
from pydantic import ValidationError

from stats import selectors, services
from stats.ingest.committer import committer_for
from stats.ingest.frames import IngestEventsIn, PingIn, ack, error_for, ref_of
from stats.ingest.keyrate import KeyRate
from stats.live import frames, publish
from stats.live.jsonsocket import JsonFrameConsumer
from stats.ops import metrics
from stats.scoring.record import EventsRefused

logger = logging.getLogger(__name__)


def bearer_key(scope: dict) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            scheme, _, raw = value.decode("latin1").partition(" ")
            return raw.strip() if scheme.lower() == "bearer" and raw.strip() else None
    return None


class IngestConsumer(JsonFrameConsumer):
    handlers = {"events": "on_events", "ping": "on_ping"}
    frame_rate_limited = False  # the key's rate limit applies, per frame, as per request over HTTP
    channel_layer_alias = None  # answers go to this socket alone: no group, no layer channel

    async def dispatch(self, message):
        """channels' dispatch, without its aclose_old_connections() per message: a thread hop
        for every frame (the socket's top cost, profiled). This consumer touches the database
        only through database_sync_to_async, which closes stale connections itself."""
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def connect(self):
        self.slug = self.scope["url_route"]["kwargs"]["slug"]
        raw = bearer_key(self.scope)
        key = await database_sync_to_async(selectors.api_key_get)(raw=raw) if raw else None
        if key is None or key.game.slug != self.slug:
            return await self.close()  # before accept: the handshake is refused (403)
        # The seam the write path publishes through (and HTTP joins group commit by): a
        # process that has served no HTTP request yet has not registered its loop.
        if publish.server_loop() is None:
            publish.server_loop_register(asyncio.get_running_loop())
        self.key, self.game_id = key, key.game_id
        self.key_rate = KeyRate(key.prefix)
        self.answers: deque[tuple[object, asyncio.Future | dict]] = deque()
        self.answered = asyncio.Event()
        self.answer_task = asyncio.get_running_loop().create_task(self.answers_send())
        await self.accept()

    async def socket_gone(self) -> None:
        await super().socket_gone()
        task = getattr(self, "answer_task", None)
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            self.key_rate.close()
        # Frames still being written are written (and committed); nobody is left to answer,
        # so their futures are cancelled: an exception set on one would be logged as never
        # retrieved.
        for _, outcome in getattr(self, "answers", ()):
            if isinstance(outcome, asyncio.Future):
                outcome.cancel()

    async def receive_json(self, content, **kwargs):
        # Over the cap, stop reading until answers go out.
        while len(self.answers) >= settings.WEBGAME_INGEST_MAX_IN_FLIGHT and not self.closing:
            self.answered.clear()
            await self.answered.wait()
        await super().receive_json(content, **kwargs)

    def answer_queue(self, ref, outcome) -> None:
        self.answers.append((ref, outcome))
        self.answered.set()

    async def on_events(self, content):
        ref = ref_of(content)
        events = content.get("events")
        if isinstance(events, list) and len(events) > settings.WEBGAME_MAX_BATCH:
            message = f"at most {settings.WEBGAME_MAX_BATCH} events per frame"
            return self.answer_queue(ref, frames.error("batch_too_large", message, ref=ref))
        try:
            frame = IngestEventsIn.model_validate(content)
        except ValidationError as exc:
            return self.answer_queue(ref, error_for(exc, ref))
        if settings.WEBGAME_API_RATE_LIMIT and (retry := self.key_rate.take()):
            message = f"too many frames for this key; retry in {retry}s"
            return self.answer_queue(ref, frames.error("rate_limited", message, ref=ref, retry_after=retry))
        self.answer_queue(ref, committer_for(self.game_id).submit_async(frame.events))

    async def on_ping(self, content):
        PingIn.model_validate(content)
        self.answer_queue(None, frames.pong())  # after every earlier frame's answer

    async def answers_send(self) -> None:
        while True:
            while not self.answers:
                self.answered.clear()
                await self.answered.wait()
            ref, outcome = self.answers[0]
            frame = outcome if isinstance(outcome, dict) else await self.outcome_frame(ref, outcome)
            self.answers.popleft()
            self.answered.set()  # wakes a reader held at the cap
            await self.send_json(frame)

    async def outcome_frame(self, ref, future: asyncio.Future) -> dict:
        try:
            result = await asyncio.shield(future)
        except (services.EventConflict, EventsRefused, DatabaseError) as exc:
            return error_for(exc, ref)
        except Exception as exc:  # a bug: logged with its traceback, and the client may retry
            logger.exception("ingest frame of %s failed", self.slug)
            return error_for(exc, ref)
        metrics.events_ingested("socket", result.accepted)
        return ack(ref, result)

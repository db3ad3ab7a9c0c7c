"""The ingest socket: a game server's events in, one `ack` per frame, in the order sent.

Frames are pipelined: each is checked and handed to the game's committer at once, and a task
of the socket's own sends the answers in order as their commits complete, so a client may
keep many frames in flight. At most INGEST_MAX_IN_FLIGHT frames wait for answers; past that
the socket is not read until answers go out (the client's sends then wait: TCP backpressure).

Every answer, an error for a frame that could not be parsed included, joins that one queue:
an error sent at once overtook the acks of the frames before it (issue #22). A frame's answer
carries its ref whenever one can be found, even in a frame too large to parse (frames.ref_peek).
The key is read again every INGEST_KEY_RECHECK_SECONDS: a revoked key's next frame is refused
(`key_revoked`) and the socket closed with 4401, and nothing it sends from then on is stored.
"""

import asyncio
import json
import logging
import math
import time
from collections import deque

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from django.conf import settings
from django.db import DatabaseError
from pydantic import ValidationError

from stats import ratelimit, selectors, services
from stats.ingest.committer import committer_for
from stats.ingest.frames import IngestEventsIn, PingIn, ack, error_for, ref_of, ref_peek
from stats.ingest.keyrate import KeyRate
from stats.live import frames, publish
from stats.live.jsonsocket import MAX_FRAME_CHARS, JsonFrameConsumer, _reject_constant
from stats.ops import metrics
from stats.schemas import errors_describe, stat_values_refusal
from stats.scoring.record import EventsRefused
from webgame import httpkit

logger = logging.getLogger(__name__)
CLOSE_KEY_REVOKED = 4401  # after a key_revoked error frame: docs/protocol.md
KEY_MISSING = "send the game's API key in the handshake: 'Authorization: Bearer <api key>'"
# The same words for a wrong key and another game's: whether a game exists is not a key's business.
KEY_REFUSED = "this API key is not a valid key of this game (wrong, revoked, or another game's)"
_CLOSE = object()  # in the answer queue: close the socket once every earlier answer is out
_key_active = database_sync_to_async(selectors.api_key_active)


class IngestConsumer(JsonFrameConsumer):
    handlers = {"events": "on_events", "ping": "on_ping"}
    frame_rate_limited = False  # the key's rate limit applies, per frame, as per request over HTTP
    channel_layer_alias = None  # answers go to this socket alone: no group, no layer channel
    socket_caps = ratelimit.ingest_caps  # a game server's sockets do not use up its viewers' cap
    revoked = False  # the key was found revoked: nothing more is read

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
        raw = httpkit.bearer_token(httpkit.scope_header(self.scope, b"authorization"))
        if not raw:  # refused before accept, saying why where the server can (wsstack.handshake_deny)
            return await self.handshake_refuse(status=401, code="unauthorized", message=KEY_MISSING)
        key = await database_sync_to_async(selectors.api_key_get)(raw=raw)
        if key is None or key.game.slug != self.slug:
            return await self.handshake_refuse(status=403, code="forbidden", message=KEY_REFUSED)
        # The seam the write path publishes through (and HTTP joins group commit by): a
        # process that has served no HTTP request yet has not registered its loop.
        if publish.server_loop() is None:
            publish.server_loop_register(asyncio.get_running_loop())
        self.key, self.game_id = key, key.game_id
        self.key_checked_at = -math.inf  # api_key_get's answer may be 5 s old: the first frame reads it again
        self.key_rate = KeyRate(key.prefix)
        self.answers: deque[tuple[object, asyncio.Future | dict]] = deque()
        self.refs_waiting: dict[int, int] = {}  # refs of the queued answers: a ref in flight is refused
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

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        """JsonFrameConsumer.receive, with every error queued in order (and naming its ref)."""
        # Over the cap, stop reading until answers go out.
        while len(self.answers) >= settings.INGEST_MAX_IN_FLIGHT and not self.closing:
            self.answered.clear()
            await self.answered.wait()
        if self.closing or self.revoked:
            return  # a frame that crossed our close: nothing to answer it with
        if text_data is None:
            return self.answer_queue(None, frames.error("binary_unsupported", "send JSON text frames"))
        if len(text_data) > MAX_FRAME_CHARS:
            ref = ref_peek(text_data)
            message = f"frames are limited to {MAX_FRAME_CHARS} chars; send fewer events per frame"
            return self.answer_queue(ref, frames.error("too_large", message, ref=ref))
        try:
            content = json.loads(text_data, parse_constant=_reject_constant)
        except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser's stack
            ref = ref_peek(text_data)
            return self.answer_queue(ref, frames.error("bad_json", "the frame is not valid JSON", ref=ref))
        await self.receive_json(content)

    async def receive_json(self, content, **kwargs):
        kind = content.get("type") if isinstance(content, dict) else None
        ref = ref_of(content) if isinstance(content, dict) else None
        if not isinstance(kind, str):
            message = 'expected a JSON object with a string "type"'
            return self.answer_queue(ref, frames.error("bad_message", message, ref=ref))
        if kind not in self.handlers:
            message = f"unknown type; known types: {', '.join(sorted(self.handlers))}"
            return self.answer_queue(ref, frames.error("unknown_type", message, ref=ref))
        try:
            await getattr(self, self.handlers[kind])(content)
        except ValidationError as exc:
            self.answer_queue(ref, error_for(exc, ref) if kind == "events" else _bad_field(exc))
        except DatabaseError as exc:  # the key's re-check: the frame is refused, the client sends it again
            metrics.backend_error("socket_frame")
            logger.warning("ingest %s failed for %s (%s: %s)", kind, self.slug, type(exc).__name__, exc)
            self.answer_queue(ref, error_for(exc, ref))

    def answer_queue(self, ref, outcome) -> None:
        self.answers.append((ref, outcome))
        if ref is not None:
            self.refs_waiting[ref] = self.refs_waiting.get(ref, 0) + 1
        self.answered.set()

    async def key_active(self) -> bool:
        """Whether the key still stands, read now: on_events asks once INGEST_KEY_RECHECK_SECONDS
        have passed (a read per socket per interval while it sends; none while it is idle)."""
        now = time.monotonic()
        active = await _key_active(key_id=self.key.pk)
        self.key_checked_at = now
        return active

    def key_revoked(self, ref) -> None:
        """Refuse this frame, close after the answers before it, and read nothing more."""
        self.revoked = True
        logger.info("ingest socket of %s closed: key %s revoked", self.slug, self.key.prefix)
        message = "this API key was revoked; the socket is closed"
        self.answer_queue(ref, frames.error("key_revoked", message, ref=ref))
        self.answer_queue(None, _CLOSE)

    async def on_events(self, content):
        ref = ref_of(content)
        if ref is not None and ref in self.refs_waiting:
            message = "a frame with this ref is still waiting for its answer; use a new ref"
            return self.answer_queue(ref, frames.error("ref_in_flight", message, ref=ref))
        recheck = time.monotonic() - self.key_checked_at >= settings.INGEST_KEY_RECHECK_SECONDS
        if recheck and not await self.key_active():
            return self.key_revoked(ref)
        events = content.get("events")
        if isinstance(events, list) and len(events) > settings.WEBGAME_MAX_BATCH:
            message = f"at most {settings.WEBGAME_MAX_BATCH} events per frame"
            return self.answer_queue(ref, frames.error("batch_too_large", message, ref=ref))
        try:
            frame = IngestEventsIn.model_validate(content)
        except ValidationError as exc:
            return self.answer_queue(ref, error_for(exc, ref))
        if (refusal := stat_values_refusal(frame.events)) is not None:  # the HTTP body's bound (#19)
            return self.answer_queue(ref, frames.error("too_many_stat_values", refusal, ref=ref))
        limited = settings.API_RATE_LIMIT and not self.key_rate.spend()
        if limited and (retry := await self.key_rate.take()):
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
            if outcome is _CLOSE:
                return await self.close(code=CLOSE_KEY_REVOKED)
            frame = outcome if isinstance(outcome, dict) else await self.outcome_frame(ref, outcome)
            self.answers.popleft()
            if ref is not None:
                left = self.refs_waiting.pop(ref) - 1
                if left:
                    self.refs_waiting[ref] = left
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


def _bad_field(exc: ValidationError) -> dict:
    return frames.error("bad_field", "invalid fields", details=errors_describe(exc))

"""Step 4 of the live path, the consumers: a snapshot on connect, then frames handed from the
feed (stats.live.feed) to the socket's sink, a client's resume, and pings. The feed owns
ordering, coalescing and database gap reads; a consumer reads the database by itself only
for its snapshot and a client's `resume`."""

import asyncio
import logging
import uuid

from channels.db import database_sync_to_async
from django.conf import settings
from django.db import DatabaseError

from stats import selectors
from stats.chat.selectors import chat_recent
from stats.live import cut, frames, presence, publish
from stats.live.chat import ChatHandlers
from stats.live.frames import OutFrame
from stats.live.hub import hub_get
from stats.live.jsonsocket import CLOSE_INTERNAL, CLOSE_NOT_FOUND, CLOSE_TRY_AGAIN, JsonFrameConsumer
from stats.live.rights import LobbyRights
from stats.models import Game
from stats.ops import metrics
from stats.schemas import PingIn, ResumeIn
from stats.wire import game_wire

logger = logging.getLogger(__name__)
STATUS_DEGRADED = frames.status(live=False)
STATUS_LIVE = frames.status(live=True)


def snapshot_with_chat(*, game_id: int) -> dict:
    """The snapshot and the chat history in one thread hop (a socket's database reads share
    one thread per process). Chat is not in the (game, seq) snapshot cache: messages do not
    move the seq."""
    snapshot = selectors.game_snapshot_shared(game_id=game_id)
    snapshot["chat"] = chat_recent(game_id=game_id)
    return snapshot


class GameConsumer(ChatHandlers, JsonFrameConsumer):
    """One game's live stream: a snapshot first, then events in seq order without gaps.

    Frames reach it through this process's feed of the game (stats.live.feed), not through a
    channel-layer membership of its own (one per process is enough), hence no layer alias.
    While a snapshot or replay is read from the database, arriving frames are held and then
    forwarded in order, so nothing overtakes the snapshot and nothing falls between."""

    handlers = {"ping": "on_ping", "resume": "on_resume", **ChatHandlers.chat_handlers}
    channel_layer_alias = None

    async def connect(self):
        self.slug = self.scope["url_route"]["kwargs"]["slug"]
        self.channel_name = f"viewer.{uuid.uuid4().hex}"  # presence's member id
        self.sent_seq = 0
        self.joined = False
        self.held: list[tuple] | None = []  # frames that arrive while the database is read
        self.resync_task: asyncio.Task | None = None
        await self.accept()
        try:
            game = await database_sync_to_async(selectors.game_get_visible)(slug=self.slug, user=self.scope["user"])
        except selectors.GameNotVisible:
            await self.send_json(frames.error("not_found", "no such game, or you may not watch it"))
            return await self.close(code=CLOSE_NOT_FOUND)
        except DatabaseError as exc:
            return await self.refuse_unavailable(exc)
        self.game_id, self.group = game.pk, publish.game_group(game.pk)
        await self.rights_watch()  # told when its user's rights change (stats.live.rights)
        # Join before reading the snapshot, so no event can fall between the two. In a layer
        # outage the feed keeps trying; meanwhile pings keep this viewer current from the database.
        self.feed = await hub_get().join(self.group, self, game_id=self.game_id)
        self.joined = True
        viewers = await presence.presence_join(game_id=self.game_id, channel=self.channel_name)
        try:
            await self.from_database(self.send_opening)
        except Game.DoesNotExist:  # deleted since the visibility check
            await self.send_json(frames.error("not_found", "no such game, or you may not watch it"))
            return await self.close(code=CLOSE_NOT_FOUND)
        except DatabaseError as exc:
            return await self.refuse_unavailable(exc)
        metrics.snapshot_sent("connect")
        if not self.feed.live:
            await self.send_json(STATUS_DEGRADED)
        await presence.viewers_announce(game_id=self.game_id, viewers=viewers)

    async def refuse_unavailable(self, exc: Exception) -> None:
        metrics.backend_error("socket_connect")
        logger.warning("%s: database unreachable (%s: %s); client told to retry", self.slug, type(exc).__name__, exc)
        await self.send_json(frames.error("unavailable", "the database is unreachable; retry shortly"))
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
        hub_get().leave(self.group, self, self.feed)  # at once: no frame is handed to it again
        # Presence is left in disconnect(), in this socket's own task: socket_gone may run in a
        # feed's hand-out, which must not wait for Redis (and a task spawned here could outlive
        # the socket). A socket whose disconnect never comes drops out after PRESENCE_TTL.
        self.present = True

    async def disconnect(self, code):
        await super().disconnect(code)
        if getattr(self, "present", False):
            self.present = False
            viewers = await presence.presence_leave(game_id=self.game_id, channel=self.channel_name)
            await presence.viewers_announce(game_id=self.game_id, viewers=viewers)

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

    async def send_opening(self) -> None:
        """The snapshot, then connection_established, before the live frames held meanwhile (an
        earlier viewer's presence count, say): a client's first two frames are always these."""
        await self.send_snapshot()
        await self.send_json(frames.connection_established(self.slug))

    async def send_snapshot(self) -> None:
        snapshot = await database_sync_to_async(snapshot_with_chat)(game_id=self.game_id)
        snapshot["viewers"] = await presence.presence_count(game_id=self.game_id)
        self.sent_seq = snapshot["seq"]
        await self.send_json(snapshot)

    async def send_run(self, run: selectors.EventsRun | None) -> None:
        """Send a replay read from the database, or a snapshot (None: too much was missed)."""
        if run is None:
            metrics.snapshot_sent("resync")
            return await self.send_snapshot()
        self.sent_seq = run.last_seq
        # Cut below WS_MAX_FRAME_BYTES into contiguous frames (a replay of up to 500 events).
        for *_, text in cut.events_cut(
            events=run.events, players=run.players, game=run.game, teams=run.teams,
            limit=settings.WS_MAX_FRAME_BYTES, resumed=True,
        ):  # fmt: skip
            await self.send(text_data=text)

    async def send_resume(self, after_seq: int) -> None:
        """A client's resume: read here, for this socket alone."""
        run = await database_sync_to_async(selectors.game_events_after)(
            game_id=self.game_id, after_seq=after_seq, limit=settings.WEBGAME_RESUME_MAX
        )
        await self.send_run(run)

    async def send_fill(self) -> None:
        """A gap fill: one database read per feed per gap, shared by every viewer behind it."""
        metrics.gap_filled("socket")
        await self.send_run(await self.feed.reads.replay(after_seq=self.sent_seq))

    async def on_ping(self, content):
        PingIn.model_validate(content)
        await presence.presence_join(game_id=self.game_id, channel=self.channel_name)
        # The database is the source of truth: a push lost while Redis was down shows up
        # here, at the latest one ping after it, even if no later event follows it.
        # (Not while the socket lags: its drain resyncs it, and a replay now would only queue.)
        if self.held is None and not self.outbox.lagging and await self.feed.reads.latest_seq() > self.sent_seq:
            await self.from_database(self.send_fill)
        await self.send_json(frames.pong(self.sent_seq))

    async def on_resume(self, content):
        resume = ResumeIn.model_validate(content)
        await self.from_database(self.send_resume, resume.after_seq)

    async def events_forward(self, first_seq: int, last_seq: int, frame: OutFrame) -> None:
        """Called by the fan-out feed (stats.fanout) for each events frame."""
        if self.held is not None:
            self.held.append((first_seq, last_seq, frame))
        elif last_seq <= self.sent_seq or not self.joined:
            return  # already covered by the snapshot or a replay, or the socket is gone
        elif self.outbox.should_skip(self.resync_after_lag, frame):
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
        await self.from_database(self.send_fill)

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
                await self.from_database(self.send_fill)
        except asyncio.CancelledError:
            raise
        except Game.DoesNotExist:
            await self.send_json(frames.error("not_found", "this game no longer exists"))
            await self.close(code=CLOSE_NOT_FOUND)
        except Exception as exc:  # noqa: BLE001 - e.g. the database is down: log once per socket
            metrics.backend_error("gap_fill")
            logger.warning(
                "gap fill for %s failed (%s: %s); closing so the client resyncs", self.slug, type(exc).__name__, exc
            )
            await self.close(code=CLOSE_INTERNAL)


class LobbyConsumer(LobbyRights, JsonFrameConsumer):
    """All visible games with live totals: the lobby-wide broadcast. Like a game's viewers,
    its sockets are fed by the process's one feed of the lobby group (stats.live.hub), which
    tells them when Redis goes down or comes back; while down, each ping brings the list
    from the database."""

    handlers = {"ping": "on_ping"}
    channel_layer_alias = None

    async def connect(self):
        user = self.scope["user"]
        self.sees_private = bool(user.is_authenticated and user.is_staff)
        self.private_ids: set[int] = set()  # private games this (non-staff) viewer is listed on
        self.refresh_task: asyncio.Task | None = None
        self.joined = False
        await self.accept()
        self.feed = await hub_get().join(publish.LOBBY_GROUP, self)
        self.joined = True
        await self.rights_watch()  # told when its user's rights change (stats.live.rights)
        await self.send_json(frames.connection_established())
        await self.games_send()
        if not self.feed.live:
            await self.send_json(STATUS_DEGRADED)

    async def socket_gone(self) -> None:
        await super().socket_gone()
        if self.joined:
            self.joined = False
            hub_get().leave(publish.LOBBY_GROUP, self, self.feed)
        task = self.refresh_task
        if task is not None and task is not asyncio.current_task():
            task.cancel()

    async def games_send(self) -> None:
        games, self.private_ids = await database_sync_to_async(self.games_list)(self.scope["user"])
        await self.send_json({"type": "games", "games": games})

    @staticmethod
    def games_list(user) -> tuple[list[dict], set[int]]:
        """The games this user may see, and the ids of the private ones among them."""
        games = list(selectors.game_list_visible(user=user))
        return [game_wire(g) for g in games], {g.pk for g in games if not g.is_public}

    async def on_ping(self, content):
        PingIn.model_validate(content)
        if not self.feed.live:  # degraded: the database keeps the list current
            await self.games_send()
        await self.send_json(frames.pong())

    async def lobby_forward(self, message: dict, frame: OutFrame) -> None:
        """A game's new totals, from the feed (one frame for all the lobby's sockets here):
        to this viewer if it may see the game."""
        visible = message["is_public"] or self.sees_private or message.get("game_id") in self.private_ids
        if visible and self.joined and not self.outbox.should_skip(self.resync_after_lag, frame):
            metrics.lobby_frame_out()
            await self.frame_send(frame)

    async def text_forward(self, frame: OutFrame) -> None:
        if self.joined:  # a status frame (degraded)
            await self.frame_send(frame)

    async def events_forward(self, first_seq: int, last_seq: int, frame: OutFrame) -> None:
        return  # the lobby group carries no events frames

    async def live_forward(self, last_seq: int | None) -> None:
        """Live again after an outage: say so, and send the list as the database has it (in
        a task of its own: the feed tells every viewer, and waits for none of their reads)."""
        if not self.joined:
            return
        await self.send_json(STATUS_LIVE)
        if self.refresh_task is None or self.refresh_task.done():
            self.refresh_task = asyncio.ensure_future(self.refresh())

    async def refresh(self) -> None:
        try:
            await self.games_send()
        except DatabaseError as exc:  # the next ping or frame brings it; never an unretrieved error
            logger.warning("lobby refresh failed (%s: %s)", type(exc).__name__, exc)

    async def resync_after_lag(self) -> None:
        await self.games_send()

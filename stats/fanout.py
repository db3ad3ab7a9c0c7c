"""Process-local fan-out of a game's frames: one channel-layer membership per process per
game, not one per viewer.

While a web process has viewers of a game, a Feed joins the game's group once (with its own
channel) and hands each frame to the local consumers itself: the layer carries a message once
per process, and nothing is queued per viewer. Bursts are coalesced: at most one events frame
per game per tick, while a frame that finds the game idle goes out at once. Frames are joined
from the pre-encoded parts stats.broadcast put in the message, so a frame is encoded once per
process, never per viewer.
"""

import asyncio
import json
import logging
from typing import Protocol

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings

from stats import broadcast, selectors
from stats.broadcast import outage
from stats.outframe import OutFrame

logger = logging.getLogger(__name__)
PRESENCE_TICK = 1.0  # seconds between two presence frames of one game
# Web processes (and threads) publish after their commits, so two events committed in seq
# order can reach the feed in the other order. A message that skips ahead waits this long
# for the ones before it; then the feed reads what is missing from the database, once for
# all its viewers (one read per viewer, at 1,000 viewers, was a storm that took the web
# process's threads from the POSTs for seconds).
REORDER_WAIT = 0.1
HAND_OUT_SLICE = 100  # viewers handed a frame before the loop may run something else


SUBSCRIBE_RETRY_MIN, SUBSCRIBE_RETRY_MAX = 0.5, 5.0  # seconds between subscribe attempts in an outage
LATEST_SEQ_TTL = 1.0  # a ping's "what is the last seq?" is read at most this often per feed


class Viewer(Protocol):
    # `frame` is built once per frame and shared by every viewer (see stats.outframe).
    async def events_forward(self, first_seq: int, last_seq: int, frame: OutFrame) -> None: ...

    async def text_forward(self, frame: OutFrame) -> None: ...

    # The feed went live again after an outage; `last_seq` is the game's, read as it did.
    async def live_forward(self, last_seq: int | None) -> None: ...


def _compact(value) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def frame_merge(messages: list[dict]) -> str:
    """One events frame for several contiguous messages: events concatenated, the players'
    absolute totals as of the last one, the game as of the last one."""
    if len(messages) == 1:
        return messages[0]["text"]
    events = ",".join(m["events"][1:-1] for m in messages)
    players: dict[str, dict] = {}
    for message in messages:
        players.update((p["player"], p) for p in message["players"])
    game = _compact(messages[-1]["game"])
    return f'{{"type":"events","events":[{events}],"players":{_compact(list(players.values()))},"game":{game}}}'


class Feed:
    """One game's frames in this process: a layer channel, its receive task, local viewers."""

    def __init__(self, hub: "Hub", group: str, game_id: int | None = None) -> None:
        self.hub, self.group = hub, group
        self.game_id = game_id  # for the database reads below (None: the stream alone)
        self.filling = False  # a gap read is under way
        self.viewers: dict[Viewer, None] = {}  # insertion-ordered set
        self.pending: list[dict] = []
        self.flush_lock = asyncio.Lock()
        self.last_flush = 0.0
        self.timer: asyncio.TimerHandle | None = None
        self.next_seq: int | None = None  # first_seq of the message that continues the stream
        self.early: dict[int, dict] = {}  # messages that skipped ahead, by first_seq
        self.reorder_timer: asyncio.TimerHandle | None = None
        self.presence_text: str | None = None
        self.presence_last: str | None = None  # the count the viewers were last told
        self.presence_sent = 0.0
        self.presence_timer: asyncio.TimerHandle | None = None
        self.channel = ""
        self.live = False  # subscribed to the group: frames arrive
        self.stopped = False
        self.latest: tuple[float, asyncio.Future] | None = None  # (read at, last seq), see latest_seq
        # Set once the first subscribe attempt is over, to whether it worked: a viewer joining
        # in an outage is served from the database meanwhile, and told when it goes live.
        self.attempted: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self.task: asyncio.Task | None = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        """Subscribe (retrying through an outage), then receive until stopped."""
        delay = SUBSCRIBE_RETRY_MIN
        while True:
            try:
                await self._subscribe()
                break
            except Exception as exc:  # noqa: BLE001 - the layer is down: retry, viewers read the database
                outage.failed(exc)
                if not self.attempted.done():
                    self.attempted.set_result(False)
            await asyncio.sleep(delay)
            delay = min(delay * 2, SUBSCRIBE_RETRY_MAX)
        self.live = True
        if not self.attempted.done():
            self.attempted.set_result(True)
        else:  # live after an outage: tell the viewers, who catch up from where the stream starts
            last_seq = None if self.next_seq is None else self.next_seq - 1
            await self.hand_out(lambda viewer: viewer.live_forward(last_seq))
        await self._receive_loop()

    async def _subscribe(self) -> None:
        layer = self.hub.layer
        if not self.channel:
            self.channel = await layer.new_channel()
        await layer.group_add(self.group, self.channel)
        # Where the stream starts, read once subscribed: every event committed later is
        # published later, so a lost first message is a gap too (read once, for everyone),
        # not a stream that starts wherever the first message to arrive says.
        self.next_seq = await self.last_seq_read()

    async def stop(self) -> None:
        """Called by Hub.leave in a task of its own: never from this feed's own task."""
        self.stopped = True
        for timer in (self.timer, self.presence_timer, self.reorder_timer):
            if timer is not None:
                timer.cancel()
        self.task.cancel()
        if self.channel:
            try:
                await self.hub.layer.group_discard(self.group, self.channel)
            except Exception as exc:  # noqa: BLE001 - the layer is down: nothing to undo there
                outage.failed(exc)

    async def latest_seq(self) -> int:
        """The game's last seq, for viewers' pings: one database read per LATEST_SEQ_TTL for all
        the viewers here, not one per ping (1,000 viewers ping every few seconds)."""
        now = asyncio.get_running_loop().time()
        if self.latest is None or now - self.latest[0] > LATEST_SEQ_TTL or self.latest[1].cancelled():
            future = asyncio.ensure_future(database_sync_to_async(selectors.game_last_seq)(game_id=self.game_id))
            self.latest = (now, future)
        future = self.latest[1]
        try:
            return await asyncio.shield(future)
        except Exception:
            if self.latest is not None and self.latest[1] is future:
                self.latest = None  # a failed read is not cached
            raise

    async def _receive_loop(self) -> None:
        layer = self.hub.layer
        while True:
            try:
                message = await layer.receive(self.channel)
            except Exception as exc:  # noqa: BLE001 - the layer reconnects; viewers resync by seq
                outage.failed(exc)
                await asyncio.sleep(1)
                continue
            try:
                await self.dispatch(message)
            except Exception:  # one bad message must not stop the game's stream
                logger.exception("fan-out of %s failed for one message", self.group)

    async def dispatch(self, message: dict) -> None:
        kind = message.get("type")
        if kind == "game.presence":
            return await self.presence_arrive(message["text"])
        if kind != "game.events":
            text = message.get("text")
            if isinstance(text, str):
                await self.text_send(text)
            return
        first, last = message["first_seq"], message["last_seq"]
        if self.next_seq is None or first == self.next_seq:
            return await self.in_order(message)
        if last < self.next_seq:
            return  # late or repeated: sent already, or the viewers filled it from the database
        self.early[first] = message
        self.reorder_arm()

    def reorder_arm(self) -> None:
        if self.early and self.reorder_timer is None and not self.filling:
            self.reorder_timer = asyncio.get_running_loop().call_later(
                REORDER_WAIT, lambda: self.hub.spawn(self.reorder_give_up())
            )

    async def in_order(self, message: dict) -> None:
        """Queue a message, and the early ones it makes contiguous, for the next frame."""
        await self.pending_add(message)
        for first in [f for f, m in self.early.items() if m["last_seq"] < self.next_seq]:
            del self.early[first]  # covered by a gap read
        while self.next_seq in self.early:
            await self.pending_add(self.early.pop(self.next_seq))
        if not self.early and self.reorder_timer is not None:
            self.reorder_timer.cancel()
            self.reorder_timer = None

    async def reorder_give_up(self) -> None:
        """What was waited for did not come (lost in a Redis outage, or held up): read the
        missing events from the database, once for every viewer here. If that cannot be
        done, go on from the earliest message held; each viewer then fills its own gap."""
        self.reorder_timer = None
        if not self.early:
            return
        expected = self.next_seq
        self.filling = True
        try:
            fill = await self.gap_read(after_seq=expected - 1)
        finally:
            self.filling = False
        if self.next_seq == expected:  # else the missing message came during the read
            await self.in_order(fill if fill is not None else self.early.pop(min(self.early)))
        self.reorder_arm()

    async def last_seq_read(self) -> int | None:
        if self.game_id is None:
            return None
        try:
            return await database_sync_to_async(selectors.game_last_seq)(game_id=self.game_id) + 1
        except Exception as exc:  # noqa: BLE001 - the stream then starts at its first message
            logger.warning("reading where %s starts failed (%s: %s)", self.group, type(exc).__name__, exc)
            return None

    async def gap_read(self, *, after_seq: int) -> dict | None:
        if self.game_id is None:
            return None
        try:
            frame = await database_sync_to_async(selectors.game_events_after)(
                game_id=self.game_id, after_seq=after_seq, limit=settings.WEBGAME_RESUME_MAX
            )
        except Exception as exc:  # noqa: BLE001 - e.g. the database is down: viewers fill it themselves
            logger.warning("gap read for %s failed (%s: %s)", self.group, type(exc).__name__, exc)
            return None
        if frame is None or not frame["events"]:
            return None  # too much to replay (viewers get snapshots), or nothing after all
        events_text = broadcast.frame_encode(frame["events"])
        seqs = (frame["events"][0]["seq"], frame["events"][-1]["seq"])
        return broadcast.events_message(
            events_text=events_text, players=frame["players"], game=frame["game"], seqs=seqs
        )

    async def pending_add(self, message: dict) -> None:
        if self.pending and message["first_seq"] != self.pending[-1]["last_seq"] + 1:
            await self.flush()  # frames stay contiguous; viewers fill gaps from the database
        self.pending.append(message)
        self.next_seq = message["last_seq"] + 1
        if self.timer is not None:
            return
        loop = asyncio.get_running_loop()
        wait = self.last_flush + self.hub.tick_for(len(self.viewers)) - loop.time()
        if wait <= 0:
            await self.flush()
        else:
            self.timer = loop.call_later(wait, self._flush_later)

    async def text_send(self, text: str) -> None:
        frame = OutFrame(text)
        await self.hand_out(lambda viewer: viewer.text_forward(frame))

    async def hand_out(self, forward) -> None:
        """`forward(viewer)` for every viewer, a slice at a time. Between slices the loop
        runs other work: a frame to 1,000 sockets takes ~20 ms here, and POSTs waiting
        behind it made the ingest rate fall short at 1,000 viewers x 200 events/s."""
        for i, viewer in enumerate(list(self.viewers)):
            if i and i % HAND_OUT_SLICE == 0:
                await asyncio.sleep(0)
            try:
                await forward(viewer)
            except Exception:  # one viewer's failure (say, a socket gone) must not cost the others their frame
                logger.exception("handing a frame of %s to a viewer failed", self.group)

    async def presence_arrive(self, text: str) -> None:
        """Viewer counts: only the latest matters, at most one frame per PRESENCE_TICK. (A
        thousand viewers joining must not cost a million presence frames.)"""
        self.presence_text = text
        if self.presence_timer is not None:
            return
        loop = asyncio.get_running_loop()
        wait = self.presence_sent + PRESENCE_TICK - loop.time()
        if wait <= 0:
            await self.presence_flush()
        else:
            self.presence_timer = loop.call_later(wait, lambda: self.hub.spawn(self.presence_flush()))

    async def presence_flush(self) -> None:
        self.presence_timer = None
        text, self.presence_text = self.presence_text, None
        # A ping refreshes presence without changing the count: no frame for that.
        if text is not None and text != self.presence_last:
            self.presence_last = text
            self.presence_sent = asyncio.get_running_loop().time()
            await self.text_send(text)

    def _flush_later(self) -> None:
        self.timer = None
        self.hub.spawn(self.flush())

    async def flush(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        messages, self.pending = self.pending, []
        if not messages:
            return
        self.last_flush = asyncio.get_running_loop().time()
        first, last = messages[0]["first_seq"], messages[-1]["last_seq"]
        frame = OutFrame(frame_merge(messages))
        # One flush at a time (hand_out yields): a viewer must get frames in seq order.
        async with self.flush_lock:
            await self.hand_out(lambda viewer: viewer.events_forward(first, last, frame))


class Hub:
    """This event loop's feeds, one per watched game."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.layer = get_channel_layer()
        self.tick = settings.WEBGAME_FRAME_TICK_MS / 1000
        self.tick_per_viewer = settings.WEBGAME_FRAME_TICK_PER_VIEWER_US / 1e6
        self.tick_max = max(self.tick, settings.WEBGAME_FRAME_TICK_MAX_MS / 1000)
        self.feeds: dict[str, Feed] = {}
        self.tasks: set[asyncio.Task] = set()

    def tick_for(self, viewers: int) -> float:
        """Seconds between two frames of a game with this many viewers here: a flush costs
        per viewer, so more viewers get fewer, fuller frames (see the settings)."""
        if self.tick == 0:
            return 0.0  # every message its own frame (tests)
        return min(self.tick_max, max(self.tick, viewers * self.tick_per_viewer))

    def spawn(self, coro) -> asyncio.Task:
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)  # a reference, so the task is not collected mid-flight
        task.add_done_callback(self.tasks.discard)
        return task

    async def join(self, group: str, viewer: Viewer, game_id: int | None = None) -> Feed:
        """Start handing `group`'s frames to `viewer`. Never raises for a layer outage: the
        feed's `live` says whether frames arrive; it retries and tells its viewers."""
        feed = self.feeds.get(group)
        if feed is None:
            feed = self.feeds[group] = Feed(self, group, game_id)
        feed.viewers[viewer] = None
        await asyncio.shield(feed.attempted)
        return feed

    def leave(self, group: str, viewer: Viewer) -> asyncio.Task | None:
        """Stop handing frames to `viewer` at once. Safe inside a hand-out (a socket found
        gone): the feed, if now unwatched, is stopped in a task of its own, returned."""
        feed = self.feeds.get(group)
        if feed is None or viewer not in feed.viewers:
            return None
        del feed.viewers[viewer]
        if feed.viewers:
            return None
        del self.feeds[group]
        return self.spawn(feed.stop())


_hubs: dict[int, Hub] = {}


def hub_get() -> Hub:
    # One hub per event loop: layer connections belong to a loop, and tests run several.
    loop = asyncio.get_running_loop()
    hub = _hubs.get(id(loop))
    if hub is None or hub.loop is not loop:
        hub = _hubs[id(loop)] = Hub()
    return hub

"""Step 2 of the live path: a process's feed of one game. One channel-layer membership per
process per game, not one per viewer.

While a web process has viewers of a game, a Feed joins the game's group once (with its own
channel), puts the messages back in seq order, fills gaps from the database once for all
its viewers, and passes the stream to its Fanout (stats.live.fanout), which hands frames to
the viewers. It is the only owner of ordering, coalescing and gap reads.

In a channel-layer outage the feed keeps trying to subscribe; its viewers are served from
the database meanwhile (their pings catch up), and are told when it goes live.
"""

import asyncio
import logging
from typing import Any, Protocol

from stats.live import frames, publish
from stats.live.fanout import Fanout, Ticks
from stats.live.publish import outage
from stats.live.reads import SharedReads
from stats.ops import metrics

logger = logging.getLogger(__name__)
# Web processes (and threads) publish after their commits, so two events committed in seq
# order can reach the feed in the other order. A message that skips ahead waits this long
# for the ones before it; then the feed reads what is missing from the database, once for
# all its viewers.
REORDER_WAIT = 0.1
SUBSCRIBE_RETRY_MIN, SUBSCRIBE_RETRY_MAX = 0.5, 5.0  # seconds between subscribe attempts in an outage
STATUS_DEGRADED_TEXT = frames.json_compact(frames.status(live=False))


class FeedHub(Ticks, Protocol):
    """What a feed needs of its hub (stats.live.hub.Hub), without importing it (no circle)."""

    layer: Any  # the channel layer

    @property
    def redis_up(self) -> bool: ...


class Feed:
    def __init__(self, hub: FeedHub, group: str, game_id: int | None = None) -> None:
        self.hub, self.group = hub, group
        self.out = Fanout(hub, group)
        self.viewers = self.out.viewers  # the hub adds and removes them
        self.reads = SharedReads(game_id)
        self.filling = False  # a gap read is under way
        self.next_seq: int | None = None  # first_seq of the message that continues the stream
        self.early: dict[int, dict] = {}  # messages that skipped ahead, by first_seq
        self.reorder_timer: asyncio.TimerHandle | None = None
        self.channel = ""
        self.subscribed = False  # a member of the group: frames arrive while Redis answers
        # Set once the first subscribe attempt is over, to whether it worked: a viewer joining
        # in an outage is served from the database meanwhile, and told when it goes live.
        self.attempted: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self.task = asyncio.ensure_future(self._run())
        metrics.feed_started()

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
        self.subscribed = True
        if not self.attempted.done():
            self.attempted.set_result(True)
        elif self.live:  # live after an outage: tell the viewers, who catch up from where the stream starts
            last_seq = None if self.next_seq is None else self.next_seq - 1
            await self.out.hand_out(lambda viewer: viewer.live_forward(last_seq))
        await self._receive_loop()

    @property
    def live(self) -> bool:
        """Frames arrive: subscribed, and Redis answers (a hung Redis keeps the subscription
        but carries nothing)."""
        return self.subscribed and self.hub.redis_up

    async def health_changed(self, up: bool) -> None:
        """Redis stopped answering, or answers again (the hub's check, stats.live.health). A
        feed not yet subscribed tells its viewers when it is (_run)."""
        if not self.subscribed:
            return
        if not up:
            return await self.out.text_send(STATUS_DEGRADED_TEXT)
        # Pushes of the outage were lost, or arrive late: go on from the database's last seq,
        # which every viewer catches up to (live_forward), so nothing waits for a gap timer.
        self.next_seq = await self.reads.stream_start(self.group)
        self.early.clear()
        last_seq = None if self.next_seq is None else self.next_seq - 1
        await self.out.hand_out(lambda viewer: viewer.live_forward(last_seq))

    async def _subscribe(self) -> None:
        layer = self.hub.layer
        if not self.channel:
            self.channel = await layer.new_channel()
        await layer.group_add(self.group, self.channel)
        self.next_seq = await self.reads.stream_start(self.group)

    async def stop(self) -> None:
        """Called by Hub.leave in a task of its own: never from this feed's own task."""
        metrics.feed_stopped()
        self.out.stop()
        if self.reorder_timer is not None:
            self.reorder_timer.cancel()
        self.task.cancel()
        if self.channel:
            try:
                await self.hub.layer.group_discard(self.group, self.channel)
            except Exception as exc:  # noqa: BLE001 - the layer is down: nothing to undo there
                outage.failed(exc)

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
            return await self.out.presence_arrive(message["text"])
        if kind == "game.chat":
            return self.out.chat_add(message["text"])
        if kind == "lobby.game":  # the lobby's feed: coalesced per game, each viewer filters
            return await self.out.lobby_add(message)
        if kind != "game.events":
            text = message.get("text")
            if isinstance(text, str):
                await self.out.text_send(text)
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
        """Pass on a message, and the early ones it makes contiguous, for the next frame."""
        self.next_seq = message["last_seq"] + 1
        await self.out.events_add(message)
        for first in [f for f, m in self.early.items() if m["last_seq"] < self.next_seq]:
            del self.early[first]  # covered by a gap read
        while self.next_seq in self.early:
            early = self.early.pop(self.next_seq)
            self.next_seq = early["last_seq"] + 1
            await self.out.events_add(early)
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

    async def gap_read(self, *, after_seq: int) -> dict | None:
        if self.reads.game_id is None:
            return None
        try:
            run = await self.reads.replay(after_seq=after_seq)
        except Exception as exc:  # noqa: BLE001 - e.g. the database is down: viewers fill it themselves
            metrics.backend_error("feed_gap_read")
            logger.warning("gap read for %s failed (%s: %s)", self.group, type(exc).__name__, exc)
            return None
        if run is None or not run.events:
            return None  # too much to replay (viewers get snapshots), or nothing after all
        metrics.gap_filled("feed")
        seqs = (run.events[0]["seq"], run.events[-1]["seq"])
        return publish.events_message(
            events_json=frames.json_compact(run.events), players=run.players, game=run.game, seqs=seqs, teams=run.teams
        )

"""Step 3 of the live path: hand a feed's frames to its viewers in this process.

Chat frames go out from a task of their own, so the feed never waits for them.
Bursts are coalesced: at most one flush per game per tick (the tick grows with the
viewers, see Hub.tick_for), while a frame that finds the game idle goes out at once. A flush
joins its runs into frames of up to WS_MAX_FRAME_BYTES and cuts a longer run into contiguous
frames (stats.live.cut): daphne refuses to send a message over 1 MiB. A frame
is built once (an OutFrame: its text, and its bytes for the sinks that write them) and
handed to the viewers a slice at a time, so other work runs between slices. Presence counts
are throttled: only the latest matters, at most one frame per PRESENCE_TICK.
"""

import asyncio
import logging
from collections.abc import Coroutine
from typing import Protocol

from django.conf import settings

from stats.live import cut
from stats.live.frames import OutFrame
from stats.ops import metrics

logger = logging.getLogger(__name__)
PRESENCE_TICK = 1.0  # seconds between two presence frames of one game
HAND_OUT_SLICE = 100  # viewers handed a frame before the loop may run something else


class Ticks(Protocol):
    """What a fan-out needs of its hub (stats.live.hub.Hub), named here so that this module
    does not import the hub, which imports it: stats/live has no circle of imports."""

    def spawn(self, coro: Coroutine) -> asyncio.Task: ...

    def tick_for(self, viewers: int) -> float: ...


class Viewer(Protocol):
    # `frame` is built once per frame and shared by every viewer.
    async def events_forward(self, first_seq: int, last_seq: int, frame: OutFrame) -> None: ...

    async def text_forward(self, frame: OutFrame) -> None: ...

    # The feed went live again after an outage; `last_seq` is the game's, read as it did.
    async def live_forward(self, last_seq: int | None) -> None: ...

    # A game's totals on the lobby's feed (`message`: stats.live.publish's lobby message).
    async def lobby_forward(self, message: dict, frame: OutFrame) -> None: ...


class Fanout:
    """One game's viewers in this process, and the frames on their way to them."""

    def __init__(self, hub: Ticks, group: str) -> None:
        self.hub, self.group = hub, group
        self.viewers: dict[Viewer, None] = {}  # insertion-ordered set
        self.pending: list[dict] = []  # contiguous messages waiting for the tick
        self.flush_lock = asyncio.Lock()
        self.max_frame_bytes = settings.WS_MAX_FRAME_BYTES
        self.last_flush = 0.0
        self.timer: asyncio.TimerHandle | None = None
        self.presence_text: str | None = None
        self.presence_last: str | None = None  # the count the viewers were last told
        self.presence_sent = 0.0
        self.presence_timer: asyncio.TimerHandle | None = None
        self.chat_queue: list[str] = []
        self.chat_task: asyncio.Task | None = None
        self.lobby_pending: dict[int, dict] = {}  # the lobby's feed: each game's latest totals
        self.lobby_timer: asyncio.TimerHandle | None = None
        self.lobby_last = 0.0

    def stop(self) -> None:
        for timer in (self.timer, self.presence_timer, self.lobby_timer):
            if timer is not None:
                timer.cancel()
        if self.chat_task is not None:
            self.chat_task.cancel()

    def chat_add(self, text: str) -> None:
        """Queue a chat frame. Chat is handed out by a task of its own, so the feed goes
        straight back to the layer: an events frame never waits behind chat frames."""
        self.chat_queue.append(text)
        if self.chat_task is None or self.chat_task.done():
            self.chat_task = self.hub.spawn(self._chat_flush())

    async def _chat_flush(self) -> None:
        while self.chat_queue:
            texts, self.chat_queue = self.chat_queue, []
            for text in texts:
                await self.text_send(text)

    async def events_add(self, message: dict) -> None:
        """Queue a message that continues the stream for the next frame."""
        if self.pending and message["first_seq"] != self.pending[-1]["last_seq"] + 1:
            await self.flush()  # frames stay contiguous; viewers fill gaps from the database
        self.pending.append(message)
        if self.timer is not None:
            return
        loop = asyncio.get_running_loop()
        wait = self.last_flush + self.hub.tick_for(len(self.viewers)) - loop.time()
        if wait <= 0:
            await self.flush()
        else:
            self.timer = loop.call_later(wait, self._flush_later)

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
        # Frames under the servers' limit (daphne refuses to send over 1 MiB): a burst is
        # joined up to WS_MAX_FRAME_BYTES, a longer run cut into contiguous frames.
        parts = cut.messages_cut(messages, self.max_frame_bytes)
        # Once per flush, not per socket: each of its frames is handed to every viewer.
        metrics.events_frame_out(len(messages), len(self.viewers) * len(parts))
        # One flush at a time (hand_out yields): a viewer must get frames in seq order.
        async with self.flush_lock:
            burst = object() if len(parts) > 1 else None
            for i, (first, last, text) in enumerate(parts):
                if i:  # let the server write the previous part out first (Twisted writes on the loop)
                    await asyncio.sleep(0)
                frame = OutFrame(text, burst)
                await self.hand_out(lambda viewer, f=first, t=last, o=frame: viewer.events_forward(f, t, o))

    async def text_send(self, text: str) -> None:
        frame = OutFrame(text)
        metrics.other_frame_out(len(self.viewers))
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
            except Exception:  # one viewer's bug must not cost the others their frame
                logger.exception("handing a frame of %s to a viewer failed", self.group)

    async def lobby_add(self, message: dict) -> None:
        """A game's new totals for the lobby. They are absolute, so only a game's latest
        matters: a burst of writes is one frame per game per tick (the tick a game's events
        get with as many viewers), each built once and written through the sinks."""
        self.lobby_pending[message["game_id"]] = message
        if self.lobby_timer is not None:
            return
        loop = asyncio.get_running_loop()
        wait = self.lobby_last + self.hub.tick_for(len(self.viewers)) - loop.time()
        if wait <= 0:
            await self.lobby_flush()
        else:
            self.lobby_timer = loop.call_later(wait, lambda: self.hub.spawn(self.lobby_flush()))

    async def lobby_flush(self) -> None:
        self.lobby_timer = None
        pending, self.lobby_pending = self.lobby_pending, {}
        if not pending:
            return
        self.lobby_last = asyncio.get_running_loop().time()
        for message in pending.values():
            frame = OutFrame(message["text"])
            await self.hand_out(lambda viewer, m=message, f=frame: viewer.lobby_forward(m, f))

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

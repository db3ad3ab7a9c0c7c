"""A process's (an event loop's) feeds, one per watched game, and the settings they share."""

import asyncio

from channels.layers import get_channel_layer
from django.conf import settings

from stats.live.fanout import Viewer
from stats.live.feed import Feed
from stats.live.health import Listener, RedisHealth


class Hub:
    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.layer = get_channel_layer()
        self.tick = settings.FRAME_TICK_MS / 1000
        self.tick_per_viewer = settings.FRAME_TICK_PER_VIEWER_US / 1e6
        self.tick_max = max(self.tick, settings.FRAME_TICK_MAX_MS / 1000)
        self.feeds: dict[str, Feed] = {}
        self.tasks: set[asyncio.Task] = set()
        self.health = RedisHealth(self.health_changed)
        # Sockets outside the feeds (the lobby) told when Redis goes down or comes back.
        self.listeners: dict[Listener, None] = {}

    @property
    def redis_up(self) -> bool:
        return self.health.up

    async def health_changed(self, up: bool) -> None:
        """Redis went down or came back: every feed tells its viewers, and every listener
        is told, on the sockets they have (no reconnect)."""
        for feed in list(self.feeds.values()):
            await feed.health_changed(up)
        for listener in list(self.listeners):
            await listener(up)

    def listen(self, listener: Listener) -> bool:
        """Tell `listener(up)` of Redis going down or up from now on; returns whether it is up."""
        self.health.start()
        self.listeners[listener] = None
        return self.health.up

    def unlisten(self, listener: Listener) -> None:
        self.listeners.pop(listener, None)

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
        feed's `live` says whether frames arrive; it retries and tells its viewers, and so
        does the hub when Redis stops answering (stats.live.health)."""
        self.health.start()
        feed = self.feeds.get(group)
        if feed is None:  # groups are named by game id: a slug made again is another group
            feed = self.feeds[group] = Feed(self, group, game_id)
        feed.viewers[viewer] = None
        if self.health.up:  # down: no wait for a subscribe that can only time out
            await asyncio.shield(feed.attempted)
        return feed

    def leave(self, group: str, viewer: Viewer, feed: Feed | None = None) -> asyncio.Task | None:
        """Stop handing frames to `viewer` (of `feed`, by default the group's) at once. Safe
        inside a hand-out (a socket found gone): the feed, if now unwatched, is stopped in a
        task of its own, returned."""
        feed = feed or self.feeds.get(group)
        if feed is None or viewer not in feed.viewers:
            return None
        del feed.viewers[viewer]
        if feed.viewers:
            return None
        if self.feeds.get(group) is feed:
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

"""stats.live.hub: a process's feeds, one per watched game; joining and leaving them; a join in a
channel-layer outage (a feed that is not live yet, and goes live by itself)."""

import asyncio

import pytest

from stats.live import feed as feeds
from stats.live import hub as hubs
from stats.live import publish
from stats.tests.feed_support import RecordingViewer, events_message, leave, until

GROUP, OTHER = publish.game_group(900_011), publish.game_group(900_012)  # no games: messages made here


class Viewer(RecordingViewer):
    def __init__(self) -> None:
        super().__init__()
        self.live_again: list[int | None] = []

    async def live_forward(self, last_seq: int | None) -> None:
        self.live_again.append(last_seq)


@pytest.fixture
async def hub(settings) -> hubs.Hub:
    settings.FRAME_TICK_MS = 0  # every message its own frame
    hubs._hubs.clear()
    return hubs.hub_get()


async def test_one_hub_per_loop_and_one_feed_per_group(hub):
    assert hubs.hub_get() is hub
    first, second, elsewhere = Viewer(), Viewer(), Viewer()
    feed = await hub.join(GROUP, first)
    assert await hub.join(GROUP, second) is feed
    other = await hub.join(OTHER, elsewhere)
    assert other is not feed
    assert hub.feeds == {GROUP: feed, OTHER: other}
    assert list(feed.viewers) == [first, second] and list(other.viewers) == [elsewhere]
    assert feed.live and other.live
    for group, viewer in ((GROUP, first), (GROUP, second), (OTHER, elsewhere)):
        await leave(hub, group, viewer)


async def test_leave_of_the_last_viewer_stops_the_feed_and_the_group_is_gone(hub):
    first, second = Viewer(), Viewer()
    feed = await hub.join(GROUP, first)
    await hub.join(GROUP, second)
    assert hub.leave(GROUP, first) is None  # others still watch: the feed carries on
    assert hub.feeds[GROUP] is feed and list(feed.viewers) == [second]
    stop = hub.leave(GROUP, second)
    assert isinstance(stop, asyncio.Task)
    assert GROUP not in hub.feeds and not feed.viewers  # gone at once, before the stop has run
    async with asyncio.timeout(5):
        await stop
    await until(lambda: feed.task.done())  # its receive loop ends (after unsubscribing its channel)
    assert feed.task.cancelled()
    again = Viewer()
    assert await hub.join(GROUP, again) is not feed  # the next viewer gets a new feed
    await leave(hub, GROUP, again)


async def test_leave_of_an_unknown_viewer_is_a_no_op(hub):
    viewer, stranger = Viewer(), Viewer()
    feed = await hub.join(GROUP, viewer)
    assert hub.leave(GROUP, stranger) is None
    assert hub.leave(OTHER, viewer) is None  # a group with no feed
    assert hub.feeds == {GROUP: feed} and list(feed.viewers) == [viewer]
    await leave(hub, GROUP, viewer)
    assert hub.leave(GROUP, viewer) is None  # left already


async def test_a_join_in_a_layer_outage_returns_a_feed_that_goes_live_when_the_layer_answers(hub, monkeypatch):
    from channels_redis.pubsub import RedisPubSubLoopLayer

    async def down(*args, **kwargs):
        raise OSError("Connection refused")

    monkeypatch.setattr(feeds, "SUBSCRIBE_RETRY_MIN", 0.05)  # retry soon: the test waits for it
    viewer = Viewer()
    with monkeypatch.context() as outage:
        outage.setattr(RedisPubSubLoopLayer, "new_channel", down)
        async with asyncio.timeout(5):
            feed = await hub.join(GROUP, viewer)  # returns: a join never raises for an outage
        assert feed.live is False and feed.attempted.result() is False
        assert hub.feeds[GROUP] is feed and list(feed.viewers) == [viewer]
    await until(lambda: feed.live)  # the layer answers again: the feed subscribes by itself
    await until(lambda: viewer.live_again)
    assert viewer.live_again == [None]  # told, with where the stream starts (no game: unknown)
    await publish.messages_send_async([(GROUP, events_message(1))])
    await until(lambda: viewer.ranges)
    assert viewer.ranges == [(1, 1)]  # and frames arrive through it
    await leave(hub, GROUP, viewer)

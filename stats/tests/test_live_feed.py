"""stats.live.feed through the real pub/sub layer: messages back in seq order, gaps read from the
database once for all of a feed's viewers. (Ticks, slices and presence: test_live_fanout.)"""

import pytest
from channels.db import database_sync_to_async

from stats import selectors, services
from stats.live import hub as hubs
from stats.live import publish
from stats.tests.feed_support import GROUP, RecordingViewer, events_message, leave, publish_messages, until
from stats.tests.support import event_in


@pytest.fixture
async def viewer(settings):
    settings.FRAME_TICK_MS = 0  # every message its own frame: the ranges show the order
    hubs._hubs.clear()
    hub, viewer = hubs.hub_get(), RecordingViewer()
    await hub.join(GROUP, viewer)
    yield viewer
    await leave(hub, GROUP, viewer)


async def test_messages_published_out_of_order_reach_viewers_in_seq_order(viewer):
    await publish_messages(events_message(1), events_message(3), events_message(2))
    await until(lambda: len(viewer.ranges) == 3)
    assert viewer.ranges == [(1, 1), (2, 2), (3, 3)]


async def test_a_message_that_never_comes_is_given_up_after_the_reorder_wait(viewer):
    await publish_messages(events_message(1), events_message(3))
    await until(lambda: len(viewer.ranges) == 2)
    assert viewer.ranges == [(1, 1), (3, 3)]  # the viewer sees the gap and fills it from the database


async def test_a_message_arriving_after_its_gap_was_given_up_is_dropped(viewer):
    await publish_messages(events_message(1), events_message(3))
    await until(lambda: len(viewer.ranges) == 2)
    await publish_messages(events_message(2), events_message(4))
    await until(lambda: len(viewer.ranges) == 3)
    assert viewer.ranges == [(1, 1), (3, 3), (4, 4)]


@pytest.mark.django_db(transaction=True)
async def test_a_lost_message_is_read_from_the_database_once_for_all_viewers(settings, game, monkeypatch):
    settings.FRAME_TICK_MS = 0
    hubs._hubs.clear()
    hub, group = hubs.hub_get(), publish.game_group(game.pk)
    viewers = [RecordingViewer(), RecordingViewer()]
    for viewer in viewers:
        await hub.join(group, viewer, game_id=game.pk)
    send, read = publish.messages_send, selectors.game_events_after
    monkeypatch.setattr(publish, "messages_send", lambda ms: send([(g, m) for g, m in ms if m.get("first_seq") != 2]))
    reads = []
    monkeypatch.setattr(selectors, "game_events_after", lambda **kw: reads.append(kw) or read(**kw))
    for i in range(3):
        await database_sync_to_async(services.score_events_record)(game_id=game.pk, events=[event_in(f"e{i}")])
    await until(lambda: all(v.ranges and v.ranges[-1][1] == 3 for v in viewers))
    assert [v.ranges for v in viewers] == [[(1, 1), (2, 3)]] * 2  # no gap: seq 2 came from the database
    assert [r["after_seq"] for r in reads] == [1]
    for viewer in viewers:
        await leave(hub, group, viewer)


@pytest.mark.django_db(transaction=True)
async def test_lost_first_messages_are_read_from_the_database_not_skipped(settings, game, monkeypatch):
    settings.FRAME_TICK_MS = 0
    hubs._hubs.clear()
    hub, group, viewer = hubs.hub_get(), publish.game_group(game.pk), RecordingViewer()
    await hub.join(group, viewer, game_id=game.pk)  # the stream starts after seq 0
    send = publish.messages_send
    monkeypatch.setattr(publish, "messages_send", lambda ms: send([(g, m) for g, m in ms if m.get("last_seq") != 2]))
    await database_sync_to_async(services.score_events_record)(game_id=game.pk, events=[event_in("a"), event_in("b")])
    await database_sync_to_async(services.score_events_record)(game_id=game.pk, events=[event_in("c")])
    await until(lambda: viewer.ranges)
    assert viewer.ranges == [(1, 3)]  # the first message (1-2) was lost: read with the 3rd
    await leave(hub, group, viewer)

import asyncio
import json
import threading

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.db import transaction

from stats import services
from stats.live import publish
from stats.tests.support import event_in

pytestmark = pytest.mark.django_db(transaction=True)


class Abort(Exception):
    pass


async def subscribe(group: str) -> str:
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(group, channel)
    return channel


async def receive_or_none(channel: str, wait: float = 5) -> dict | None:
    try:
        return await asyncio.wait_for(get_channel_layer().receive(channel), wait)
    except TimeoutError:
        return None


MARKER = {"type": "test.marker"}


async def first_after_marker(channel: str, group: str) -> dict | None:
    """Publish a marker to `group` and return the first message `channel` then receives: the
    marker itself if nothing was published before it (the layer delivers a group's messages
    in the order they were published). The condition that replaces a quiet window."""
    await publish.messages_send_async([(group, MARKER)])
    return await receive_or_none(channel)


def record(game, *ids):
    return services.score_events_record(game_id=game.pk, events=[event_in(i) for i in ids])


async def test_nothing_is_sent_when_the_transaction_rolls_back(game):
    channel = await subscribe(f"game.{game.slug}")

    def write_then_abort():
        with transaction.atomic():
            record(game, "a")
            raise Abort

    with pytest.raises(Abort):
        await database_sync_to_async(write_then_abort)()
    assert await first_after_marker(channel, f"game.{game.slug}") == MARKER


async def test_events_are_sent_after_commit_and_not_before(game):
    channel = await subscribe(f"game.{game.slug}")
    seen_inside = []

    def write_and_look():
        with transaction.atomic():
            record(game, "a")
            seen_inside.append(async_to_sync(first_after_marker)(channel, f"game.{game.slug}"))

    await database_sync_to_async(write_and_look)()
    assert seen_inside == [MARKER]  # nothing before the commit
    assert (await receive_or_none(channel))["type"] == "game.events"


async def test_game_message_carries_the_seq_range_and_the_encoded_frame(game):
    channel = await subscribe(f"game.{game.slug}")
    await database_sync_to_async(record)(game, "a")
    await database_sync_to_async(record)(game, "b", "c")
    await receive_or_none(channel)
    message = await receive_or_none(channel)
    assert (message["first_seq"], message["last_seq"]) == (2, 3)
    frame = json.loads(message["text"])
    assert (frame["type"], [e["seq"] for e in frame["events"]], frame["game"]["last_seq"]) == ("events", [2, 3], 3)
    assert frame["players"] == [{"player": "ada", "total": 3, "events": 3}]


async def test_lobby_message_is_sent_after_commit(game):
    channel = await subscribe(publish.LOBBY_GROUP)
    await database_sync_to_async(record)(game, "a")
    message = await receive_or_none(channel)
    assert (message["type"], message["is_public"]) == ("lobby.game", True)
    assert json.loads(message["text"])["game"]["last_seq"] == 1


async def test_nested_savepoint_rollback_sends_only_what_committed(game):
    channel = await subscribe(f"game.{game.slug}")

    def write():
        with transaction.atomic():
            record(game, "a")
            try:
                with transaction.atomic():
                    record(game, "b")
                    raise Abort
            except Abort:
                pass

    await database_sync_to_async(write)()
    message = await receive_or_none(channel)
    assert (message["first_seq"], message["last_seq"]) == (1, 1)
    assert await first_after_marker(channel, f"game.{game.slug}") == MARKER


async def test_presence_publish_sends_the_viewer_count_to_the_game_group(game):
    channel = await subscribe(f"game.{game.slug}")
    await publish.presence_publish(slug=game.slug, viewers=3)
    message = await receive_or_none(channel)
    assert (message["type"], json.loads(message["text"])) == ("game.presence", {"type": "presence", "viewers": 3})


async def test_duplicate_post_sends_nothing(game):
    await database_sync_to_async(record)(game, "a")
    channel = await subscribe(f"game.{game.slug}")
    await database_sync_to_async(record)(game, "a")
    assert await first_after_marker(channel, f"game.{game.slug}") == MARKER


async def test_threads_publishing_at_once_all_arrive(game, caplog):
    """Sync code with no server loop (a Celery worker, a shell) publishes on a loop of its own."""
    channel = await subscribe("race")
    barrier = threading.Barrier(8)

    def publish_one(n: int) -> None:
        barrier.wait()
        publish.messages_send([("race", {"type": "race.ping", "n": n})])

    threads = [threading.Thread(target=publish_one, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    await asyncio.to_thread(lambda: [t.join(10) for t in threads])
    got = {(await receive_or_none(channel, 2) or {}).get("n") for _ in range(8)}
    assert got == set(range(8))
    assert "unreachable" not in caplog.text


async def test_web_threads_hand_the_push_to_the_registered_server_loop(game, monkeypatch):
    """The seam: with the server's loop registered, a web thread's push runs on that loop and
    the thread does not wait for it."""
    channel = await subscribe("seam")
    monkeypatch.setattr(publish, "_server_loop", None)
    publish.server_loop_register(asyncio.get_running_loop())
    ran_on = []
    real = publish.messages_send_async

    async def spy(messages):
        ran_on.append(threading.current_thread() is threading.main_thread())
        await real(messages)

    monkeypatch.setattr(publish, "messages_send_async", spy)
    await asyncio.to_thread(publish.messages_send, [("seam", {"type": "seam.ping"})])
    assert (await receive_or_none(channel))["type"] == "seam.ping"
    assert ran_on == [True]  # on this loop's thread, not the web thread's

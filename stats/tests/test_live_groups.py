"""Groups and presence are keyed by the game's id, not its slug (issue #21): a game deleted
and made again under its slug is another game, whose viewers never get the old one's
frames (a push that comes late) nor count the old one's viewers."""

import asyncio
import uuid

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator

from stats import services
from stats.live import publish
from stats.tests.support import event_in
from webgame.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)
HEADERS = [(b"origin", b"http://localhost")]


async def watch(slug: str) -> tuple[WebsocketCommunicator, dict]:
    """A viewer of the game `slug`, past its opening frames; returns it and its snapshot."""
    comm = WebsocketCommunicator(application, f"/ws/games/{slug}/", headers=HEADERS)
    assert (await comm.connect())[0]
    snapshot = await comm.receive_json_from(timeout=10)
    assert (await comm.receive_json_from(timeout=10))["type"] == "connection_established"
    return comm, snapshot


async def next_events(comm) -> dict:
    while (frame := await comm.receive_json_from(timeout=10))["type"] != "events":
        pass
    return frame


def record(game, event_id: str) -> None:
    services.score_events_record(game_id=game.pk, events=[event_in(event_id)])


async def test_a_game_made_again_under_its_slug_gets_none_of_the_old_games_frames():
    slug = f"again-{uuid.uuid4().hex[:8]}"
    old = await database_sync_to_async(services.game_create)(slug=slug, name="Old")
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(publish.game_group(old.pk), channel)
    await database_sync_to_async(record)(old, "old-event")
    late = await asyncio.wait_for(layer.receive(channel), 10)  # the old game's push, kept
    old_viewer, _ = await watch(slug)

    await database_sync_to_async(old.delete)()
    new = await database_sync_to_async(services.game_create)(slug=slug, name="New")
    viewer, snapshot = await watch(slug)
    assert snapshot["viewers"] == 1  # the old game's viewer is not counted here
    # The old game's push arrives late (a slow web thread), then the new game's first event.
    await publish.messages_send_async([(publish.game_group(old.pk), late)])
    await database_sync_to_async(record)(new, "new-event")
    frame = await next_events(viewer)
    assert [e["id"] for e in frame["events"]] == ["new-event"]
    for comm in (viewer, old_viewer):
        await comm.disconnect()

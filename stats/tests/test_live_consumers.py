"""stats.live.consumers: the game and lobby sockets (snapshot, resume, pings, gap fills, privacy).
Bad frames: test_live_jsonsocket; presence counts: test_live_presence."""

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import User

from stats.live import publish
from stats.tests.games import game_make
from stats.tests.live_support import (
    _no_presence_left_over,
    assert_still_open,
    connect,
    next_of_type,
    record,
    record_unannounced,
    session_cookie,
    watch,
)
from stats.tests.support import event_in
from webgame.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)
_no_presence_left_over = _no_presence_left_over  # autouse: presence counts start from zero


@database_sync_to_async
def private_game_with_viewer():
    """A private game "secret" and the session cookie of a user listed as its viewer."""
    game = game_make(prefix="secret", is_public=False)
    user = User.objects.create_user("vera")
    game.viewers.add(user)
    return game, session_cookie(user)


async def test_snapshot_is_the_first_frame(game):
    await record(game, event_in("a", "ada", 5))
    comm = await connect(f"/ws/games/{game.slug}/")
    snapshot = await comm.receive_json_from()
    assert (snapshot["type"], snapshot["seq"], snapshot["leaderboard"][0]["total"]) == ("snapshot", 1, 5)
    await comm.disconnect()


async def test_connection_established_follows_the_snapshot(game):
    comm = await connect(f"/ws/games/{game.slug}/")
    await comm.receive_json_from()
    assert await comm.receive_json_from() == {
        "type": "connection_established",
        "message": "You are now connected!",
        "game": game.slug,
    }
    await comm.disconnect()


async def test_new_events_arrive_in_seq_order_without_gaps(game):
    comm, _ = await watch(game)
    await record(game, event_in("a"), event_in("b"))
    await record(game, event_in("c"))
    first = await next_of_type(comm, "events")
    second = await next_of_type(comm, "events")
    assert [e["seq"] for e in first["events"] + second["events"]] == [1, 2, 3]
    assert second["players"] == [{"player": "ada", "total": 3, "events": 3}]
    await comm.disconnect()


async def test_resume_replays_the_missed_events(game):
    await record(game, event_in("a"), event_in("b"), event_in("c"))
    comm, _ = await watch(game)
    await comm.send_json_to({"type": "resume", "after_seq": 1})
    frame = await next_of_type(comm, "events")
    assert ([e["seq"] for e in frame["events"]], frame["resumed"], frame["game"]["last_seq"]) == ([2, 3], True, 3)
    await comm.disconnect()


async def test_resume_further_back_than_the_limit_gets_a_snapshot(game, settings):
    settings.WEBGAME_RESUME_MAX = 2
    await record(game, *[event_in(f"e{i}") for i in range(5)])
    comm, _ = await watch(game)
    await comm.send_json_to({"type": "resume", "after_seq": 0})
    frame = await next_of_type(comm, "snapshot")
    assert frame["seq"] == 5
    await comm.disconnect()


async def test_ping_is_answered_with_pong_and_the_last_sent_seq(game):
    await record(game, event_in("a"))
    comm, _ = await watch(game)
    await comm.send_json_to({"type": "ping"})
    assert await next_of_type(comm, "pong") == {"type": "pong", "seq": 1}
    await comm.disconnect()


async def test_private_game_is_refused_to_anonymous(db):
    secret = await database_sync_to_async(game_make)(prefix="secret", is_public=False)
    comm = await connect(f"/ws/games/{secret.slug}/")
    assert (await comm.receive_json_from())["code"] == "not_found"
    assert (await comm.receive_output())["code"] == 4404


async def test_private_game_is_open_to_a_listed_viewer(db):
    game, cookie = await private_game_with_viewer()
    comm, snapshot = await watch(game, cookie)
    assert snapshot["game"]["slug"] == game.slug
    await comm.disconnect()


async def test_unknown_game_is_refused(db):
    comm = await connect("/ws/games/nosuch/")
    assert (await comm.receive_json_from())["code"] == "not_found"
    assert (await comm.receive_output())["code"] == 4404


async def test_foreign_origin_is_refused_at_the_handshake(game):
    comm = WebsocketCommunicator(application, f"/ws/games/{game.slug}/", headers=[(b"origin", b"http://evil.test")])
    connected, _ = await comm.connect()
    assert not connected


async def test_lost_layer_message_is_filled_from_the_database(game):
    comm, _ = await watch(game)
    # Events 1-2 are committed but their broadcast is lost; event 3's message then arrives.
    await record_unannounced(game, event_in("a"), event_in("b"), event_in("c"))
    message = {"type": "game.events", "first_seq": 3, "last_seq": 3, "text": '{"type":"events","lost":1}'}
    await get_channel_layer().group_send(publish.game_group(game.pk), message)
    frame = await next_of_type(comm, "events")
    assert "lost" not in frame
    # Read from the database once by this process's feed (stats.live.feed), for all its viewers.
    assert [e["seq"] for e in frame["events"]] == [1, 2, 3]
    await assert_still_open(comm)
    await comm.disconnect()


async def test_ping_delivers_events_whose_push_was_lost(game):
    comm, _ = await watch(game)
    await record_unannounced(game, event_in("a"), event_in("b"))
    await comm.send_json_to({"type": "ping"})
    frame = await next_of_type(comm, "events")
    assert ([e["seq"] for e in frame["events"]], frame["resumed"]) == ([1, 2], True)
    assert (await next_of_type(comm, "pong"))["seq"] == 2
    await comm.disconnect()


async def test_gap_fill_for_a_deleted_game_closes_with_not_found(game):
    comm, _ = await watch(game)
    group = publish.game_group(game.pk)  # before the delete, which sets pk to None
    await database_sync_to_async(game.delete)()
    message = {"type": "game.events", "first_seq": 5, "last_seq": 5, "text": '{"type":"events"}'}
    await get_channel_layer().group_send(group, message)
    frame = await next_of_type(comm, "error")
    assert frame["code"] == "not_found"
    assert (await comm.receive_output(timeout=5)) == {"type": "websocket.close", "code": 4404}
    await comm.disconnect()


async def test_layer_message_already_covered_by_the_snapshot_is_dropped(game):
    await record(game, event_in("a"), event_in("b"))
    comm, _ = await watch(game)
    message = {"type": "game.events", "first_seq": 1, "last_seq": 2, "text": '{"type":"events","stale":1}'}
    await get_channel_layer().group_send(publish.game_group(game.pk), message)
    await comm.send_json_to({"type": "ping"})
    frames = [await comm.receive_json_from()]
    while frames[-1]["type"] != "pong":
        frames.append(await comm.receive_json_from())
    assert "events" not in [f["type"] for f in frames]
    await comm.disconnect()


async def test_lobby_lists_public_games_to_anonymous(game):
    await database_sync_to_async(game_make)(prefix="secret", is_public=False)
    comm = await connect("/ws/lobby/")
    assert (await comm.receive_json_from())["type"] == "connection_established"
    games = await comm.receive_json_from()
    assert (games["type"], [g["slug"] for g in games["games"]]) == ("games", [game.slug])
    await comm.disconnect()


async def test_lobby_receives_live_game_totals(game):
    comm = await connect("/ws/lobby/")
    await comm.receive_json_from()
    await comm.receive_json_from()
    await record(game, event_in("a", points=4))
    frame = await next_of_type(comm, "game")
    assert (frame["game"]["slug"], frame["game"]["last_seq"], frame["game"]["points"]) == (game.slug, 1, 4)
    await comm.disconnect()


async def test_lobby_does_not_tell_anonymous_about_private_games(game):
    secret = await database_sync_to_async(game_make)(prefix="secret", is_public=False)
    comm = await connect("/ws/lobby/")
    await comm.receive_json_from()
    await comm.receive_json_from()
    await record(secret, event_in("a"))
    await record(game, event_in("b"))
    assert (await next_of_type(comm, "game"))["game"]["slug"] == game.slug
    await comm.disconnect()


async def test_lobby_answers_ping_and_bad_frames(db):
    comm = await connect("/ws/lobby/")
    await comm.receive_json_from()
    await comm.receive_json_from()
    await comm.send_to(text_data="{oops")
    assert (await comm.receive_json_from())["code"] == "bad_json"
    await comm.send_json_to({"type": "ping"})
    assert await comm.receive_json_from() == {"type": "pong"}
    await comm.disconnect()


async def test_lobby_tells_a_listed_viewer_about_their_private_game(db):
    secret, cookie = await private_game_with_viewer()
    comm = await connect("/ws/lobby/", cookie)
    await comm.receive_json_from()
    assert [g["slug"] for g in (await comm.receive_json_from())["games"]] == [secret.slug]
    await record(secret, event_in("a"))
    assert (await next_of_type(comm, "game"))["game"]["slug"] == secret.slug
    await comm.disconnect()

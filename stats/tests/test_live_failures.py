"""The live path when its parts fail: Redis down, the database failing under a socket, sockets
that close in every way a server allows. Each test here failed before its fix (issue #8)."""

import asyncio
import json
import threading

import pytest
import websockets
from django.db import DatabaseError, OperationalError, connection

from stats import selectors
from stats.live import consumers, jsonsocket, publish
from stats.live import feed as feeds
from stats.live import hub as hubs
from stats.tests.live_support import (
    _no_presence_left_over,
    connect,
    origin,
    post_event,
    record,
    record_unannounced,
    watch,
)
from stats.tests.support import DaphneProc, ValkeyProc, database_url, event_in

pytestmark = pytest.mark.django_db(transaction=True)
_no_presence_left_over = _no_presence_left_over  # autouse: presence counts start from zero


def test_close_codes_are_ones_daphne_and_uvicorn_accept():
    """Autobahn (daphne) lets an application close with 1000 or 3000-4999 only, and raises on
    anything else: 1011 and 1013 raised inside connect() and reached the client as 1011."""
    codes = {name: value for name, value in vars(jsonsocket).items() if name.startswith("CLOSE_")}
    assert codes and all(value == 1000 or 3000 <= value <= 4999 for value in codes.values()), codes


async def frames_until(ws, predicate) -> list[dict]:
    """Frames read up to and including the first that satisfies `predicate`."""
    seen = []
    async with asyncio.timeout(20):
        while True:
            seen.append(json.loads(await ws.recv()))
            if predicate(seen[-1]):
                return seen


async def close_code(comm) -> int:
    """Read past any frames to the server's close; its code."""
    async with asyncio.timeout(10):
        while (message := await comm.receive_output(timeout=10))["type"] != "websocket.close":
            pass
    return message["code"]


@pytest.fixture
def stack(game):
    """daphne on a Valkey of its own, which the test may kill and start again."""
    valkey = ValkeyProc().start()
    web = DaphneProc(database_url=database_url(connection.settings_dict), redis_url=valkey.url).start()
    yield web, valkey
    web.stop()
    valkey.stop()


def test_a_viewer_arriving_in_a_redis_outage_is_served_degraded_then_goes_live(stack, game, api_key):
    web, valkey = stack
    valkey.kill()
    url = f"ws://127.0.0.1:{web.port}/ws/games/{game.slug}/"

    async def scenario():
        async with websockets.connect(url, origin=origin(web.port)) as ws:
            opening = await frames_until(ws, lambda f: f["type"] == "status")
            assert [f["type"] for f in opening] == ["snapshot", "connection_established", "status"]
            assert opening[-1] == {"type": "status", "live": False, "reason": "layer_down"}
            # The database is the source of truth: a ping catches up while pushes are down.
            await asyncio.to_thread(post_event, web, game.slug, api_key, "in-outage")
            await ws.send('{"type": "ping"}')
            caught_up = await frames_until(ws, lambda f: f["type"] == "pong")
            assert caught_up[-1]["seq"] == 1 and caught_up[0]["events"][0]["id"] == "in-outage"
            valkey.start()  # same port: the feed resubscribes by itself, no reconnect
            await frames_until(ws, lambda f: f == {"type": "status", "live": True})
            await asyncio.to_thread(post_event, web, game.slug, api_key, "live-again")
            pushed = await frames_until(ws, lambda f: f["type"] == "events")
            assert [e["seq"] for e in pushed[-1]["events"]] == [2]

    asyncio.run(scenario())
    assert "Traceback" not in web.log()


async def test_a_failed_gap_fill_closes_the_socket_once_and_leaves_the_feed(game, monkeypatch, settings):
    """A database that cannot be read (as with a stored year 10000 on PostgreSQL) must not
    become a loop: the socket closes with 4500, leaves the feed, and later events read nothing."""
    settings.FRAME_TICK_MS = 0
    comm, _ = await watch(game)
    reads = []

    def failing_read(**kwargs):
        reads.append(kwargs)
        raise DatabaseError("year 10000 is out of range")

    monkeypatch.setattr(selectors, "game_events_after", failing_read)
    await record_unannounced(game, event_in("lost"))
    await record(game, event_in("after"))  # a gap: the feed, then the viewer, try the database
    assert await close_code(comm) == jsonsocket.CLOSE_INTERNAL
    assert publish.game_group(game.pk) not in hubs.hub_get().feeds
    reads_at_close = len(reads)
    assert reads_at_close <= 2  # the feed's gap read, then this viewer's
    await record(game, event_in("later"))
    await comm.wait()
    assert len(reads) == reads_at_close


async def test_a_resync_ends_with_its_socket_and_starts_nothing_after(game, monkeypatch, settings):
    """A gap fill under way when the socket goes is cancelled, and the frames it held do not
    start another one (one socket started 5 resync tasks, 2 after it had disconnected)."""
    settings.FRAME_TICK_MS = 0
    comm, _ = await watch(game)
    viewer = next(iter(hubs.hub_get().feeds[publish.game_group(game.pk)].viewers))
    entered, release = threading.Event(), threading.Event()
    real_read = selectors.game_events_after

    def slow_read(**kwargs):
        entered.set()
        release.wait(10)
        return real_read(**kwargs)

    async def no_feed_fill(self, *, after_seq):
        return None  # the feed gives up at once: the viewer fills the gap itself

    starts = []
    real_background = consumers.GameConsumer.resync_background
    monkeypatch.setattr(
        consumers.GameConsumer, "resync_background", lambda self: starts.append(1) or real_background(self)
    )
    monkeypatch.setattr(feeds.Feed, "gap_read", no_feed_fill)
    await record_unannounced(game, event_in("lost"))
    monkeypatch.setattr(selectors, "game_events_after", slow_read)
    await record(game, event_in("after"))
    await asyncio.to_thread(entered.wait, 10)
    task = viewer.resync_task
    await comm.disconnect()
    release.set()
    async with asyncio.timeout(10):
        while not task.done():  # noqa: ASYNC110 - the task is the condition
            await asyncio.sleep(0.01)
    assert starts == [1] and viewer.resync_task is task and viewer.held is None


async def test_the_database_down_at_connect_is_an_error_frame_and_a_retry_close(game, monkeypatch):
    def down(**kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(selectors, "game_get_visible", down)
    comm = await connect(f"/ws/games/{game.slug}/")
    assert (await comm.receive_json_from())["code"] == "unavailable"
    assert await close_code(comm) == jsonsocket.CLOSE_TRY_AGAIN


async def test_uvicorn_socket_closed_for_flooding_leaves_the_feed(uvicorn_app, game, settings, caplog):
    """Under uvicorn a socket closed by the flood limit stayed in its feed, and every later
    frame logged a traceback (a send after websocket.close)."""
    settings.WS_RATE, settings.WS_BURST = 5, 5
    url = f"ws://127.0.0.1:{uvicorn_app}/ws/games/{game.slug}/"
    group = publish.game_group(game.pk)
    page = origin(uvicorn_app)
    async with websockets.connect(url, origin=page) as flooder, websockets.connect(url, origin=page) as other:
        await frames_until(flooder, lambda f: f["type"] == "connection_established")
        await frames_until(other, lambda f: f["type"] == "connection_established")
        with pytest.raises(websockets.ConnectionClosed):
            for _ in range(200):
                await flooder.send('{"type": "ping"}')
                await asyncio.sleep(0)
            await frames_until(flooder, lambda f: False)
        assert flooder.close_code == jsonsocket.CLOSE_FLOOD
        assert len(hubs.hub_get().feeds[group].viewers) == 1
        for i in range(5):
            await record(game, event_in(f"e{i}"))
        pushed = await frames_until(other, lambda f: f["type"] == "events" and f["events"][-1]["seq"] == 5)
        assert pushed
    assert not [r for r in caplog.records if r.levelname == "ERROR" or r.exc_info]


def test_resume_without_after_seq_then_close_logs_nothing_on_daphne(live, game):
    """The error frame for a bad resume met a closed socket: daphne logged 'Exception inside
    application: Attempt to send on a closed protocol'."""
    url = f"ws://127.0.0.1:{live.port}/ws/games/{game.slug}/"
    log_start = len(live.log())

    async def scenario():
        for _ in range(20):
            ws = await websockets.connect(url, origin=origin(live.port))
            await ws.send('{"type": "resume"}')
            ws.transport.abort()  # gone before the answer, without a close frame
        # Done when the server has let all twenty go: a new viewer is then the only one.
        async with asyncio.timeout(20):
            while True:
                async with websockets.connect(url, origin=origin(live.port)) as ws:
                    if json.loads(await ws.recv())["viewers"] == 1:
                        return
                await asyncio.sleep(0.2)

    asyncio.run(scenario())
    log = live.log()[log_start:]
    assert "Traceback" not in log and "Exception inside application" not in log, log[-3000:]


async def test_the_lobby_in_a_redis_outage_is_served_from_the_database(game, monkeypatch):
    """channels makes a lobby socket's layer channel before the handshake: with Redis down,
    daphne answered it with a 500. Now the lobby is served, and says it is not live."""
    from channels_redis.pubsub import RedisPubSubLoopLayer

    async def down(*args, **kwargs):
        raise OSError("Connection refused")

    monkeypatch.setattr(RedisPubSubLoopLayer, "new_channel", down)
    comm = await connect("/ws/lobby/")
    frames = [await comm.receive_json_from() for _ in range(3)]
    assert [f["type"] for f in frames] == ["connection_established", "games", "status"]
    assert [g["slug"] for g in frames[1]["games"]] == [game.slug]
    await comm.send_json_to({"type": "ping"})
    # Degraded: each ping brings the list from the database, then the pong.
    assert [(await comm.receive_json_from())["type"] for _ in range(2)] == ["games", "pong"]
    await comm.disconnect()

"""stats.live.health: a Redis that hangs (SIGSTOP) is seen, and every socket is told, within
5 s; "live" again within 2 s of Redis answering, on the same socket. Before it, a hung Redis
was invisible: sockets said "live" the whole outage (issue #18)."""

import asyncio
import json
import time

import pytest
import websockets
from django.db import connection

from stats.live import health, presence, publish
from stats.tests.feed_support import until
from stats.tests.live_support import origin, post_event
from stats.tests.support import DaphneProc, ValkeyProc, database_url

pytestmark = pytest.mark.django_db(transaction=True)
DEGRADED = {"type": "status", "live": False, "reason": "layer_down"}
LIVE = {"type": "status", "live": True}


@pytest.fixture
def frozen_valkey():
    """A Valkey of this test's own, which it may freeze; always thawed and stopped after."""
    valkey = ValkeyProc().start()
    yield valkey
    valkey.thaw()
    valkey.stop()


@pytest.fixture
def stack(game, frozen_valkey):
    web = DaphneProc(database_url=database_url(connection.settings_dict), redis_url=frozen_valkey.url).start()
    yield web, frozen_valkey
    web.stop()


async def until_frame(ws, wanted: dict) -> tuple[list[dict], float]:
    """Frames read up to and including `wanted`, and when it came (time.monotonic())."""
    seen = []
    async with asyncio.timeout(20):
        while True:
            seen.append(json.loads(await ws.recv()))
            if seen[-1] == wanted:
                return seen, time.monotonic()


async def opened(url: str, port: int, last_type: str):
    ws = await websockets.connect(url, origin=origin(port))
    async with asyncio.timeout(20):
        while json.loads(await ws.recv())["type"] != last_type:
            pass
    return ws


def test_a_frozen_redis_is_told_to_every_socket_and_live_again_without_reconnect(stack, game, api_key):
    web, valkey = stack
    base = f"ws://127.0.0.1:{web.port}/ws"

    async def scenario():
        game_ws = await opened(f"{base}/games/{game.slug}/", web.port, "connection_established")
        lobby_ws = await opened(f"{base}/lobby/", web.port, "games")
        frozen_at = time.monotonic()
        valkey.freeze()
        try:
            _, game_told = await until_frame(game_ws, DEGRADED)
            _, lobby_told = await until_frame(lobby_ws, DEGRADED)
            assert game_told - frozen_at < 5 and lobby_told - frozen_at < 5, (game_told, lobby_told)
            # A socket opened during the outage is told too, and promptly.
            t0 = time.monotonic()
            late_ws = await websockets.connect(f"{base}/games/{game.slug}/", origin=origin(web.port))
            await until_frame(late_ws, DEGRADED)
            assert time.monotonic() - t0 < 5
            # Kept current from the database meanwhile: a POST is stored, a ping brings it.
            await asyncio.to_thread(post_event, web, game.slug, api_key, "in-freeze")
            await game_ws.send('{"type": "ping"}')
            seen, _ = await until_frame(game_ws, {"type": "pong", "seq": 1})
            assert [e["id"] for f in seen if f["type"] == "events" for e in f["events"]] == ["in-freeze"]
        finally:
            valkey.thaw()
        thawed_at = time.monotonic()
        for ws in (game_ws, lobby_ws, late_ws):
            _, told = await until_frame(ws, LIVE)
            assert told - thawed_at < 2, told - thawed_at
        # Live on the same sockets: the next event is pushed, no ping needed.
        await asyncio.to_thread(post_event, web, game.slug, api_key, "after")
        for ws in (game_ws, late_ws):
            seen = []
            async with asyncio.timeout(10):
                while not seen or seen[-1]["type"] != "events" or seen[-1]["events"][-1]["id"] != "after":
                    seen.append(json.loads(await ws.recv()))
        for ws in (game_ws, lobby_ws, late_ws):
            await ws.close()

    asyncio.run(scenario())
    log = web.log()
    assert "Redis did not answer a PING" in log and "Redis answers again" in log
    assert "Traceback" not in log, log[-3000:]


async def test_the_check_sees_a_hang_and_the_return(frozen_valkey, settings):
    settings.REDIS_URL = frozen_valkey.url
    settings.REDIS_HEALTH_INTERVAL = 0.2
    settings.REDIS_SOCKET_TIMEOUT = 0.5
    changes = []

    async def told(up: bool) -> None:
        changes.append(up)

    check = health.RedisHealth(told)
    check.start()
    try:
        await until(lambda: check.checks >= 1)
        assert check.up and changes == [] and not health.redis_down()
        frozen_valkey.freeze()
        try:
            await until(lambda: changes == [False])
            assert health.redis_down()
        finally:
            frozen_valkey.thaw()
        await until(lambda: changes == [False, True])
        assert not health.redis_down()
    finally:
        await check.stop()


async def test_pushes_and_presence_skip_redis_at_once_while_the_check_says_down(frozen_valkey, settings):
    """A push to a hung Redis waits for its deadline, and every push after it queues behind:
    while this loop's check says down, none is attempted."""
    settings.REDIS_URL = frozen_valkey.url
    settings.REDIS_HEALTH_INTERVAL = 0.2
    settings.REDIS_SOCKET_TIMEOUT = 0.5
    check = health.RedisHealth(lambda up: asyncio.sleep(0))
    check.start()
    frozen_valkey.freeze()
    try:
        await until(lambda: not check.up)
        t0 = time.monotonic()
        for _ in range(50):
            await publish.messages_send_async([("game.nowhere", {"type": "game.chat", "text": "{}"})])
        assert time.monotonic() - t0 < 0.25  # 50 pushes, none waited for a 0.5 s deadline
        # Nor does a socket's connect or ping wait for presence's deadline.
        t0 = time.monotonic()
        assert await presence.presence_join(game_id=900_031, channel="viewer.x") is None
        assert await presence.presence_count(game_id=900_031) is None
        assert time.monotonic() - t0 < 0.25
    finally:
        frozen_valkey.thaw()
        await check.stop()

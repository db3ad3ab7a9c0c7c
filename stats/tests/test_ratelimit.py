import asyncio
import json
import logging
import time
import urllib.request

import pytest
import websockets
from channels.testing import WebsocketCommunicator
from django.test import Client

from stats import ratelimit, services
from stats.models import ScoreEvent
from stats.tests.chaos import origin_of
from stats.tests.support import free_port
from webgame.asgi import application

ORIGIN = [(b"origin", b"http://localhost")]


def post(client: Client, slug: str, key: str, event_id: str):
    body = json.dumps({"id": event_id, "player": "ada", "points": 1})
    return client.post(
        f"/api/games/{slug}/events", body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}"
    )


@pytest.fixture
def low_api_limit(settings):
    settings.API_RATE_LIMIT = 3
    settings.API_RATE_WINDOW = 60
    return settings


def test_key_over_its_limit_gets_429_json_with_retry_after(low_api_limit, game, api_key):
    client = Client()
    assert [post(client, game.slug, api_key, f"e{i}").status_code for i in range(3)] == [202, 202, 202]
    refused = post(client, game.slug, api_key, "e3")
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert not ScoreEvent.objects.filter(game=game, event_id="e3").exists()


def test_burst_across_a_window_boundary_is_still_limited(low_api_limit, game, api_key, monkeypatch):
    """A fixed window would take 3 at 59 s and 3 more at 61 s: the sliding estimate does not."""
    start = (int(time.time()) // 60 + 1) * 60  # the start of the next minute
    client = Client()
    monkeypatch.setattr(ratelimit.time, "time", lambda: start - 1)
    assert [post(client, game.slug, api_key, f"e{i}").status_code for i in range(3)] == [202] * 3
    monkeypatch.setattr(ratelimit.time, "time", lambda: start + 1)
    refused = post(client, game.slug, api_key, "e3")
    assert refused.status_code == 429
    # The refused one counts too: the next is allowed once 2 + 3 * (1 - f) <= 3, f = 2/3 (40 s).
    assert int(refused["Retry-After"]) == 39


@pytest.mark.parametrize(
    ("count", "previous", "into", "expected"),
    [
        (3, 0, 0.5, None),  # at the limit, nothing before
        (1, 3, 0.1, 34),  # 1 + 3 * 0.9 = 3.7 > 3: the next (2) passes once 2 + 3 * (1 - f) <= 3, f = 2/3
        (1, 3, 0.4, None),  # 1 + 3 * 0.6 = 2.8
        (4, 0, 0.25, 45),  # over on its own: not before the next window
        (3, 1, 0.5, 30),  # the next (4) is over on its own too
    ],
)
def test_sliding_estimate_allows_or_names_the_wait(count, previous, into, expected):
    assert ratelimit._retry_after(count=count, previous=previous, into=into, limit=3, window=60) == expected


def test_limit_counts_per_key_not_per_game(low_api_limit, game, api_key):
    other_key = services.api_key_create(game=game, name="second server")[1]
    client = Client()
    for i in range(4):
        post(client, game.slug, api_key, f"e{i}")
    assert post(client, game.slug, other_key, "x").status_code == 202


def test_limit_is_shared_by_all_web_processes(live, low_api_limit, game, api_key):
    """Requests counted by the daphne process (default limit) count here too, through Redis.
    That process tells Redis in batches (stats.ingest.keyrate): one batch of its POSTs is
    reported as a whole when the batch fills."""
    from stats.ingest import keyrate

    for i in range(keyrate.REPORT_FRAMES):
        request = urllib.request.Request(
            f"{live.url}/api/games/{game.slug}/events",
            data=json.dumps({"id": f"d{i}", "player": "ada", "points": 1}).encode(),
            headers={"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 202
    assert post(Client(), game.slug, api_key, "here").status_code == 429


def test_limiter_without_redis_fails_open_and_logs_once(low_api_limit, game, api_key, caplog):
    low_api_limit.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    client = Client()
    with caplog.at_level(logging.ERROR, logger="stats.ratelimit"):
        codes = [post(client, game.slug, api_key, f"e{i}").status_code for i in range(5)]
    assert codes == [202] * 5
    assert ScoreEvent.objects.filter(game=game).count() == 5
    assert len([r for r in caplog.records if "cannot reach Redis" in r.getMessage()]) == 1
    ratelimit.fail_open.ok()


@pytest.fixture
def low_ws_rate(settings):
    settings.WS_RATE = 1.0
    settings.WS_BURST = 3
    return settings


async def drain(comm: WebsocketCommunicator) -> list[dict]:
    frames = []
    while not await comm.receive_nothing(timeout=0.3):
        frames.append(await comm.receive_json_from())
    return frames


@pytest.mark.django_db(transaction=True)
async def test_ws_flood_gets_one_error_frame_then_close_4429(low_ws_rate):
    comm = WebsocketCommunicator(application, "/ws/lobby/", headers=ORIGIN)
    assert (await comm.connect())[0]
    await drain(comm)
    for _ in range(3):
        await comm.send_json_to({"type": "ping"})
    assert [f["type"] for f in await drain(comm)] == ["pong"] * 3
    for _ in range(3):  # the bucket is empty: refused, told once
        await comm.send_json_to({"type": "ping"})
    frames = await drain(comm)
    assert [(f["type"], f.get("code")) for f in frames] == [("error", "rate_limited")]
    await comm.send_json_to({"type": "ping"})  # the 4th refusal in a row: more than the burst
    assert await comm.receive_output(timeout=2) == {"type": "websocket.close", "code": 4429}
    await comm.wait()


@pytest.mark.django_db(transaction=True)
async def test_ws_rate_refills_so_a_paced_client_is_never_refused(low_ws_rate):
    low_ws_rate.WS_BURST = 1
    low_ws_rate.WS_RATE = 20.0
    comm = WebsocketCommunicator(application, "/ws/lobby/", headers=ORIGIN)
    assert (await comm.connect())[0]
    await drain(comm)
    for _ in range(5):
        await comm.send_json_to({"type": "ping"})
        assert (await comm.receive_json_from(timeout=2))["type"] == "pong"
        await asyncio.sleep(0.1)
    await comm.disconnect()


def test_ws_flood_over_daphne_closes_with_4429_and_other_viewers_carry_on(live, game):
    """The default limits of a real server: a flooding socket is closed, its neighbour is not."""
    url = f"ws://127.0.0.1:{live.port}/ws/games/{game.slug}/"

    async def scenario():
        async with (
            websockets.connect(url, origin=origin_of(url)) as flooder,
            websockets.connect(url, origin=origin_of(url)) as neighbour,
        ):
            for _ in range(500):
                try:
                    await flooder.send('{"type":"ping"}')
                except websockets.ConnectionClosed:
                    break
            codes = []
            try:
                async for message in flooder:
                    codes.append(json.loads(message).get("code"))
            except websockets.ConnectionClosed:
                pass
            await neighbour.send('{"type":"ping"}')
            async for message in neighbour:
                if json.loads(message)["type"] == "pong":
                    break
            return flooder.close_code, codes, neighbour.state

    close_code, codes, neighbour_state = asyncio.run(asyncio.wait_for(scenario(), 20))
    assert close_code == 4429
    assert codes.count("rate_limited") >= 1
    assert neighbour_state == websockets.State.OPEN

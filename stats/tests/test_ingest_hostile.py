"""Issue #19 (and #22's ingest items) on the ingest socket, against daphne and uvicorn: every
answer in the order sent with its ref (errors too, a frame over the size limit too), a
revoked key's open socket refused and closed, a ref in flight refused, the key's frame limit
exact under a burst, and ingest sockets counted apart from viewers."""

import asyncio
import contextlib
import json
import time

import pytest
import websockets
from asgiref.sync import sync_to_async

from stats.ingest.consumer import CLOSE_KEY_REVOKED
from stats.live.jsonsocket import MAX_FRAME_CHARS
from stats.models import ApiKey
from stats.ratelimit import WS_CLOSE_OVER_CAP
from stats.tests.chaos import origin_of
from stats.tests.ingest_support import answer, connect, events_frame, stored_ids
from stats.tests.support import DaphneProc, UvicornProc, tracebacks_report, web_proc_running

pytestmark = pytest.mark.django_db(transaction=True)
RATE_LIMIT = 300  # frames per key per minute on these servers
VIEWERS, INGESTS = 2, 3  # the caps per address on these servers
HOSTILE_ENV = {
    "INGEST_KEY_RECHECK_SECONDS": "0",  # the key read at every frame: the next frame sees a revocation
    "API_RATE_LIMIT": str(RATE_LIMIT),
    "WS_MAX_PER_ADDRESS": str(VIEWERS),
    "WS_MAX_INGEST_PER_ADDRESS": str(INGESTS),
}


class HostileDaphne(DaphneProc):
    def env(self) -> dict[str, str]:
        return {**super().env(), **HOSTILE_ENV}


class HostileUvicorn(UvicornProc):
    def env(self) -> dict[str, str]:
        return {**super().env(), **HOSTILE_ENV}


@pytest.fixture(scope="module", params=["daphne", "uvicorn"])
def server(request, django_db_setup, django_db_blocker, valkey):
    proc_class = HostileDaphne if request.param == "daphne" else HostileUvicorn
    with web_proc_running(proc_class, django_db_blocker, valkey) as running:
        yield running
        log = running.log()  # every refusal above is answered, none is a server error
        assert "Traceback" not in log and " ERROR " not in log, tracebacks_report(log)


def run(scenario, timeout: float = 60):
    return asyncio.run(asyncio.wait_for(scenario, timeout))


def test_every_answer_goes_out_in_the_order_sent_and_names_its_ref(server, transactional_db, game, api_key):
    """Errors for frames that cannot be parsed (bad JSON, an unknown type, a frame over the
    size limit) queue behind the acks of the frames before them, and carry the frame's ref."""
    big = events_frame(6, *(f"big-{i:04d}-{'x' * 40}" for i in range(1000)))  # ~80k chars: over the limit
    assert len(big) > MAX_FRAME_CHARS
    frames = [
        events_frame(1, "a1", "a2"),
        events_frame(2, "b1"),
        events_frame(3, "c1"),
        '{"type": "events", "ref": 4, "events": [}',  # bad JSON, its ref at its head
        json.dumps({"type": "chat", "ref": 5}),
        big,
        events_frame(7, "d1"),
        json.dumps({"type": "ping"}),
    ]

    async def scenario():
        async with connect(server, api_key, game.slug) as ws:
            for frame in frames:
                await ws.send(frame)
            return [await answer(ws) for _ in frames]

    answers = run(scenario())
    assert [(a["type"], a.get("ref"), a.get("code")) for a in answers] == [
        ("ack", 1, None), ("ack", 2, None), ("ack", 3, None), ("error", 4, "bad_json"),
        ("error", 5, "unknown_type"), ("error", 6, "too_large"), ("ack", 7, None), ("pong", None, None)]  # fmt: skip
    assert run(stored_ids(game)) == ["a1", "a2", "b1", "c1", "d1"]


@sync_to_async
def key_revoke(game) -> None:
    """As the admin does: its change form saves the key with revoked ticked."""
    key = ApiKey.objects.get(game=game)
    key.revoked = True
    key.save()


def test_a_revoked_keys_open_socket_has_its_next_frame_refused_and_is_closed(server, transactional_db, game, api_key):
    async def scenario():
        async with connect(server, api_key, game.slug) as ws:
            await ws.send(events_frame(1, "before"))
            assert (await answer(ws))["type"] == "ack"
            await key_revoke(game)
            await ws.send(events_frame(2, "after-1"))
            await ws.send(events_frame(3, "after-2"))
            refused = await answer(ws)
            with pytest.raises(websockets.ConnectionClosed):
                await answer(ws)  # the close, and no answer for frame 3: it crossed the close
            return refused, ws.close_code

    refused, code = run(scenario())
    assert (refused["type"], refused["code"], refused["ref"]) == ("error", "key_revoked", 2)
    assert code == CLOSE_KEY_REVOKED == 4401
    assert run(stored_ids(game)) == ["before"]


def test_the_default_recheck_refuses_a_revoked_key_within_seconds(live, game, api_key):
    """On the suite's daphne (INGEST_KEY_RECHECK_SECONDS at its default, 1 s): frames sent one
    at a time after the revocation are refused within the interval, and none from then on is
    stored."""

    async def scenario():
        async with connect(live, api_key, game.slug) as ws:
            await ws.send(events_frame(0, "warm"))
            assert (await answer(ws))["type"] == "ack"
            await key_revoke(game)
            revoked_at = time.monotonic()
            for ref in range(1, 1000):
                await ws.send(events_frame(ref, f"after-{ref}"))
                reply = await answer(ws)
                if reply["type"] == "error":
                    return reply, ref, time.monotonic() - revoked_at
            raise AssertionError("the revoked key was never refused")

    refused, ref, seconds = run(scenario())
    assert (refused["code"], refused["ref"]) == ("key_revoked", ref)
    assert seconds < 3.0
    stored = run(stored_ids(game))
    assert f"after-{ref}" not in stored and len(stored) == ref  # warm, then each acked frame


def test_a_ref_still_in_flight_is_refused_by_name(server, transactional_db, game, api_key):
    """The second frame arrives while the first (1,000 events: tens of ms to commit) waits."""
    first = events_frame(1, *(f"first-{i}" for i in range(1000)))

    async def scenario():
        async with connect(server, api_key, game.slug) as ws:
            await ws.send(first)
            await ws.send(events_frame(1, "second"))
            return [await answer(ws) for _ in range(2)]

    acked, refused = run(scenario())
    assert (acked["type"], acked["ref"], acked["accepted"]) == ("ack", 1, 1000)
    assert (refused["type"], refused["code"], refused["ref"]) == ("error", "ref_in_flight", 1)
    assert "second" not in run(stored_ids(game))


def test_the_keys_frame_limit_holds_exactly_under_a_burst(server, transactional_db, game, api_key):
    """3 sockets of one key send 1,000 frames each as fast as they can: no more than the
    limit are acked (counting after the fact let ~25 % more through), and nearly all of it is."""

    async def sender(n: int) -> list[dict]:
        async with connect(server, api_key, game.slug) as ws:
            for ref in range(1000):
                await ws.send(events_frame(ref, f"s{n}-{ref}"))
            return [await answer(ws) for _ in range(1000)]

    async def scenario():
        return await asyncio.gather(*(sender(n) for n in range(3)))

    answers = [a for each in run(scenario(), 120) for a in each]
    acked = [a for a in answers if a["type"] == "ack"]
    assert {a["code"] for a in answers if a["type"] == "error"} == {"rate_limited"}
    assert RATE_LIMIT - 3 * 15 <= len(acked) <= RATE_LIMIT  # 15: a socket's batch at this limit
    assert len(run(stored_ids(game))) == len(acked)


def test_ingest_sockets_do_not_use_up_the_viewers_cap(server, transactional_db, game, api_key):
    viewer_url = f"ws://127.0.0.1:{server.port}/ws/games/{game.slug}/"

    async def viewer_opens(stack) -> bool:
        ws = await stack.enter_async_context(websockets.connect(viewer_url, origin=origin_of(viewer_url)))
        async for message in ws:
            return json.loads(message)["type"] == "snapshot"
        return False

    async def scenario():
        async with contextlib.AsyncExitStack() as stack:
            for ref in range(INGESTS):
                ws = await stack.enter_async_context(connect(server, api_key, game.slug))
                await ws.send(events_frame(ref, f"i{ref}"))
                assert (await answer(ws))["type"] == "ack"  # served: counted
            viewers = [await viewer_opens(stack) for _ in range(VIEWERS)]
            over = await stack.enter_async_context(connect(server, api_key, game.slug))
            told = await answer(over)
            with pytest.raises(websockets.ConnectionClosed):
                await answer(over)
            return viewers, told, over.close_code

    viewers, told, code = run(scenario())
    assert viewers == [True] * VIEWERS
    assert (told["code"], code) == ("too_many_connections", WS_CLOSE_OVER_CAP)

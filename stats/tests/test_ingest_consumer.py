"""The ingest socket (stats.ingest.consumer) against a real server: the key at the handshake,
acks after commit and in the order sent, the HTTP body's rules per frame, pipelined frames,
errors that leave the socket open and spoil no neighbour."""

import asyncio
import json
from types import SimpleNamespace

import pytest
import websockets
from asgiref.sync import sync_to_async

from stats import services
from stats.models import ScoreEvent
from stats.scoring import services as scoring
from stats.tests.games import game_make
from stats.tests.ingest_support import WAIT, answer, connect, events_frame, stored_ids

pytestmark = pytest.mark.django_db(transaction=True)


async def test_an_event_is_acked_after_commit_and_a_retry_is_a_duplicate(live, game, api_key):
    async with connect(live, api_key, game.slug) as ws:
        await ws.send(events_frame(1, "e1"))
        assert await answer(ws) == {"type": "ack", "ref": 1, "accepted": 1, "duplicates": 0, "last_seq": 1}
        assert await stored_ids(game) == ["e1"]  # committed before the ack
        await ws.send(events_frame(2, "e1", "e2"))
        assert await answer(ws) == {"type": "ack", "ref": 2, "accepted": 1, "duplicates": 1, "last_seq": 2}


@pytest.mark.parametrize("key", [None, "wg_nope_nope", "other-game"])
async def test_a_missing_wrong_or_other_games_key_is_refused_at_the_handshake(live, game, key):
    if key == "other-game":
        other = await sync_to_async(game_make)(prefix="other", name="Other")
        key = (await sync_to_async(services.api_key_create)(game=other))[1]
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with connect(live, key, game.slug):
            pass
    assert refused.value.response.status_code == 403


async def test_a_browser_origin_is_refused_even_with_the_key(live, game, api_key):
    with pytest.raises(websockets.InvalidStatus):
        async with connect(live, api_key, game.slug, origin=f"http://127.0.0.1:{live.port}"):
            pass


@pytest.mark.parametrize(
    ("key", "status", "code", "words"),
    [
        (None, 401, "unauthorized", "Authorization: Bearer"),
        ("wg_nope_nope", 403, "forbidden", "not a valid key"),
        ("other-game", 403, "forbidden", "not a valid key"),
        ("origin", 403, "origin_refused", "game servers"),
    ],
)
async def test_under_uvicorn_a_refused_handshake_says_why_in_its_body(
    uvicorn_app, game, api_key, key, status, code, words
):
    """Issue #22: a missing or wrong key got a bare 403. uvicorn lets the app answer the
    handshake (the ASGI websocket.http.response extension): a JSON error body says why."""
    origin = None
    if key == "other-game":
        other = await sync_to_async(game_make)(prefix="other", name="Other")
        key = (await sync_to_async(services.api_key_create)(game=other))[1]
    elif key == "origin":
        key, origin = api_key, f"http://127.0.0.1:{uvicorn_app}"
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with connect(SimpleNamespace(port=uvicorn_app), key, game.slug, origin=origin):
            pass
    response = refused.value.response
    assert response.status_code == status and response.headers["Content-Type"] == "application/json"
    error = json.loads(response.body)["error"]
    assert error["code"] == code and words in error["message"] and error["details"] == []


async def test_pipelined_frames_are_acked_in_order_with_a_bad_one_among_them(live, game, api_key):
    """Many frames in flight at once: every answer in ref order, the bad frames refused with
    what was wrong, and their neighbours stored."""
    bad = {7: events_frame(7, "x7", points=1.5), 13: events_frame(13, "x13", stats={"nope": 1}),
           21: json.dumps({"type": "events", "ref": 21, "events": []})}  # fmt: skip
    async with connect(live, api_key, game.slug) as ws:
        for ref in range(1, 41):
            await ws.send(bad.get(ref) or events_frame(ref, f"e{ref}", f"e{ref}b"))
        answers = [await answer(ws) for _ in range(40)]
    assert [a["ref"] for a in answers] == list(range(1, 41))
    assert {a["ref"]: a["code"] for a in answers if a["type"] == "error"} == {
        7: "invalid", 13: "unknown_stat", 21: "invalid"}  # fmt: skip
    assert "events.0.points" in json.dumps(answers[6]["details"])
    good = [a for a in answers if a["type"] == "ack"]
    assert all(a["accepted"] == 2 for a in good) and good[-1]["last_seq"] == 2 * len(good)
    assert len(await stored_ids(game)) == 2 * 37


async def test_bad_frames_get_error_frames_and_the_socket_stays_open(live, game, api_key):
    async with connect(live, api_key, game.slug) as ws:
        for text, code in [("nope", "bad_json"), ('{"type": "chat"}', "unknown_type"), ("[1]", "bad_message"),
                           (events_frame(-1, "a"), "invalid"), (events_frame(1, "z" * 65), "invalid")]:  # fmt: skip
            await ws.send(text)
            assert (await answer(ws))["code"] == code
        too_many = json.dumps({"type": "events", "ref": 5, "events": [{"id": f"b{i}", "player": "p", "points": 1}
                                                                      for i in range(1001)]})  # fmt: skip
        await ws.send(too_many)
        refused = await answer(ws)
        assert (refused["ref"], refused["code"]) == (5, "batch_too_large")
        await ws.send(json.dumps({"type": "ping"}))
        assert await answer(ws) == {"type": "pong"}
        await ws.send(events_frame(6, "fine"))
        assert (await answer(ws))["type"] == "ack"


async def test_an_id_conflict_and_an_ended_match_are_refused_by_name(live, game, api_key):
    await sync_to_async(scoring.match_start)(game_id=game.pk, match_id="m1")
    await sync_to_async(scoring.match_end)(game_id=game.pk, match_id="m1")
    async with connect(live, api_key, game.slug) as ws:
        await ws.send(events_frame(1, "a", points=1))
        await ws.send(events_frame(2, "a", points=2))
        await ws.send(events_frame(3, "b", match="m1"))
        answers = [await answer(ws) for _ in range(3)]
    assert [a.get("code") for a in answers] == [None, "id_conflict", "match_ended"]
    assert answers[1]["details"] == [{"field": "id", "message": "a"}]


async def test_frames_from_several_sockets_and_http_posts_for_one_game_store_each_event_once(live, game, api_key):
    """Concurrent senders of one game, overlapping ids: gap-free seqs, every id once."""

    async def socket_sender(n: int) -> list[dict]:
        async with connect(live, api_key, game.slug) as ws:
            for ref in range(30):
                await ws.send(events_frame(ref, f"s{n}-{ref}", f"shared-{ref}"))
            return [await answer(ws) for _ in range(30)]

    async def http_sender() -> None:
        import urllib.request

        def post(ref: int) -> None:
            body = json.dumps({"events": [{"id": f"h-{ref}", "player": "ada", "points": 1},
                                          {"id": f"shared-{ref}", "player": "ada", "points": 1}]}).encode()  # fmt: skip
            request = urllib.request.Request(
                f"http://127.0.0.1:{live.port}/api/games/{game.slug}/events", data=body, method="POST",
                headers={"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"})  # fmt: skip
            with urllib.request.urlopen(request, timeout=WAIT) as response:
                assert response.status == 202

        for ref in range(30):
            await asyncio.to_thread(post, ref)

    results = await asyncio.gather(*(socket_sender(n) for n in range(4)), http_sender())
    for answers in results[:4]:
        assert [a["ref"] for a in answers] == list(range(30)) and {a["type"] for a in answers} == {"ack"}
    ids = await stored_ids(game)
    assert len(ids) == len(set(ids)) == 4 * 30 + 30 + 30
    seqs = await sync_to_async(lambda: list(ScoreEvent.objects.filter(game=game).values_list("seq", flat=True)))()
    assert sorted(seqs) == list(range(1, len(ids) + 1))

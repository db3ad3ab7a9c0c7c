"""A flood of derived-stat leaderboards (issue #19): a ranking is computed once per (game, seq)
and kept, and the leaderboard waits for a heavy-read slot (stats.admission) before it takes a
thread, so anonymous readers cannot starve another game's writes. bench/derived_board.py
measures it."""

import asyncio
import threading

import pytest
from channels.testing import HttpCommunicator
from django.db import connection
from django.http import HttpResponse
from django.test.utils import CaptureQueriesContext
from django.urls import path

from stats import services
from stats.scoring import services as scoring
from stats.tests.support import event_in
from webgame.handler import PooledExecutorASGIHandler


def totals_queries(captured) -> int:
    return sum("stattotal" in q["sql"].lower() for q in captured.captured_queries)


@pytest.fixture
def kd_game(game):
    for name in ("kills", "deaths"):
        scoring.stat_declare(game=game, name=name)
    scoring.stat_declare(game=game, name="kd", numerator="kills", denominator="deaths")
    events = [event_in(f"e{i}", f"p{i}", 0, stats={"kills": i, "deaths": 1 + i % 3}) for i in range(30)]
    services.score_events_record(game_id=game.pk, events=events)
    return game


def test_a_derived_ranking_is_computed_once_per_seq_and_exact_after_a_write(client, kd_game):
    url = f"/api/games/{kd_game.slug}/leaderboard?stat=kd&limit=5"
    first = client.get(url).json()
    with CaptureQueriesContext(connection) as again:
        assert client.get(url).json() == first
        around = client.get(f"{url}&around=p7").json()
    assert totals_queries(again) == 0, [q["sql"] for q in again.captured_queries]  # kept, not read again
    assert any(e["player"] == "p7" for e in around["entries"])
    services.score_events_record(game_id=kd_game.pk, events=[event_in("top", "ada", 0, stats={"kills": 1000})])
    with CaptureQueriesContext(connection) as after:
        top = client.get(url).json()
    assert totals_queries(after) == 1  # the write moved the seq: ranked again, once
    assert (top["entries"][0]["player"], top["entries"][0]["rank"], top["total"]) == ("ada", 1, 31)


# --- the leaderboard under the heavy-read admission (stats.admission) -----------------

board_release, board_entered = threading.Event(), threading.Event()


def slow_board(request, slug):
    board_entered.set()
    board_release.wait(30)
    return HttpResponse("board")


urlpatterns = [path("api/games/<slug>/leaderboard", slow_board, name="leaderboard_get")]


@pytest.fixture
def slow_boards(settings):
    settings.ROOT_URLCONF = __name__
    settings.MIDDLEWARE = ["stats.admission.HeavyReadMiddleware"]
    settings.API_READ_CONCURRENCY = 1
    settings.API_READ_WAIT_MS = 200
    board_release.clear()
    board_entered.clear()
    yield
    board_release.set()


@pytest.mark.django_db
async def test_a_leaderboard_waits_for_a_heavy_read_slot(slow_boards):
    handler = PooledExecutorASGIHandler(threads=4)
    reads = [HttpCommunicator(handler, "GET", f"/api/games/{slug}/leaderboard?stat=kd") for slug in ("a", "b")]
    first = asyncio.ensure_future(reads[0].get_response(timeout=30))
    assert await asyncio.to_thread(board_entered.wait, 30), "the first read never reached its view"
    busy = await reads[1].get_response(timeout=30)  # the one slot is taken: refused, no thread
    assert (busy["status"], {k.lower(): v for k, v in busy["headers"]}[b"retry-after"]) == (503, b"1")
    board_release.set()
    assert (await first)["status"] == 200
    for read in reads:
        await read.wait(timeout=10)

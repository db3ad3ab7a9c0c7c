"""stats.admission: heavy reads known by their URL names, and bounded on either chain (the
async one, under the server, is in test_reads and test_scoring_board_flood)."""

import json
import threading

import pytest
from django.http import HttpResponse
from django.test import RequestFactory

from stats import admission


@pytest.mark.parametrize(
    ("path", "heavy"),
    [
        ("/api/games/g/snapshot", True),
        ("/api/games/g/events", True),
        ("/api/games/g/history", True),
        ("/api/games/g/chat", True),
        ("/api/games/g/leaderboard", True),
        ("/api/games", False),
        ("/api/games/g/nothing-here", False),
        ("/games/g/", False),
    ],
)
def test_the_heavy_reads_are_the_named_read_endpoints(path, heavy):
    assert admission.heavy_read_path(path) is heavy


def test_a_post_of_events_is_never_held_back():
    assert not admission.heavy_read(RequestFactory().post("/api/games/g/events"))


def test_on_the_sync_chain_a_read_past_its_slots_is_refused_503(settings):
    settings.API_READ_CONCURRENCY = 1
    settings.API_READ_WAIT_MS = 50
    inside, release = threading.Event(), threading.Event()

    def slow(request):
        inside.set()
        release.wait(30)
        return HttpResponse("read")

    middleware = admission.HeavyReadMiddleware(slow)
    first = threading.Thread(target=lambda: middleware(RequestFactory().get("/api/games/g/snapshot")))
    first.start()
    assert inside.wait(30)
    refused = middleware(RequestFactory().get("/api/games/g/history"))
    release.set()
    first.join(30)
    code = json.loads(refused.content)["error"]["code"]
    assert (refused.status_code, refused["Retry-After"], code) == (503, "1", "busy")
    assert middleware(RequestFactory().get("/api/games/g/history")).content == b"read"  # the slot is back

"""Issue #10, reads: one snapshot build per (game, seq) for every reader, a per-address limit
on anonymous reads, and heavy reads bounded so that a POST always finds a thread."""

import asyncio
import logging
import threading
import uuid

import pytest
from channels.testing import HttpCommunicator, WebsocketCommunicator
from django.db import connection
from django.http import HttpResponse
from django.test import Client
from django.urls import path

from stats import ratelimit, selectors, services
from stats.tests.selectors_support import snapshot_builds
from stats.tests.support import event_in, free_port
from webgame.handler import PooledExecutorASGIHandler

ORIGIN = [(b"origin", b"http://localhost")]
snapshot_builds = snapshot_builds  # the fixture of test_selectors: counts full builds


def test_http_snapshot_reads_of_one_state_build_once(client, game, api_key, snapshot_builds):
    services.score_events_record(game_id=game.pk, events=[event_in("a", "ada", 3)])
    bodies = [client.get(f"/api/games/{game.slug}/snapshot").json() for _ in range(50)]
    assert snapshot_builds == [game.pk]
    assert {b["seq"] for b in bodies} == {1}
    services.score_events_record(game_id=game.pk, events=[event_in("b", "bob", 1)])
    assert client.get(f"/api/games/{game.slug}/snapshot").json()["seq"] == 2
    assert snapshot_builds == [game.pk, game.pk]


@pytest.mark.django_db(transaction=True)
async def test_http_and_websocket_share_one_snapshot_build(game, snapshot_builds):
    body = (await asyncio.to_thread(Client().get, f"/api/games/{game.slug}/snapshot")).json()
    from webgame.asgi import application  # not at import: it would load the consumers for every test here

    comm = WebsocketCommunicator(application, f"/ws/games/{game.slug}/", headers=ORIGIN)
    assert (await comm.connect())[0]
    frame = await comm.receive_json_from(timeout=10)
    await comm.disconnect()
    assert (frame["type"], frame["seq"], frame["leaderboard"]) == ("snapshot", body["seq"], body["leaderboard"])
    assert snapshot_builds == [game.pk]


class ArrivalsLock:
    """A lock that counts who came to take it, so a test can hold a build until all have."""

    def __init__(self) -> None:
        self.lock, self.arrived = threading.Lock(), threading.Semaphore(0)

    def __enter__(self):
        self.arrived.release()
        return self.lock.__enter__()

    def __exit__(self, *exc):
        return self.lock.__exit__(*exc)


@pytest.mark.django_db(transaction=True)
def test_readers_that_find_the_seq_moved_together_wait_for_one_build(game, snapshot_builds, monkeypatch):
    readers = 6
    lock = ArrivalsLock()
    monkeypatch.setattr(selectors, "_snapshot_build_locks", [lock])
    counted, first = selectors.game_snapshot, threading.Event()

    def build_once_all_came(*, game_id):
        if not first.is_set():  # the first build waits until every reader has come for one
            first.set()
            for _ in range(readers):
                assert lock.arrived.acquire(timeout=30), "not every reader reached the build"
        return counted(game_id=game_id)

    monkeypatch.setattr(selectors, "game_snapshot", build_once_all_came)
    seqs: list[int] = []

    def read() -> None:
        try:
            seqs.append(selectors.game_snapshot_shared(game_id=game.pk)["seq"])
        finally:
            connection.close()

    threads = [threading.Thread(target=read) for _ in range(readers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert seqs == [0] * readers
    assert snapshot_builds == [game.pk]


# --- the per-address limit on anonymous reads -------------------------------------------------


@pytest.fixture
def anon_limit(settings):
    settings.API_ANON_READ_RATE = 3
    settings.API_ANON_READ_WINDOW = 60
    return settings


@pytest.fixture
def address() -> str:
    """An address of its own for each test (IPv6 counts per /64): counts live in the session's Valkey."""
    return f"2001:db8:{uuid.uuid4().hex[:4]}:{uuid.uuid4().hex[:4]}::1"


def test_anonymous_reads_over_the_limit_get_429_json_with_retry_after(anon_limit, game, address):
    client = Client(REMOTE_ADDR=address)
    paths = ["/api/games", f"/api/games/{game.slug}/snapshot", f"/api/games/{game.slug}/events"]
    assert [client.get(p).status_code for p in paths] == [200, 200, 200]  # one count for every read
    refused = client.get(f"/api/games/{game.slug}/history")
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert client.get("/api/games/nosuch/snapshot").status_code == 429  # counted before the lookup


def test_reads_with_a_key_or_a_login_are_not_counted(anon_limit, game, api_key, address, django_user_model):
    keyed = Client(REMOTE_ADDR=address, HTTP_AUTHORIZATION=f"Bearer {api_key}")
    assert {keyed.get(f"/api/games/{game.slug}/snapshot").status_code for _ in range(5)} == {200}
    user = django_user_model.objects.create_user("viewer", password="pw-viewer-1")
    logged_in = Client(REMOTE_ADDR=address)
    logged_in.force_login(user)
    assert {logged_in.get(f"/api/games/{game.slug}/events").status_code for _ in range(5)} == {200}
    anonymous = Client(REMOTE_ADDR=address, HTTP_AUTHORIZATION="Bearer wg_not_a_key")  # an invalid key counts
    assert [anonymous.get("/api/games").status_code for _ in range(4)] == [200, 200, 200, 429]


def test_the_limit_counts_per_address(anon_limit, game, address):
    for _ in range(4):
        Client(REMOTE_ADDR=address).get("/api/games")
    assert Client(REMOTE_ADDR=address.replace("::1", "::2")).get("/api/games").status_code == 429  # same /64
    other = f"2001:db8:{uuid.uuid4().hex[:4]}:{uuid.uuid4().hex[:4]}::1"
    assert Client(REMOTE_ADDR=other).get("/api/games").status_code == 200


@pytest.mark.parametrize("behind_proxy", [False, True])
def test_forwarded_for_names_the_address_only_behind_a_proxy(anon_limit, game, address, behind_proxy):
    anon_limit.BEHIND_PROXY = behind_proxy
    proxy = f"2001:db8:{uuid.uuid4().hex[:4]}:{uuid.uuid4().hex[:4]}::9"
    codes = [
        Client(REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR=f"198.51.100.7, {address.replace('::1', f'::{i}')}")
        .get("/api/games")
        .status_code
        for i in range(4)
    ]
    assert codes[-1] == 429  # one client, counted once per request either way
    fresh = f"2001:db8:{uuid.uuid4().hex[:4]}:{uuid.uuid4().hex[:4]}::1"
    answer = Client(REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR=fresh).get("/api/games").status_code
    assert answer == (200 if behind_proxy else 429)  # without a proxy, a client-sent header changes nothing


def test_anonymous_limit_without_redis_fails_open_and_logs_once(anon_limit, game, address, caplog):
    anon_limit.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    client = Client(REMOTE_ADDR=address)
    with caplog.at_level(logging.ERROR, logger="stats.ratelimit"):
        codes = [client.get(f"/api/games/{game.slug}/snapshot").status_code for _ in range(5)]
    assert codes == [200] * 5
    assert len([r for r in caplog.records if "cannot reach Redis" in r.getMessage()]) == 1
    ratelimit.fail_open.ok()


# --- heavy reads bounded below the thread pool (stats.admission) -------------------------------

read_release, read_entered = threading.Event(), threading.Event()
reads_inside: list[str] = []


def slow_read(request, slug):
    reads_inside.append(slug)
    read_entered.set()
    read_release.wait(30)
    return HttpResponse("read")


def quick_post(request, slug):
    return HttpResponse("stored", status=202)


urlpatterns = [
    path("api/games/<slug>/history", slow_read, name="history_get"),
    path("api/games/<slug>/events", quick_post, name="events"),
]


@pytest.fixture
def slow_reads(settings):
    settings.ROOT_URLCONF = __name__
    settings.MIDDLEWARE = ["stats.admission.HeavyReadMiddleware"]
    settings.API_READ_CONCURRENCY = 1
    settings.API_READ_WAIT_MS = 200
    read_release.clear()
    read_entered.clear()
    reads_inside.clear()
    yield
    read_release.set()


@pytest.mark.django_db
async def test_a_post_finds_a_thread_while_reads_fill_their_slots(slow_reads):
    handler = PooledExecutorASGIHandler(threads=2)
    requests = [HttpCommunicator(handler, *call) for call in [("GET", "/api/games/a/history"),
                ("GET", "/api/games/b/history"), ("POST", "/api/games/c/events")]]  # fmt: skip
    first = asyncio.ensure_future(requests[0].get_response(timeout=30))
    assert await asyncio.to_thread(read_entered.wait, 30), "the first read never reached its view"
    second = asyncio.ensure_future(requests[1].get_response(timeout=30))
    # Without the bound the second read would take the other thread, and this POST would wait for a read.
    posted = await requests[2].get_response(timeout=30)
    assert (posted["status"], posted["body"]) == (202, b"stored")
    busy = await second  # no slot within API_READ_WAIT_MS: refused without a thread
    assert busy["status"] == 503
    assert {k.lower(): v for k, v in busy["headers"]}[b"retry-after"] == b"1"
    assert b'"code": "busy"' in busy["body"]
    assert reads_inside == ["a"]
    read_release.set()
    assert (await first)["status"] == 200
    for request in requests:  # each app call ends here, not in the next test's garbage
        await request.wait(timeout=10)

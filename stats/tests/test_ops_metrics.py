"""stats.ops.metrics and /metrics (issue #14): every family in the exposition after it is
exercised; read from a real server process's registry (multiprocess mode, its directory set in
the server's environment by the test), summed over two processes of one machine; the counts
the live code makes (frames, coalescing, drops, gap fills, resyncs, events by path, errors,
the outage gauge, request latency by route); and who may read /metrics."""

import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from types import SimpleNamespace

import pytest
import websockets
from asgiref.sync import sync_to_async
from django.db import DatabaseError, connection
from django.test import Client
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from stats import ratelimit, services
from stats.ingest import committer
from stats.live import consumers, publish, sinks
from stats.live.feed import Feed
from stats.live.jsonsocket import JsonFrameConsumer
from stats.ops import metrics
from stats.tests.feed_support import FrameViewer, events_message, fanout_of, until
from stats.tests.support import ROOT, UvicornProc, database_url, event_in, free_port

WAIT = 20
FAMILIES = [
    "webgame_sockets_open",
    "webgame_feeds",
    "webgame_frames_sent",
    "webgame_frames_coalesced",
    "webgame_runs_coalesced",
    "webgame_frames_dropped",
    "webgame_snapshots_sent",
    "webgame_gap_fills",
    "webgame_events_ingested",
    "webgame_http_request_duration_seconds",
    "webgame_channel_layer_down",
    "webgame_backend_errors",
]
EVENTS_ROUTE = "api/games/<slug:slug>/events"


def value(name: str, **labels) -> float:
    """A sample of this (the test) process's registry; 0 if it has none yet."""
    return REGISTRY.get_sample_value(name, labels) or 0.0


class Delta:
    """How much samples of this process's registry grew while the block ran."""

    def __init__(self, *samples: tuple) -> None:
        self.samples = samples

    def __enter__(self) -> "Delta":
        self.before = [value(name, **labels) for name, labels in self.samples]
        return self

    def __exit__(self, *exc) -> None:
        self.after = [value(name, **labels) for name, labels in self.samples]

    @property
    def grew(self) -> list[float]:
        return [a - b for a, b in zip(self.after, self.before, strict=True)]


# --- against real server processes ---


class MetricsUvicorn(UvicornProc):
    """uvicorn as in the Procfile, its metrics in a multiprocess directory of the test's."""

    def __init__(self, *, multiproc_dir, **kwargs):
        super().__init__(**kwargs)
        self.multiproc_dir = str(multiproc_dir)

    def env(self) -> dict[str, str]:
        return {**super().env(), "PROMETHEUS_MULTIPROC_DIR": self.multiproc_dir}


def server_start(multiproc_dir, valkey) -> MetricsUvicorn:
    return MetricsUvicorn(
        multiproc_dir=multiproc_dir, database_url=database_url(connection.settings_dict), redis_url=valkey.url
    ).start()


def scrape(server) -> dict[tuple, float]:
    """The server's /metrics, parsed: {(sample name, sorted labels): value}."""
    with urllib.request.urlopen(f"{server.url}/metrics", timeout=10) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain; version=")
        text = response.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def sample(scraped: dict, name: str, **labels) -> float | None:
    return scraped.get((name, tuple(sorted(labels.items()))))


def families(scraped: dict) -> set[str]:
    return {name for name, _ in scraped}


async def scrape_until(server, condition) -> dict:
    """Scrape until `condition(scraped)` holds (bounded): gauges follow sockets as they close."""
    deadline = time.monotonic() + WAIT
    while True:
        scraped = await asyncio.to_thread(scrape, server)
        if condition(scraped) or time.monotonic() > deadline:
            return scraped
        await asyncio.sleep(0.1)


async def frames_until(ws, kind: str) -> list[dict]:
    seen = []
    async with asyncio.timeout(WAIT):
        while not seen or seen[-1]["type"] != kind:
            seen.append(json.loads(await ws.recv()))
    return seen


def post_event(server, slug: str, key: str, event_id: str) -> int:
    body = json.dumps({"id": event_id, "player": "ada", "points": 3}).encode()
    request = urllib.request.Request(
        f"{server.url}/api/games/{slug}/events",
        data=body,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status


def game_socket(server, slug: str):
    return websockets.connect(
        f"ws://127.0.0.1:{server.port}/ws/games/{slug}/", origin=f"http://127.0.0.1:{server.port}"
    )


@pytest.mark.django_db(transaction=True)
async def test_a_server_process_exposes_every_family_after_it_is_exercised(game, api_key, valkey, tmp_path):
    server = await asyncio.to_thread(server_start, tmp_path, valkey)
    try:
        lobby_url = f"ws://127.0.0.1:{server.port}/ws/lobby/"
        ingest_url = f"ws://127.0.0.1:{server.port}/ws/ingest/{game.slug}/"
        async with (
            game_socket(server, game.slug) as viewer,
            websockets.connect(lobby_url, origin=f"http://127.0.0.1:{server.port}") as lobby,
            websockets.connect(ingest_url, additional_headers={"Authorization": f"Bearer {api_key}"}) as ingest,
        ):
            await frames_until(viewer, "connection_established")
            await frames_until(lobby, "games")
            assert await asyncio.to_thread(post_event, server, game.slug, api_key, "over-http") == 202
            await ingest.send(
                json.dumps({"type": "events", "ref": 1, "events": [{"id": "over-ws", "player": "bo", "points": 1}]})
            )
            assert (await frames_until(ingest, "ack"))[-1]["accepted"] == 1
            async with asyncio.timeout(WAIT):  # both events reached the viewer, live
                seen = set()
                while seen != {"over-http", "over-ws"}:
                    seen |= {e["id"] for e in (await frames_until(viewer, "events"))[-1]["events"]}
            await frames_until(lobby, "game")  # a lobby frame went out too

            scraped = await asyncio.to_thread(scrape, server)
            missing = [f for f in FAMILIES if not any(n.startswith(f) for n in families(scraped))]
            assert not missing, f"families missing from the server's /metrics: {missing}"
            for kind in ("game", "lobby", "ingest"):
                assert sample(scraped, "webgame_sockets_open", kind=kind) == 1, kind
            assert sample(scraped, "webgame_feeds") == 2  # the game's, and the lobby's (one per process)
            assert sample(scraped, "webgame_snapshots_sent_total", reason="connect") == 1
            assert sample(scraped, "webgame_frames_sent_total", kind="events") >= 1
            assert sample(scraped, "webgame_frames_sent_total", kind="lobby") >= 1
            assert sample(scraped, "webgame_events_ingested_total", path="http") == 1
            assert sample(scraped, "webgame_events_ingested_total", path="socket") == 1
            assert sample(scraped, "webgame_events_ingested_total", path="service") == 0  # not counted twice
            assert sample(scraped, "webgame_channel_layer_down") == 0
            post = {"route": EVENTS_ROUTE, "method": "POST", "status": "2xx"}
            assert sample(scraped, "webgame_http_request_duration_seconds_count", **post) == 1
            assert sample(scraped, "webgame_http_request_duration_seconds_bucket", **post, le="+Inf") == 1
            assert sample(scraped, "webgame_backend_errors_total", backend="database", site="committer") == 0
            # Bounded label sets: no raw path, no slug, in any label.
            assert not [key for key in scraped if any(game.slug in v for _, v in key[1])]

        # The sockets closed: the live gauges follow.
        def all_closed(s):
            return all(sample(s, "webgame_sockets_open", kind=k) == 0 for k in ("game", "lobby", "ingest")) and (
                sample(s, "webgame_feeds") == 0
            )

        assert all_closed(await scrape_until(server, all_closed))
        assert list(tmp_path.glob("counter_*.db")), "the server wrote no multiprocess files"
    finally:
        await asyncio.to_thread(server.stop)
    assert "Traceback" not in server.log(), server.log()[-3000:]


@pytest.mark.django_db(transaction=True)
async def test_two_processes_of_a_machine_are_summed_and_an_exited_one_drops_out(game, valkey, tmp_path):
    first = await asyncio.to_thread(server_start, tmp_path, valkey)
    second = await asyncio.to_thread(server_start, tmp_path, valkey)
    try:
        async with game_socket(first, game.slug) as a, game_socket(second, game.slug) as b:
            await frames_until(a, "connection_established")
            await frames_until(b, "connection_established")

            def both(s):
                return sample(s, "webgame_sockets_open", kind="game") == 2 and sample(s, "webgame_feeds") == 2

            assert both(await scrape_until(first, both))  # one process answers for both
            assert both(await scrape_until(second, both))
            await asyncio.to_thread(second.stop)  # SIGTERM: a normal exit

            def one(s):
                return sample(s, "webgame_sockets_open", kind="game") == 1 and sample(s, "webgame_feeds") == 1

            scraped = await scrape_until(first, one)
            assert one(scraped), {k: v for k, v in scraped.items() if k[0] in ("webgame_sockets_open", "webgame_feeds")}
            # Counters of the exited process still count: a total never goes backwards.
            assert sample(scraped, "webgame_snapshots_sent_total", reason="connect") == 2
    finally:
        await asyncio.to_thread(first.stop)
        await asyncio.to_thread(second.stop)


# --- in this process: the counts the live code makes ---


def test_this_process_exposition_has_every_family():
    text = metrics.exposition().decode()
    assert all(f"# TYPE {family}" in text for family in FAMILIES), text[-2000:]
    assert "_created" not in text  # no timestamp series beside every counter


async def test_a_frame_to_many_sockets_is_counted_once_with_its_sockets_and_a_burst_as_coalesced():
    viewers = [FrameViewer() for _ in range(3)]
    out = fanout_of(*viewers, tick=0.05)
    counted = Delta(
        ("webgame_frames_sent_total", {"kind": "events"}),
        ("webgame_frames_coalesced_total", {}),
        ("webgame_runs_coalesced_total", {}),
        ("webgame_frames_sent_total", {"kind": "other"}),
    )
    with counted:
        await out.events_add(events_message(1))  # idle: out at once, alone
        await out.events_add(events_message(2))
        await out.events_add(events_message(3))  # within the tick: one frame of two runs
        await until(lambda: len(viewers[0].ranges) == 2)
        await out.text_send('{"type":"presence","viewers":3}')
    out.stop()
    assert viewers[0].ranges == [(1, 1), (2, 3)]
    assert counted.grew == [6, 1, 2, 3]  # 2 frames x 3 sockets; 1 coalesced of 2 runs; 1 other x 3


async def test_a_frame_skipped_for_a_lagging_socket_counts_as_dropped(settings):
    settings.WS_MAX_BACKLOG = 100
    sink = SimpleNamespace(backlog=lambda: 1000)
    sender = sinks.BoundedSender(sink)
    resyncs = []

    async def resync():
        resyncs.append(1)

    with Delta(("webgame_frames_dropped_total", {})) as dropped:
        assert sender.should_skip(resync) and sender.should_skip(resync)
    sender.cancel()
    assert dropped.grew == [2]


class StubReads:
    def __init__(self, run=None, fails: bool = False) -> None:
        self.game_id, self.run, self.fails = 1, run, fails

    async def replay(self, *, after_seq: int):
        if self.fails:
            raise DatabaseError("the database is gone")
        return self.run


def bare_feed(reads: StubReads) -> Feed:
    feed = Feed.__new__(Feed)  # no subscription task: only the gap read is exercised
    feed.group, feed.reads = publish.game_group(900_021), reads
    return feed


async def test_a_feed_gap_read_counts_as_a_fill_and_its_failure_as_a_database_error():
    run = SimpleNamespace(events=[{"seq": 2}], players=[], game={"last_seq": 2}, teams=[])
    counted = Delta(
        ("webgame_gap_fills_total", {"by": "feed"}),
        ("webgame_backend_errors_total", {"backend": "database", "site": "feed_gap_read"}),
    )
    with counted:
        assert await bare_feed(StubReads(run)).gap_read(after_seq=1) is not None
        assert await bare_feed(StubReads(fails=True)).gap_read(after_seq=1) is None
    assert counted.grew == [1, 1]


def bare_game_consumer(reads: StubReads) -> consumers.GameConsumer:
    consumer = consumers.GameConsumer.__new__(consumers.GameConsumer)
    consumer.slug, consumer.sent_seq, consumer.feed = "metrics", 0, SimpleNamespace(reads=reads)
    consumer.sent, consumer.snapshots = [], []

    async def send_snapshot():
        consumer.snapshots.append(1)

    async def send(text_data=None, **kwargs):
        consumer.sent.append(text_data)

    consumer.send_snapshot, consumer.send = send_snapshot, send
    return consumer


async def test_a_socket_gap_fill_counts_and_a_snapshot_after_connect_counts_as_a_resync():
    replay = SimpleNamespace(events=[{"seq": 1}], players=[], game={"last_seq": 1}, teams=[], last_seq=1)
    counted = Delta(
        ("webgame_gap_fills_total", {"by": "socket"}),
        ("webgame_snapshots_sent_total", {"reason": "resync"}),
    )
    with counted:
        filled = bare_game_consumer(StubReads(replay))
        await filled.send_fill()  # a replay: a fill, no snapshot
        too_far = bare_game_consumer(StubReads(None))
        await too_far.send_fill()  # too much missed: a fill answered by a snapshot
    assert filled.sent and not filled.snapshots and too_far.snapshots == [1]
    assert counted.grew == [2, 1]


async def test_database_failures_caught_by_the_sockets_are_counted():
    site = "webgame_backend_errors_total"
    counted = Delta(
        (site, {"backend": "database", "site": "socket_connect"}),
        (site, {"backend": "database", "site": "socket_frame"}),
        (site, {"backend": "database", "site": "gap_fill"}),
    )

    class Failing(JsonFrameConsumer):
        handlers = {"read": "on_read"}

        async def on_read(self, content):
            raise DatabaseError("the database is gone")

    framed = Failing.__new__(Failing)
    answers = []

    async def send_json(content, close=False):
        answers.append(content)

    async def close(code=None, reason=None):
        answers.append({"closed": code})

    async def from_database(read, *args):
        raise DatabaseError("the database is gone")

    framed.send_json = send_json
    connecting = bare_game_consumer(StubReads())
    connecting.send_json, connecting.close = send_json, close
    filling = bare_game_consumer(StubReads())
    filling.send_json, filling.close, filling.from_database = send_json, close, from_database
    filling.joined, filling.held = True, []
    with counted:
        await framed.receive_json({"type": "read"})
        await connecting.refuse_unavailable(DatabaseError("the database is gone"))
        await filling.resync_background()
    assert counted.grew == [1, 1, 1]
    assert [a.get("code") for a in answers if "code" in a] == ["unavailable", "unavailable"]


def test_a_rate_limiter_failing_open_is_a_redis_error(settings):
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    site = ("webgame_backend_errors_total", {"backend": "redis", "site": "ratelimit"})
    try:
        with Delta(site) as counted:
            assert ratelimit.api_key_retry_after(key_prefix="metrics") is None  # failed open
    finally:
        ratelimit.fail_open.down = False
    assert counted.grew == [1]


def test_a_channel_layer_outage_sets_the_gauge_until_it_is_over(caplog):
    errors = ("webgame_backend_errors_total", {"backend": "redis", "site": "channel_layer"})
    with Delta(errors) as counted:
        publish.outage.failed(ConnectionError("refused"))
        publish.outage.failed(ConnectionError("refused"))
        assert value("webgame_channel_layer_down") == 1
        publish.outage.ok()
    assert value("webgame_channel_layer_down") == 0
    assert counted.grew == [2]


async def test_a_group_commit_that_fails_as_a_whole_is_a_database_error(monkeypatch, settings):
    settings.GROUP_COMMIT_TICK_MS = 0

    def failing(**kwargs):
        raise DatabaseError("the database is gone")

    monkeypatch.setattr(committer, "batches_record", failing)
    site = ("webgame_backend_errors_total", {"backend": "database", "site": "committer"})
    with Delta(site) as counted:
        with pytest.raises(DatabaseError):
            await asyncio.wait_for(committer.Committer(game_id=1).submit_async([event_in("lost")]), 20)
    assert counted.grew == [1]


@pytest.mark.django_db
def test_events_are_counted_once_by_the_way_they_came_in(game, api_key):
    paths = [("webgame_events_ingested_total", {"path": p}) for p in ("http", "socket", "service")]
    with Delta(*paths) as direct:
        services.score_events_record(game_id=game.pk, events=[event_in("admin-1"), event_in("admin-2")])
        services.score_events_record(game_id=game.pk, events=[event_in("admin-1")])  # a duplicate: not counted
    assert direct.grew == [0, 0, 2]
    with Delta(*paths) as posted:  # the test client: no server loop, so the POST writes through the service
        response = Client().post(
            f"/api/games/{game.slug}/events",
            {"id": "http-1", "player": "ada", "points": 1},
            content_type="application/json",
            headers={"authorization": f"Bearer {api_key}"},
        )
    assert response.status_code == 202
    assert posted.grew == [1, 0, 0]


@pytest.mark.django_db
def test_request_latency_is_labelled_by_route_not_by_path(game):
    snapshot = {"route": "api/games/<slug:slug>/snapshot", "method": "GET", "status": "2xx"}
    unmatched = {"route": "(unmatched)", "method": "GET", "status": "4xx"}
    name = "webgame_http_request_duration_seconds_count"
    with Delta((name, snapshot), (name, unmatched)) as counted:
        client = Client()
        assert client.get(f"/api/games/{game.slug}/snapshot").status_code == 200
        assert client.get("/no-such-page/at-all").status_code == 404
    assert counted.grew == [1, 1]


# --- who may read /metrics ---


@pytest.mark.parametrize(
    ("remote", "networks", "allowed"),
    [
        ("127.0.0.1", None, True),
        ("::1", None, True),
        ("::ffff:127.0.0.1", None, True),
        ("203.0.113.5", None, False),
        ("10.1.2.3", ["10.0.0.0/8"], True),
        ("127.0.0.1", ["10.0.0.0/8"], False),
        ("127.0.0.1", [], False),
    ],
)
def test_metrics_are_refused_outside_the_allowed_networks(settings, remote, networks, allowed):
    if networks is not None:
        settings.METRICS_ALLOWED_NETWORKS = networks
    response = Client(REMOTE_ADDR=remote).get("/metrics")
    if allowed:
        assert response.status_code == 200 and b"# TYPE webgame_sockets_open gauge" in response.content
    else:
        assert response.status_code == 403
        assert response["Content-Type"] == "application/json"
        assert response.json()["error"]["code"] == "forbidden"


def test_the_token_opens_metrics_from_anywhere_and_a_wrong_one_does_not(settings):
    settings.METRICS_TOKEN = "scrape-me"
    outside = Client(REMOTE_ADDR="203.0.113.5")
    assert outside.get("/metrics", headers={"authorization": "Bearer scrape-me"}).status_code == 200
    assert outside.get("/metrics", headers={"authorization": "Bearer wrong"}).status_code == 403
    assert outside.get("/metrics", headers={"authorization": "scrape-me"}).status_code == 403
    assert outside.get("/metrics").status_code == 403
    settings.METRICS_TOKEN = ""  # no token configured: no token opens it
    assert outside.get("/metrics", headers={"authorization": "Bearer "}).status_code == 403


def test_behind_a_proxy_the_forwarded_address_counts_not_the_proxys(settings):
    """Behind a proxy on the same machine every request comes from 127.0.0.1: with
    BEHIND_PROXY the address the proxy saw decides, so /metrics is not open to the world."""
    settings.BEHIND_PROXY = True
    via_proxy = Client(REMOTE_ADDR="127.0.0.1")
    assert via_proxy.get("/metrics", headers={"x-forwarded-for": "203.0.113.5"}).status_code == 403
    assert via_proxy.get("/metrics", headers={"x-forwarded-for": "203.0.113.5, 127.0.0.1"}).status_code == 200


def test_metrics_answer_only_reads():
    response = Client().post("/metrics")
    assert response.status_code == 405


def test_a_bad_network_setting_is_refused_at_start():
    run = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "webgame.test_settings",
            "METRICS_ALLOWED_NETWORKS": "10.0.0.0/33",
        },
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode != 0 and "METRICS_ALLOWED_NETWORKS" in run.stderr


async def test_metrics_calls_are_safe_from_sync_threads():
    """The request middleware observes from Django's sync threads while the loop counts frames."""
    await asyncio.gather(*[sync_to_async(metrics.request_observe, thread_sensitive=False)("x", "GET", 200, 0.001)
                           for _ in range(20)])  # fmt: skip
    assert value("webgame_http_request_duration_seconds_count", route="x", method="GET", status="2xx") >= 20

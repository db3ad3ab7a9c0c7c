"""The churn run: 100 viewers join and leave all the time (visits of 1-5 s; 30 % vanish without a
close frame, some send a resume without `after_seq` and close at once) while ~50 events/s are
posted over the HTTP API. The web process must log no traceback and no ERROR line, the viewers
still connected at the end must show the database's state, and its memory is measured.

Runs with `make chaos` (WEBGAME_CHAOS=1), against daphne or, with WEBGAME_CHAOS_SERVER=uvicorn,
uvicorn; about 75 s. Figures go to .run/reliability.json for docs/reliability.md."""

import itertools
import json
import os
import time
from collections import Counter

import pytest
import websockets.sync.client
from django.db import connection

from stats import services
from stats.tests.chaos import ChurnViewer, Poster, ViewerPool, origin_of, viewers_converged
from stats.tests.figures import figures_record
from stats.tests.games import game_make
from stats.tests.support import (
    database_url,
    error_lines,
    rss_kib,
    tracebacks_group,
    tracebacks_report,
    web_proc_class,
)

pytestmark = [
    pytest.mark.skipif(os.environ.get("WEBGAME_CHAOS") != "1", reason="the churn run is `make chaos`"),
    pytest.mark.timeout(240),
]
VIEWERS, CHURN_SECONDS, RATE, BATCH = 100, 60, 50, 5  # 5 events a request: 10 requests/s, under the key's limit
CONVERGE_SECONDS = 30


def warm_up(web, ws_url: str, poster: Poster) -> None:
    """A few visits and one post, so that the memory measured before the churn already holds
    what the first requests load once (modules, connections, caches)."""
    for _ in range(10):
        with websockets.sync.client.connect(ws_url, origin=origin_of(ws_url), open_timeout=10) as ws:
            assert json.loads(ws.recv(timeout=10))["type"] == "snapshot"
    status, _, _ = poster.send(json.dumps({"events": [{"id": "warm-up", "player": "p0", "points": 1}]}).encode())
    assert status == 202, status


def test_viewers_coming_and_going_leave_no_traceback_and_the_rest_converge(transactional_db, valkey):
    game = game_make(prefix="churn", name="Churn")
    key = services.api_key_create(game=game, name="churn")[1]
    web = web_proc_class()(database_url=database_url(connection.settings_dict), redis_url=valkey.url).start()
    ws_url = f"ws://127.0.0.1:{web.port}/ws/games/{game.slug}/"
    poster = Poster(url=web.url, slug=game.slug, key=key, events=RATE * CHURN_SECONDS, rate=RATE, batch=BATCH)
    seeds = itertools.count(1)
    pool = ViewerPool(
        url=ws_url, count=VIEWERS, viewer=lambda url: ChurnViewer(url, seed=next(seeds), churn_seconds=CHURN_SECONDS)
    )
    converged_at = stayers = None
    try:
        warm_up(web, ws_url, poster)
        time.sleep(1)
        web_log_start = len(web.log())
        rss_before = rss_peak = rss_kib(web.popen.pid)
        start = time.monotonic()
        pool.start()
        poster.start()
        while time.monotonic() < start + CHURN_SECONDS + 2 or poster.is_alive():
            assert time.monotonic() < start + CHURN_SECONDS * 3, "the poster did not finish"
            assert pool.thread.is_alive(), f"the viewers stopped early: {pool.error!r}"
            rss_peak = max(rss_peak, rss_kib(web.popen.pid))
            time.sleep(1)
        settled_from = time.monotonic()
        stayers = [v for v in pool.viewers if v.connected]
        while time.monotonic() < settled_from + CONVERGE_SECONDS:
            if viewers_converged([v for v in stayers if v.connected], game.pk):
                converged_at = time.monotonic()
                break
            time.sleep(0.1)
        still_connected = sum(v.connected for v in stayers)
        pool.stop(grace=15)
        time.sleep(3)  # the server handles the last disconnects
        rss_after = rss_kib(web.popen.pid)
        web_alive = web.popen.poll() is None
        web_log = web.log()[web_log_start:]
    finally:
        pool.stop()
        web.stop()

    connections = sum(v.connections for v in pool.viewers)
    figures = {
        "server": web.server,
        "viewers": VIEWERS,
        "churn_seconds": CHURN_SECONDS,
        "connections": connections,
        "exits": dict(sum((v.exits for v in pool.viewers), Counter())),
        "closed_by_server": {str(k): n for k, n in sum((v.closed_by_server for v in pool.viewers), Counter()).items()},
        "connect_failures": dict(sum((v.connect_failures for v in pool.viewers), Counter())),
        "events_sent": poster.events,
        "events_acknowledged": len(poster.acked),
        "post_answers": dict(poster.statuses),
        "stayers": len(stayers),
        "stayers_connected_at_the_end": still_connected,
        "convergence_s": None if converged_at is None else round(converged_at - settled_from, 2),
        "rss_before_kib": rss_before,
        "rss_peak_kib": rss_peak,
        "rss_after_kib": rss_after,
        "rss_growth_kib_per_1000_connections": round((rss_after - rss_before) * 1000 / max(connections, 1), 1),
        "web_tracebacks": web_log.count("Traceback"),
        "web_traceback_kinds": {kind: n for kind, n, _ in tracebacks_group(web_log)},
        "web_error_lines": len(error_lines(web_log)),
        "web_alive_at_end": web_alive,
    }
    suffix = "" if web.server == "daphne" else f"_{web.server}"
    figures_record(f"churn_{connection.vendor}{suffix}", **figures)
    print(json.dumps(figures, indent=2))

    assert pool.error is None, f"a viewer client of the test crashed: {pool.error!r}"
    assert web_alive
    assert len(poster.acked) == poster.events
    assert (figures["web_tracebacks"], figures["web_error_lines"]) == (0, 0), tracebacks_report(web_log)
    assert still_connected >= VIEWERS // 2, f"only {still_connected} viewers were still connected at the end"
    assert converged_at is not None, f"the viewers still connected did not converge within {CONVERGE_SECONDS} s"

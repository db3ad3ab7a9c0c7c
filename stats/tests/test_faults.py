"""The chaos run: 10,000 events at ~200/s, 20 dashboard-like viewers, while Redis is killed 5
times, the Celery worker 5 times (SIGKILL) and the web process 3 times. Nothing may be lost or
doubled, and every viewer must end on the database's state.

Runs with `make chaos` (WEBGAME_CHAOS=1); about two minutes. The web server is daphne, or
uvicorn with WEBGAME_CHAOS_SERVER=uvicorn. Figures go to .run/reliability.json for
docs/reliability.md. The test of the log report below runs in every `make test`."""

import os
import threading
import time

import pytest
from django.db import connection
from django.db.models import Sum

from stats import services
from stats.models import Player, Rollup, RollupCursor, ScoreEvent
from stats.tests.chaos import Poster, ViewerPool, viewers_converged
from stats.tests.figures import figures_record
from stats.tests.games import game_make
from stats.tests.support import (
    CeleryProc,
    ValkeyProc,
    database_url,
    tracebacks_group,
    tracebacks_report,
    web_proc_class,
)

chaos_only = pytest.mark.skipif(os.environ.get("WEBGAME_CHAOS") != "1", reason="the chaos run is `make chaos`")
EVENTS, RATE, BATCH, VIEWERS = 10_000, 200, 20, 20
FAULTS = [
    "redis",
    "worker",
    "web",
    "redis",
    "worker",
    "redis",
    "web",
    "worker",
    "redis",
    "worker",
    "web",
    "redis",
    "worker",
]


def db_connections() -> int | None:
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")
        return cursor.fetchone()[0]


def rollups_enqueue(app, url: str, game_id: int, stop: threading.Event) -> None:
    """Beat's job, every half second; the broker may be down, then the next tick tries again."""
    while not stop.wait(0.5):
        try:
            with app.connection_for_write(url) as conn:
                app.send_task(
                    "stats.tasks.game_rollup", args=[game_id], connection=conn, retry_policy={"max_retries": 0}
                )
        except Exception:  # noqa: BLE001 - Redis is down on purpose
            pass


def faults_inject(procs: dict, schedule: list[tuple[float, str]], start: float, log: list) -> None:
    for at, kind in schedule:
        time.sleep(max(0.0, start + at - time.monotonic()))
        proc = procs[kind]
        if kind == "redis":
            proc.kill()
            time.sleep(1.5)  # an outage, not a blip
            proc.start()
        elif kind == "web":
            proc.kill()
            proc.start()
        else:
            proc.kill()
            time.sleep(0.5)
            proc.start()
        log.append((kind, time.monotonic()))


@chaos_only
@pytest.mark.timeout(400)
def test_nothing_lost_or_doubled_and_viewers_converge_under_faults(transactional_db):
    from worker import app

    game = game_make(prefix="chaos", name="Chaos")
    key = services.api_key_create(game=game, name="chaos")[1]
    baseline_connections = db_connections()
    valkey = ValkeyProc().start()
    db_url = database_url(connection.settings_dict)
    web = web_proc_class()(database_url=db_url, redis_url=valkey.url).start()
    worker = CeleryProc(database_url=db_url, redis_url=valkey.url).start()
    web_log_start = len(web.log())
    poster = Poster(url=web.url, slug=game.slug, key=key, events=EVENTS, rate=RATE, batch=BATCH)
    pool = ViewerPool(url=f"ws://127.0.0.1:{web.port}/ws/games/{game.slug}/", count=VIEWERS)
    stop = threading.Event()
    enqueuer = threading.Thread(target=rollups_enqueue, args=(app, valkey.url, game.pk, stop), daemon=True)
    fault_log: list[tuple[str, float]] = []
    spacing = (EVENTS / RATE - 8) / len(FAULTS)
    schedule = [(3 + i * spacing, kind) for i, kind in enumerate(FAULTS)]
    start = time.monotonic()
    try:
        pool.start()
        time.sleep(1)
        enqueuer.start()
        poster.start()
        faults_inject({"redis": valkey, "web": web, "worker": worker}, schedule, start, fault_log)
        poster.join(timeout=EVENTS / RATE * 3)
        assert not poster.is_alive(), "the poster did not finish"
        settled_from = max(fault_log[-1][1], poster.finished_at)
        converged_at = None
        while time.monotonic() < settled_from + 30:
            if viewers_converged(pool.viewers, game.pk):
                converged_at = time.monotonic()
                break
            time.sleep(0.1)
        stop.set()
        rollups_done = RollupCursor.objects.filter(game=game).values_list("seq", flat=True).first()
        deadline = time.monotonic() + 30
        while rollups_done != EVENTS and time.monotonic() < deadline:
            app.send_task("stats.tasks.game_rollup", args=[game.pk], connection=app.connection_for_write(valkey.url))
            time.sleep(1)
            rollups_done = RollupCursor.objects.filter(game=game).values_list("seq", flat=True).first()
        web_alive, worker_alive = web.popen.poll() is None, worker.popen.poll() is None
        web_log = web.log()[web_log_start:]
    finally:
        stop.set()
        pool.stop()
        worker.stop()
        web.stop()
        valkey.stop()
    after_connections = db_connections()
    deadline = time.monotonic() + 10
    while after_connections is not None and after_connections > baseline_connections and time.monotonic() < deadline:
        time.sleep(0.5)
        after_connections = db_connections()

    game.refresh_from_db()
    stored = ScoreEvent.objects.filter(game=game)
    distinct = stored.values("event_id").distinct().count()
    expected_points = sum(poster.points.values())
    player_totals = Player.objects.filter(game=game).aggregate(s=Sum("total"))["s"]
    rollup_events = Rollup.objects.filter(game=game).aggregate(s=Sum("events"))["s"]
    figures = {
        "server": web.server,
        "events_sent": EVENTS,
        "events_acknowledged": len(poster.acked),
        "accepted_field_sum": poster.accepted_sum,
        "duplicates_reported": poster.duplicates_sum,
        "stored": stored.count(),
        "stored_distinct": distinct,
        "lost": EVENTS - distinct,
        "doubled": stored.count() - distinct,
        "points_expected": expected_points,
        "points_in_totals": player_totals,
        "retries": poster.retries,
        "answers": poster.statuses,
        "faults": {kind: sum(1 for k, _ in fault_log if k == kind) for kind in ("redis", "worker", "web")},
        "viewers": VIEWERS,
        "viewer_reconnects": pool.reconnects(),
        "viewer_resumes": pool.resumes(),
        "convergence_s": None if converged_at is None else round(converged_at - settled_from, 2),
        "stream_seconds": round(poster.finished_at - start, 1),
        "rollup_events": rollup_events,
        "db_connections_baseline": baseline_connections,
        "db_connections_after": after_connections,
        "web_tracebacks": web_log.count("Traceback"),
        "web_layer_errors_logged": web_log.count("channel layer unreachable"),
        "processes_alive_at_end": web_alive and worker_alive,
    }
    figures_record(f"chaos_{connection.vendor}" + ("" if web.server == "daphne" else f"_{web.server}"), **figures)
    print(figures)
    assert pool.error is None, f"a viewer client of the test crashed: {pool.error!r}"
    assert figures["faults"] == {"redis": 5, "worker": 5, "web": 3}
    assert len(poster.acked) == EVENTS
    assert (figures["lost"], figures["doubled"]) == (0, 0)
    assert game.event_count == game.last_seq == EVENTS
    assert player_totals == game.points_total == expected_points
    assert converged_at is not None, "viewers did not reach the database's state within 30 s"
    assert rollup_events == EVENTS  # Celery folded every event exactly once despite SIGKILLs
    assert figures["processes_alive_at_end"]
    assert figures["web_tracebacks"] == 0, tracebacks_report(web_log)
    if baseline_connections is not None:
        assert after_connections <= baseline_connections


CANNED_LOG = """\
2026-11-30 08:43:12,108 INFO daphne.server: Listening on TCP address 127.0.0.1:59703
127.0.0.1:32838 - - [30/Nov/2026:08:43:14] "WSCONNECT /ws/games/arena/" - -
2026-11-30 08:43:15,001 ERROR daphne.server: Exception inside application: send after close
Traceback (most recent call last):
  File "/app/stats/consumers.py", line 200, in frame_send
    await self.wire_send(frame.asgi)
RuntimeError: Unexpected ASGI message 'websocket.send' on <Socket at 0x7f00aa>
2026-11-30 08:43:15,002 INFO stats.broadcast: pushed
2026-11-30 08:43:16,001 ERROR daphne.server: Exception inside application: send after close
Traceback (most recent call last):
  File "/app/stats/consumers.py", line 201, in frame_send
    await self.wire_send(frame.asgi)
RuntimeError: Unexpected ASGI message 'websocket.send' on <Socket at 0x7f00bb>
2026-11-30 08:43:17,001 ERROR asyncio: Task exception was never retrieved
future: <Task finished name='Task-9' coro=<GameConsumer.resync_background() done>>
Traceback (most recent call last):
  File "/app/stats/selectors.py", line 10, in game_events_after
    raise OSError("database down")
OSError: database down

The above exception was the direct cause of the following exception:

Traceback (most recent call last):
  File "/app/stats/consumers.py", line 240, in resync_background
    await self.close(code=1011)
ValueError: Invalid close code 1011
Unhandled error in Deferred:
Traceback (most recent call last):
  File "/venv/twisted/internet/defer.py", line 1, in run
    result = f()
--- <exception caught here> ---
  File "/venv/daphne/server.py", line 2, in check
    raise ValueError("Invalid close code 1011")
builtins.ValueError: Invalid close code 1011
127.0.0.1:32838 - - [30/Nov/2026:08:43:18] "WSDISCONNECT /ws/games/arena/" - -
2026-11-30 08:43:19,001 ERROR stats.consumers: a line with no traceback
"""


def test_the_log_report_shows_the_first_traceback_of_each_kind_with_counts():
    groups = tracebacks_group(CANNED_LOG)
    assert [(kind, n) for kind, n, _ in groups] == [
        ("RuntimeError: Unexpected ASGI message 'websocket.send' on <Socket at 0x...>", 2),
        ("ValueError: Invalid close code 1011", 1),  # a chain counts once, by its last exception
        ("builtins.ValueError: Invalid close code 1011", 1),
    ]
    first = groups[0][2]
    assert first.startswith("2026-11-30 08:43:15,001 ERROR daphne.server: Exception inside application")
    assert "line 200" in first and "line 201" not in first and first.endswith("0x7f00aa>")
    chain = groups[1][2]
    assert chain.startswith("2026-11-30 08:43:17,001 ERROR asyncio: Task exception was never retrieved\nfuture:")
    assert "OSError: database down" in chain
    assert chain.endswith("ValueError: Invalid close code 1011")
    assert "--- <exception caught here> ---" in groups[2][2]

    report = tracebacks_report(CANNED_LOG)
    assert report.splitlines()[0] == "4 traceback(s) of 3 kind(s); 4 ERROR line(s)"
    assert "     2 x RuntimeError: Unexpected ASGI message" in report
    assert report.count("Traceback (most recent call last):") == 4  # one per kind, the chain's two
    assert report.endswith("2026-11-30 08:43:19,001 ERROR stats.consumers: a line with no traceback")
    assert tracebacks_report("INFO all quiet\n").splitlines() == ["0 traceback(s) of 0 kind(s); 0 ERROR line(s)"]

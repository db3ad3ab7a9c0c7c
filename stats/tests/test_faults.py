"""The chaos run: 10,000 events at ~200/s, 20 dashboard-like viewers, while Redis is killed 5
times, the Celery worker 5 times (SIGKILL) and the web process 3 times. Nothing may be lost or
doubled, and every viewer must end on the database's state.

Runs with `make chaos` (WEBGAME_CHAOS=1); about two minutes. Figures go to
.run/reliability.json for docs/reliability.md."""

import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from django.db import connection
from django.db.models import Sum

from stats import selectors, services
from stats.models import Player, Rollup, RollupCursor, ScoreEvent
from stats.tests.chaos import Poster, ViewerPool
from stats.tests.figures import figures_record
from stats.tests.support import ROOT, DaphneProc, ValkeyProc, database_url

pytestmark = [
    pytest.mark.skipif(os.environ.get("WEBGAME_CHAOS") != "1", reason="the chaos run is `make chaos`"),
    pytest.mark.timeout(400),
]
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


class CeleryProc:
    """A real worker process (solo pool) that the test may SIGKILL and start again."""

    def __init__(self, *, database_url: str, redis_url: str):
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "webgame.test_settings",
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "CELERY_BROKER_URL": redis_url,
            "CONN_MAX_AGE": "0",
        }
        self.log_path = ROOT / ".run" / "test-chaos-worker.log"
        self.popen: subprocess.Popen | None = None

    def start(self) -> "CeleryProc":
        with open(self.log_path, "ab") as log:
            self.popen = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "worker",
                    "worker",
                    "--pool",
                    "solo",
                    "--loglevel",
                    "WARNING",
                    "--without-heartbeat",
                    "--without-mingle",
                    "--without-gossip",
                ],
                env=self.env,
                cwd=ROOT,
                stdout=log,
                stderr=log,
            )
        return self

    def kill(self) -> None:
        if self.popen is not None:
            self.popen.send_signal(signal.SIGKILL)
            self.popen.wait()

    def stop(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


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


def viewers_converged(pool: ViewerPool, game_id: int) -> bool:
    snapshot = selectors.game_snapshot(game_id=game_id)
    want = {row["player"]: row["total"] for row in snapshot["leaderboard"]}
    return all(v.matches(snapshot["seq"], snapshot["game"], want) for v in pool.viewers)


def test_nothing_lost_or_doubled_and_viewers_converge_under_faults(transactional_db):
    from worker import app

    game = services.game_create(slug="chaos", name="Chaos")
    key = services.api_key_create(game=game, name="chaos")[1]
    baseline_connections = db_connections()
    valkey = ValkeyProc().start()
    db_url = database_url(connection.settings_dict)
    web = DaphneProc(database_url=db_url, redis_url=valkey.url).start()
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
            if viewers_converged(pool, game.pk):
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
    figures_record(f"chaos_{connection.vendor}", **figures)
    print(figures)
    assert figures["faults"] == {"redis": 5, "worker": 5, "web": 3}
    assert len(poster.acked) == EVENTS
    assert (figures["lost"], figures["doubled"]) == (0, 0)
    assert game.event_count == game.last_seq == EVENTS
    assert player_totals == game.points_total == expected_points
    assert converged_at is not None, "viewers did not reach the database's state within 30 s"
    assert rollup_events == EVENTS  # Celery folded every event exactly once despite SIGKILLs
    assert figures["processes_alive_at_end"]
    assert figures["web_tracebacks"] == 0, web_log[-3000:]
    if baseline_connections is not None:
        assert after_connections <= baseline_connections

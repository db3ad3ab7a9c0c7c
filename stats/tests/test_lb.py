"""The load-balancer run (issue #14): Debian's HAProxy with deploy/haproxy.cfg in front of two
uvicorn processes, on one Valkey and the test database. 20 dashboard-like viewers and a game
server that retries each batch with the same ids both go through HAProxy. A third of the way
into 4,000 events, one web process (with viewers) is frozen (SIGSTOP) until a POST waits on
it, then SIGKILLed. Nothing may be lost or doubled, the game server must not see the kill,
every viewer must come back through the balancer to the other process and show the
database's state, and neither web log may hold a traceback.

No Celery worker: a posted event is stored by the web process that takes the POST and pushed
after its commit (the rollups are test_faults'). Runs with `make chaos` (WEBGAME_CHAOS=1),
which installs HAProxy if it is missing (scripts/ensure_haproxy.sh); about 30 s. Figures go
to .run/reliability.json (section lb_<database>) for docs/reliability.md."""

import os
import signal
import time

import pytest
from django.db import connection
from django.db.models import Sum

from stats import services
from stats.models import Player, ScoreEvent
from stats.tests.balancer import (
    balanced_stack,
    game_sockets,
    haproxy_ensure,
    haproxy_log_summary,
    http_get,
    oversized_post_status,
)
from stats.tests.chaos import Poster, ViewerPool, viewers_converged
from stats.tests.figures import figures_record
from stats.tests.games import game_make
from stats.tests.support import database_url, error_lines, tracebacks_report

pytestmark = [
    pytest.mark.skipif(os.environ.get("WEBGAME_CHAOS") != "1", reason="the balancer run is `make chaos`"),
    pytest.mark.timeout(300),
]
EVENTS, RATE, BATCH, VIEWERS = 4_000, 200, 20, 20  # 10 POSTs/s: under the key's 1,200 a minute
KILL_AT_ACKED = EVENTS // 3
SETTLE_SECONDS = 30  # the bound on each wait: viewers spread, back on the survivor, converged
STUCK_SECONDS = 1.0  # a POST waiting this long is on the frozen process (else: 5-50 ms)


@pytest.fixture(scope="module")
def haproxy():
    haproxy_ensure()


class WatchedPoster(Poster):
    """A Poster that shows since when its current request has been waiting for an answer."""

    in_flight_since: float | None = None

    def send(self, body: bytes) -> tuple[int, dict, str | None]:
        self.in_flight_since = time.monotonic()
        try:
            return super().send(body)
        finally:
            self.in_flight_since = None


def wait_for(condition, seconds: float, step: float = 0.1) -> float | None:
    """When `condition()` first held (time.monotonic()), or None if it did not within `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        if condition():
            return time.monotonic()
        if time.monotonic() >= deadline:
            return None
        time.sleep(step)


def spread_wait(pool: ViewerPool, webs) -> list[int]:
    """Every viewer connected through the balancer and given its snapshot; how many each web
    process holds (from its own /metrics)."""

    def all_in() -> bool:
        return all(v.game for v in pool.viewers) and sum(game_sockets(w.port) for w in webs) == VIEWERS

    assert wait_for(all_in, SETTLE_SECONDS), f"not all viewers connected: {[game_sockets(w.port) for w in webs]}"
    return [game_sockets(w.port) for w in webs]


def kill_mid_stream(pool: ViewerPool, poster: Poster, webs, game_id: int) -> dict:
    """Start the stream; a third of the way in, freeze a web process until a POST waits on it,
    then SIGKILL it. Time how long its viewers take to be back on the other one, and, from the
    kill or the last ack (the later), how long all viewers take to show the database's state."""
    spread = spread_wait(pool, webs)
    # The one leastconn sends the next POST to: fewer viewers (web1 on a tie, HAProxy's order).
    victim = min(range(len(webs)), key=lambda i: spread[i])
    survivor = webs[1 - victim]
    start = time.monotonic()
    poster.start()
    assert wait_for(lambda: len(poster.acked) >= KILL_AT_ACKED, EVENTS / RATE * 3), "the stream stalled"
    acked_at_kill = len(poster.acked)
    # Frozen first, so that a POST is waiting on it when it dies: the balancer must retry that
    # request elsewhere (or the poster, with the same ids) without storing it twice.
    webs[victim].popen.send_signal(signal.SIGSTOP)
    frozen_at = time.monotonic()
    stuck_at = wait_for(lambda: time.monotonic() - (poster.in_flight_since or time.monotonic()) > STUCK_SECONDS, 10)
    assert stuck_at, "no POST went to the frozen web process"
    killed_at = time.monotonic()
    webs[victim].kill()
    back_at = wait_for(lambda: game_sockets(survivor.port) == VIEWERS, SETTLE_SECONDS)
    # While the stream goes on: the first moment every viewer shows the database's state again.
    caught_up_at = wait_for(lambda: viewers_converged(pool.viewers, game_id), SETTLE_SECONDS)
    poster.join(timeout=EVENTS / RATE * 3)
    assert not poster.is_alive(), "the poster did not finish"
    settled_from = max(killed_at, poster.finished_at)
    converged_at = wait_for(lambda: viewers_converged(pool.viewers, game_id), SETTLE_SECONDS)
    return {
        "viewers_per_process_before": spread,
        "killed": f"web{victim + 1}",
        "acked_at_kill": acked_at_kill,
        "frozen_before_kill_s": round(killed_at - frozen_at, 2),
        "reconnect_s": None if back_at is None else round(back_at - killed_at, 2),
        "caught_up_s": None if caught_up_at is None else round(caught_up_at - killed_at, 2),
        "convergence_s": None if converged_at is None else round(converged_at - settled_from, 2),
        "convergence_from": "kill" if killed_at >= poster.finished_at else "last ack",
        "survivor_sockets_at_end": game_sockets(survivor.port),
        "survivor_alive": survivor.popen is not None and survivor.popen.poll() is None,
        "stream_seconds": round(poster.finished_at - start, 1),
    }


def stored_figures(game, poster: Poster) -> dict:
    game.refresh_from_db()
    stored = ScoreEvent.objects.filter(game=game)
    count, distinct = stored.count(), stored.values("event_id").distinct().count()
    return {
        "events_sent": EVENTS,
        "events_acknowledged": len(poster.acked),
        "stored": count,
        "lost": EVENTS - distinct,
        "doubled": count - distinct,
        "game_events_and_last_seq": [game.event_count, game.last_seq],
        "points_expected": sum(poster.points.values()),
        "points_in_player_totals": Player.objects.filter(game=game).aggregate(s=Sum("total"))["s"],
        "points_in_game_total": game.points_total,
        "duplicates_reported": poster.duplicates_sum,
        "poster_retries": poster.retries,
        "poster_answers": {str(status): n for status, n in poster.statuses.items()},
    }


def test_a_web_process_killed_behind_the_balancer_loses_nothing_and_its_viewers_converge(transactional_db, haproxy):
    game = game_make(prefix="lb", name="Balanced")
    key = services.api_key_create(game=game, name="lb")[1]
    with balanced_stack(database_url(connection.settings_dict)) as (webs, lb):
        log_starts = [len(web.log()) for web in webs]
        lb_log_start = len(lb.log())
        edge = {
            "healthz_via_lb": http_get(lb.port, "/healthz")[0],
            "metrics_via_lb": http_get(lb.port, "/metrics")[0],
            "metrics_encoded_via_lb": http_get(lb.port, "/%6Detrics")[0],  # the app decodes it: /metrics
            "oversized_post_via_lb": oversized_post_status(lb.port, f"/api/games/{game.slug}/events"),
        }
        pool = ViewerPool(url=f"ws://127.0.0.1:{lb.port}/ws/games/{game.slug}/", count=VIEWERS)
        poster = WatchedPoster(url=lb.url, slug=game.slug, key=key, events=EVENTS, rate=RATE, batch=BATCH)
        pool.start()
        try:
            run = kill_mid_stream(pool, poster, webs, game.pk)
        finally:
            pool.stop()
    web_logs = [web.log()[start:] for web, start in zip(webs, log_starts, strict=True)]
    lb_summary = haproxy_log_summary(lb.log()[lb_log_start:])
    figures = {
        **stored_figures(game, poster),
        "viewers": VIEWERS,
        **run,
        "viewer_reconnects": pool.reconnects(),
        "viewer_resumes": pool.resumes(),
        **edge,
        "haproxy": lb_summary,
        "web_tracebacks": [log.count("Traceback") for log in web_logs],
        "web_error_lines": [len(error_lines(log)) for log in web_logs],
    }
    figures_record(f"lb_{connection.vendor}", **figures)
    print(figures)

    assert pool.error is None, f"a viewer client of the test crashed: {pool.error!r}"
    assert min(run["viewers_per_process_before"]) > 0, "the balancer did not spread the viewers"
    assert (edge["healthz_via_lb"], edge["metrics_via_lb"], edge["oversized_post_via_lb"]) == (200, 404, 413)
    assert edge["metrics_encoded_via_lb"] == 404
    assert figures["events_acknowledged"] == EVENTS
    assert (figures["lost"], figures["doubled"]) == (0, 0)
    # The balancer hid the kill from the game server: POSTs sent to the dead process, and the
    # one waiting on it, were retried by HAProxy on the other (the poster would retry too).
    assert figures["poster_retries"] == 0, figures["poster_answers"]
    assert lb_summary["retried"].get("POST", 0) > 0
    assert figures["game_events_and_last_seq"] == [EVENTS, EVENTS]
    assert figures["points_in_player_totals"] == figures["points_in_game_total"] == figures["points_expected"]
    assert run["reconnect_s"] is not None, f"the viewers were not all back on the survivor in {SETTLE_SECONDS} s"
    assert run["convergence_s"] is not None, f"the viewers did not reach the database's state in {SETTLE_SECONDS} s"
    assert run["survivor_alive"] and run["survivor_sockets_at_end"] == VIEWERS
    assert lb_summary["servers_marked_down"] == [run["killed"]]  # and the survivor never flapped
    for log in web_logs:
        assert log.count("Traceback") == 0, tracebacks_report(log)

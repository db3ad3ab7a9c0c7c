"""The freeze run (issue #18): Redis hangs (SIGSTOP) for 10 s under a stream of events, with
viewers on two web processes. A hung Redis refuses nothing, so before stats.live.health it
was invisible: every page said "live" the whole time. Now:
- nothing is lost or doubled (the POSTs keep answering from the database);
- every viewer is told "degraded" within 5 s of the freeze;
- every viewer is told "live" within 2 s of SIGCONT, on the same socket, and holds every
  event committed before the thaw within 2 s of it;
- at the end every viewer shows the database's state, and neither web log has a traceback.

Runs with `make chaos` (WEBGAME_CHAOS=1); about 40 s. Figures go to .run/reliability.json
(section freeze_<database>) for docs/reliability.md."""

import os
import time

import pytest
from django.db import connection
from django.db.models import Sum

from stats import selectors, services
from stats.models import Player, ScoreEvent
from stats.tests.chaos import Poster, StatusViewer, ViewerPool, viewers_converged
from stats.tests.figures import figures_record
from stats.tests.games import game_make
from stats.tests.support import ValkeyProc, database_url, error_lines, tracebacks_report, web_proc_class

pytestmark = [
    pytest.mark.skipif(os.environ.get("WEBGAME_CHAOS") != "1", reason="the freeze run is `make chaos`"),
    pytest.mark.timeout(300),
]
EVENTS, RATE, BATCH, VIEWERS_PER_WEB = 5_000, 200, 20, 10
FREEZE_AT, FREEZE_FOR = 6.0, 10.0  # seconds into the stream; how long Redis hangs


def slowest(values: list[float | None]) -> float | None:
    """The worst of the viewers' delays; None if any viewer never got there."""
    return None if any(v is None for v in values) else round(max(values), 2)


def test_a_frozen_redis_loses_nothing_and_every_viewer_is_told(transactional_db):
    game = game_make(prefix="freeze", name="Freeze")
    key = services.api_key_create(game=game, name="freeze")[1]
    valkey = ValkeyProc().start()
    db_url = database_url(connection.settings_dict)
    webs = [web_proc_class()(database_url=db_url, redis_url=valkey.url).start() for _ in range(2)]
    log_starts = [len(web.log()) for web in webs]
    pools = [
        ViewerPool(url=f"ws://127.0.0.1:{web.port}/ws/games/{game.slug}/", count=VIEWERS_PER_WEB, viewer=StatusViewer)
        for web in webs
    ]
    poster = Poster(url=webs[0].url, slug=game.slug, key=key, events=EVENTS, rate=RATE, batch=BATCH)
    try:
        for pool in pools:
            pool.start()
        time.sleep(1)
        start = time.monotonic()
        poster.start()
        time.sleep(max(0.0, start + FREEZE_AT - time.monotonic()))
        frozen_at = time.monotonic()
        valkey.freeze()
        try:
            time.sleep(FREEZE_FOR)
        finally:
            valkey.thaw()
        thawed_at = time.monotonic()
        seq_at_thaw = selectors.game_last_seq(game_id=game.pk)
        poster.join(timeout=EVENTS / RATE * 3)
        assert not poster.is_alive(), "the poster did not finish"
        converged_at = None
        while time.monotonic() < poster.finished_at + 30:
            if all(viewers_converged(pool.viewers, game.pk) for pool in pools):
                converged_at = time.monotonic()
                break
            time.sleep(0.1)
        logs = [web.log()[start:] for web, start in zip(webs, log_starts, strict=True)]
    finally:
        for pool in pools:
            pool.stop()
        for web in webs:
            web.stop()
        valkey.thaw()
        valkey.stop()

    game.refresh_from_db()
    viewers = [v for pool in pools for v in pool.viewers]
    stored = ScoreEvent.objects.filter(game=game)
    distinct = stored.values("event_id").distinct().count()
    told_degraded = [_after(v.told_at(False, frozen_at), frozen_at) for v in viewers]
    told_live = [_after(v.told_at(True, thawed_at), thawed_at) for v in viewers]
    caught_up = [_after(v.reached_at(seq_at_thaw, thawed_at), thawed_at) for v in viewers]
    figures = {
        "server": webs[0].server,
        "events_sent": EVENTS,
        "events_acknowledged": len(poster.acked),
        "lost": EVENTS - distinct,
        "doubled": stored.count() - distinct,
        "answers": poster.statuses,
        "freeze_s": FREEZE_FOR,
        "viewers": len(viewers),
        "web_processes": len(webs),
        "viewer_reconnects": sum(pool.reconnects() for pool in pools),
        "told_degraded_max_s": slowest(told_degraded),
        "told_live_max_s": slowest(told_live),
        "caught_up_to_thaw_max_s": slowest(caught_up),
        "seq_at_thaw": seq_at_thaw,
        "convergence_s": None if converged_at is None else round(converged_at - poster.finished_at, 2),
        "web_tracebacks": sum(log.count("Traceback") for log in logs),
        "web_error_lines": sum(len(error_lines(log)) for log in logs),
    }
    figures_record(
        f"freeze_{connection.vendor}" + ("" if webs[0].server == "daphne" else f"_{webs[0].server}"), **figures
    )
    print(figures)
    for pool in pools:
        assert pool.error is None, f"a viewer client of the test crashed: {pool.error!r}"
    assert len(poster.acked) == EVENTS
    assert (figures["lost"], figures["doubled"]) == (0, 0)
    assert Player.objects.filter(game=game).aggregate(s=Sum("total"))["s"] == sum(poster.points.values())
    assert figures["told_degraded_max_s"] is not None and figures["told_degraded_max_s"] <= 5, told_degraded
    assert figures["told_live_max_s"] is not None and figures["told_live_max_s"] <= 2, told_live
    assert figures["caught_up_to_thaw_max_s"] is not None and figures["caught_up_to_thaw_max_s"] <= 2, caught_up
    assert figures["viewer_reconnects"] == 0  # told on the sockets they had
    assert converged_at is not None, "viewers did not reach the database's state within 30 s"
    assert figures["web_tracebacks"] == 0, "\n".join(tracebacks_report(log) for log in logs)


def _after(at: float | None, since: float) -> float | None:
    return None if at is None else at - since

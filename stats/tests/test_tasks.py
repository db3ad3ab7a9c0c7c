import asyncio
import threading
import time
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from celery.signals import task_postrun
from channels.layers import get_channel_layer

from stats import services
from stats.live import publish
from stats.models import Game, Rollup, RollupCursor, ScoreEvent
from stats.scoring import selectors as scoring_selectors
from stats.scoring import services as scoring
from stats.scoring.models import Match, Stat, StatTotal
from stats.simulator import DEMO_STATS, demo_client, demo_key, demo_match_current
from stats.tasks import demo_simulate, rollups_compute
from stats.tests.games import game_make
from stats.tests.support import event_in, writers_run


class Finished:
    """Return values of tasks the worker has finished, by task id (there is no result backend)."""

    def __init__(self):
        self.values: dict[str, object] = {}
        self.done = threading.Condition()

    def __call__(self, sender=None, task_id=None, retval=None, **kwargs):
        with self.done:
            self.values[task_id] = retval
            self.done.notify_all()

    def wait(self, task_id: str, timeout: float = 30):
        with self.done:
            assert self.done.wait_for(lambda: task_id in self.values, timeout), f"task {task_id} did not finish"
            return self.values[task_id]


@pytest.fixture
def finished():
    listener = Finished()
    task_postrun.connect(listener, weak=False)
    yield listener
    task_postrun.disconnect(listener)


@pytest.fixture
def demo_game(web, transactional_db, settings):
    game = game_make(prefix="arena", name="Arena")
    settings.DEMO_GAMES = [game.slug]
    settings.DEMO_SERVER_URL = web.url
    return game


def test_demo_simulate_records_events_through_the_worker_and_the_web_process(celery_worker, finished, demo_game):
    sent = finished.wait(demo_simulate.apply_async(task_id="burst-1").id)
    events = ScoreEvent.objects.filter(game=demo_game).order_by("seq")  # stored before the task returned
    assert sent == events.count() >= 1
    assert list(events.values_list("seq", flat=True)) == list(range(1, sent + 1))
    assert all(e.startswith(f"sim-burst-1-{demo_game.pk}-") for e in events.values_list("event_id", flat=True))
    client = demo_client(slug=demo_game.slug, key=demo_key(game=demo_game))
    assert (client.stats.acked, client.transport) == (sent, "socket")  # the ingest socket carried them


def test_demo_simulate_rerun_with_the_same_task_id_records_nothing(celery_worker, finished, demo_game):
    first = finished.wait(demo_simulate.apply_async(task_id="burst-2").id)
    finished.values.clear()
    assert finished.wait(demo_simulate.apply_async(task_id="burst-2").id) == first  # sent again...
    assert ScoreEvent.objects.filter(game=demo_game).count() == first  # ...and stored once
    assert demo_client(slug=demo_game.slug, key=demo_key(game=demo_game)).stats.duplicates == first


def test_demo_simulate_plays_only_the_demo_games(celery_worker, finished, demo_game):
    other = game_make(prefix="quiet", name="Quiet")
    finished.wait(demo_simulate.apply_async(task_id="burst-3").id)
    assert not ScoreEvent.objects.filter(game=other).exists()


@pytest.mark.django_db(transaction=True)
async def test_demo_simulate_broadcasts_through_the_same_path(celery_worker, finished, demo_game):
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(publish.game_group(demo_game.pk), channel)
    demo_simulate.apply_async(task_id="burst-4")
    message = await asyncio.wait_for(layer.receive(channel), 30)
    assert message["type"] == "game.match"  # the first run starts the demo match
    message = await asyncio.wait_for(layer.receive(channel), 30)  # published by the web process
    assert (message["type"], message["first_seq"]) == ("game.events", 1)
    sent = await sync_to_async(finished.wait)("burst-4")
    assert message["last_seq"] == sent  # one burst, one frame, one group commit


def test_rollups_compute_fans_out_to_games_behind(celery_worker, finished, transactional_db):
    behind = [game_make(prefix=s, name=s) for s in ("one", "two")]
    caught_up = game_make(prefix="done", name="Done")
    empty = game_make(prefix="empty", name="Empty")
    for game in [*behind, caught_up]:
        services.score_events_record(game_id=game.pk, events=[event_in("a", points=2)])
    services.rollups_compute(game_id=caught_up.pk)
    assert finished.wait(rollups_compute.apply_async(task_id="fan-1").id) == 2
    for game in behind:
        wait_for(lambda g=game: RollupCursor.objects.filter(game=g, seq=1).exists())
        assert Rollup.objects.get(game=game).points == 2
    assert not RollupCursor.objects.filter(game=empty).exists()


def test_rollups_compute_with_every_game_caught_up_fans_out_nothing(celery_worker, finished, transactional_db):
    game = game_make(prefix="done", name="Done")
    services.score_events_record(game_id=game.pk, events=[event_in("a")])
    services.rollups_compute(game_id=game.pk)
    assert finished.wait(rollups_compute.apply_async(task_id="fan-2").id) == 0


def wait_for(condition, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


# The demo match lifecycle. demo_match_current takes a clock; the task runs eagerly (apply)
# with a real task id, as a retry would, its events going to the web process.


@pytest.fixture
def arena(db, settings):
    game = game_make(prefix="arena", name="Arena")
    settings.DEMO_GAMES = [game.slug]
    settings.DEMO_MATCH_SECONDS = 90
    return game


@pytest.fixture
def arena_served(web, transactional_db, settings):
    """The arena, with its demo events served by the web process (whose writes a test sees
    only if its own are committed: transactional_db)."""
    game = game_make(prefix="arena", name="Arena")
    settings.DEMO_GAMES = [game.slug]
    settings.DEMO_MATCH_SECONDS = 90
    settings.DEMO_SERVER_URL = web.url
    return game


def open_match(game: Game) -> Match | None:
    return Game.objects.select_related("open_match").get(pk=game.pk).open_match


def matches(game: Game) -> dict[str, str]:
    return dict(Match.objects.filter(game=game).values_list("match_id", "status"))


def totals(game: Game) -> list[tuple]:
    return sorted(StatTotal.objects.filter(game=game).values_list("period", "kind", "owner", "stat", "value"))


def test_the_first_run_starts_demo_1_with_the_demo_stats_declared(arena):
    match = demo_match_current(game_id=arena.pk)
    assert (match.match_id, match.name, match.status) == ("demo-1", "Match 1", "live")
    assert open_match(arena) == match
    assert list(Stat.objects.filter(game=arena).values_list("name", flat=True)) == [s["name"] for s in DEMO_STATS]


def test_a_match_lasts_its_seconds_then_it_ends_and_the_next_starts(arena):
    first = demo_match_current(game_id=arena.pk)
    assert demo_match_current(game_id=arena.pk, now=first.started_at + timedelta(seconds=89.9)) == first
    assert matches(arena) == {"demo-1": "live"}
    second = demo_match_current(game_id=arena.pk, now=first.started_at + timedelta(seconds=90))
    assert (second.match_id, second.name) == ("demo-2", "Match 2")
    assert matches(arena) == {"demo-1": "finished", "demo-2": "live"}
    assert open_match(arena) == second
    first.refresh_from_db()
    assert first.ended_at is not None


def test_after_a_stop_between_the_end_and_the_start_the_next_number_starts(arena):
    demo_match_current(game_id=arena.pk)
    scoring.match_end(game_id=arena.pk, match_id="demo-1")  # as if the run died right after
    assert open_match(arena) is None
    assert demo_match_current(game_id=arena.pk).match_id == "demo-2"
    assert matches(arena) == {"demo-1": "finished", "demo-2": "live"}


def test_worker_processes_deciding_together_start_one_match(transactional_db, settings):
    """Every worker process's first run finds no match at once (make run's start): one match
    starts, and it is the one they all play."""
    game = game_make(prefix="arena", name="Arena")
    settings.DEMO_GAMES = [game.slug]
    barrier, chosen = threading.Barrier(4), []

    def decide(_: int) -> None:
        barrier.wait(timeout=30)
        chosen.append(demo_match_current(game_id=game.pk).match_id)

    assert writers_run(decide, 4) == []
    assert chosen == ["demo-1"] * 4 and matches(game) == {"demo-1": "live"}


def test_a_match_started_by_hand_is_played_then_ended_like_a_demo_one(arena):
    demo_match_current(game_id=arena.pk)
    final, _ = scoring.match_start(game_id=arena.pk, match_id="final", name="Final")
    assert demo_match_current(game_id=arena.pk) == final
    after = demo_match_current(game_id=arena.pk, now=final.started_at + timedelta(seconds=90))
    assert after.match_id == "demo-2"  # numbered after the last demo match
    assert matches(arena) == {"demo-1": "finished", "final": "finished", "demo-2": "live"}


def test_demo_simulate_plays_in_the_open_match_and_a_retry_changes_nothing(arena_served):
    arena = arena_served
    sent = demo_simulate.apply(task_id="run-1").get()
    match = open_match(arena)
    assert match.match_id == "demo-1"
    events = list(ScoreEvent.objects.filter(game=arena))
    assert len(events) == sent >= 2
    assert all(e.match_id == match.pk and e.team in {"Red", "Blue"} and e.stats for e in events)
    kept = totals(arena)
    assert demo_simulate.apply(task_id="run-1").get() == sent
    assert matches(arena) == {"demo-1": "live"}
    assert ScoreEvent.objects.filter(game=arena).count() == sent
    assert totals(arena) == kept


def test_a_retry_after_its_match_ended_is_still_only_duplicates(arena_served, settings):
    arena = arena_served
    settings.DEMO_MATCH_SECONDS = 0  # every run ends the open match and starts the next
    recorded = demo_simulate.apply(task_id="run-1").get()
    kept = totals(arena)
    demo_simulate.apply(task_id="run-1").get()  # no conflict: events name no match
    assert demo_client(slug=arena.slug, key=demo_key(game=arena)).stats.failed == 0
    assert ScoreEvent.objects.filter(game=arena).count() == recorded
    assert matches(arena) == {"demo-1": "finished", "demo-2": "live"}
    assert totals(arena) == kept
    assert set(ScoreEvent.objects.filter(game=arena).values_list("match__match_id", flat=True)) == {"demo-1"}


def test_with_zero_seconds_each_run_plays_its_own_match(arena_served, settings):
    arena = arena_served
    settings.DEMO_MATCH_SECONDS = 0
    for n in range(3):
        demo_simulate.apply(task_id=f"run-{n}").get()
    assert matches(arena) == {"demo-1": "finished", "demo-2": "finished", "demo-3": "live"}
    for n in range(3):
        played = ScoreEvent.objects.filter(game=arena, event_id__startswith=f"sim-run-{n}-")
        assert set(played.values_list("match__match_id", flat=True)) == {f"demo-{n + 1}"}


def test_each_teams_kills_are_the_other_teams_deaths(arena_served):
    arena = arena_served
    for n in range(8):
        demo_simulate.apply(task_id=f"run-{n}").get()
    match = open_match(arena)
    assert matches(arena) == {"demo-1": "live"}
    teams = scoring_selectors.team_totals_get(game_id=arena.pk, match_pks=[match.pk])[match.pk]
    by_team = {t["team"]: t["stats"] for t in teams}
    assert set(by_team) <= {"Red", "Blue"}
    assert sum(s.get("kills", 0) for s in by_team.values()) > 0
    for team, other in [("Red", "Blue"), ("Blue", "Red")]:
        assert by_team.get(team, {}).get("kills", 0) == by_team.get(other, {}).get("deaths", 0)

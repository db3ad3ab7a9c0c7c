import asyncio
import threading
import time

import pytest
from asgiref.sync import sync_to_async
from celery.signals import task_postrun
from channels.layers import get_channel_layer

from stats import services
from stats.models import Rollup, RollupCursor, ScoreEvent
from stats.tasks import demo_simulate, rollups_compute
from stats.tests.support import event_in


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
def demo_game(transactional_db, settings):
    settings.WEBGAME_DEMO_GAMES = ["arena"]
    return services.game_create(slug="arena", name="Arena")


def test_demo_simulate_records_events_through_the_worker(celery_worker, finished, demo_game):
    recorded = finished.wait(demo_simulate.apply_async(task_id="burst-1").id)
    events = ScoreEvent.objects.filter(game=demo_game).order_by("seq")
    assert recorded == events.count() >= 1
    assert list(events.values_list("seq", flat=True)) == list(range(1, recorded + 1))
    assert all(e.startswith(f"sim-burst-1-{demo_game.pk}-") for e in events.values_list("event_id", flat=True))


def test_demo_simulate_rerun_with_the_same_task_id_records_nothing(celery_worker, finished, demo_game):
    first = finished.wait(demo_simulate.apply_async(task_id="burst-2").id)
    finished.values.clear()
    assert finished.wait(demo_simulate.apply_async(task_id="burst-2").id) == 0
    assert ScoreEvent.objects.filter(game=demo_game).count() == first


def test_demo_simulate_plays_only_the_demo_games(celery_worker, finished, demo_game):
    other = services.game_create(slug="quiet", name="Quiet")
    finished.wait(demo_simulate.apply_async(task_id="burst-3").id)
    assert not ScoreEvent.objects.filter(game=other).exists()


@pytest.mark.django_db(transaction=True)
async def test_demo_simulate_broadcasts_through_the_same_path(celery_worker, finished, demo_game):
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add("game.arena", channel)
    demo_simulate.apply_async(task_id="burst-4")
    message = await asyncio.wait_for(layer.receive(channel), 30)
    assert (message["type"], message["first_seq"]) == ("game.events", 1)
    recorded = await sync_to_async(finished.wait)("burst-4")
    assert message["last_seq"] == recorded


def test_rollups_compute_fans_out_to_games_behind(celery_worker, finished, transactional_db):
    behind = [services.game_create(slug=s, name=s) for s in ("one", "two")]
    caught_up = services.game_create(slug="done", name="Done")
    services.game_create(slug="empty", name="Empty")
    for game in [*behind, caught_up]:
        services.score_events_record(game_id=game.pk, events=[event_in("a", points=2)])
    services.rollups_compute(game_id=caught_up.pk)
    assert finished.wait(rollups_compute.apply_async(task_id="fan-1").id) == 2
    for game in behind:
        wait_for(lambda g=game: RollupCursor.objects.filter(game=g, seq=1).exists())
        assert Rollup.objects.get(game=game).points == 2
    assert not RollupCursor.objects.filter(game__slug="empty").exists()


def test_rollups_compute_with_every_game_caught_up_fans_out_nothing(celery_worker, finished, transactional_db):
    game = services.game_create(slug="done", name="Done")
    services.score_events_record(game_id=game.pk, events=[event_in("a")])
    services.rollups_compute(game_id=game.pk)
    assert finished.wait(rollups_compute.apply_async(task_id="fan-2").id) == 0


def wait_for(condition, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)

"""Celery tasks: take ids, load, call a service. Idempotent and retried with backoff."""

from celery import shared_task
from django.conf import settings
from django.db import OperationalError
from django.db.models import F, Q

from stats import services
from stats.models import Game
from stats.simulator import demo_play

RETRY = {
    "autoretry_for": (OperationalError,),
    "retry_backoff": True,
    "retry_backoff_max": 60,
    "retry_jitter": True,
    "max_retries": 5,
}


@shared_task(bind=True, **RETRY)
def demo_simulate(self) -> int:
    """Play a burst of fake events in each demo game's current match (ending it after
    DEMO_MATCH_SECONDS and starting the next), sent to the web process like a game
    server's (stats.simulator.demo_play); the number of events sent. Ids derive from the task
    id, so a retry never double-counts, and match ids from the match number, so it never
    starts a second match."""
    sent = 0
    for game in Game.objects.filter(slug__in=settings.DEMO_GAMES):
        sent += demo_play(game=game, seed=f"{self.request.id}-{game.pk}")
    return sent


@shared_task(**RETRY)
def game_rollup(game_id: int) -> int:
    return services.rollups_compute(game_id=game_id)


@shared_task(**RETRY)
def rollups_compute() -> int:
    """Fan out one rollup task per game with events past its rollup cursor."""
    behind = Game.objects.filter(last_seq__gt=0).filter(
        Q(rollup_cursor__isnull=True) | Q(rollup_cursor__seq__lt=F("last_seq"))
    )
    game_ids = list(behind.values_list("pk", flat=True))
    for game_id in game_ids:
        game_rollup.delay(game_id)
    return len(game_ids)

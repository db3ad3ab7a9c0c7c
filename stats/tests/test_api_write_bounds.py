"""The cost of one write is bounded (issue #19): stat values per batch (BATCH_MAX_STAT_VALUES),
refused with a 413 that names the bound before anything is written."""

import pytest
from django.conf import settings

from stats.models import ScoreEvent
from stats.scoring import services as scoring
from stats.scoring.models import StatTotal
from stats.tests.api_support import error_code, post

STATS = [f"s{i}" for i in range(32)]


@pytest.fixture
def stats_game(game):
    for name in STATS:
        scoring.stat_declare(game=game, name=name)
    return game


def batch(events: int, stats_each: int, prefix: str = "e") -> dict:
    stats = dict.fromkeys(STATS[:stats_each], 1)
    return {
        "events": [
            {"id": f"{prefix}{i}", "player": f"p{i}", "team": f"t{i % 2}", "stats": stats} for i in range(events)
        ]
    }


def test_a_batch_over_the_stat_values_bound_is_a_413_naming_it(client, stats_game, api_key):
    # 200 events x 32 stats = 6,400 values: past the default bound of 4,000.
    response = post(client, stats_game.slug, batch(200, 32), api_key)
    assert (response.status_code, error_code(response)) == (413, "too_many_stat_values")
    message = response.json()["error"]["message"]
    assert "BATCH_MAX_STAT_VALUES" in message and f"{settings.BATCH_MAX_STAT_VALUES}" in message
    assert "6400" in message
    assert not ScoreEvent.objects.filter(game=stats_game).exists()
    assert not StatTotal.objects.filter(game=stats_game).exists()


def test_a_batch_at_the_bound_is_stored(client, stats_game, api_key, settings):
    settings.BATCH_MAX_STAT_VALUES = 64
    assert post(client, stats_game.slug, batch(2, 32), api_key).status_code == 202
    refused = post(client, stats_game.slug, batch(3, 22, prefix="f"), api_key)  # 66 values
    assert (refused.status_code, error_code(refused)) == (413, "too_many_stat_values")
    assert ScoreEvent.objects.filter(game=stats_game).count() == 2


def test_a_body_of_many_bad_fields_gets_a_short_422(client, game, api_key):
    # ~600 KB: 1,000 events, each with bad points, a bad kind and extra fields.
    bad = {"id": "x", "player": "ada", "points": "1", "kind": "Bad", "a": 1, "b": 2, "c": "x" * 500}
    body = {"events": [{**bad, "id": f"e{i}"} for i in range(1000)]}
    response = post(client, game.slug, body, api_key)
    assert (response.status_code, error_code(response)) == (422, "invalid")
    details = response.json()["error"]["details"]
    assert len(details) == 51 and details[-1] == {"field": "(more)", "message": "4950 more problems not listed"}
    assert len(response.content) < 10_000


def test_a_game_whose_totals_could_overflow_refuses_more_events(client, game, api_key):
    """Past EVENTS_MAX events some total could pass bigint: PostgreSQL failed every later
    write touching it (500), SQLite turned it into a float. Refused alike on both (409)."""
    from stats.models import Game, Player
    from stats.scoring.record import EVENTS_MAX

    assert post(client, game.slug, {"id": "a", "player": "ada", "points": 10**9}, api_key).status_code == 202
    Game.objects.filter(pk=game.pk).update(event_count=EVENTS_MAX)
    refused = post(client, game.slug, {"id": "b", "player": "ada", "points": 10**9}, api_key)
    assert (refused.status_code, error_code(refused)) == (409, "totals_overflow")
    assert str(EVENTS_MAX) in refused.json()["error"]["message"]
    assert list(ScoreEvent.objects.filter(game=game).values_list("event_id", flat=True)) == ["a"]
    assert Player.objects.get(game=game, name="ada").total == 10**9
    assert EVENTS_MAX * 2 * 10**9 < 2**63  # the bound's reason: no total can pass bigint below it

"""Declaring stats under hostile use (issue #19): a bounded number per game, half a ratio
refused, and concurrent declarations (one name, or new names) race-free on PostgreSQL too."""

import json
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from stats import services
from stats.scoring import services as scoring
from stats.scoring.models import Stat
from stats.tests.api_support import error_code

THREADS = 20


def send(client, path, body, key):
    return client.post(path, data=json.dumps(body), content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}")


def test_a_game_declares_at_most_game_max_stats(client, game, api_key, settings):
    settings.GAME_MAX_STATS = 3
    base = f"/api/games/{game.slug}/stats"
    for name in ("a", "b"):
        assert send(client, base, {"name": name}, api_key).status_code == 201
    assert send(client, base, {"name": "ab", "numerator": "a", "denominator": "b"}, api_key).status_code == 201
    refused = send(client, base, {"name": "d"}, api_key)
    assert (refused.status_code, error_code(refused)) == (409, "too_many_stats")
    assert "3" in refused.json()["error"]["message"] and "GAME_MAX_STATS" in refused.json()["error"]["message"]
    assert send(client, base, {"name": "a"}, api_key).status_code == 200  # a declared one still redeclares
    assert Stat.objects.filter(game=game).count() == 3


@pytest.mark.parametrize("body", [{"name": "x", "denominator": "points"}, {"name": "x", "numerator": "points"}])
def test_half_a_ratio_is_refused_not_dropped(client, game, api_key, body):
    response = send(client, f"/api/games/{game.slug}/stats", body, api_key)
    assert (response.status_code, error_code(response)) == (422, "invalid")
    assert [d["field"] for d in response.json()["error"]["details"]] == ["denominator"]
    assert not Stat.objects.filter(game=game).exists()


def _declare_together(game, names: list[str]) -> list:
    """Each name declared by its own thread (its own database connection), all at once."""
    barrier = threading.Barrier(len(names))

    def declare(name):
        try:
            barrier.wait(timeout=30)
            return scoring.stat_declare(game=game, name=name)[1]
        except Exception as exc:  # noqa: BLE001 - the test reports what each thread got
            return exc
        finally:
            connection.close()

    with ThreadPoolExecutor(len(names)) as pool:
        return list(pool.map(declare, names))


@pytest.mark.django_db(transaction=True)
def test_concurrent_declarations_are_race_free():
    game = services.game_create(slug=f"race-{uuid.uuid4().hex[:8]}", name="Race")
    same = _declare_together(game, ["kills"] * THREADS)
    assert sorted(same, key=str) == [False] * (THREADS - 1) + [True], same
    fresh = _declare_together(game, [f"s{i}" for i in range(THREADS)])
    assert fresh == [True] * THREADS, fresh
    positions = list(Stat.objects.filter(game=game).values_list("position", flat=True))
    assert sorted(positions) == list(range(THREADS + 1))

"""stats.live.presence: who is watching a game, in Redis (one sorted set per game, member =
channel, score = expiry). Joins and leaves count, stale entries expire after PRESENCE_TTL,
and an unreachable Redis is an unknown count (None), never an error."""

import time

import pytest
import redis
from django.conf import settings

from stats.live import presence
from stats.tests.live_support import _no_presence_left_over, viewers_announced, watch
from stats.tests.support import free_port

_no_presence_left_over = _no_presence_left_over  # autouse: presence counts start from zero
GAME_ID = 900_051  # presence keys by game id; no game row needed


@pytest.fixture
def store():
    """The test Valkey, read and written directly."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    yield client
    client.close()


async def test_joins_and_leaves_are_counted():
    assert await presence.presence_count(game_id=GAME_ID) == 0
    assert await presence.presence_join(game_id=GAME_ID, channel="a") == 1
    assert await presence.presence_join(game_id=GAME_ID, channel="b") == 2
    assert await presence.presence_join(game_id=GAME_ID, channel="a") == 2  # a ping refreshes, not adds
    assert await presence.presence_count(game_id=GAME_ID) == 2
    assert await presence.presence_leave(game_id=GAME_ID, channel="a") == 1
    assert await presence.presence_leave(game_id=GAME_ID, channel="a") == 1  # left already
    assert await presence.presence_count(game_id=GAME_ID) == 1
    assert await presence.presence_count(game_id=900_052) == 0  # one set per game


async def test_a_stale_entry_is_not_counted_and_is_removed(store):
    """A viewer of a crashed process stops refreshing: once its expiry (join + PRESENCE_TTL)
    has passed, it no longer counts."""
    assert await presence.presence_join(game_id=GAME_ID, channel="live") == 1
    key = presence._key(GAME_ID)
    store.zadd(key, {"crashed": time.time() - 1})  # joined PRESENCE_TTL + 1 s ago
    store.zadd(key, {"recent": time.time() + presence.PRESENCE_TTL - 1})  # joined 1 s ago
    assert await presence.presence_count(game_id=GAME_ID) == 2
    assert await presence.presence_join(game_id=GAME_ID, channel="other") == 3
    assert store.zscore(key, "crashed") is None  # removed by the update, not only skipped
    live_expiry = store.zscore(key, "live")
    assert time.time() + presence.PRESENCE_TTL - 5 < live_expiry <= time.time() + presence.PRESENCE_TTL
    assert 0 < store.ttl(key) <= 2 * presence.PRESENCE_TTL  # an abandoned game's set goes too


async def test_an_unreachable_redis_is_an_unknown_count_not_an_error(monkeypatch, caplog):
    monkeypatch.setattr(settings, "REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")  # nothing listens
    monkeypatch.setattr(presence, "_clients", {})  # no client made for the real one
    assert await presence.presence_join(game_id=GAME_ID, channel="a") is None
    assert await presence.presence_leave(game_id=GAME_ID, channel="a") is None
    assert await presence.presence_count(game_id=GAME_ID) is None
    assert "presence unavailable" in caplog.text
    assert not [r for r in caplog.records if r.name == presence.__name__ and r.levelname == "ERROR"]


@pytest.mark.django_db(transaction=True)
async def test_second_viewer_is_announced_by_presence(game):
    first, snapshot = await watch(game)
    assert snapshot["viewers"] == 1
    second, snapshot = await watch(game)
    assert snapshot["viewers"] == 2
    assert await viewers_announced(first, 2)
    await second.disconnect()
    assert await viewers_announced(first, 1)
    await first.disconnect()

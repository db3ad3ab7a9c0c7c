"""The Redis users outside the channel layer (rate limits, chat limits, presence, /readyz,
Celery's broker) through an outage (issue #18):

- a call that meets a dead pooled connection (after a restart or a failover, or one a
  balancer or a partition dropped without a word) is made once more on a fresh connection,
  so no count is lost to a Redis that is there;
- against a frozen Redis (SIGSTOP), every call returns within its deadline (failing open)
  and counts resume once it answers again.

Each test has its own Valkey (or, for the dead connection, a proxy in front of the suite's,
with its own keys)."""

import asyncio
import contextlib
import os
import signal
import threading
import time
import uuid

import pytest
import redis
from django.test import Client

from stats import ratelimit
from stats.live import presence
from stats.ops import views
from stats.tests.support import ValkeyProc
from stats.tests.tcpcut import CutProxy

SLACK = 1.0  # seconds beyond a deadline, for a busy machine


@pytest.fixture
def own_valkey():
    server = ValkeyProc().start()
    yield server
    server.stop()


@contextlib.contextmanager
def frozen(server: ValkeyProc):
    """The server stopped (SIGSTOP): it accepts connections (the kernel does) and answers nothing."""
    os.kill(server.popen.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(server.popen.pid, signal.SIGCONT)


@pytest.fixture
def proxy(valkey):
    cut = CutProxy(valkey.port)
    yield cut
    cut.close()


@pytest.fixture
def redis_at(settings, monkeypatch):
    """Point the rate limits, presence and /readyz at a URL, with clients of their own."""

    def point(url: str) -> None:
        settings.REDIS_URL = url
        for module, name in ((ratelimit, "_clients"), (presence, "_clients"), (views, "_redis_clients")):
            monkeypatch.setattr(module, name, {})

    yield point
    ratelimit.fail_open.ok()


def window_total(url: str, pattern: str) -> int:
    with redis.Redis.from_url(url) as client:
        return sum(int(client.get(name) or 0) for name in client.scan_iter(pattern))


@pytest.mark.parametrize("limit", ["api_key", "chat"])
def test_a_count_that_meets_a_dead_pooled_connection_is_recorded(proxy, redis_at, valkey, limit):
    redis_at(proxy.url)
    if limit == "api_key":
        prefix = uuid.uuid4().hex[:8]
        count, pattern = lambda: ratelimit.api_key_retry_after(key_prefix=prefix), f"webgame:ratelimit:key:{prefix}:*"
    else:
        user_id = uuid.uuid4().int % 10**9
        count, pattern = lambda: ratelimit.chat_retry_after(user_id=user_id), f"webgame:ratelimit:chat:{user_id}:*"
    assert count() is None
    proxy.cut()  # the pooled connection is dead; Redis itself is fine
    assert count() is None
    assert window_total(valkey.url, pattern) == 2  # the second count was not lost
    assert not ratelimit.fail_open.down


def test_a_rate_limit_on_a_frozen_redis_fails_open_within_its_deadline_and_counts_after(own_valkey, redis_at):
    redis_at(own_valkey.url)
    prefix = uuid.uuid4().hex[:8]
    assert ratelimit.api_key_retry_after(key_prefix=prefix) is None
    with frozen(own_valkey):
        started = time.monotonic()
        assert ratelimit.api_key_retry_after(key_prefix=prefix) is None  # allowed: fails open
        assert time.monotonic() - started < ratelimit.RATE_LIMIT_TIMEOUT + SLACK
        assert ratelimit.fail_open.down
    assert ratelimit.api_key_retry_after(key_prefix=prefix) is None
    assert window_total(own_valkey.url, f"webgame:ratelimit:key:{prefix}:*") in (2, 3)  # 3: the frozen one landed
    assert not ratelimit.fail_open.down


async def test_a_presence_join_after_a_redis_restart_is_recorded(own_valkey, redis_at):
    redis_at(own_valkey.url)
    game_id = uuid.uuid4().int >> 80  # a presence set of its own
    try:
        assert await presence.presence_join(game_id=game_id, channel="a") == 1
        own_valkey.restart()  # the same port, empty: the pooled connection is dead
        assert await presence.presence_join(game_id=game_id, channel="b") == 1
        assert await presence.presence_count(game_id=game_id) == 1
    finally:
        await presence._client().aclose()


async def test_presence_on_a_frozen_redis_answers_within_the_deadline_and_counts_after(own_valkey, redis_at, settings):
    settings.REDIS_CONNECT_TIMEOUT = settings.REDIS_SOCKET_TIMEOUT = 0.5
    redis_at(own_valkey.url)
    game_id = uuid.uuid4().int >> 80  # a presence set of its own
    try:
        assert await presence.presence_join(game_id=game_id, channel="a") == 1
        with frozen(own_valkey):
            started = time.monotonic()
            assert await presence.presence_join(game_id=game_id, channel="b") is None  # unknown, not an error
            assert await presence.presence_count(game_id=game_id) is None
            assert time.monotonic() - started < 2 * 0.5 + SLACK
        assert await presence.presence_join(game_id=game_id, channel="c") in (2, 3)  # 3: the frozen join landed
    finally:
        await presence._client().aclose()


async def test_a_crowd_joining_a_frozen_redis_waits_one_deadline_not_two(own_valkey, redis_at, settings):
    """More joins than presence has connections: those that wait for a connection give up
    after the deadline, and do not wait a second time (a busy pool is no dead connection)."""
    deadline = settings.REDIS_CONNECT_TIMEOUT = settings.REDIS_SOCKET_TIMEOUT = 1.0
    redis_at(own_valkey.url)
    game_id = uuid.uuid4().int >> 80  # a presence set of its own

    async def join_timed(n: int) -> float:
        started = time.monotonic()
        assert await presence.presence_join(game_id=game_id, channel=str(n)) is None
        return time.monotonic() - started

    try:
        assert await presence.presence_join(game_id=game_id, channel="first") == 1
        with frozen(own_valkey):
            waits = await asyncio.gather(*(join_timed(n) for n in range(5 * presence.PRESENCE_CONNECTIONS)))
        assert max(waits) < deadline + 0.7, sorted(waits)[-5:]
    finally:
        await presence._client().aclose()


@pytest.mark.django_db
def test_readyz_after_a_dead_pooled_connection_is_ready(proxy, redis_at):
    redis_at(proxy.url)
    assert Client().get("/readyz").status_code == 200
    proxy.cut()
    assert Client().get("/readyz").json() == {"database": "ok", "redis": "ok"}


@pytest.mark.django_db
def test_readyz_does_not_tell_where_redis_is(own_valkey, redis_at):
    redis_at(own_valkey.url)
    own_valkey.stop()
    body = Client().get("/readyz").json()
    assert body["redis"] == "failed" and body["reason"] == "redis: ConnectionError", body
    assert str(own_valkey.port) not in str(body) and "127.0.0.1" not in str(body)


def test_a_task_sent_to_a_frozen_broker_fails_within_its_deadline(own_valkey):
    """A .delay() must never hang a caller on a frozen broker: the broker's connect and read
    deadlines, and a bounded publish retry (webgame/settings.py's CELERY_* lines)."""
    from django.conf import settings

    from stats.tasks import game_rollup
    from worker import app

    timeout = settings.CELERY_BROKER_TRANSPORT_OPTIONS["socket_timeout"]
    retries = settings.CELERY_TASK_PUBLISH_RETRY_POLICY["max_retries"]
    bound = (retries + 1) * timeout + retries * settings.CELERY_TASK_PUBLISH_RETRY_POLICY["interval_max"] + SLACK
    outcome: list = []

    def send() -> None:
        try:
            with app.connection_for_write(own_valkey.url) as conn:
                game_rollup.apply_async(args=[0], connection=conn)
            outcome.append("sent")
        except Exception as exc:  # noqa: BLE001 - the outcome is the test's
            outcome.append(exc)

    with frozen(own_valkey):
        started = time.monotonic()
        sender = threading.Thread(target=send, daemon=True)  # daemon: a hung send must not hang the suite
        sender.start()
        sender.join(timeout=bound)
        elapsed = time.monotonic() - started
    assert not sender.is_alive(), f"the send still hangs after {bound:.1f} s"
    assert outcome and outcome[0] != "sent", outcome  # it failed (frozen), in time
    assert elapsed < bound

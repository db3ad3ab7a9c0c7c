"""Who is watching: one Redis sorted set per game, member = channel name, score = expiry.

Entries expire on their own, so viewers of a crashed process drop out within PRESENCE_TTL;
live sockets refresh theirs on every ping. Shared by all web processes.
"""

import asyncio
import logging
import time

import redis.asyncio as aioredis
from django.conf import settings

from stats.live import health
from stats.signals import viewers_counted
from webgame import redis_conf, redis_retry

logger = logging.getLogger(__name__)
PRESENCE_TTL = 60
PRESENCE_CONNECTIONS = 16
_clients: dict[int, tuple[asyncio.AbstractEventLoop, aioredis.Redis]] = {}


def _client() -> aioredis.Redis:
    # redis.asyncio clients belong to one event loop; tests run several loops (and a dead
    # loop's id can be reused, hence the identity check).
    loop = asyncio.get_running_loop()
    cached = _clients.get(id(loop))
    if cached is None or cached[0] is not loop:
        # A bounded pool that waits for a free connection: a thousand sockets joining at once
        # queue up on a few connections instead of failing with "Too many connections".
        # Every wait has the settings' deadline (a free connection, connecting, an answer): a
        # hung Redis must not hold a socket's connect or ping for longer.
        client = redis_conf.async_blocking_client(
            redis_conf.target(),
            max_connections=PRESENCE_CONNECTIONS,
            timeout=settings.REDIS_SOCKET_TIMEOUT,
            socket_connect_timeout=settings.REDIS_CONNECT_TIMEOUT,
            socket_timeout=settings.REDIS_SOCKET_TIMEOUT,
        )
        cached = _clients[id(loop)] = (loop, client)
    return cached[1]


def _key(game_id: int) -> str:
    return f"webgame:presence:{game_id}"  # by id: a slug made again is another game


async def _update(*, game_id: int, channel: str, join: bool) -> int | None:
    if health.redis_down():
        # This process's check found Redis not answering: a socket's connect or ping must not
        # wait for the deadline. A viewer not refreshed now is refreshed at its next ping.
        return None
    now = time.time()
    client = _client()

    def update_send():
        pipe = client.pipeline(transaction=True)
        if join:
            pipe.zadd(_key(game_id), {channel: now + PRESENCE_TTL})
        else:
            pipe.zrem(_key(game_id), channel)
        pipe.zremrangebyscore(_key(game_id), "-inf", now)
        pipe.zcard(_key(game_id))
        pipe.expire(_key(game_id), PRESENCE_TTL * 2)
        return pipe.execute()

    try:
        # Once more on a fresh connection if a pooled one was dead (after a failover or a
        # restart): else this viewer would go uncounted though Redis is there.
        results = await redis_retry.acall_retry_once(client, update_send)
    except Exception as exc:  # noqa: BLE001 - presence is best-effort; the socket carries on
        logger.warning("presence unavailable: %s: %s", type(exc).__name__, exc)
        return None
    return int(results[-2])


async def presence_join(*, game_id: int, channel: str) -> int | None:
    """Add (or refresh) a viewer; returns the count of viewers, None if Redis is unreachable."""
    return await _update(game_id=game_id, channel=channel, join=True)


async def presence_leave(*, game_id: int, channel: str) -> int | None:
    return await _update(game_id=game_id, channel=channel, join=False)


async def presence_count(*, game_id: int) -> int | None:
    if health.redis_down():
        return None
    client = _client()
    try:
        return int(
            await redis_retry.acall_retry_once(client, lambda: client.zcount(_key(game_id), time.time(), "+inf"))
        )
    except Exception:  # noqa: BLE001 - an unknown count is shown as such, not an error
        return None


async def viewers_announce(*, game_id: int, viewers: int | None) -> None:
    """Tell the game's viewers its new count (a socket came or went), through the signal
    whose receiver publishes it (stats.receivers). None (Redis unreachable): nothing to tell."""
    if viewers is not None:
        await viewers_counted.asend(sender=None, game_id=game_id, viewers=viewers)

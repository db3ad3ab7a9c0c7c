"""Whether Redis answers, as this web process sees it: the live path's one judge of "degraded".

A Redis that refuses connections fails every call at once, but one that hangs (a full disk,
a swap storm, a partition, SIGSTOP) fails nothing: a subscriber just hears nothing, and a
PUBLISH waits for its read deadline. So each process's hub asks Redis itself: a PING every
REDIS_HEALTH_INTERVAL, on a connection of its own, with REDIS_SOCKET_TIMEOUT to answer. One
miss marks Redis down; one answer marks it up again. The hub then tells every viewer, on
the socket they have (stats.live.hub), and the publishers of this process stop queueing
pushes that could only wait for the deadline (stats.live.publish).

Down: viewers are kept current from the database at each ping. Up again: they are told
within REDIS_HEALTH_INTERVAL / 2 of Redis answering, and catch up from the database.
"""

import asyncio
import logging
import weakref
from collections.abc import Awaitable, Callable

from django.conf import settings

from stats.ops import metrics
from webgame import redis_conf

logger = logging.getLogger(__name__)

Listener = Callable[[bool], Awaitable[None]]
# Each event loop's check (a hub's), so that this loop's publishers can ask without a hub.
_by_loop: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, RedisHealth]" = weakref.WeakKeyDictionary()


def redis_down() -> bool:
    """Whether the running loop's check found Redis not answering (False where none runs:
    a Celery worker, a shell, relies on its calls' deadlines alone)."""
    try:
        health = _by_loop.get(asyncio.get_running_loop())
    except RuntimeError:
        return False
    return health is not None and not health.up


class RedisHealth:
    """A PING loop on the running event loop, and the state it concludes."""

    def __init__(self, on_change: Listener) -> None:
        self.up = True  # until a check says otherwise: a healthy start costs no wait
        self.on_change = on_change
        self.interval = settings.REDIS_HEALTH_INTERVAL
        self.deadline = settings.REDIS_SOCKET_TIMEOUT
        self.checks = 0  # PINGs answered or missed, for tests and /metrics
        self.task: asyncio.Task | None = None
        self.client = None
        _by_loop[asyncio.get_running_loop()] = self

    def start(self) -> None:
        if self.task is None:
            self.task = asyncio.ensure_future(self._run())

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            self.task = None
        if self.client is not None:
            client, self.client = self.client, None
            await client.aclose()

    async def _run(self) -> None:
        while True:
            answered = await self.ping()
            self.checks += 1
            if answered != self.up:
                self.up = answered
                self._log(answered)
                try:
                    await self.on_change(answered)
                except Exception:  # one listener's bug must not stop the checks
                    logger.exception("telling viewers that Redis is %s failed", "up" if answered else "down")
            # While down, look twice as often: "live" again soon after Redis answers.
            await asyncio.sleep(self.interval if answered else self.interval / 2)

    async def ping(self) -> bool:
        """One PING within the deadline, on a fresh connection after any failure (a half-open
        connection to a dead server must not be trusted again)."""
        if self.client is None:
            self.client = redis_conf.async_blocking_client(
                redis_conf.target(),
                max_connections=1,
                timeout=self.deadline,
                socket_connect_timeout=settings.REDIS_CONNECT_TIMEOUT,
                socket_timeout=self.deadline,
            )
        try:
            async with asyncio.timeout(self.deadline + 0.5):  # a deadline over the socket's own
                await self.client.ping()
        except Exception as exc:  # noqa: BLE001 - refused, timed out, reset: all mean "down"
            self.last_error = f"{type(exc).__name__}: {exc}"
            client, self.client = self.client, None
            await _close_quietly(client)
            return False
        return True

    def _log(self, up: bool) -> None:
        if up:
            metrics.channel_layer_ok()
            logger.warning("Redis answers again; viewers told they are live")
        else:
            metrics.channel_layer_failed()
            logger.error(
                "Redis did not answer a PING within %.1f s (%s); viewers told they are degraded",
                self.deadline,
                getattr(self, "last_error", "?"),
            )


async def _close_quietly(client) -> None:
    try:
        await client.aclose(close_connection_pool=True)
    except Exception:  # noqa: BLE001 - a connection to a hung server may fail to close too
        pass

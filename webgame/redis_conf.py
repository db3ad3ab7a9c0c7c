"""Which Redis: the one place that turns the settings into what each Redis user needs.

Either REDIS_URL names one server, or REDIS_SENTINELS (`host:port,host:port,...`) names the
Sentinel processes that know which server is the primary of REDIS_SENTINEL_MASTER. With
sentinels, REDIS_URL's username, password and database number still apply to the primary;
its host and port do not. REDIS_SENTINEL_PASSWORD is the sentinels' own password (their
`requirepass`), if they have one.

Every user goes through here: the channel layer's host entry and Celery's broker (built
once, in webgame.settings), and the clients of the rate limits, presence and /readyz (built
at run time, keyed by `target()` so that a test changing the settings gets a new client).
A sentinel-managed connection asks the sentinels for the primary each time it connects, so
after a failover every client reconnects to the promoted replica (docs/deploy.md, "Redis
failover (Sentinel)").
"""

import functools
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlparse

import redis
import redis.asyncio as aioredis
import redis.asyncio.sentinel as aiosentinel
import redis.sentinel

DEFAULT_SENTINEL_PORT = 26379


@dataclass(frozen=True)
class Target:
    """Where Redis is: `url` alone, or the primary that `sentinels` name as `master`."""

    url: str
    sentinels: tuple[tuple[str, int], ...] = ()
    master: str = "webgame"
    sentinel_password: str = ""

    def node_kwargs(self) -> dict:
        """The primary's credentials and database, from REDIS_URL (its address comes from the
        sentinels)."""
        parsed = urlparse(self.url)
        kwargs: dict = {"db": int(parsed.path.strip("/") or 0)}
        if parsed.username:
            kwargs["username"] = unquote(parsed.username)
        if parsed.password:
            kwargs["password"] = unquote(parsed.password)
        return kwargs

    def sentinel_kwargs(self, client_kwargs: dict) -> dict:
        """How to talk to the sentinels themselves: the client's timeouts and retry policy (so
        /readyz's one short try stays short when a sentinel hangs), and their password."""
        kwargs = {k: v for k, v in client_kwargs.items() if k.startswith("socket_") or k == "retry"}
        if self.sentinel_password:
            kwargs["password"] = self.sentinel_password
        return kwargs


def sentinels_parse(entries: str | list[str] | tuple[str, ...]) -> tuple[tuple[str, int], ...]:
    """`"h1:26379,h2,[::1]:26380"` (or the same as a list) -> ((host, port), ...); a missing
    port is Sentinel's 26379. ValueError names a bad entry."""
    if isinstance(entries, str):
        entries = entries.split(",")
    parsed = []
    for entry in (e.strip() for e in entries):
        if not entry:
            continue
        host, port = entry, DEFAULT_SENTINEL_PORT
        if entry.startswith("["):  # [IPv6]:port
            host, _, rest = entry[1:].partition("]")
            if rest:
                port = _port(entry, rest.removeprefix(":"))
        elif entry.count(":") == 1:
            host, raw = entry.split(":")
            port = _port(entry, raw)
        if not host:
            raise ValueError(f"REDIS_SENTINELS: no host in {entry!r}")
        parsed.append((host, port))
    return tuple(parsed)


def _port(entry: str, raw: str) -> int:
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise ValueError(f"REDIS_SENTINELS: bad port in {entry!r}")
    return int(raw)


@functools.lru_cache(maxsize=16)
def target_from(url: str, sentinels: tuple[str, ...] | str = (), master: str = "", password: str = "") -> Target:
    """The Target of these setting values (cached: the rate limits ask on every request)."""
    return Target(url=url, sentinels=sentinels_parse(sentinels), master=master or "webgame", sentinel_password=password)


def target() -> Target:
    """The Target of the running process's Django settings, read now."""
    from django.conf import settings

    sentinels = getattr(settings, "REDIS_SENTINELS", ())
    return target_from(
        settings.REDIS_URL,
        sentinels if isinstance(sentinels, str) else tuple(sentinels),
        getattr(settings, "REDIS_SENTINEL_MASTER", ""),
        getattr(settings, "REDIS_SENTINEL_PASSWORD", ""),
    )


def channel_layer_host(where: Target, **kwargs) -> dict:
    """A `hosts` entry of channels_redis (both layers take either form)."""
    if not where.sentinels:
        return {"address": where.url, **kwargs}
    return {
        "sentinels": list(where.sentinels),
        "master_name": where.master,
        "sentinel_kwargs": where.sentinel_kwargs(kwargs),
        **where.node_kwargs(),
        **kwargs,
    }


def celery_broker(where: Target) -> tuple[str, dict]:
    """Celery's broker URL and transport options: kombu's `sentinel://h:p;sentinel://h:p`,
    each carrying the primary's credentials and database, with the master's name beside."""
    if not where.sentinels:
        return where.url, {}
    node = where.node_kwargs()
    auth = ""
    if "password" in node:
        auth = f"{quote(node.get('username', ''), safe='')}:{quote(node['password'], safe='')}@"
    urls = [f"sentinel://{auth}{_netloc(host, port)}/{node['db']}" for host, port in where.sentinels]
    options: dict = {"master_name": where.master}
    if where.sentinel_password:
        options["sentinel_kwargs"] = {"password": where.sentinel_password}
    return ";".join(urls), options


def _netloc(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def sync_client(where: Target, **kwargs) -> redis.Redis:
    """A client of the primary for sync code (kwargs: the connection's timeouts, retry)."""
    if not where.sentinels:
        return redis.Redis.from_url(where.url, **kwargs)
    manager = redis.sentinel.Sentinel(list(where.sentinels), sentinel_kwargs=where.sentinel_kwargs(kwargs))
    return manager.master_for(where.master, **where.node_kwargs(), **kwargs)


class BlockingSentinelPool(aiosentinel.SentinelConnectionPool, aioredis.BlockingConnectionPool):
    """The primary's connections, asked of the sentinels, from a bounded pool that waits for
    a free connection (redis-py has no such class: its sentinel pool raises "Too many
    connections" instead, which a thousand sockets joining at once would hit)."""


def async_blocking_client(where: Target, *, max_connections: int, timeout: float, **kwargs) -> aioredis.Redis:
    """An asyncio client on a bounded pool that waits up to `timeout` s for a connection.
    It belongs to the running event loop."""
    if not where.sentinels:
        pool = aioredis.BlockingConnectionPool.from_url(
            where.url, max_connections=max_connections, timeout=timeout, **kwargs
        )
        return aioredis.Redis(connection_pool=pool)
    manager = aiosentinel.Sentinel(list(where.sentinels), sentinel_kwargs=where.sentinel_kwargs(kwargs))
    return manager.master_for(
        where.master,
        connection_pool_class=BlockingSentinelPool,
        max_connections=max_connections,
        timeout=timeout,
        **where.node_kwargs(),
        **kwargs,
    )

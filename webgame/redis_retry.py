"""One retry on a fresh connection, for the Redis users that fail open (rate limits, chat
limits, presence, /readyz).

A pooled connection can be dead without the pool knowing: after a failover or a restart, or
when a balancer or a partition dropped it without a FIN. The first call on it then fails with
a ConnectionError though Redis is up, and a user that fails open would lose that count (a
rate limit that silently stopped counting after a failover: issue #18). So such a call is
made once more, after the pool's idle connections are dropped (they date from before the
break too); a second failure is the caller's to handle.

Only ConnectionError, and not a pool's "No connection available." (every connection busy:
most likely a Redis that hangs). A TimeoutError means a Redis that hangs, and trying again
would only double the caller's deadline. redis-py's own Retry would also retry timeouts, and
does not cover the pool's checkout (where a sentinel-managed connection asks for the primary)."""

import redis

POOL_EXHAUSTED = "No connection available."  # redis-py's blocking pools, sync and asyncio


def _dead_connection(exc: redis.ConnectionError) -> bool:
    return str(exc) != POOL_EXHAUSTED


def call_retry_once(client: redis.Redis, call):
    """`call()` (which uses `client`), once more on a fresh connection if it met a dead one."""
    try:
        return call()
    except redis.ConnectionError as exc:
        if not _dead_connection(exc):
            raise
        client.connection_pool.disconnect(inuse_connections=False)
        return call()


async def acall_retry_once(client, call):
    """call_retry_once for a redis.asyncio client: `call()` returns an awaitable."""
    try:
        return await call()
    except redis.ConnectionError as exc:
        if not _dead_connection(exc):
            raise
        await client.connection_pool.disconnect(inuse_connections=False)
        return await call()

"""Rate limits: per API key over HTTP, per connection over WebSocket.

The per-key limit is a sliding window, estimated from two fixed windows counted in Redis, so
it holds across all web processes. When Redis is unreachable it fails open (events still get
stored: losing scores is worse than a burst) and logs once per outage. The per-connection limit is a token bucket in the
consumer's own memory: a socket lives in exactly one process.
"""

import logging
import math
import threading
import time

import redis
from django.conf import settings

logger = logging.getLogger(__name__)
_clients: dict[str, redis.Redis] = {}
_clients_lock = threading.Lock()


class _FailOpen:
    """One log line when the limiter loses Redis, one when it is back."""

    def __init__(self) -> None:
        self.down = False

    def failed(self, exc: BaseException) -> None:
        if not self.down:
            self.down = True
            logger.error("rate limiter cannot reach Redis (%s: %s); allowing requests", type(exc).__name__, exc)

    def ok(self) -> None:
        if self.down:
            self.down = False
            logger.warning("rate limiter reached Redis again; limits enforced")


fail_open = _FailOpen()


def _client() -> redis.Redis:
    url = settings.REDIS_URL
    with _clients_lock:
        if url not in _clients:
            # Short timeouts: a hung Redis must not hold up storing events.
            _clients[url] = redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5)
        return _clients[url]


def api_key_retry_after(*, key_prefix: str) -> int | None:
    """Count one request for this key. None if allowed, else seconds until it may retry.

    A sliding-window estimate: this window's count plus the previous window's, weighted by
    how much of it the sliding window still covers. A plain fixed window would let a key
    send twice its limit across a window boundary."""
    limit, window = settings.WEBGAME_API_RATE_LIMIT, settings.WEBGAME_API_RATE_WINDOW
    now = time.time()
    slot = int(now // window)
    name = f"webgame:ratelimit:key:{key_prefix}:"
    try:
        # No MULTI/EXEC: INCR is atomic by itself, and EXPIRE only has to land eventually.
        pipe = _client().pipeline(transaction=False)
        pipe.incr(f"{name}{slot}")
        pipe.expire(f"{name}{slot}", window * 2)
        pipe.get(f"{name}{slot - 1}")
        count, _, previous = pipe.execute()
    except redis.RedisError as exc:
        fail_open.failed(exc)
        return None
    fail_open.ok()
    return _retry_after(count=count, previous=int(previous or 0), into=now / window - slot, limit=limit, window=window)


def _retry_after(*, count: int, previous: int, into: float, limit: int, window: int) -> int | None:
    """`into`: how far into its window this request is (0..1). A refused request counts too
    (hammering does not pay), so the wait is for the next request, the count's next one."""
    if count + previous * (1 - into) <= limit:
        return None
    following = count + 1
    if following > limit or previous == 0:
        wait = 1 - into  # not before the next window (where this one becomes the "previous")
    else:
        wait = (1 - (limit - following) / previous) - into  # until enough of the previous slides out
    return max(1, math.ceil(round(wait * window, 6)))


class ConnectionRate:
    """Token bucket for one socket's incoming frames.

    Over the rate, a frame is refused; the first refusal of a run gets an error frame, and a
    run longer than the burst means the client ignores the errors: the socket is closed."""

    __slots__ = ("burst", "rate", "refused_run", "stamp", "tokens")  # one per socket

    def __init__(self) -> None:
        self.rate = settings.WEBGAME_WS_RATE
        self.burst = settings.WEBGAME_WS_BURST
        self.tokens = float(self.burst)
        self.stamp = time.monotonic()
        self.refused_run = 0

    def take(self) -> str:
        """'ok', 'refuse' (answer with an error frame), 'drop' (already told) or 'close'."""
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            self.refused_run = 0
            return "ok"
        self.refused_run += 1
        if self.refused_run > self.burst:
            return "close"
        return "refuse" if self.refused_run == 1 else "drop"

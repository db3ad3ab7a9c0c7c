"""Rate limits: per API key over HTTP, per connection over WebSocket.

The per-key limit is a fixed window counted in Redis, so it holds across all web processes.
When Redis is unreachable it fails open (events still get stored: losing scores is worse than
a burst) and logs once per outage. The per-connection limit is a token bucket in the
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
    """Count one request for this key. None if allowed, else seconds until it may retry."""
    limit, window = settings.WEBGAME_API_RATE_LIMIT, settings.WEBGAME_API_RATE_WINDOW
    now = time.time()
    slot = int(now // window)
    name = f"webgame:ratelimit:key:{key_prefix}:{slot}"
    try:
        # No MULTI/EXEC: INCR is atomic by itself, and EXPIRE only has to land eventually.
        pipe = _client().pipeline(transaction=False)
        pipe.incr(name)
        pipe.expire(name, window * 2)
        count = pipe.execute()[0]
    except redis.RedisError as exc:
        fail_open.failed(exc)
        return None
    fail_open.ok()
    if count <= limit:
        return None
    return max(1, math.ceil((slot + 1) * window - now))


class ConnectionRate:
    """Token bucket for one socket's incoming frames.

    Over the rate, a frame is refused; the first refusal of a run gets an error frame, and a
    run longer than the burst means the client ignores the errors: the socket is closed."""

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

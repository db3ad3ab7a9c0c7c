"""The API key's rate limit (API_RATE_LIMIT per API_RATE_WINDOW, in Redis, across processes),
counted per frame on an ingest socket and per request over HTTP, but told to Redis in
batches: one round trip per frame was the socket's bottleneck (a few hundred frames/s), and
~6 % of a one-event POST's CPU.

A socket (KeyRate), or a process's POSTs for one key (SharedKeyRate), count here and report
every batch_size() frames or REPORT_SECONDS, whichever comes first. A key over its limit is
therefore seen up to a batch late (per socket; per request thread for POSTs); from then
on its frames and POSTs are refused until the limiter's retry time. A low limit is reported
at every frame (the batch is a twentieth of the limit at most), so it stays exact. Like the
limiter itself, it fails open when Redis is unreachable."""

import asyncio
import threading
import time

from asgiref.sync import sync_to_async
from django.conf import settings

from stats import ratelimit

REPORT_FRAMES = 50
REPORT_SECONDS = 0.1

_retry_after = sync_to_async(ratelimit.api_key_retry_after, thread_sensitive=False)
_SHARED_MAX = 10_000  # keys remembered per process; past it the table starts afresh


def batch_size() -> int:
    return max(1, min(REPORT_FRAMES, settings.WEBGAME_API_RATE_LIMIT // 20))


class KeyRate:
    def __init__(self, key_prefix: str) -> None:
        self.key_prefix = key_prefix
        self.unreported = 0
        self.reported_at = time.monotonic()
        self.blocked_until = 0.0
        self.report: asyncio.Task | None = None

    def take(self) -> int | None:
        """Count one frame. None if allowed, else whole seconds until the key may send again."""
        now = time.monotonic()
        if now < self.blocked_until:
            return max(1, round(self.blocked_until - now))
        self.unreported += 1
        due = self.unreported >= batch_size() or now - self.reported_at >= REPORT_SECONDS
        if due and (self.report is None or self.report.done()):
            self.report = asyncio.get_running_loop().create_task(self._report(self.unreported))
            self.unreported, self.reported_at = 0, now
        return None

    async def _report(self, frames: int) -> None:
        retry = await _retry_after(key_prefix=self.key_prefix, cost=frames)
        if retry is not None:
            self.blocked_until = time.monotonic() + retry

    def close(self) -> None:
        if self.report is not None:
            self.report.cancel()


class SharedKeyRate:
    """KeyRate for the HTTP POSTs of one key in this process: shared by the request threads,
    so thread-safe, and reported from the request thread whose count made it due."""

    def __init__(self, key_prefix: str) -> None:
        self.key_prefix = key_prefix
        self.lock = threading.Lock()
        self.unreported = 0
        self.reported_at = time.monotonic()
        self.blocked_until = 0.0

    def take(self) -> int | None:
        """Count one POST. None if allowed, else whole seconds until the key may send again."""
        now = time.monotonic()
        with self.lock:
            if now < self.blocked_until:
                return max(1, round(self.blocked_until - now))
            self.unreported += 1
            due = self.unreported >= batch_size() or now - self.reported_at >= REPORT_SECONDS
            if not due:
                return None
            cost, self.unreported, self.reported_at = self.unreported, 0, now
        # Outside the lock, and several at a time: a thread waiting on Redis must not let the
        # others run on uncounted (they would, for the round trip). So at most one batch per
        # request thread is in flight: the limit holds within WEB_SYNC_THREADS batches.
        retry = ratelimit.api_key_retry_after(key_prefix=self.key_prefix, cost=cost)
        if retry is None:
            return None
        with self.lock:
            self.blocked_until = time.monotonic() + retry
        return retry


_shared: dict[str, SharedKeyRate] = {}
_shared_lock = threading.Lock()


def http_take(key_prefix: str) -> int | None:
    """Count one POST of this key: None if allowed, else the seconds to wait (Retry-After)."""
    with _shared_lock:
        rate = _shared.get(key_prefix)
        if rate is None:
            if len(_shared) >= _SHARED_MAX:
                _shared.clear()
            rate = _shared[key_prefix] = SharedKeyRate(key_prefix)
    return rate.take()


def shared_clear() -> None:
    """Forget every key's count in this process (tests that change the limit)."""
    with _shared_lock:
        _shared.clear()

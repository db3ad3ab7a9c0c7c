"""The API key's rate limit (API_RATE_LIMIT per API_RATE_WINDOW, in Redis, across processes),
counted per frame on an ingest socket and per request over HTTP, but told to Redis in
batches: one round trip per frame was the socket's bottleneck (a few hundred frames/s), and
~6 % of a one-event POST's CPU.

A socket (KeyRate) reserves frames ahead: it asks the limiter for a batch, spends it frame by
frame, and asks for the next batch while a whole one is left; a frame with nothing reserved waits
for the reservation. So it never sends a frame the limiter has not counted: the limit is
exact under any burst (counting after the fact let 1,500 of 3,000 frames through a limit of
1,200). A socket's first batches are small (1, 2, 4 ... up to batch_size()), so a short-lived
socket reserves little more than it sends; what a socket reserved and did not send when it
closed counts against the key (at most two batches per socket: the limit errs on the low side).

A process's POSTs for one key (SharedKeyRate) count here and report every batch_size() POSTs
or REPORT_SECONDS, whichever comes first: a key over its limit is seen up to a batch late per
report in flight. A low limit is reported at every frame (the batch is a twentieth of the limit
at most), so it stays exact. Like the limiter itself, both fail open when Redis is
unreachable."""

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
    return max(1, min(REPORT_FRAMES, settings.API_RATE_LIMIT // 20))


class KeyRate:
    """One ingest socket's frames, spent from batches the limiter counted beforehand."""

    def __init__(self, key_prefix: str) -> None:
        self.key_prefix = key_prefix
        self.reserved = 0  # frames counted by the limiter and not sent yet
        self.next_batch = 1  # doubles up to batch_size(): a short socket reserves little
        self.blocked_until = 0.0
        self.report: asyncio.Task | None = None  # the reservation in flight

    def spend(self) -> bool:
        """Spend one reserved frame, if there is one (the hot path: no coroutine)."""
        if self.reserved <= 0 or time.monotonic() < self.blocked_until:
            return False
        self.reserved -= 1
        if self.reserved <= self.next_batch:
            self._reserve()  # a batch ahead of need: the frames after this one rarely wait
        return True

    async def take(self) -> int | None:
        """Count one frame. None if allowed, else whole seconds until the key may send again."""
        while True:
            if self.spend():
                return None
            now = time.monotonic()
            if now < self.blocked_until:
                return max(1, round(self.blocked_until - now))
            if ratelimit.fail_open.down:  # Redis unreachable: fail open, as the limiter does
                self._reserve()
                return None
            await asyncio.shield(self._reserve())  # shielded: a socket gone mid-wait leaves it be

    def _reserve(self) -> asyncio.Task:
        if self.report is None or self.report.done():
            batch, self.next_batch = self.next_batch, min(self.next_batch * 2, batch_size())
            self.report = asyncio.get_running_loop().create_task(self._report(batch))
        return self.report

    async def _report(self, frames: int) -> None:
        retry = await _retry_after(key_prefix=self.key_prefix, cost=frames)
        if retry is None:
            self.reserved += frames
        else:
            self.blocked_until = time.monotonic() + retry
            self.next_batch = 1  # after a refusal, ask small again: the window has room for less

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
        """atake() for a sync view (stats.scoring's writes), in its request thread; the report
        goes to Redis from that thread, outside the lock."""
        counted = self._count()
        if counted is None or counted < 0:
            return None if counted is None else -counted
        return self._reported(ratelimit.api_key_retry_after(key_prefix=self.key_prefix, cost=counted))

    async def atake(self) -> int | None:
        """Count one POST. None if allowed, else whole seconds until the key may send again.
        A due report goes to Redis from a worker thread while the loop serves on; meanwhile
        the next POSTs count towards the next batch, so a key over its limit is seen up to a
        few batches late (one per report in flight), never lost."""
        counted = self._count()
        if counted is None or counted < 0:
            return None if counted is None else -counted
        report = sync_to_async(ratelimit.api_key_retry_after, thread_sensitive=False)  # looked up now: tests wrap it
        return self._reported(await report(key_prefix=self.key_prefix, cost=counted))

    def _count(self) -> int | None:
        """None: counted, nothing to report yet. Negative: blocked, that many seconds. Else
        the POSTs to report now."""
        now = time.monotonic()
        with self.lock:
            if now < self.blocked_until:
                return -max(1, round(self.blocked_until - now))
            self.unreported += 1
            due = self.unreported >= batch_size() or now - self.reported_at >= REPORT_SECONDS
            if not due:
                return None
            cost, self.unreported, self.reported_at = self.unreported, 0, now
            return cost

    def _reported(self, retry: int | None) -> int | None:
        if retry is None:
            return None
        with self.lock:
            self.blocked_until = time.monotonic() + retry
        return retry


_shared: dict[str, SharedKeyRate] = {}
_shared_lock = threading.Lock()


def http_take(key_prefix: str) -> int | None:
    """http_atake for a sync view."""
    return _shared_for(key_prefix).take()


async def http_atake(key_prefix: str) -> int | None:
    """Count one POST of this key: None if allowed, else the seconds to wait (Retry-After)."""
    return await _shared_for(key_prefix).atake()


def _shared_for(key_prefix: str) -> SharedKeyRate:
    with _shared_lock:
        rate = _shared.get(key_prefix)
        if rate is None:
            if len(_shared) >= _SHARED_MAX:
                _shared.clear()
            rate = _shared[key_prefix] = SharedKeyRate(key_prefix)
    return rate


def shared_clear() -> None:
    """Forget every key's count in this process (tests that change the limit)."""
    with _shared_lock:
        _shared.clear()

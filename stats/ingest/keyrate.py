"""The API key's rate limit (API_RATE_LIMIT per API_RATE_WINDOW, in Redis, across processes)
for an ingest socket, counted per frame as per request over HTTP, but told to Redis in
batches: one round trip per frame was the socket's bottleneck (a few hundred frames/s).

A socket counts its frames here and reports them every REPORT_FRAMES frames or
REPORT_SECONDS, whichever comes first, one report in flight at a time. A key over its limit
is therefore seen up to one batch late; from then on the socket's frames are refused until
the limiter's retry time. Like the HTTP limit, it fails open when Redis is unreachable."""

import asyncio
import time

from asgiref.sync import sync_to_async

from stats import ratelimit

REPORT_FRAMES = 50
REPORT_SECONDS = 0.1

_retry_after = sync_to_async(ratelimit.api_key_retry_after, thread_sensitive=False)


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
        due = self.unreported >= REPORT_FRAMES or now - self.reported_at >= REPORT_SECONDS
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

"""Admission of the heavy API reads: at most API_READ_CONCURRENCY at a time per web process.

A snapshot, a page of up to 1,000 events, a history, a chat page or a derived stat's
leaderboard (ranked in Python, ~200 ms of CPU at 20,000 players) runs in one of the
WEB_SYNC_THREADS (webgame.handler). Reads from many connections once took every thread and
a one-event POST waited 2 s behind them. So a heavy read waits here for a slot, on the event
loop (the async chain: it holds no thread while it waits), and one that waits more than
API_READ_WAIT_MS is answered 503 with Retry-After, having cost no thread and no query.

The reads are known by their URL names (stats.api, stats.chat.api, stats.scoring.api), not by
a copy of their paths."""

import asyncio
import threading

from django.conf import settings
from django.urls import Resolver404, resolve

from stats.apikit import error_response
from webgame.middleware import HookMiddleware

HEAVY_READS = frozenset({"events", "snapshot_get", "history_get", "chat_get", "leaderboard_get"})
API_GAMES = "/api/games/"


def heavy_read(request) -> bool:
    return request.method == "GET" and heavy_read_path(request.path_info, getattr(request, "urlconf", None))


def heavy_read_path(path: str, urlconf=None) -> bool:
    """Whether a GET of this path is a heavy read (also webgame.api: its 503 in the document)."""
    if not path.startswith(API_GAMES):
        return False
    try:
        return resolve(path, urlconf).url_name in HEAVY_READS
    except Resolver404:
        return False


def busy_response():
    response = error_response(503, "busy", "the server is busy with other reads; retry shortly")
    response["Retry-After"] = "1"
    # Back-pressure, not a failure: no ERROR line per refused read (Django logs a 5xx).
    response._has_been_logged = True
    return response


class HeavyReadMiddleware(HookMiddleware):
    def __init__(self, get_response) -> None:
        super().__init__(get_response)
        self.loop: asyncio.AbstractEventLoop | None = None
        self.slots: asyncio.Semaphore | None = None
        self.thread_slots = threading.BoundedSemaphore(settings.API_READ_CONCURRENCY)

    def _slots(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()  # a semaphore belongs to its loop (tests run several)
        if self.loop is not loop:
            self.loop, self.slots = loop, asyncio.Semaphore(settings.API_READ_CONCURRENCY)
        return self.slots

    async def __acall__(self, request):
        if not heavy_read(request):
            return await self.get_response(request)
        slots = self._slots()
        try:
            async with asyncio.timeout(settings.API_READ_WAIT_MS / 1000):
                await slots.acquire()
        except TimeoutError:
            return busy_response()
        try:
            return await self.get_response(request)
        finally:
            slots.release()

    def __call__(self, request):
        # The sync chain (the test client, WSGI): threads wait on a thread semaphore instead.
        if self.async_mode or not heavy_read(request):
            return super().__call__(request)
        if not self.thread_slots.acquire(timeout=settings.API_READ_WAIT_MS / 1000):
            return busy_response()
        try:
            return self.get_response(request)
        finally:
            self.thread_slots.release()

"""Django's ASGI handler with long-lived sync threads.

Django runs each ASGI request's sync code (sync middleware, sync views) in a thread of its
own, made for that request and dropped after it (asgiref's ThreadSensitiveContext). Database
connections are per thread, so under ASGI CONN_MAX_AGE never reuses one: every request
opened a new SQLite connection (and its PRAGMAs), or a new PostgreSQL session, and started a
new OS thread. Profiling a single-event POST showed both near the top.

Here each request borrows one of a few single-thread executors that live as long as the
process: sync code of one request still stays on one thread, requests still run side by side
(up to WEB_SYNC_THREADS at a time, the rest wait for a free thread), and each thread keeps its
persistent database connection. Needs asgiref >= 3.10 (ThreadSensitiveContext(executor=...)).

The middleware chain is also built for sync code and run as one unit in that thread. Django's
ASGI handler builds it async, and then every MiddlewareMixin runs its process_request and
process_response through sync_to_async, while a sync-only middleware (WhiteNoise) forces a
switch back: about a dozen thread hand-offs per request, measured as ~40% of a single-event
POST's CPU. Every view here is sync, so nothing is lost by running the chain in one hop.

Heavy reads (a snapshot, a page of up to 1,000 events, a history) may hold at most
API_READ_CONCURRENCY of the threads at a time, fewer than there are: reads from many
connections once queued ahead of every POST for the threads, and a one-event POST took 2 s.
A read that waits more than API_READ_WAIT_MS for a slot is answered 503 with Retry-After.
"""

import asyncio
import re
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.conf import settings
from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.http import FileResponse, HttpResponseBase
from django.urls import set_script_prefix

from webgame import httpkit

# The leaderboard too: a derived stat's is ranked in Python (stats.scoring.leaderboard, kept
# per seq), ~200 ms of CPU at 20,000 players, and anyone may read it (issue #19).
HEAVY_READ = re.compile(r"/api/games/[^/]+/(?:events|history|snapshot|chat|leaderboard)$")
# Sent from here: a refused read takes no thread at all.
BUSY_BODY = httpkit.error_bytes("busy", "the server is busy with other reads; retry shortly")
BUSY_HEADERS = [
    (b"content-type", b"application/json"),
    (b"content-length", str(len(BUSY_BODY)).encode()),
    (b"retry-after", b"1"),
    (b"x-content-type-options", b"nosniff"),
]


class PooledThreadASGIHandler(ASGIHandler):
    def __init__(self, threads: int | None = None) -> None:
        # Not ASGIHandler.__init__, which would build the async chain (then thrown away).
        self.load_middleware(is_async=False)
        self.threads = threads or settings.WEB_SYNC_THREADS
        self.free: asyncio.Queue[ThreadPoolExecutor] | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.read_slots_loop: asyncio.AbstractEventLoop | None = None

    def _pool(self) -> asyncio.Queue:
        # Built lazily on the server's loop (asyncio queues belong to a loop; tests run several).
        loop = asyncio.get_running_loop()
        if self.free is None or self.loop is not loop:
            self.loop, self.free = loop, asyncio.Queue()
            from stats.live import publish  # not at import: this module loads before django.setup()

            publish.server_loop_register(loop)  # the live path's seam: pushes from sync threads use it
            for i in range(self.threads):
                self.free.put_nowait(ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"django-sync-{i}"))
        return self.free

    async def handle(self, scope, receive, send):
        """Django's ASGIHandler.handle, with one hop to the request's thread where Django's
        makes three: request_started's receivers, the chain and the view, and the response's
        close() (request_finished's receivers) each went through sync_to_async. A hop is a
        round trip of futures and callbacks on the event loop, and the loop is the core the
        POSTs share: 16 clients' one-event POSTs into PostgreSQL, A/B alternating, 451-477 ->
        550-594 POSTs per server CPU-s (docs/benchmarks.md, issue #13). A response whose
        content is in memory is closed in that hop, before it is sent (closing ends the
        request, its content stays); a streamed one is closed after it is sent, as Django
        does. Unlike Django's, a client that goes away does not cancel the request: a sync
        view cannot be stopped anyway. test_handler's canary tests hold it to Django's order."""
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        try:
            set_script_prefix(get_script_prefix(scope))
            response = await sync_to_async(self._response_make, thread_sensitive=True)(scope, body_file)
            await self.send_response(response, send)
            if response.streaming:
                await sync_to_async(response.close, thread_sensitive=True)()
        finally:
            body_file.close()

    def _response_make(self, scope, body_file) -> HttpResponseBase:
        """In the request's thread: the request, the sync chain and the view."""
        signals.request_started.send(sender=self.__class__, scope=scope)
        request, response = self.create_request(scope, body_file)
        if request is not None:
            response = self.get_response(request)
            response._handler_class = self.__class__
            if isinstance(response, FileResponse):  # the server chunks: bigger blocks
                response.block_size = self.chunk_size
        if not response.streaming:
            response.close()
        return response

    def _read_slots(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()  # a semaphore belongs to a loop too
        if self.read_slots_loop is not loop:
            self.read_slots_loop, self.read_slots = loop, asyncio.Semaphore(settings.WEBGAME_API_READ_CONCURRENCY)
        return self.read_slots

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        if scope["method"] != "GET" or not HEAVY_READ.search(scope["path"]):
            return await self._pooled(scope, receive, send)
        slots = self._read_slots()
        try:
            async with asyncio.timeout(settings.WEBGAME_API_READ_WAIT_MS / 1000):
                await slots.acquire()
        except TimeoutError:
            await send({"type": "http.response.start", "status": 503, "headers": BUSY_HEADERS})
            return await send({"type": "http.response.body", "body": BUSY_BODY})
        try:
            await self._pooled(scope, receive, send)
        finally:
            slots.release()

    async def _pooled(self, scope, receive, send):
        free = self._pool()
        executor = await free.get()
        try:
            # A context with an executor can be entered once: a new one per request.
            async with ThreadSensitiveContext(executor=executor):
                await self.handle(scope, receive, send)
        finally:
            free.put_nowait(executor)


def get_pooled_asgi_application() -> PooledThreadASGIHandler:
    import django

    django.setup(set_prefix=False)
    return PooledThreadASGIHandler()

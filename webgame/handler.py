"""Django's own ASGIHandler; this shim changes only the executor its sync code runs on.

Django runs a request's sync code (a sync view, a sync signal receiver) in a thread made for
that request and dropped after it (asgiref's ThreadSensitiveContext): database connections
are per thread, so CONN_MAX_AGE never reused one, and every request opened a new SQLite
connection or PostgreSQL session and started an OS thread (both near the top of a profile).
Here each request borrows one of WEB_SYNC_THREADS single-thread executors that live as long as
the process: its sync code still stays on one thread, and that thread keeps its connection.
Everything else (the async middleware chain, disconnect handling, signals) is Django's
handler, unchanged; test_handler's canary fails when Django's code this relies on changes.
"""

import asyncio
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import ThreadSensitiveContext
from django.conf import settings
from django.core.handlers.asgi import ASGIHandler


class PooledExecutorASGIHandler(ASGIHandler):
    def __init__(self, threads: int | None = None) -> None:
        super().__init__()
        self.threads = threads or settings.WEB_SYNC_THREADS
        self.free: asyncio.Queue[ThreadPoolExecutor] | None = None
        self.loop: asyncio.AbstractEventLoop | None = None

    def _pool(self) -> asyncio.Queue:
        # Built on the serving loop (an asyncio queue belongs to a loop; tests run several).
        loop = asyncio.get_running_loop()
        if self.free is None or self.loop is not loop:
            self.loop, self.free = loop, asyncio.Queue()
            for i in range(self.threads):
                self.free.put_nowait(ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"django-sync-{i}"))
        return self.free

    async def __call__(self, scope, receive, send):
        free = self._pool()
        executor = await free.get()
        try:
            # Django's own ThreadSensitiveContext inside this one then keeps this executor
            # (asgiref: the outermost context wins). One context per request: it enters once.
            async with ThreadSensitiveContext(executor=executor):
                await super().__call__(scope, receive, send)
        finally:
            free.put_nowait(executor)


def get_pooled_asgi_application() -> PooledExecutorASGIHandler:
    import django

    django.setup(set_prefix=False)
    return PooledExecutorASGIHandler()

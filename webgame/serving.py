"""What a process that serves HTTP sets up once, at its first request (webgame.asgi wraps the
HTTP stack in ServingLoop).

- The loop that serves: sync code (a request's thread, the group-commit writer) hands its
  live pushes to it (stats.live.publish), and a POST joins the game's group commit only where
  a server loop runs (stats.ingest.committer.http_grouped): the test client and a shell write
  directly.
- request_started without Django's two sync receivers. Django's handler sends the signal with
  asend, which runs sync receivers in the request's thread: a hop to it and back per request,
  ~100 µs of CPU (bench.post_cpu), for an async POST that needs no thread at all. Neither is
  needed here: close_old_connections also runs at request_finished, in the same long-lived
  thread (webgame.handler), so each connection was checked at the end of its thread's last
  request, and CONN_HEALTH_CHECKS checks it again at its first use in the next one; and
  reset_queries only empties the query log DEBUG keeps, a deque bounded by Django (9,000).
"""

import asyncio

from django.core import signals
from django.db import close_old_connections, reset_queries

from stats.live import publish


def request_started_lighten() -> None:
    signals.request_started.disconnect(close_old_connections)
    signals.request_started.disconnect(reset_queries)


class ServingLoop:
    def __init__(self, app) -> None:
        self.app = app
        self.loop: asyncio.AbstractEventLoop | None = None

    async def __call__(self, scope, receive, send):
        loop = asyncio.get_running_loop()
        if loop is not self.loop:  # the first request, or a new loop (tests run several)
            self.loop = loop
            publish.server_loop_register(loop)
            request_started_lighten()
        return await self.app(scope, receive, send)

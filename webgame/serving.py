"""The loop that serves HTTP, told to the app once (webgame.asgi wraps the HTTP stack in it).

Sync code (a request's thread, the group-commit writer) hands its live pushes to this loop
(stats.live.publish), and a POST joins the game's group commit only where a server loop
runs (stats.ingest.committer.http_grouped): the test client and a shell write directly."""

import asyncio

from stats.live import publish


class ServingLoop:
    def __init__(self, app) -> None:
        self.app = app
        self.loop: asyncio.AbstractEventLoop | None = None

    async def __call__(self, scope, receive, send):
        loop = asyncio.get_running_loop()
        if loop is not self.loop:  # the first request, or a new loop (tests run several)
            self.loop = loop
            publish.server_loop_register(loop)
        return await self.app(scope, receive, send)

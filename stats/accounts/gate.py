"""Password checks, LOGIN_CONCURRENCY at a time per web process (issue #19).

A password check is ~250 ms of a core (PBKDF2, on purpose). The lockout bounds the guesses
per username and per address, but many addresses each under the limit still make a flood of
checks; at 16 side by side they took both cores and another game's one-event POST waited
seconds. So the POSTs that check a password (the two login pages and sign-up) wait for a slot
on the event loop, before they take one of the web threads (webgame.handler): a waiting login
holds no thread, and the POSTs of the games always find one. One that waits more than
LOGIN_WAIT_MS is let through marked busy, and LoginBusyMiddleware answers it 503 with
Retry-After without checking anything.
"""

import asyncio

from asgiref.sync import sync_to_async
from django.conf import settings
from django.shortcuts import render
from django.urls import reverse

from webgame.middleware import HookMiddleware

BUSY = "webgame.login_busy"  # the scope key the gate sets on a login it could not admit in time


def gated_paths() -> frozenset[str]:
    return frozenset({settings.LOGIN_URL, reverse("admin:login"), reverse("signup")})


class LoginGate:
    """ASGI middleware in front of Django's handler (webgame.asgi)."""

    def __init__(self, app) -> None:
        self.app = app
        self.paths: frozenset[str] | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.slots: asyncio.Semaphore | None = None

    def _slots(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()  # a semaphore belongs to its loop (tests run several)
        if self.loop is not loop:
            self.loop, self.slots = loop, asyncio.Semaphore(settings.LOGIN_CONCURRENCY)
        return self.slots

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "POST" or settings.LOGIN_CONCURRENCY <= 0:
            return await self.app(scope, receive, send)
        if self.paths is None:
            self.paths = gated_paths()
        if scope["path"] not in self.paths:
            return await self.app(scope, receive, send)
        slots = self._slots()
        try:
            async with asyncio.timeout(settings.LOGIN_WAIT_MS / 1000):
                await slots.acquire()
        except TimeoutError:
            return await self.app({**scope, BUSY: True}, receive, send)
        try:
            await self.app(scope, receive, send)
        finally:
            slots.release()


class LoginBusyMiddleware(HookMiddleware):
    """Answers a login the gate marked busy: 503, the site's page, nothing checked."""

    def before(self, request):
        if getattr(request, "scope", {}).get(BUSY):
            response = render(request, "503_login.html", status=503)
            response["Retry-After"] = "2"
            return response
        return None

    async def __acall__(self, request):
        if getattr(request, "scope", {}).get(BUSY):  # the page reads request.user: the database
            return await sync_to_async(self.before)(request)
        return await self.get_response(request)

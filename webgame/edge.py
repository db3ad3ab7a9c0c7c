"""The HTTP edge: request bodies over the cap are refused before they are buffered, and a body
that stops coming is answered 408 instead of holding its connection forever (issue #10).

Django reads the whole request body before any view runs (ASGIHandler.read_body spools it to
a temporary file), so without this a 300 MB upload was read to the end before the API looked
at its key, let alone its size. This middleware sits between the server and Django: a
Content-Length over MAX_BODY_BYTES (Django's DATA_UPLOAD_MAX_MEMORY_SIZE is set from it) is
answered 413 at once, and a chunked body is counted as it streams and cut off at the cap.

Under daphne it saves the view, not the memory: daphne reads the whole request and queues all
of its body for the app before the app is called. Hence the Procfile runs uvicorn
(docs/deploy.md has the figures).
"""

import asyncio

from django.conf import settings

from webgame import httpkit

DISCONNECT = {"type": "http.disconnect"}


def declared_length(scope) -> int | None:
    """The request's Content-Length, or None when it has none (chunked) or a malformed one
    (the server refuses those; the body is counted as it streams anyway)."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.strip().isdigit() else None
    return None


async def refuse(send, status: int, code: str, message: str) -> None:
    """An error in the API's shape, sent without Django."""
    body = httpkit.error_bytes(code, message)
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"x-content-type-options", b"nosniff"),
        # The rest of the body is never read, so the connection cannot carry another request:
        # the server closes it after this answer instead of reading on.
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class BodyReader:
    """The app's `receive` while the body comes in: it counts the bytes and bounds each wait
    for more. At the cap or the timeout it tells the app the client went away (Django then
    drops what it has and returns) and keeps the refusal for the middleware to send."""

    def __init__(self, receive, cap: int | None, timeout: float | None) -> None:
        self.receive, self.cap, self.timeout = receive, cap, timeout
        self.read = 0
        self.complete = False
        self.refusal: tuple[int, str, str] | None = None

    async def __call__(self):
        if self.complete:  # after the body: the server's own receive (Django awaits a disconnect)
            return await self.receive()
        if self.refusal is not None:
            return DISCONNECT
        try:
            async with asyncio.timeout(self.timeout):
                message = await self.receive()
        except TimeoutError:
            self.refusal = (408, "body_timeout", f"the request body stalled for {self.timeout:g} s")
            return DISCONNECT
        if message["type"] != "http.request":
            return message
        self.read += len(message.get("body", b""))
        if self.cap is not None and self.read > self.cap:
            self.refusal = (413, "too_large", f"body over {self.cap} bytes")
            return DISCONNECT
        self.complete = not message.get("more_body", False)
        return message


class BodyLimitMiddleware:
    """Wraps the "http" app (webgame.asgi). Settings are read per request, so that tests (and
    an override) change them without a restart."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        cap = settings.MAX_BODY_BYTES  # None: no cap, as in Django
        length = declared_length(scope)
        if cap is not None and length is not None and length > cap:
            # Refused on the headers alone: no byte of the body is read (no 100 Continue either).
            return await refuse(send, 413, "too_large", f"body over {cap} bytes")
        reader = BodyReader(receive, cap, settings.HTTP_BODY_TIMEOUT or None)
        started = False

        async def send_tracked(message):
            nonlocal started
            started = True
            await send(message)

        await self.app(scope, reader, send_tracked)
        if reader.refusal is not None and not started:
            await refuse(send, *reader.refusal)

"""Moving frames: over the ingest socket while it opens, over HTTP POST while it does not.

The socket is the fast path (one connection, frames pipelined, answers in order). When it
cannot be opened (the server refuses the handshake, as one without the ingest route does, or
a proxy that passes no WebSockets) the same frames go as POSTs, one at a time, and every
`socket_retry` seconds the socket is tried again."""

import asyncio
import json
import logging
import time
import urllib.parse

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from .answers import http_post, ws_answer
from .engine import Engine

log = logging.getLogger("webgame_client")


class NoAnswer(Exception):
    """A frame in flight went unanswered for answer_timeout: the socket is as good as dead."""


def refusal_reason(exc: BaseException) -> str:
    """Why the socket could not be opened: a server that can answer a handshake with a body
    (uvicorn) says why in the API's error shape (a missing or wrong key...); else the error."""
    reason = str(exc) or type(exc).__name__
    if isinstance(exc, InvalidStatus):
        try:
            error = json.loads(exc.response.body or b"")["error"]
            reason = f"{reason}: {error['code']}: {error['message']}"
        except (ValueError, TypeError, KeyError):
            pass
    return reason


def urls(base_url: str, slug: str, ws_url: str | None = None) -> tuple[str, str]:
    """The ingest socket's URL and the HTTP events URL, both from the server's base URL."""
    parts = urllib.parse.urlsplit(base_url.rstrip("/"))
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"base_url must be http(s)://host[:port], not {base_url!r}")
    quoted = urllib.parse.quote(slug, safe="")
    scheme = "wss" if parts.scheme == "https" else "ws"
    socket_url = ws_url or f"{scheme}://{parts.netloc}{parts.path}/ws/ingest/{quoted}/"
    if not socket_url.startswith(("ws://", "wss://")):
        raise ValueError(f"ws_url must be ws(s)://..., not {ws_url!r}")
    return socket_url, f"{parts.scheme}://{parts.netloc}{parts.path}/api/games/{quoted}/events"


class Runner:
    def __init__(self, engine: Engine, *, ws_url: str, http_url: str, key: str) -> None:
        self.engine, self.ws_url, self.http_url, self.key = engine, ws_url, http_url, key
        self.transport = "none"  # "socket" or "http": which one carries frames now

    async def run(self) -> None:
        """Forever (until cancelled by close()): connect when there is work, carry frames,
        wait a backoff after a loss. A bug in here is logged and the loop goes on."""
        while True:
            try:
                await self.engine.work_wait()
                await self._cycle()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("webgame_client: unexpected error; going on after a backoff")
                self.engine.in_flight_requeue("connection_lost", "client error")
                await asyncio.sleep(self.engine.backoff.next())

    async def _cycle(self) -> None:
        """One socket, or one spell of HTTP when it cannot be opened."""
        try:
            ws = await self._open()
        except (OSError, TimeoutError, InvalidHandshake, ConnectionClosed) as exc:
            log.info("webgame_client: socket refused (%s); posting over HTTP", refusal_reason(exc))
            self.engine.counters.add(http_fallbacks=1)
            reachable = await self._http_spell()
            if not reachable:
                await asyncio.sleep(self.engine.backoff.next())
            return
        lost = await self._socket_session(ws)
        log.info("webgame_client: socket lost (%s); reconnecting", lost)
        await asyncio.sleep(self.engine.backoff.next())

    async def _open(self) -> ClientConnection:
        return await connect(
            self.ws_url,
            additional_headers={"Authorization": f"Bearer {self.key}"},
            open_timeout=self.engine.config.timeout,
            close_timeout=1,
            compression=None,  # small JSON frames: deflate costs both ends CPU for little
            user_agent_header="webgame-client",
        )

    async def _socket_session(self, ws: ClientConnection) -> str:
        """Send and receive until the socket goes; what ended it."""
        self.transport = "socket"
        sender = asyncio.create_task(self._ws_send(ws))
        receiver = asyncio.create_task(self._ws_receive(ws))
        try:
            done, _ = await asyncio.wait({sender, receiver}, return_when=asyncio.FIRST_COMPLETED)
            exc = next(iter(done)).exception()
            if exc is not None and not isinstance(exc, ConnectionClosed | NoAnswer | OSError):
                log.warning("webgame_client: socket session failed", exc_info=exc)  # a bug: show it
            return str(exc) if exc else "closed"
        finally:
            self.transport = "none"
            for task in (sender, receiver):
                task.cancel()
            await asyncio.gather(sender, receiver, return_exceptions=True)
            self.engine.in_flight_requeue("connection_lost", "the socket closed before the answer")
            await ws.close()

    async def _ws_send(self, ws: ClientConnection) -> None:
        while True:
            frame = await self.engine.frame_next(self.engine.config.max_in_flight)
            assert frame is not None  # no deadline given
            await ws.send(frame.ws_text(self.engine.frame_sent(frame)))

    async def _ws_receive(self, ws: ClientConnection) -> None:
        """Answers come in the order frames went; each settles its frame by ref."""
        while True:
            try:
                async with asyncio.timeout(self.engine.answer_wait()):
                    raw = await ws.recv()
            except TimeoutError:
                if self.engine.in_flight and self.engine.answer_wait() <= 0:
                    raise NoAnswer(f"no answer within {self.engine.config.answer_timeout}s") from None
                continue
            try:
                message = json.loads(raw)
            except ValueError:
                log.warning("webgame_client: a frame that is not JSON: %.100r", raw)
                continue
            answer = ws_answer(message) if isinstance(message, dict) else None
            frame = self.engine.in_flight.pop(message.get("ref"), None) if answer else None
            if answer is None or frame is None:
                log.debug("webgame_client: ignored %.200r", raw)
                continue
            self.engine.answer(frame, answer)

    async def _http_spell(self) -> bool:
        """POST frames until `socket_retry` is up; False when the server cannot be reached."""
        self.transport = "http"
        until = time.monotonic() + self.engine.config.socket_retry
        loop = asyncio.get_running_loop()
        try:
            while (frame := await self.engine.frame_next(1, until)) is not None:
                ref = self.engine.frame_sent(frame)
                body, timeout = frame.http_body(), self.engine.config.timeout
                answer = await loop.run_in_executor(None, http_post, self.http_url, self.key, body, timeout)
                if self.engine.in_flight.pop(ref, None) is None:
                    return True  # given up on meanwhile (close)
                self.engine.answer(frame, answer)
                if answer.code in ("unreachable", "connection_lost"):
                    return False
            return True
        finally:
            self.transport = "none"

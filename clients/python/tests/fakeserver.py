"""A stand-in for a webgame server's ingest (docs/protocol.md, "Ingest socket"; README, "POST
/api/games/<slug>/events"), as an ASGI app under uvicorn in a thread: exactly once by event
id, answers in order, and a script of misbehaviours for the client's tests."""

import asyncio
import json
import socket
import threading
import time
from collections.abc import Callable

import uvicorn

# What the next socket frames get instead of an ack, one per frame: an error code, or
# "drop" (close without storing), "drop_after_store" (store, then close without answering),
# "silent" (store nothing, answer nothing, keep the socket open).
ScriptItem = str


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(condition: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not met within {timeout}s")
        time.sleep(0.01)


class FakeIngest:
    def __init__(self, slug: str = "arena", key: str = "secret") -> None:
        self.slug, self.key = slug, key
        self.lock = threading.Lock()
        self.stored: dict[str, dict] = {}
        self.ws_frames: list[dict] = []  # every events frame received, in order
        self.posts: list[dict] = []  # every POST body received
        self.handshakes = 0
        self.refuse_socket = False
        self.script: list[ScriptItem] = []
        self.http_script: list[tuple[int, str, dict]] = []  # (status, code, headers) for the next POSTs
        self.answer_delay = 0.0
        self.unanswered = self.max_unanswered = 0  # socket frames received and not answered yet

    def store(self, events: list[dict]) -> tuple[int, int] | str:
        """(accepted, duplicates), or the error code; all or nothing, as the server. The game's
        last seq is then len(self.stored): the count of distinct events."""
        with self.lock:
            if any(e["id"] in self.stored and self.stored[e["id"]] != e for e in events):
                return "id_conflict"
            duplicates = sum(e["id"] in self.stored for e in events)
            self.stored.update((e["id"], e) for e in events)
            return len(events) - duplicates, duplicates

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "websocket":
            await self._socket(scope, receive, send)
        elif scope["type"] == "http":
            await self._http(scope, receive, send)

    def _authorized(self, scope) -> bool:
        headers = dict(scope["headers"])
        return headers.get(b"authorization") == f"Bearer {self.key}".encode()

    async def _socket(self, scope, receive, send) -> None:
        await receive()  # websocket.connect
        path_ok = scope["path"] == f"/ws/ingest/{self.slug}/"
        if self.refuse_socket or not path_ok or not self._authorized(scope):
            await send({"type": "websocket.close"})  # before accept: a 403 handshake
            return
        self.handshakes += 1
        await send({"type": "websocket.accept"})
        frames: asyncio.Queue = asyncio.Queue()
        answering = asyncio.create_task(self._answer(frames, send))
        try:
            while (message := await receive())["type"] == "websocket.receive":
                frame = json.loads(message["text"])
                with self.lock:
                    self.ws_frames.append(frame)
                frames.put_nowait(frame)
                self.unanswered += 1
                self.max_unanswered = max(self.max_unanswered, self.unanswered)
        finally:
            answering.cancel()
            await asyncio.gather(answering, return_exceptions=True)

    async def _answer(self, frames: asyncio.Queue, send) -> None:
        while True:
            frame = await frames.get()
            await asyncio.sleep(self.answer_delay)
            self.unanswered -= 1  # from here on, the client may send the next frame
            item = self.script.pop(0) if self.script else ""
            ref = frame["ref"]
            if item == "silent":
                continue
            if item in ("drop", "drop_after_store"):
                if item == "drop_after_store":
                    self.store(frame["events"])
                await send({"type": "websocket.close", "code": 4500})
                return
            result = item or self.store(frame["events"])
            if isinstance(result, tuple):
                accepted, duplicates = result
                answer = {"type": "ack", "ref": ref, "accepted": accepted, "duplicates": duplicates}
                answer["last_seq"] = len(self.stored)
            else:
                answer = {"type": "error", "ref": ref, "code": result, "message": f"refused: {result}"}
            await send({"type": "websocket.send", "text": json.dumps(answer)})

    async def _http(self, scope, receive, send) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        if scope["path"] != f"/api/games/{self.slug}/events" or scope["method"] != "POST":
            return await _respond(send, 404, {"error": {"code": "not_found", "message": "no such page"}})
        if not self._authorized(scope):
            return await _respond(send, 401, {"error": {"code": "unauthorized", "message": "no key"}})
        data = json.loads(body)
        with self.lock:
            self.posts.append(data)
        if self.http_script:
            status, code, headers = self.http_script.pop(0)
            return await _respond(send, status, {"error": {"code": code, "message": "scripted"}}, headers)
        result = self.store(data["events"])
        if isinstance(result, str):
            return await _respond(send, 422, {"error": {"code": result, "message": "conflict"}})
        await _respond(send, 202, {"accepted": result[0], "duplicates": result[1], "last_seq": len(self.stored)})


async def _respond(send, status: int, data: dict, headers: dict | None = None) -> None:
    raw = json.dumps(data).encode()
    extra = [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    await send(
        {"type": "http.response.start", "status": status, "headers": [(b"content-type", b"application/json"), *extra]}
    )
    await send({"type": "http.response.body", "body": raw})


class ServerThread:
    """uvicorn serving `app` on a fixed port in a thread; stop() and start() again to play a
    server restart (the client keeps its URL)."""

    def __init__(self, app, port: int | None = None) -> None:
        self.app, self.port = app, port or free_port()
        self.server: uvicorn.Server | None = None
        self.thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "ServerThread":
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=self.port, lifespan="off", log_level="warning", ws="websockets-sansio"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        wait_for(lambda: self.server.started, what="uvicorn start")
        return self

    def stop(self) -> None:
        if self.server is not None and self.thread is not None:
            self.server.should_exit = self.server.force_exit = True
            self.thread.join(10)
        self.server = self.thread = None

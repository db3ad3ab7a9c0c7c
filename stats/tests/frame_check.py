"""A pytest plugin (pyproject's addopts): every frame a test receives from a webgame socket is
checked against the frame models of stats.live.frames, whatever client the test uses (the
channels communicator, the websockets library's asyncio or sync client). A frame the server
sends that the definitions do not describe fails the test that received it.

Frames are also checked where an in-process server sends them (a consumer's `send`, and
`frame_send` for the frames the fan-out builds once for many sockets), so a frame no test
client reads (a raw socket, a client that stops early) is checked too: a failure there is
kept and fails the test at its end (raised in the consumer, it would only close a socket)."""

import json

import pytest

from stats.live.frames import frame_validate

SOCKET_PATHS = ("/ws/games/", "/ws/lobby/", "/ws/ingest/")


def _checked(path: str | None, data):
    if path is not None and path.startswith(SOCKET_PATHS) and isinstance(data, str):
        frame_validate(json.loads(data))
    return data


def _sent_checks(monkeypatch) -> list[str]:
    from stats.live.jsonsocket import JsonFrameConsumer

    bad: list[str] = []
    send, frame_send = JsonFrameConsumer.send, JsonFrameConsumer.frame_send

    def check(consumer, text) -> None:
        try:
            _checked(consumer.scope.get("path"), text)
        except Exception as exc:  # noqa: BLE001 - kept for the test's end, with the frame
            bad.append(f"{type(consumer).__name__} sent {str(text)[:200]!r}: {exc}")

    async def send_checked(self, text_data=None, bytes_data=None, close=False):
        check(self, text_data)
        return await send(self, text_data=text_data, bytes_data=bytes_data, close=close)

    async def frame_send_checked(self, frame):
        check(self, frame.text)
        return await frame_send(self, frame)

    monkeypatch.setattr(JsonFrameConsumer, "send", send_checked)
    monkeypatch.setattr(JsonFrameConsumer, "frame_send", frame_send_checked)
    return bad


@pytest.fixture(autouse=True)
def _frames_checked(monkeypatch):
    from channels.testing import WebsocketCommunicator
    from websockets.asyncio.connection import Connection as AsyncConnection
    from websockets.sync.connection import Connection as SyncConnection

    receive_output = WebsocketCommunicator.receive_output

    async def communicator_receive(self, timeout=1):  # noqa: ASYNC109 - the communicator's own signature
        message = await receive_output(self, timeout)
        if message.get("type") == "websocket.send":
            _checked(self.scope["path"], message.get("text"))
        return message

    async_recv, sync_recv = AsyncConnection.recv, SyncConnection.recv

    async def recv_async(self, *args, **kwargs):
        return _checked(getattr(getattr(self, "request", None), "path", None), await async_recv(self, *args, **kwargs))

    def recv_sync(self, *args, **kwargs):
        return _checked(getattr(getattr(self, "request", None), "path", None), sync_recv(self, *args, **kwargs))

    monkeypatch.setattr(WebsocketCommunicator, "receive_output", communicator_receive)
    monkeypatch.setattr(AsyncConnection, "recv", recv_async)
    monkeypatch.setattr(SyncConnection, "recv", recv_sync)
    bad = _sent_checks(monkeypatch)
    yield
    if bad:
        pytest.fail(f"{len(bad)} frame(s) sent that stats.live.frames does not describe:\n" + "\n".join(bad[:5]))

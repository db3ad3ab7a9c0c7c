"""A pytest plugin (pyproject's addopts): every frame a test receives from a webgame socket is
checked against the frame models of stats.live.frames, whatever client the test uses (the
channels communicator, the websockets library's asyncio or sync client). A frame the server
sends that the definitions do not describe fails the test that received it."""

import json

import pytest

from stats.live.frames import frame_validate

SOCKET_PATHS = ("/ws/games/", "/ws/lobby/", "/ws/ingest/")


def _checked(path: str | None, data):
    if path is not None and path.startswith(SOCKET_PATHS) and isinstance(data, str):
        frame_validate(json.loads(data))
    return data


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

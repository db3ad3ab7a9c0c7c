"""stats.outframe: frames encoded once, written straight to uvicorn's sockets."""

import asyncio
import json
import urllib.request

import pytest
import websockets
from websockets.client import ClientProtocol
from websockets.protocol import State
from websockets.uri import parse_uri

from stats import outframe
from stats.outframe import OutFrame, direct_writer
from stats.tests.chaos import origin_of


@pytest.mark.parametrize("size", [5, 125, 126, 300, 65_535, 70_000])
def test_wire_bytes_parse_back_to_the_text_at_every_length_encoding(size):
    text = "é" + "x" * (size - 2)  # multi-byte: the length is of the UTF-8 bytes
    client = ClientProtocol(parse_uri("ws://127.0.0.1/"), state=State.OPEN, max_size=None)
    client.receive_data(OutFrame(text).wire())
    [frame] = client.events_received()
    assert frame.data.decode() == text and frame.fin


def test_wire_bytes_are_built_once_per_frame():
    frame = OutFrame("{}")
    assert frame.wire() is frame.wire()


def test_no_direct_writer_for_other_servers():
    async def send(message):
        pass

    assert direct_writer(send) is None
    assert direct_writer(None) is None


@pytest.fixture
def wire_calls(monkeypatch) -> list[int]:
    calls = []
    real = OutFrame.wire

    def spy(self):
        calls.append(1)
        return real(self)

    monkeypatch.setattr(outframe.OutFrame, "wire", spy)
    return calls


def post_events(port: int, slug: str, key: str, count: int) -> None:
    for i in range(count):
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/games/{slug}/events",
            data=json.dumps({"id": f"e{i}", "player": f"p{i % 3}", "points": 1}).encode(),
            headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 202


async def seqs_seen(socket, until: int) -> list[int]:
    seqs = []
    while not seqs or seqs[-1] < until:
        frame = json.loads(await asyncio.wait_for(socket.recv(), 10))
        if frame["type"] == "events":
            seqs += [e["seq"] for e in frame["events"]]
    return seqs


async def watch_while_posting(port: int, game, api_key: str, compression: str | None) -> list[list[int]]:
    url = f"ws://127.0.0.1:{port}/ws/games/{game.slug}/"
    sockets = [await websockets.connect(url, origin=origin_of(url), compression=compression) for _ in range(3)]
    for socket in sockets:  # the snapshot and hello come first
        while json.loads(await asyncio.wait_for(socket.recv(), 10))["type"] != "connection_established":
            pass
    await asyncio.to_thread(post_events, port, game.slug, api_key, 20)
    seen = [await seqs_seen(socket, 20) for socket in sockets]
    for socket in sockets:
        await socket.close()
    return seen


async def test_uvicorn_viewers_get_every_event_in_order_from_shared_wire_bytes(uvicorn_app, game, api_key, wire_calls):
    seen = await watch_while_posting(uvicorn_app, game, api_key, compression=None)
    assert seen == [list(range(1, 21))] * 3
    assert wire_calls, "the frames did not go through the direct path"


@pytest.mark.parametrize("uvicorn_app", [True], indirect=True)
async def test_viewer_with_compression_gets_frames_through_the_server(uvicorn_app, game, api_key, wire_calls):
    seen = await watch_while_posting(uvicorn_app, game, api_key, compression="deflate")
    assert seen == [list(range(1, 21))] * 3
    assert not wire_calls  # compressed sockets cannot share bytes: the server frames each one

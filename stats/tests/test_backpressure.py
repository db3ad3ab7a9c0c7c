"""A viewer that stops reading must not make the server buffer without bound: past the
backlog cap its live frames are dropped, and once it reads again it gets one resync frame."""

import asyncio
import functools
import json
import socket
import time

import pytest
import websockets
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from stats import services
from stats.backpressure import SCOPE_KEY, _twisted_backlog
from stats.fanout import PRESENCE_TICK
from stats.tests.chaos import origin_of
from stats.tests.support import event_in
from webgame.asgi import application


class FakeBacklog:
    """Stands in for the socket's unsent bytes."""

    def __init__(self):
        self.pending = 0

    def __call__(self) -> int:
        return self.pending


async def frames_until(comm, kind: str) -> list[dict]:
    frames = []
    while not frames or frames[-1]["type"] != kind:
        frames.append(await comm.receive_json_from(timeout=5))
    return frames


async def settle(comm) -> None:
    """Reads what is still on its way (a presence frame can trail by up to PRESENCE_TICK,
    the feed of this slug may outlive an earlier test) so later checks see only new frames."""
    while not await comm.receive_nothing(timeout=PRESENCE_TICK + 0.2):
        assert (await comm.receive_json_from())["type"] == "presence"


@pytest.mark.django_db(transaction=True)
async def test_lagging_viewer_gets_no_live_frames_then_one_resync_with_everything_missed(game, settings):
    settings.WEBGAME_WS_MAX_BACKLOG = 1000
    backlog = FakeBacklog()
    comm = WebsocketCommunicator(application, f"/ws/games/{game.slug}/", headers=[(b"origin", b"http://localhost")])
    comm.scope[SCOPE_KEY] = backlog
    assert (await comm.connect())[0]
    await frames_until(comm, "connection_established")
    record = database_sync_to_async(services.score_events_record)
    await record(game_id=game.pk, events=[event_in("a", points=1)])
    assert (await frames_until(comm, "events"))[-1]["events"][0]["seq"] == 1
    await settle(comm)
    backlog.pending = 5000  # the peer stopped reading
    for i in range(5):
        await record(game_id=game.pk, events=[event_in(f"b{i}", points=2)])
    assert await comm.receive_nothing(timeout=0.5)
    backlog.pending = 0  # it drained
    resync = (await frames_until(comm, "events"))[-1]
    assert resync["resumed"] is True
    assert [e["seq"] for e in resync["events"]] == [2, 3, 4, 5, 6]
    assert resync["players"] == [{"player": "ada", "total": 11, "events": 6}]
    await record(game_id=game.pk, events=[event_in("c", points=1)])
    assert [e["seq"] for e in (await frames_until(comm, "events"))[-1]["events"]] == [7]
    await comm.disconnect()


def test_probe_reads_the_unsent_bytes_of_a_twisted_transport():
    """The probe relies on Twisted's write-buffer attributes: this fails if an upgrade renames them."""
    from twisted.internet.abstract import FileDescriptor

    transport = FileDescriptor()
    protocol = type("Protocol", (), {"transport": transport})()
    probe = _twisted_backlog(functools.partial(lambda protocol, message: None, protocol))
    assert probe() == 0
    transport.dataBuffer, transport.offset = b"x" * 300, 100
    transport._tempDataBuffer.append(b"y" * 50)
    transport._tempDataLen += 50
    assert probe() == 250
    assert _twisted_backlog(lambda message: None) is None  # not daphne: no probe, nothing skipped


def test_real_server_drops_a_viewer_that_stops_reading(live, game, api_key):
    """A dead reader (it answers no ping) is closed after --ping-interval + --ping-timeout
    (5 + 10 s in tests, 20 + 30 s in the Procfile), which frees all it had buffered; a
    viewer that reads carries on and ends on the final state."""
    url = f"ws://127.0.0.1:{live.port}/ws/games/{game.slug}/"
    client = Client()

    def post_batches(count: int) -> None:
        for b in range(count):
            events = [{"id": f"e{b}-{i}", "player": f"player-{i:04d}", "points": 1} for i in range(500)]
            response = client.post(
                f"/api/games/{game.slug}/events",
                {"events": events},
                content_type="application/json",
                HTTP_AUTHORIZATION=f"Bearer {api_key}",
            )
            assert response.status_code == 202

    async def scenario():
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", live.port))
        slow = await websockets.connect(
            url, sock=sock, origin=origin_of(url), max_size=None, max_queue=1, ping_interval=None
        )
        reader = await websockets.connect(url, origin=origin_of(url), max_size=None)
        start = time.monotonic()
        await asyncio.to_thread(post_batches, 10)
        await asyncio.sleep(max(0.0, start + 20 - time.monotonic()))  # past 5 s idle + 10 s ping timeout
        dropped = False
        try:
            while True:  # the slow viewer reads again: what is left ends in the server's close
                await asyncio.wait_for(slow.recv(), 10)
        except websockets.ConnectionClosed:
            dropped = True
        except TimeoutError:
            pass
        last_seq = 0
        while last_seq < 5000:
            frame = json.loads(await asyncio.wait_for(reader.recv(), 10))
            if frame["type"] == "snapshot":
                last_seq = frame["seq"]
            elif frame["type"] == "events":
                last_seq = frame["events"][-1]["seq"]
        await reader.close()
        return dropped, last_seq

    dropped, last_seq = asyncio.run(scenario())
    assert dropped, "the server kept a socket that never read"
    assert last_seq == 5000


async def test_uvicorn_slow_reader_is_skipped_then_resynced_with_everything(uvicorn_app, game, settings):
    """Under uvicorn the probe is the paused transport: a socket that stops reading gets no
    more live frames once the kernel's and uvicorn's buffers are full; when it reads again,
    a resync (a resumed frame, or a snapshot past WEBGAME_RESUME_MAX) brings it to the end."""
    url = f"ws://127.0.0.1:{uvicorn_app}/ws/games/{game.slug}/"
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", uvicorn_app))
    slow = await websockets.connect(url, sock=sock, origin=origin_of(url), max_size=None, ping_interval=None)
    while json.loads(await slow.recv())["type"] != "connection_established":
        pass
    slow.transport.pause_reading()  # the peer stops reading
    record = database_sync_to_async(services.score_events_record)
    total = 30_000  # ~6 MB of frames: past the kernel's send buffer (4 MB at most here)
    for b in range(total // 1000):
        await record(game_id=game.pk, events=[event_in(f"e{b}-{i}", f"player-{i % 50}") for i in range(1000)])
    await asyncio.sleep(1)
    slow.transport.resume_reading()
    last, resyncs = 0, 0
    while last < total:
        frame = json.loads(await asyncio.wait_for(slow.recv(), 10))
        if frame["type"] == "snapshot":
            last, resyncs = frame["seq"], resyncs + 1
        elif frame["type"] == "events":
            assert frame["events"][0]["seq"] == last + 1, "a gap reached the client"
            last, resyncs = frame["events"][-1]["seq"], resyncs + bool(frame.get("resumed"))
    assert resyncs >= 1  # live frames were dropped while it did not read, then resynced
    await slow.close()

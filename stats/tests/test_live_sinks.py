"""stats.live.sinks: where frames leave the process, one sink per server; the canaries of the
servers' internals it relies on; and the backlog cap (a viewer that stops reading must not
make the server buffer without bound: past the cap its live frames are dropped, and once it
reads again it gets one resync frame)."""

import asyncio
import functools
import json
import socket
import time
import urllib.request

import pytest
import websockets
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from stats import services
from stats.live import publish, sinks
from stats.live.frames import OutFrame
from stats.live.hub import hub_get
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


@pytest.mark.django_db(transaction=True)
async def test_lagging_viewer_gets_no_live_frames_then_one_resync_with_everything_missed(game, settings, monkeypatch):
    settings.WS_MAX_BACKLOG = 1000
    backlog = FakeBacklog()
    monkeypatch.setattr(sinks.AsgiSink, "backlog", lambda sink: backlog())  # the communicator's sink
    comm = WebsocketCommunicator(application, f"/ws/games/{game.slug}/", headers=[(b"origin", b"http://localhost")])
    assert (await comm.connect())[0]
    await frames_until(comm, "connection_established")
    record = database_sync_to_async(services.score_events_record)
    await record(game_id=game.pk, events=[event_in("a", points=1)])
    assert (await frames_until(comm, "events"))[-1]["events"][0]["seq"] == 1
    backlog.pending = 5000  # the peer stopped reading
    for i in range(5):
        await record(game_id=game.pk, events=[event_in(f"b{i}", points=2)])
    feed = hub_get().feeds[publish.game_group(game.pk)]
    [viewer] = feed.viewers
    async with asyncio.timeout(10):  # the feed has handed seq 6 out (and the viewer dropped it)
        while feed.next_seq != 7 or feed.out.pending or feed.out.flush_lock.locked():  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    assert viewer.outbox.skipped >= 1 and viewer.sent_seq == 1
    await comm.send_json_to({"type": "ping"})  # a lagging socket's ping does not catch up either
    until_pong = await frames_until(comm, "pong")  # the server answers in order: all it sent
    assert until_pong[-1] == {"type": "pong", "seq": 1}
    assert "events" not in [f["type"] for f in until_pong]  # nothing live reached the lagging socket
    backlog.pending = 0  # it drained
    resync = (await frames_until(comm, "events"))[-1]
    assert resync["resumed"] is True
    assert [e["seq"] for e in resync["events"]] == [2, 3, 4, 5, 6]
    assert resync["players"] == [{"player": "ada", "total": 11, "events": 6}]
    await record(game_id=game.pk, events=[event_in("c", points=1)])
    assert [e["seq"] for e in (await frames_until(comm, "events"))[-1]["events"]] == [7]
    await comm.disconnect()


def canary(dependency: str, ok: bool) -> None:
    assert ok, (
        f"{dependency} {sinks.versions()[dependency]} changed: stats.live.sinks relies on {sinks.INTERNALS[dependency]}"
    )


def test_canary_twisted_transport_keeps_its_unsent_bytes_where_the_daphne_sink_reads_them():
    from twisted.internet.abstract import FileDescriptor

    transport = FileDescriptor()
    canary("twisted", all(hasattr(transport, a) for a in ("dataBuffer", "offset", "_tempDataLen", "_tempDataBuffer")))
    protocol = type("Protocol", (), {"transport": transport})()
    sink = sinks.DaphneSink.attach(functools.partial(lambda protocol, message: None, protocol))
    assert sink.backlog() == 0
    transport.dataBuffer, transport.offset = b"x" * 300, 100
    transport._tempDataBuffer.append(b"y" * 50)
    transport._tempDataLen += 50
    canary("twisted", sink.backlog() == 250)


def test_canary_daphne_hands_the_app_a_partial_of_its_protocol():
    import inspect

    from daphne.server import Server

    canary("daphne", "partial(self.handle_reply, protocol)" in inspect.getsource(Server.create_application))


def test_other_servers_get_the_plain_asgi_sink():
    async def send(message):
        pass

    assert type(sinks.sink_for(send)) is sinks.AsgiSink
    assert sinks.sink_for(send).backlog() == 0  # no probe: nothing is skipped


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


@pytest.fixture
def wire_calls(monkeypatch) -> list[int]:
    calls = []
    real = OutFrame.wire

    def spy(self):
        calls.append(1)
        return real(self)

    monkeypatch.setattr(OutFrame, "wire", spy)
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
    for ws in sockets:  # the snapshot and hello come first
        while json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] != "connection_established":
            pass
    await asyncio.to_thread(post_events, port, game.slug, api_key, 20)
    seen = [await seqs_seen(ws, 20) for ws in sockets]
    for ws in sockets:
        await ws.close()
    return seen


async def test_canary_uvicorn_sockets_get_the_uvicorn_sink(uvicorn_app, game):
    """uvicorn's websockets-sansio protocol, as the sink relies on it (a real server)."""
    url = f"ws://127.0.0.1:{uvicorn_app}/ws/games/{game.slug}/"
    async with websockets.connect(url, origin=origin_of(url)) as socket:
        while json.loads(await asyncio.wait_for(socket.recv(), 10))["type"] != "connection_established":
            pass
        [viewer] = hub_get().feeds[publish.game_group(game.pk)].viewers
        canary("uvicorn", type(viewer.sink) is sinks.UvicornSink)
        canary(
            "websockets", viewer.sink.protocol.conn.state.name == "OPEN" and not viewer.sink.protocol.conn.extensions
        )


async def test_uvicorn_viewers_get_every_event_in_order_from_shared_wire_bytes(uvicorn_app, game, api_key, wire_calls):
    seen = await watch_while_posting(uvicorn_app, game, api_key, compression=None)
    assert seen == [list(range(1, 21))] * 3
    assert wire_calls, "the frames did not go through the direct path"


@pytest.mark.parametrize("uvicorn_app", [True], indirect=True)
async def test_viewer_with_compression_gets_frames_through_the_server(uvicorn_app, game, api_key, wire_calls):
    seen = await watch_while_posting(uvicorn_app, game, api_key, compression="deflate")
    assert seen == [list(range(1, 21))] * 3
    assert not wire_calls  # compressed sockets cannot share bytes: the server frames each one

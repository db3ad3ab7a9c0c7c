"""Frames under every server's limit (issue #19): daphne (autobahn) refuses to send a message
over --websocket-max-message-size (1 MiB), and the consumer took that refusal for a socket
that had gone: the viewer got nothing more, no close, no pong, and nothing was logged. Now
an `events` frame is cut below WS_MAX_FRAME_BYTES into contiguous frames, and a send the
server refuses on an open socket closes it with 4500 and one WARNING line."""

import asyncio
import json
import logging
import threading
import urllib.request
import uuid

import pytest
import websockets

from stats import services
from stats.live import frames
from stats.scoring import services as scoring
from stats.tests.chaos import origin_of
from stats.tests.live_support import connect, record, watch
from stats.tests.support import DaphneProc, database_url, event_in

pytestmark = pytest.mark.django_db(transaction=True)
STATS = ("kills", "deaths", "assists")


def burst_game() -> tuple[str, str]:
    """A game of its own with three stats, and its key."""
    game = services.game_create(slug=f"burst-{uuid.uuid4().hex[:8]}", name="Burst")
    for name in STATS:
        scoring.stat_declare(game=game, name=name)
    return game.slug, services.api_key_create(game=game, name="burst")[1]


def batch(b: int) -> list[dict]:
    return [
        {"id": f"b{b}-e{i}", "player": f"player-{i % 200:03d}", "points": 1, "stats": dict.fromkeys(STATS, 1)}
        for i in range(1000)
    ]


def burst_post(port: int, slug: str, key: str, posts: int = 8) -> None:
    """`posts` POSTs of 1,000 events with 3 stats each, sent together (one thread each)."""
    errors = []

    def post(b: int) -> None:
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/games/{slug}/events",
            data=json.dumps({"events": batch(b)}).encode(),
            headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                assert response.status == 202
        except Exception as exc:  # noqa: BLE001 - reported to the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=post, args=(b,)) for b in range(posts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors


async def opened(url: str):
    ws = await websockets.connect(url, origin=origin_of(url), max_size=2**20)
    while json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] != "connection_established":
        pass
    return ws


@pytest.mark.parametrize("server", ["live", "web"])  # daphne, uvicorn (conftest)
def test_a_burst_of_8_posts_of_1000_events_reaches_a_viewer_whole(request, server, transactional_db, settings):
    """Before, under daphne: one 324,736-byte frame (up to seq 1,000 of 8,000), then nothing,
    and no pong. Under uvicorn, frames of 1.6 MB (no proxy or client limit was respected)."""
    live = request.getfixturevalue(server)
    slug, key = burst_game()
    url = f"ws://127.0.0.1:{live.port}/ws/games/{slug}/"

    async def scenario() -> tuple[list[int], list[int]]:
        ws = await opened(url)
        await asyncio.to_thread(burst_post, live.port, slug, key)
        seqs, sizes = [], []
        async with asyncio.timeout(30):
            while not seqs or seqs[-1] < 8000:
                raw = await ws.recv()
                frame = json.loads(raw)
                frames.frame_validate(frame)
                if frame["type"] == "events":
                    seqs += [e["seq"] for e in frame["events"]]
                    sizes.append(len(raw.encode()))
            await ws.send('{"type": "ping"}')  # and the socket still answers
            while (frame := json.loads(await ws.recv()))["type"] != "pong":
                pass
        await ws.close()
        assert frame["seq"] == 8000
        return seqs, sizes

    seqs, sizes = asyncio.run(scenario())
    assert seqs == list(range(1, 8001))
    assert max(sizes) <= settings.WS_MAX_FRAME_BYTES


class SmallDaphne(DaphneProc):
    """daphne sending at most 200,000 bytes a message, under the application's 256 KiB
    frames: as a server configured below WS_MAX_FRAME_BYTES would (one POST of 1,000 events
    with 3 stats is a frame of about 225 KB, which it refuses)."""

    def command(self) -> list[str]:
        return [*super().command()[:-1], "--websocket-max-message-size", "200000", super().command()[-1]]


@pytest.fixture
def daphne_small(transactional_db, valkey):
    from django.db import connection

    web = SmallDaphne(database_url=database_url(connection.settings_dict), redis_url=valkey.url).start()
    yield web
    web.stop()


def test_a_send_daphne_refuses_closes_the_socket_with_4500_and_one_warning(daphne_small):
    """Before: the refusal (autobahn's PayloadExceededError) was taken for a socket gone: no
    close came, and nothing was logged."""
    web = daphne_small
    slug, key = burst_game()
    url = f"ws://127.0.0.1:{web.port}/ws/games/{slug}/"
    log_start = len(web.log())

    async def scenario() -> int:
        ws = await opened(url)
        await asyncio.to_thread(burst_post, web.port, slug, key, 1)
        async with asyncio.timeout(30):
            try:
                while True:
                    await ws.recv()
            except websockets.ConnectionClosed as closed:
                return closed.rcvd.code if closed.rcvd else None

    code = asyncio.run(scenario())
    log = web.log()[log_start:]
    assert code == 4500, log[-3000:]
    warnings = [line for line in log.splitlines() if "WARNING" in line and "refused" in line]
    assert len(warnings) == 1, log[-3000:]
    assert "Traceback" not in log, log[-3000:]


def test_canary_autobahn_refuses_an_oversized_message_with_payload_exceeded_on_an_open_socket():
    from autobahn.exception import Disconnected, PayloadExceededError
    from autobahn.websocket.protocol import WebSocketProtocol

    from stats.live import sinks

    canary_ok = issubclass(PayloadExceededError, RuntimeError) and not issubclass(PayloadExceededError, Disconnected)
    source = __import__("inspect").getsource(WebSocketProtocol.sendMessage)
    canary_ok = canary_ok and "raise PayloadExceededError" in source and "maxMessagePayloadSize" in source
    assert canary_ok, f"autobahn {sinks.versions()['autobahn']} changed: {sinks.INTERNALS['autobahn']}"
    assert sinks.send_refused(PayloadExceededError("too big")) and not sinks.send_refused(Disconnected("gone"))


def run_of(n: int, players: int = 3, stats: bool = True) -> dict:
    """A run of `n` events as the feed carries it, with its final records."""
    events, totals = [], {}
    for seq in range(1, n + 1):
        name = f"p{seq % players}"
        event = {"id": f"e{seq}", "seq": seq, "player": name, "points": seq % 5, "kind": "score", "at": "x"}
        event |= {"at_ms": seq, "received_ms": seq, "team": "red", "match": "m1"}
        events.append(event | ({"stats": {"kills": 1}} if stats else {}))
        total, count = totals.get(name, (0, 0))
        totals[name] = (total + seq % 5, count + 1)
    players_ = [{"player": p, "total": t, "events": c, "stats": {"kills": c}} for p, (t, c) in totals.items()]
    game = {
        "slug": "g",
        "name": "G",
        "is_public": True,
        "last_seq": n,
        "events": n,
        "points": sum(e["points"] for e in events),
    }
    return {
        "events": events,
        "players": players_,
        "game": game,
        "teams": [{"match": "m1", "team": "red", "stats": {"kills": n}}],
    }


def test_a_run_is_cut_into_contiguous_frames_under_the_limit_with_totals_as_of_each():
    from stats.live import cut

    run = run_of(400)
    parts = cut.events_cut(**run, limit=8 * 1024)
    assert len(parts) > 3
    seqs = []
    for first, last, text in parts:
        frame = json.loads(text)
        frames.frame_validate(frame)
        assert len(text.encode()) <= 8 * 1024
        assert (first, last) == (frame["events"][0]["seq"], frame["events"][-1]["seq"])
        seqs += [e["seq"] for e in frame["events"]]
        so_far = run["events"][:last]
        assert frame["game"]["last_seq"] == last and frame["game"]["events"] == last
        assert frame["game"]["points"] == sum(e["points"] for e in so_far)
        for p in frame["players"]:  # absolute as of the frame's last event
            mine = [e for e in so_far if e["player"] == p["player"]]
            assert (p["total"], p["events"]) == (sum(e["points"] for e in mine), len(mine))
    assert seqs == list(range(1, 401))
    last = json.loads(parts[-1][2])
    assert sorted(last["players"], key=lambda p: p["player"]) == sorted(run["players"], key=lambda p: p["player"])
    assert last["teams"] == run["teams"]


def test_fanout_joins_small_runs_and_cuts_a_large_one():
    from stats.live import cut, publish

    def message(events, first):
        run = run_of(len(events))
        for offset, e in enumerate(run["events"]):
            e["seq"] = first + offset
        return publish.events_message(
            events_json=json.dumps(run["events"]), players=run["players"], game=run["game"],
            seqs=(first, first + len(events) - 1), teams=run["teams"],
        )  # fmt: skip

    small = [message(range(5), 1), message(range(5), 6)]
    assert [(f, t) for f, t, _ in cut.messages_cut(small, 64 * 1024)] == [(1, 10)]
    parts = cut.messages_cut([*small, message(range(300), 11)], 8 * 1024)
    assert parts[0][:2] == (1, 10) and parts[-1][1] == 310 and len(parts) > 3
    assert all(parts[i][1] + 1 == parts[i + 1][0] for i in range(len(parts) - 1))


async def test_a_snapshot_over_the_limit_is_refused_with_an_error_frame_and_4413(game, settings, caplog):
    """A frame that cannot be cut is never handed to a server that might refuse it silently."""
    logging.getLogger("stats.live.jsonsocket").addHandler(caplog.handler)  # its logger may not propagate
    await record(game, *[event_in(f"e{i}", player=f"player-{i}") for i in range(40)])
    settings.WS_MAX_FRAME_BYTES = 4096  # the snapshot of 40 events and players is larger
    comm = await connect(f"/ws/games/{game.slug}/")
    frame = await comm.receive_json_from(timeout=5)
    assert (frame["type"], frame["code"]) == ("error", "too_large")
    assert (await comm.receive_output(timeout=5)) == {"type": "websocket.close", "code": 4413}
    logging.getLogger("stats.live.jsonsocket").removeHandler(caplog.handler)
    # One record (the handler may see it twice: here and through the root logger).
    logged = {id(r): r.levelname for r in caplog.records if "WS_MAX_FRAME_BYTES" in r.getMessage()}
    assert list(logged.values()) == ["WARNING"]
    await comm.disconnect()


async def test_a_replay_longer_than_the_limit_comes_as_contiguous_resumed_frames(game, settings):

    settings.WS_MAX_FRAME_BYTES = 16 * 1024
    comm, _ = await watch(game)
    await record(game, *[event_in(f"e{i}", player=f"player-{i % 7}") for i in range(150)])
    await comm.send_json_to({"type": "resume", "after_seq": 0})
    seqs, parts = [], 0
    async with asyncio.timeout(10):
        while len(seqs) < 150 or seqs[-1] < 150:
            frame = await comm.receive_json_from(timeout=5)
            if frame["type"] == "events" and frame.get("resumed"):
                frames.frame_validate(frame)
                seqs += [e["seq"] for e in frame["events"]]
                parts += 1
    assert seqs == list(range(1, 151)) and parts > 1
    await comm.disconnect()

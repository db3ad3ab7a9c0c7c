"""Hostile frames against the game stream: each gets exactly its defined answer (an error frame
for bad ones, the socket staying open), over the in-process stack and over real daphne."""

import asyncio
import json
import time

import pytest
import websockets
from channels.testing import WebsocketCommunicator
from django.test import Client
from hypothesis import HealthCheck, given, settings

from stats import services
from stats.tests.badinput import Frame, ws_frames
from stats.tests.chaos import origin_of
from stats.tests.figures import AnswerTimes, figures_record
from stats.tests.support import event_in
from webgame.asgi import application


def fuzz(examples: int) -> settings:
    return settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck))


def label(answer: dict) -> str:
    return f"error {answer['code']}" if answer["type"] == "error" else answer["type"]


def assert_expected(frame: Frame, answer: dict) -> str:
    got = label(answer)
    assert got in frame.expect.split("|"), (frame.data[:200], answer)
    if answer["type"] == "error":
        assert isinstance(answer["message"], str) and answer["message"]
    return got


@pytest.mark.django_db(transaction=True)
def test_stream_answers_every_bad_frame_and_stays_open(game, settings):
    settings.WS_RATE = 10_000.0  # this test measures answers, not the flood limit
    settings.WS_BURST = 10_000
    services.score_events_record(game_id=game.pk, events=[event_in(f"e{i}") for i in range(5)])
    loop = asyncio.new_event_loop()
    comm = WebsocketCommunicator(application, f"/ws/games/{game.slug}/", headers=[(b"origin", b"http://localhost")])
    assert loop.run_until_complete(comm.connect())[0]

    async def opening():
        # Presence frames (broadcasts) may come at any time after: answer_next skips them.
        while (await comm.receive_json_from(timeout=5))["type"] != "connection_established":
            pass

    async def answer_next() -> dict:
        """The next frame that answers the client: presence frames are broadcasts, not answers."""
        while (frame := await comm.receive_json_from(timeout=5))["type"] == "presence":
            pass
        return frame

    async def exchange(frame: Frame) -> dict:
        key = "bytes" if isinstance(frame.data, bytes) else "text"
        await comm.send_input({"type": "websocket.receive", key: frame.data})  # send_to refuses ""
        return await answer_next()

    async def no_second_answer(frame: Frame, answer: dict) -> None:
        """A ping after the frame, and its pong: the socket answers its frames in order, so
        a second answer to the frame would come before the pong."""
        await comm.send_input({"type": "websocket.receive", "text": '{"type":"ping"}'})
        while (extra := await comm.receive_json_from(timeout=5))["type"] != "pong":
            assert extra["type"] == "presence", ("more than one answer to one frame", frame.data[:200], answer, extra)

    loop.run_until_complete(opening())
    times = AnswerTimes()

    @fuzz(400)
    @given(frame=ws_frames())
    def one(frame: Frame):
        with times.case():
            answer = loop.run_until_complete(exchange(frame))
        times.answered(assert_expected(frame, answer))
        loop.run_until_complete(no_second_answer(frame, answer))

    try:
        one()
        assert loop.run_until_complete(exchange(Frame('{"type":"ping"}', "pong")))["type"] == "pong"
    finally:
        loop.run_until_complete(comm.disconnect())
        loop.close()
    figures_record("ws_in_process", **times.as_dict())


class LiveSocket:
    """Frames over real daphne, opening a fresh socket before the per-connection rate limit
    (burst 30) would be reached, since this test is about answers, not floods."""

    def __init__(self, url: str):
        self.url, self.ws, self.sent = url, None, 0

    async def exchange(self, frame: Frame) -> dict:
        if self.ws is None or self.sent >= 25:
            await self.close()
            self.ws = await websockets.connect(self.url, origin=origin_of(self.url), max_size=None)
            self.sent = 0
            while (json.loads(await self.ws.recv()))["type"] != "connection_established":
                pass
        self.sent += 1
        await self.ws.send(frame.data)
        while True:
            answer = json.loads(await asyncio.wait_for(self.ws.recv(), 5))
            if answer["type"] != "presence":  # other sockets of this test come and go
                return answer

    async def close(self):
        if self.ws is not None:
            await self.ws.close()
            self.ws = None


def test_real_server_answers_bad_frames_and_other_viewers_carry_on(live, game, api_key):
    log_start = len(live.log())
    url = f"ws://127.0.0.1:{live.port}/ws/games/{game.slug}/"
    loop = asyncio.new_event_loop()
    socket = LiveSocket(url)
    neighbour = loop.run_until_complete(websockets.connect(url, origin=origin_of(url)))
    times = AnswerTimes()

    @fuzz(150)
    @given(frame=ws_frames())
    def one(frame: Frame):
        with times.case():
            answer = loop.run_until_complete(socket.exchange(frame))
        times.answered(assert_expected(frame, answer))

    async def neighbour_sees_a_new_event():
        while True:
            frame = json.loads(await asyncio.wait_for(neighbour.recv(), 5))
            assert frame["type"] != "error"
            if frame["type"] == "events":
                return frame["events"][-1]["id"]

    try:
        one()
        Client().post(
            f"/api/games/{game.slug}/events",
            {"id": "after", "player": "ada", "points": 7},
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {api_key}",
        )
        assert loop.run_until_complete(neighbour_sees_a_new_event()) == "after"
    finally:
        loop.run_until_complete(socket.close())
        loop.run_until_complete(neighbour.close())
        loop.close()
    assert "Traceback" not in live.log()[log_start:]
    figures_record("ws_daphne", **times.as_dict())


@pytest.mark.parametrize("size", [1024 * 1024 + 1, 3 * 1024 * 1024])
def test_real_server_drops_a_socket_sending_a_frame_over_1_mib_and_serves_others(live, game, size):
    """daphne refuses the frame from its header and closes with 1009 without reading the
    rest; a client still writing the payload may see the TCP reset (1006) instead."""
    url = f"ws://127.0.0.1:{live.port}/ws/games/{game.slug}/"

    async def send_big():
        async with websockets.connect(url, origin=origin_of(url), max_size=None) as ws:
            start = time.perf_counter()
            try:
                await ws.send("x" * size)
                while True:
                    await asyncio.wait_for(ws.recv(), 5)
            except websockets.ConnectionClosed:
                return ws.close_code, time.perf_counter() - start

    async def other_viewer_pongs():
        async with websockets.connect(url, origin=origin_of(url)) as ws:
            await ws.send('{"type":"ping"}')
            while json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] != "pong":
                pass
            return True

    log_start = len(live.log())
    code, seconds = asyncio.run(send_big())
    assert code in (1009, 1006)
    assert seconds < 5
    assert asyncio.run(other_viewer_pongs())
    assert "Traceback" not in live.log()[log_start:]


def test_real_server_answers_a_binary_frame_with_an_error_and_stays_open(live, game):
    async def scenario():
        url = f"ws://127.0.0.1:{live.port}/ws/games/{game.slug}/"
        async with websockets.connect(url, origin=origin_of(url)) as ws:
            await ws.send(b"\x00\xff" * 100)
            answers = []
            while not answers or answers[-1]["type"] != "error":
                answers.append(json.loads(await asyncio.wait_for(ws.recv(), 5)))
            await ws.send('{"type":"ping"}')
            while (pong := json.loads(await asyncio.wait_for(ws.recv(), 5)))["type"] != "pong":
                pass
            return answers[-1]["code"], pong["type"]

    assert asyncio.run(scenario()) == ("binary_unsupported", "pong")

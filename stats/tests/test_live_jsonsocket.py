"""stats.live.jsonsocket, the consumers' base: every bad frame answered with its documented error
frame while the socket stays open; one path for a socket that goes away (socket_gone,
idempotent); nothing raised for a send to a socket that is closed or gone. (The fuzzed
frames, in process and over daphne: test_consumers_bad_input.)"""

import asyncio
from pathlib import Path

import pytest
from channels.testing import WebsocketCommunicator

from stats.live import frames, presence, publish
from stats.live import hub as hubs
from stats.live.jsonsocket import JsonFrameConsumer
from stats.tests.live_support import assert_still_open, next_of_type, watch

# channels' dispatch closes stale database connections at every message: each test here may
# touch the database, even the ones of the base alone (they failed when an earlier test left a
# connection in the thread).
pytestmark = pytest.mark.django_db(transaction=True)
PROTOCOL = (Path(__file__).resolve().parents[2] / "docs" / "protocol.md").read_text()


class Echo(JsonFrameConsumer):
    """The base with one handler and no channel layer; keeps its instances for the tests."""

    handlers = {"ping": "on_ping"}
    channel_layer_alias = None
    instances: list["Echo"] = []

    async def connect(self):
        Echo.instances.append(self)
        await self.accept()

    async def on_ping(self, content):
        await self.send_json(frames.pong())


async def echo_open() -> tuple[WebsocketCommunicator, Echo]:
    Echo.instances.clear()
    echo = Echo.as_asgi()

    async def app(scope, receive, send):  # a plain ASGI 3 app, as a router would call it
        return await echo(scope, receive, send)

    comm = WebsocketCommunicator(app, "/ws/echo/")
    assert (await comm.connect())[0]
    [consumer] = Echo.instances
    return comm, consumer


async def pong_next(comm) -> dict:
    await comm.send_json_to({"type": "ping"})
    return await comm.receive_json_from(timeout=5)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("{not json", "bad_json"),
        ('{"type": "resume", "after_seq": NaN}', "bad_json"),
        ("[1, 2]", "bad_message"),
        ('{"type": 7}', "bad_message"),
        ('{"type": "shout"}', "unknown_type"),
        ('{"type": "resume", "after_seq": "x"}', "bad_field"),
        ('{"type": "resume", "after_seq": -1}', "bad_field"),
        ('{"type": "resume"}', "bad_field"),
        ('{"type": "ping", "extra": 1}', "bad_field"),
        ('{"type": "ping", "pad": "' + "x" * 70_000 + '"}', "too_large"),
    ],
)
async def test_bad_frame_gets_an_error_frame_and_the_socket_stays_open(game, frame, code):
    comm, _ = await watch(game)
    await comm.send_to(text_data=frame)
    error = await next_of_type(comm, "error")
    assert (error["type"], error["code"]) == ("error", code)
    assert error["message"]
    assert f"`{code}`" in PROTOCOL  # the code is one docs/protocol.md lists
    await assert_still_open(comm)
    await comm.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_binary_frame_gets_an_error_frame_and_the_socket_stays_open(game):
    comm, _ = await watch(game)
    await comm.send_to(bytes_data=b"\x00\x01")
    assert (await next_of_type(comm, "error"))["code"] == "binary_unsupported"
    await assert_still_open(comm)
    await comm.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_bad_field_error_names_the_field(game):
    comm, _ = await watch(game)
    await comm.send_json_to({"type": "resume", "after_seq": "x"})
    assert [d["field"] for d in (await next_of_type(comm, "error"))["details"]] == ["after_seq"]
    await comm.disconnect()


async def test_the_base_answers_each_bad_frame_then_the_next_ping():
    """The base alone (no game): one answer per frame, in order, then the pong."""
    comm, _ = await echo_open()
    sent = [
        ({"bytes": b"\x00"}, "binary_unsupported"),
        ({"text": "x" * 70_000}, "too_large"),
        ({"text": "{oops"}, "bad_json"),
        ({"text": '{"type": "ping", "n": Infinity}'}, "bad_json"),
        ({"text": '"ping"'}, "bad_message"),
        ({"text": '{"type": "resume"}'}, "unknown_type"),
    ]
    for data, _ in sent:
        await comm.send_input({"type": "websocket.receive", **data})
    answers = [await comm.receive_json_from(timeout=5) for _ in sent]
    assert [(a["type"], a["code"]) for a in answers] == [("error", code) for _, code in sent]
    assert await pong_next(comm) == {"type": "pong"}  # still open, and nothing else came before
    await comm.disconnect()


# channels' AsyncJsonWebsocketConsumer.send_json calls super().send, i.e. AsyncWebsocketConsumer's:
# it skips JsonFrameConsumer.send and its guard (`closing`, SOCKET_GONE). Every error frame,
# pong, snapshot and status goes out through send_json.
SENDS = [
    pytest.param("send", id="send"),
    pytest.param("send_json", id="send_json"),
]


async def send_by(consumer: Echo, how: str) -> None:
    if how == "send":
        await consumer.send(text_data='{"type":"pong"}')
    else:
        await consumer.send_json(frames.pong())


async def test_socket_gone_is_idempotent():
    comm, consumer = await echo_open()
    await consumer.socket_gone()
    await consumer.socket_gone()
    assert consumer.closing
    await consumer.close()  # already closing: a no-op
    await consumer.receive(text_data='{"type": "ping"}')  # a frame that crossed the close: unanswered
    assert comm.output_queue.empty()
    await comm.disconnect()  # disconnect() ends in socket_gone: a third time


@pytest.mark.parametrize("how", SENDS)
async def test_nothing_is_sent_after_socket_gone(how):
    comm, consumer = await echo_open()
    await consumer.socket_gone()
    await send_by(consumer, how)
    assert comm.output_queue.empty()
    await comm.disconnect()


@pytest.mark.parametrize("how", SENDS)
async def test_a_send_after_close_raises_nothing_and_sends_nothing(how):
    comm, consumer = await echo_open()
    await consumer.close(code=4000)
    assert await comm.receive_output(timeout=5) == {"type": "websocket.close", "code": 4000}
    await send_by(consumer, how)
    await consumer.close()  # a second close: nothing either
    assert comm.output_queue.empty()
    await comm.disconnect()


@pytest.mark.parametrize("how", SENDS)
@pytest.mark.parametrize(
    "gone",
    [
        RuntimeError("Unexpected ASGI message 'websocket.send', after sending 'websocket.close'"),  # uvicorn
        OSError("ClientDisconnected"),  # uvicorn, a peer that vanished
    ],
    ids=["send-after-close", "peer-vanished"],
)
async def test_a_send_to_a_socket_the_server_found_gone_raises_nothing_and_releases_it(gone, how):
    comm, consumer = await echo_open()
    attempts = []

    async def server_send(message):
        attempts.append(message)
        raise gone

    consumer.base_send = server_send
    await send_by(consumer, how)
    assert consumer.closing  # released through socket_gone
    await send_by(consumer, how)
    assert len(attempts) == 1  # nothing more is tried on it
    await comm.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_a_game_socket_gone_twice_leaves_its_feed_once(game, monkeypatch):
    leaves = []

    async def presence_leave(*, game_id, channel):
        leaves.append(channel)

    monkeypatch.setattr(presence, "presence_leave", presence_leave)
    comm, _ = await watch(game)
    hub, group = hubs.hub_get(), publish.game_group(game.pk)
    [viewer] = hub.feeds[group].viewers
    await viewer.socket_gone()
    await viewer.socket_gone()
    await comm.disconnect()  # disconnect() ends in socket_gone too
    assert group not in hub.feeds
    await asyncio.gather(*hub.tasks)  # the feed's stop
    # presence is left once, by disconnect() in the socket's own task
    assert leaves == [viewer.channel_name]

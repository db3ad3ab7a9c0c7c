"""stats/tests/frame_check.py: a frame an in-process consumer sends is checked against
stats.live.frames where it is sent, and one the models do not describe is kept for the test's
end (a failure raised inside the consumer would only close its socket)."""

import pytest

from stats.live.consumers import GameConsumer
from stats.live.frames import OutFrame, json_compact, pong
from stats.tests import frame_check


class WrittenSink:
    def __init__(self) -> None:
        self.written: list[str] = []

    async def write(self, frame: OutFrame) -> None:
        self.written.append(frame.text)


def consumer_on(path: str) -> GameConsumer:
    consumer = GameConsumer()
    consumer.scope, consumer.sink = {"path": path}, WrittenSink()
    return consumer


@pytest.mark.parametrize(
    ("path", "text", "kept"),
    [
        ("/ws/games/g/", json_compact(pong(3)), 0),
        ("/ws/games/g/", '{"type":"no_such_frame"}', 1),
        ("/ws/lobby/", '{"type":"pong","extra":1}', 1),
        ("/elsewhere/", '{"type":"no_such_frame"}', 0),  # not a webgame socket: not checked
    ],
)
async def test_a_frame_sent_is_checked_and_an_undescribed_one_kept(monkeypatch, path, text, kept):
    monkeypatch.undo()  # the plugin's own checks (same monkeypatch), whose failure would end this test
    bad = frame_check._sent_checks(monkeypatch)
    consumer = consumer_on(path)
    await consumer.frame_send(OutFrame(text))
    assert consumer.sink.written == [text]  # checked, and still sent: the test fails at its end
    assert len(bad) == kept
    assert all("GameConsumer sent" in line for line in bad)

"""Helpers shared by the feed, hub, fan-out and metrics test modules."""

import asyncio

from stats.live import hub as hubs
from stats.live import publish
from stats.live.fanout import Fanout

GROUP = publish.game_group(900_001)  # no game: a feed of messages made here


class RecordingViewer:
    """Stands in for a GameConsumer: keeps what the feed hands it."""

    def __init__(self) -> None:
        self.ranges: list[tuple[int, int]] = []
        self.texts: list[str] = []

    async def events_forward(self, first_seq: int, last_seq: int, frame) -> None:
        self.ranges.append((first_seq, last_seq))

    async def text_forward(self, frame) -> None:
        self.texts.append(frame.text)


def events_message(seq: int) -> dict:
    event = f'{{"id":"e{seq}","seq":{seq}}}'
    game = {"slug": "fanout-test", "last_seq": seq}
    text = f'{{"type":"events","events":[{event}],"players":[],"game":{{"last_seq":{seq}}}}}'
    return {
        "type": "game.events",
        "first_seq": seq,
        "last_seq": seq,
        "text": text,
        "events": f"[{event}]",
        "players": [],
        "game": game,
    }


async def publish_messages(*messages: dict) -> None:
    await publish.messages_send_async([(GROUP, m) for m in messages])


async def leave(hub: hubs.Hub, group: str, viewer) -> None:
    """Leave, and wait for the feed's stop if that was its last viewer."""
    task = hub.leave(group, viewer)
    if task is not None:
        await task


async def until(condition) -> None:
    async with asyncio.timeout(5):
        while not condition():  # noqa: ASYNC110 - polls plain state the feed or hub updates
            await asyncio.sleep(0.01)


class FrameViewer(RecordingViewer):
    """Also keeps the frames themselves, and when (loop time) each text arrived."""

    def __init__(self) -> None:
        super().__init__()
        self.frames: list = []
        self.text_times: list[float] = []

    async def events_forward(self, first_seq: int, last_seq: int, frame) -> None:
        await super().events_forward(first_seq, last_seq, frame)
        self.frames.append(frame)

    async def text_forward(self, frame) -> None:
        await super().text_forward(frame)
        self.text_times.append(asyncio.get_running_loop().time())


def fanout_of(*viewers, tick: float = 0.0) -> Fanout:
    """A Fanout with these viewers, on a hub of this loop whose tick is `tick` seconds (0:
    every message its own frame); no channel layer involved."""
    hub = hubs.Hub()
    hub.tick = tick
    out = Fanout(hub, GROUP)
    for viewer in viewers:
        out.viewers[viewer] = None
    return out

"""stats.live.fanout: frames handed to a game's viewers in this process. Bursts coalesced per tick,
the tick growing with the viewers; a frame handed out a slice at a time (other work runs
between slices) and in seq order; one viewer's failure costs the others nothing; presence
throttled (only the latest count, at most one frame per PRESENCE_TICK)."""

import asyncio
import logging

from stats.live import fanout, frames, publish
from stats.live import hub as hubs
from stats.live.fanout import HAND_OUT_SLICE
from stats.tests.feed_support import (
    GROUP,
    FrameViewer,
    RecordingViewer,
    events_message,
    fanout_of,
    leave,
    publish_messages,
    until,
)


class BrokenViewer(FrameViewer):
    async def events_forward(self, first_seq: int, last_seq: int, frame) -> None:
        raise ValueError("a viewer's bug")


class GatedViewer(FrameViewer):
    """Holds its first frame until the gate opens (a viewer whose forward awaits)."""

    def __init__(self) -> None:
        super().__init__()
        self.entered, self.gate = asyncio.Event(), asyncio.Event()

    async def events_forward(self, first_seq: int, last_seq: int, frame) -> None:
        await super().events_forward(first_seq, last_seq, frame)
        if not self.entered.is_set():
            self.entered.set()
            await self.gate.wait()


class WatchedLock(asyncio.Lock):
    """A lock that tells when someone had to wait for it."""

    def __init__(self) -> None:
        super().__init__()
        self.contended = asyncio.Event()

    async def acquire(self) -> bool:
        if self.locked():
            self.contended.set()
        return await super().acquire()


async def test_tick_grows_with_the_viewers_of_a_game_up_to_its_cap(settings):
    settings.FRAME_TICK_MS = 25
    settings.FRAME_TICK_PER_VIEWER_US = 50
    settings.FRAME_TICK_MAX_MS = 250
    hubs._hubs.clear()
    hub = hubs.hub_get()
    assert [hub.tick_for(n) for n in (1, 100, 1000, 2000, 10_000)] == [0.025, 0.025, 0.05, 0.1, 0.25]


async def test_a_burst_within_a_tick_is_one_frame_and_an_idle_game_gets_its_frame_at_once():
    viewer = FrameViewer()
    out = fanout_of(viewer, tick=0.05)
    await out.events_add(events_message(1))
    assert viewer.ranges == [(1, 1)]  # the game was idle: out at once, no timer
    await out.events_add(events_message(2))
    await out.events_add(events_message(3))
    assert viewer.ranges == [(1, 1)]  # within the tick: waits for it
    await until(lambda: len(viewer.ranges) == 2)
    assert viewer.ranges == [(1, 1), (2, 3)]
    assert '"seq":2' in viewer.frames[1].text and '"seq":3' in viewer.frames[1].text
    out.stop()


async def test_hand_out_gives_every_viewer_the_frame_and_yields_between_slices():
    viewers = [FrameViewer() for _ in range(2 * HAND_OUT_SLICE + HAND_OUT_SLICE // 2)]
    out = fanout_of(*viewers)
    served_when_others_ran: list[int] = []
    done = False

    async def other_work():
        """Scheduled before the hand-out: runs only when the hand-out yields."""
        while not done:
            served_when_others_ran.append(sum(1 for v in viewers if v.ranges))
            await asyncio.sleep(0)

    other = asyncio.ensure_future(other_work())
    await out.events_add(events_message(1))
    done = True
    await other
    assert all(v.ranges == [(1, 1)] for v in viewers)
    assert len({id(v.frames[0]) for v in viewers}) == 1  # one frame, built once, shared
    # The loop ran other work after each slice, before the last one was handed out.
    assert served_when_others_ran == [HAND_OUT_SLICE, 2 * HAND_OUT_SLICE]


async def test_a_viewer_that_raises_does_not_cost_the_others_their_frame(caplog):
    before, broken, after = FrameViewer(), BrokenViewer(), FrameViewer()
    out = fanout_of(before, broken, after)
    with caplog.at_level(logging.ERROR, logger=fanout.__name__):
        await out.events_add(events_message(1))
        await out.text_send('{"type":"pong"}')  # a text frame too: BrokenViewer only breaks on events
    assert before.ranges == after.ranges == [(1, 1)]
    assert before.texts == after.texts == broken.texts == ['{"type":"pong"}']
    [record] = [r for r in caplog.records if r.name == fanout.__name__]
    assert record.levelno == logging.ERROR and GROUP in record.getMessage()
    assert record.exc_info and isinstance(record.exc_info[1], ValueError)


async def test_frames_stay_in_seq_order_when_flushes_overlap():
    """A flush whose hand-out waits on a viewer holds the next flush back: without that, the
    second frame would reach the viewers after the slow one before the first did."""
    slow, others = GatedViewer(), [FrameViewer() for _ in range(3)]
    out = fanout_of(slow, *others)
    out.flush_lock = lock = WatchedLock()
    first = asyncio.ensure_future(out.events_add(events_message(1)))
    async with asyncio.timeout(3):
        await slow.entered.wait()  # frame 1 is being handed out, held at the first viewer
    second = asyncio.ensure_future(out.events_add(events_message(2)))
    contended = asyncio.ensure_future(lock.contended.wait())
    try:
        # The condition: the second flush waits for the lock, or (a bug) it got through.
        await asyncio.wait([contended, second], timeout=3, return_when=asyncio.FIRST_COMPLETED)
    finally:
        contended.cancel()
    assert lock.contended.is_set() and not second.done()
    slow.gate.set()
    async with asyncio.timeout(3):
        await asyncio.gather(first, second)
    assert [v.ranges for v in (slow, *others)] == [[(1, 1), (2, 2)]] * 4


async def test_presence_sends_only_the_latest_count_at_most_once_per_tick(monkeypatch):
    tick = 0.2
    monkeypatch.setattr(fanout, "PRESENCE_TICK", tick)
    viewer = FrameViewer()
    out = fanout_of(viewer)
    counts = [frames.presence_text(n) for n in range(6)]
    await out.presence_arrive(counts[1])
    assert viewer.texts == [counts[1]]  # the first count goes out at once
    for n in (2, 3, 4):
        await out.presence_arrive(counts[n])
    await until(lambda: len(viewer.texts) == 2)
    assert viewer.texts == [counts[1], counts[4]]  # 2 and 3 were overtaken: never sent
    await out.presence_arrive(counts[5])  # right after a frame: waits for the next tick
    assert len(viewer.texts) == 2
    await until(lambda: len(viewer.texts) == 3)
    assert viewer.texts == [counts[1], counts[4], counts[5]]
    gaps = [b - a for a, b in zip(viewer.text_times, viewer.text_times[1:], strict=False)]
    assert all(gap >= tick - 0.02 for gap in gaps), gaps  # asyncio may run a timer a clock tick early
    out.stop()


async def test_an_unchanged_viewer_count_sends_no_presence_frame(settings, monkeypatch):
    """Through the real pub/sub layer. The marker, published after the counts, is the
    condition: the feed hands frames on in the order they were published."""
    monkeypatch.setattr(fanout, "PRESENCE_TICK", 0.0)
    settings.FRAME_TICK_MS = 0
    hubs._hubs.clear()
    hub, viewer = hubs.hub_get(), RecordingViewer()
    await hub.join(GROUP, viewer)
    for count in (2, 2, 3):
        await publish.messages_send_async(publish.presence_messages(game_id=900_001, viewers=count))
    marker = '{"type":"pong"}'
    await publish_messages({"type": "game.marker", "text": marker})
    await until(lambda: marker in viewer.texts)
    assert viewer.texts == [frames.presence_text(2), frames.presence_text(3), marker]
    await leave(hub, GROUP, viewer)


class LobbyViewer(FrameViewer):
    """A lobby socket: keeps each game's totals frame it is handed."""

    def __init__(self) -> None:
        super().__init__()
        self.lobby: list[str] = []
        self.lobby_frames: list = []

    async def lobby_forward(self, message: dict, frame) -> None:
        self.lobby.append(frame.text)
        self.lobby_frames.append(frame)


def lobby_message(game_id: int, last_seq: int) -> dict:
    game = {"slug": f"g{game_id}", "name": "G", "is_public": True, "last_seq": last_seq, "events": 1, "points": 0}
    return {"type": "lobby.game", "game_id": game_id, "is_public": True, "text": frames.lobby_game_text(game)}


async def test_the_lobby_gets_each_games_latest_totals_once_per_tick():
    """The lobby runs on the hub like a game: a burst of writes is one frame per game per
    tick, the game's latest totals, one frame object shared by every lobby socket."""
    viewers = (LobbyViewer(), LobbyViewer())
    out = fanout_of(*viewers, tick=0.1)
    first = lobby_message(1, 1)
    await out.lobby_add(first)
    assert viewers[0].lobby == [first["text"]]  # a game idle for a tick: at once
    for game_id, seq in ((1, 2), (2, 1), (1, 3)):
        await out.lobby_add(lobby_message(game_id, seq))
    await until(lambda: len(viewers[0].lobby) == 3)
    assert viewers[0].lobby == [first["text"], lobby_message(1, 3)["text"], lobby_message(2, 1)["text"]]
    assert all(a is b for a, b in zip(*(v.lobby_frames for v in viewers), strict=True))  # built once
    out.stop()

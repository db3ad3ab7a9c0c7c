"""stats.live.reads: a feed's database reads, each shared by all of its viewers. Replays of one
gap cost one read, a ping's last seq is read at most once per LATEST_SEQ_TTL, failures are
not kept, and a read nobody waits for any more leaves no unretrieved exception."""

import asyncio
import gc
import threading

import pytest
from django.db import DatabaseError

from stats import selectors
from stats.live import reads
from stats.live.reads import SharedReads

GAME_ID = 7  # the reads below are stubs: no database row is needed


class BlockingRead:
    """Stands in for a selector: counts its calls, and holds each (in its thread) until
    released, so that callers can pile up behind a read under way."""

    def __init__(self, result=None, error: Exception | None = None) -> None:
        self.calls: list[dict] = []
        self.entered, self.release = threading.Event(), threading.Event()
        self.result, self.error = result, error

    def __call__(self, **kwargs):
        self.calls.append(kwargs)
        self.entered.set()
        if not self.release.wait(10):
            raise TimeoutError("never released")
        if self.error is not None:
            raise self.error
        return self.result if self.result is not None else {"after_seq": kwargs.get("after_seq")}


async def until(condition) -> None:
    async with asyncio.timeout(5):
        while not condition():  # noqa: ASYNC110 - polls plain state the tasks update
            await asyncio.sleep(0.01)


async def replays_started(shared: SharedReads, after_seqs: list[int]) -> tuple[list[asyncio.Task], list[int]]:
    """Start one replay per after_seq; returns the tasks and a list that holds one entry per
    replay that has asked SharedReads (a replay asks without yielding before it waits)."""
    asked: list[int] = []

    async def one(after_seq: int):
        asked.append(after_seq)
        return await shared.replay(after_seq=after_seq)

    return [asyncio.ensure_future(one(k)) for k in after_seqs], asked


@pytest.fixture
def events_read(monkeypatch) -> BlockingRead:
    read = BlockingRead()
    monkeypatch.setattr(selectors, "game_events_after", read)
    return read


async def test_concurrent_replays_of_one_gap_cost_one_database_read(events_read):
    shared = SharedReads(GAME_ID)
    tasks, asked = await replays_started(shared, [4] * 50)
    await until(lambda: len(asked) == 50 and events_read.entered.is_set())  # all 50 wait on the read
    events_read.release.set()
    results = await asyncio.gather(*tasks)
    assert [c["after_seq"] for c in events_read.calls] == [4]
    assert all(r is results[0] for r in results) and results[0] == {"after_seq": 4}
    assert shared.replays == {}  # done: the next gap after seq 4 is read afresh
    assert await shared.replay(after_seq=4) == {"after_seq": 4}
    assert len(events_read.calls) == 2


async def test_replays_of_different_gaps_are_separate_reads(events_read):
    shared = SharedReads(GAME_ID)
    tasks, asked = await replays_started(shared, [1, 2, 1, 2])
    await until(lambda: len(asked) == 4 and events_read.entered.is_set())
    events_read.release.set()
    results = await asyncio.gather(*tasks)
    assert sorted(c["after_seq"] for c in events_read.calls) == [1, 2]
    assert [r["after_seq"] for r in results] == [1, 2, 1, 2]


async def test_a_replay_whose_waiters_all_went_leaves_no_unretrieved_exception(events_read, caplog):
    """Every viewer behind a gap read closed its socket, then the read failed: asyncio must not
    log "Task exception was never retrieved" (conftest fails the test on it, too)."""
    events_read.error = DatabaseError("the database went away")
    shared = SharedReads(GAME_ID)
    tasks, asked = await replays_started(shared, [3, 3])
    await until(lambda: len(asked) == 2 and events_read.entered.is_set())
    for task in tasks:
        task.cancel()
    cancelled = await asyncio.gather(*tasks, return_exceptions=True)
    assert [type(r) for r in cancelled] == [asyncio.CancelledError] * 2
    events_read.release.set()
    await until(lambda: not shared.replays)  # the read is over (failed), nobody waiting
    del tasks, task, cancelled  # the waiters' frames hold the read: let it go now, not at teardown
    gc.collect()
    assert "never retrieved" not in caplog.text
    # And the failure is not kept: the next replay reads again.
    events_read.error = None
    assert await shared.replay(after_seq=3) == {"after_seq": 3}
    assert len(events_read.calls) == 2


async def test_a_failed_replay_reaches_every_waiter(events_read):
    events_read.error = DatabaseError("the database went away")
    shared = SharedReads(GAME_ID)
    tasks, asked = await replays_started(shared, [3, 3, 3])
    await until(lambda: len(asked) == 3 and events_read.entered.is_set())
    events_read.release.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert all(isinstance(r, DatabaseError) for r in results) and len(events_read.calls) == 1


class LastSeq:
    """Stands in for selectors.game_last_seq: each read returns the next number."""

    def __init__(self) -> None:
        self.calls = 0
        self.fail_next = False

    def __call__(self, *, game_id: int) -> int:
        self.calls += 1
        if self.fail_next:
            self.fail_next = False
            raise DatabaseError("the database went away")
        return 100 + self.calls


async def test_latest_seq_is_read_at_most_once_per_ttl(monkeypatch):
    ttl = 0.3
    monkeypatch.setattr(reads, "LATEST_SEQ_TTL", ttl)
    last_seq = LastSeq()
    monkeypatch.setattr(selectors, "game_last_seq", last_seq)
    shared = SharedReads(GAME_ID)
    loop = asyncio.get_running_loop()
    started = loop.time()
    # Concurrent pings, then more within the TTL: all answered by the first read.
    assert await asyncio.gather(*[shared.latest_seq() for _ in range(20)]) == [101] * 20
    while loop.time() - started < ttl / 2:
        assert await shared.latest_seq() == 101
        await asyncio.sleep(0.02)
    assert last_seq.calls == 1
    await asyncio.sleep(started + ttl + 0.05 - loop.time())  # the TTL is over: read again
    assert await shared.latest_seq() == 102
    assert await shared.latest_seq() == 102
    assert last_seq.calls == 2


async def test_a_failed_latest_seq_read_is_not_kept(monkeypatch):
    last_seq = LastSeq()
    monkeypatch.setattr(selectors, "game_last_seq", last_seq)
    shared = SharedReads(GAME_ID)
    last_seq.fail_next = True
    with pytest.raises(DatabaseError):
        await shared.latest_seq()
    assert await shared.latest_seq() == 102  # well within LATEST_SEQ_TTL, yet read again
    assert last_seq.calls == 2

"""Group commit: the event frames and POSTs of one game that arrive within a tick, from any
number of sockets and requests of this process, are written in one transaction
(stats.ingest.group), and each sender is answered after that commit with its own counts.

A writer thread per busy game: senders (a socket's frame, an async event POST) queue their
events and await a future of their loop, holding no thread; the writer takes everything
queued, writes it, answers, and takes again, so while one group is written the next gathers
(a busy game batches itself; the tick only lets a quiet game's near-simultaneous frames meet).
The write runs in a thread, not on the event loop: it never waits behind the loop's fan-out
to a thousand sockets. The writer lingers a little when idle,
keeping its database connection, then ends. Every other guarantee stays (stats.ingest.group):
gap-free seqs, exactly once by id, and a refused frame stores nothing and spoils none of its
neighbours.
"""

import asyncio
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Sequence

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections, connection

from stats import services
from stats.ingest import group
from stats.live import publish
from stats.ops import metrics
from stats.schemas import EventIn

logger = logging.getLogger(__name__)
LINGER_SECONDS = 2.0  # an idle writer waits this long for more before its thread ends


class Committer:
    """One game's queued frames in this process, and the thread that writes them."""

    def __init__(self, game_id: int) -> None:
        self.game_id = game_id
        self.pending: list[tuple[Sequence[EventIn], asyncio.Future]] = []
        self.wake = threading.Condition()
        self.writing = False

    def submit_async(self, events: Sequence[EventIn]) -> asyncio.Future:
        """The frame's outcome (a services.RecordResult, or the exception that refused it), as
        a future of the running loop: an ingest socket's frame, or an event POST's body. The
        writer settles a group's futures with one call_soon_threadsafe per loop: a
        concurrent.futures.Future wrapped per frame (its lock, condition and done-callback
        hop) was ~18% of a one-event frame's CPU (py-spy)."""
        future = asyncio.get_running_loop().create_future()
        with self.wake:
            self.pending.append((events, future))
            start, self.writing = not self.writing, True
            self.wake.notify()
        if start:
            threading.Thread(target=self._write_all, name=f"group-commit-{self.game_id}", daemon=True).start()
        return future

    def _group_take(self) -> list[tuple[Sequence[EventIn], asyncio.Future]]:
        limit, size, taken = settings.GROUP_COMMIT_MAX_EVENTS, 0, 0
        for events, _ in self.pending:
            if taken and size + len(events) > limit:
                break
            size, taken = size + len(events), taken + 1
        group, self.pending = self.pending[:taken], self.pending[taken:]
        return group

    def _next_group(self) -> list | None:
        """The next group once the tick has passed, or None after LINGER_SECONDS idle."""
        with self.wake:
            if not self.pending:
                self.wake.wait(timeout=LINGER_SECONDS)
                if not self.pending:
                    self.writing = False
                    return None
        tick = settings.GROUP_COMMIT_TICK_MS / 1000
        if tick:
            time.sleep(tick)
        with self.wake:
            return self._group_take()

    def _write_all(self) -> None:
        try:
            while (taken := self._next_group()) is not None:
                close_old_connections()  # a broken or expired connection is replaced
                _answer(taken, _outcomes(self.game_id, taken))
        finally:
            connection.close()  # the thread ends: its connection with it


def _outcomes(game_id: int, taken: list) -> list:
    try:
        return batches_record(game_id=game_id, batches=[events for events, _ in taken])
    except Exception as exc:  # noqa: BLE001 - the whole group failed (the database): each sender is told
        metrics.backend_error("committer")
        return [exc] * len(taken)


def _answer(taken: list, outcomes: list) -> None:
    by_loop: dict[asyncio.AbstractEventLoop, list] = defaultdict(list)
    for (_, future), outcome in zip(taken, outcomes, strict=True):
        by_loop[future.get_loop()].append((future, outcome))
    for loop, settled in by_loop.items():
        try:
            loop.call_soon_threadsafe(_settle_all, settled)
        except RuntimeError:  # that loop is closed: nobody is waiting any more
            pass


def _settle(future, outcome) -> None:
    if future.done():  # cancelled: its socket went away
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)


def _settle_all(settled: list) -> None:
    for future, outcome in settled:
        _settle(future, outcome)


batches_record = group.score_event_batches_record  # the seam tests wrap
_committers: dict[int, Committer] = {}
_committers_lock = threading.Lock()


def committer_for(game_id: int) -> Committer:
    with _committers_lock:
        committer = _committers.get(game_id)
        if committer is None:
            committer = _committers[game_id] = Committer(game_id)
        return committer


def http_grouped() -> bool:
    """POSTs join the groups in a web server (a server loop is registered). Elsewhere (a shell,
    Celery, the test client, whose test transaction another thread could not see) they write
    directly."""
    return settings.GROUP_COMMIT_HTTP and publish.server_loop() is not None


async def events_record_grouped(*, game_id: int, events: Sequence[EventIn]) -> services.RecordResult:
    """Record an HTTP POST's events in the game's next group, awaited on the loop as an
    ingest socket's frame is: no thread waits for the commit."""
    if not http_grouped():
        return await sync_to_async(services.score_events_record)(game_id=game_id, events=events)
    return await committer_for(game_id).submit_async(events)

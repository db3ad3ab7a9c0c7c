"""Group commit: the event frames of one game that arrive within a tick, from any number of
sockets of this process, are written in one transaction (stats.ingest.group),
and each sender is answered after that commit with its own counts.

One writer per game and process: while a group is being written, the next one gathers, so a
busy game batches itself with no tick at all; the tick only lets a quiet game's near-
simultaneous frames meet. Every other guarantee stays (stats.ingest.group): gap-free seqs,
exactly once by id, and a refused frame stores nothing and spoils none of its neighbours.
"""

import asyncio
import logging
from collections.abc import Sequence

from channels.db import database_sync_to_async
from django.conf import settings

from stats import services
from stats.ingest import group
from stats.live import publish
from stats.ops import metrics
from stats.schemas import EventIn

logger = logging.getLogger(__name__)


class Committer:
    """One game's pending frames in this process, and the task that writes them."""

    def __init__(self, game_id: int) -> None:
        self.game_id = game_id
        self.loop = asyncio.get_running_loop()
        self.pending: list[tuple[Sequence[EventIn], asyncio.Future]] = []
        self.task: asyncio.Task | None = None

    def submit(self, events: Sequence[EventIn]) -> asyncio.Future:
        """The frame's outcome: a services.RecordResult, or the exception that refused it."""
        future = asyncio.get_running_loop().create_future()
        self.pending.append((events, future))
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._write_all())
        return future

    def _group_take(self) -> list[tuple[Sequence[EventIn], asyncio.Future]]:
        limit, size, taken = settings.WEBGAME_GROUP_COMMIT_MAX_EVENTS, 0, 0
        for events, _ in self.pending:
            if taken and size + len(events) > limit:
                break
            size, taken = size + len(events), taken + 1
        group, self.pending = self.pending[:taken], self.pending[taken:]
        return group

    async def _write_all(self) -> None:
        tick = settings.WEBGAME_GROUP_COMMIT_TICK_MS / 1000
        if tick:
            await asyncio.sleep(tick)
        while self.pending:
            group = self._group_take()
            try:
                outcomes = await _batches_record(game_id=self.game_id, batches=[events for events, _ in group])
            except Exception as exc:  # noqa: BLE001 - the whole group failed (the database): each sender is told
                metrics.backend_error("committer")
                outcomes = [exc] * len(group)
            for (_, future), outcome in zip(group, outcomes, strict=True):
                if future.done():
                    continue  # its socket went away meanwhile
                if isinstance(outcome, BaseException):
                    future.set_exception(outcome)
                else:
                    future.set_result(outcome)


# Not thread-sensitive: group writes of several games may run side by side, each on a pooled
# thread that keeps its database connection.
_batches_record = database_sync_to_async(group.score_event_batches_record, thread_sensitive=False)
_committers: dict[int, Committer] = {}


def events_record_grouped(*, game_id: int, events: Sequence[EventIn]) -> services.RecordResult:
    """Record from sync code (an HTTP POST's thread) through the game's committer, so that
    POSTs and socket frames arriving together share a commit. Outside a web server (a shell,
    Celery, the test client) there is no server loop to group on: recorded directly."""
    loop = publish.server_loop()
    if loop is None or not settings.WEBGAME_GROUP_COMMIT_HTTP:
        return services.score_events_record(game_id=game_id, events=events)

    async def submitted() -> services.RecordResult:
        return await committer_for(game_id).submit(events)

    return asyncio.run_coroutine_threadsafe(submitted(), loop).result()


def committer_for(game_id: int) -> Committer:
    committer = _committers.get(game_id)
    # A committer belongs to one event loop (a server has one; a test run makes several).
    if committer is None or committer.loop is not asyncio.get_running_loop():
        committer = _committers[game_id] = Committer(game_id)
    return committer

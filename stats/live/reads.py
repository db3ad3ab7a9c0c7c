"""The database reads of a feed, each shared by all of its viewers in this process: where the
stream starts, the game's last seq (for pings), and replays (for gaps). A thousand viewers
that fall behind together cost one read, not a thousand (one read per viewer, at 1,000
viewers, was a storm that took the web process's threads from the POSTs for seconds)."""

import asyncio
import logging

from channels.db import database_sync_to_async
from django.conf import settings

from stats import selectors

logger = logging.getLogger(__name__)
LATEST_SEQ_TTL = 1.0  # a ping's "what is the last seq?" is read at most this often per feed


def _retrieved(future: asyncio.Future) -> None:
    # Every waiter may have gone (sockets closed): mark a failure as seen, or asyncio logs it.
    if not future.cancelled():
        future.exception()


def _failed(future: asyncio.Future) -> bool:
    return future.done() and (future.cancelled() or future.exception() is not None)


class SharedReads:
    def __init__(self, game_id: int | None) -> None:
        self.game_id = game_id  # None: a stream with no game (nothing to read)
        self.latest: tuple[float, asyncio.Future] | None = None  # (read at, the read)
        self.replays: dict[int, asyncio.Future] = {}  # reads under way, by after_seq

    async def stream_start(self, group: str) -> int | None:
        """The seq the stream continues with, read once subscribed: every event committed
        later is published later, so a lost first message is a gap too (read once, for
        everyone), not a stream that starts wherever the first message to arrive says."""
        if self.game_id is None:
            return None
        try:
            return await database_sync_to_async(selectors.game_last_seq)(game_id=self.game_id) + 1
        except Exception as exc:  # noqa: BLE001 - the stream then starts at its first message
            logger.warning("reading where %s starts failed (%s: %s)", group, type(exc).__name__, exc)
            return None

    async def latest_seq(self) -> int:
        """The game's last seq, for viewers' pings: one read per LATEST_SEQ_TTL for all of
        them, not one per ping (1,000 viewers ping every few seconds). Failures are not kept."""
        now = asyncio.get_running_loop().time()
        if self.latest is None or now - self.latest[0] > LATEST_SEQ_TTL or _failed(self.latest[1]):
            future = asyncio.ensure_future(database_sync_to_async(selectors.game_last_seq)(game_id=self.game_id))
            future.add_done_callback(_retrieved)
            self.latest = (now, future)
        return await asyncio.shield(self.latest[1])

    async def replay(self, *, after_seq: int) -> selectors.EventsRun | None:
        """The events after `after_seq` (None: too many, send a snapshot). Viewers that fall
        behind together (a lost message, a lagging burst) wait on one read."""
        future = self.replays.get(after_seq)
        if future is None:
            read = database_sync_to_async(selectors.game_events_after)
            future = asyncio.ensure_future(
                read(game_id=self.game_id, after_seq=after_seq, limit=settings.WEBGAME_RESUME_MAX)
            )
            self.replays[after_seq] = future
            future.add_done_callback(_retrieved)
            future.add_done_callback(lambda _: self.replays.pop(after_seq, None))
        return await asyncio.shield(future)

"""The client's bookkeeping, whichever transport carries the frames: which frame goes next,
which are in flight, and what an answer does to them.

Everything here runs on the client's event loop thread, so none of it needs a lock (the
Outbox, shared with callers, has its own)."""

import asyncio
import bisect
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from .answers import NOT_COUNTED, Answer
from .backoff import Backoff
from .events import MAX_FRAME_BYTES, Frame, body_make, frames_make, orders_new
from .outbox import Outbox
from .stats import Counters

log = logging.getLogger("webgame_client")
ErrorCallback = Callable[[list[dict], str, str], None]
AckCallback = Callable[[list[dict], int | None], None]


@dataclass(frozen=True)
class Config:
    batch_max: int = 500
    flush_interval: float = 0.05
    max_in_flight: int = 8
    max_retries: int | None = 10
    backoff_base: float = 0.1
    backoff_max: float = 10.0
    socket_retry: float = 30.0  # seconds on HTTP before the socket is tried again
    timeout: float = 10.0  # to open the socket, or for one HTTP POST
    answer_timeout: float = 30.0  # an unanswered frame means a dead socket
    max_frame_bytes: int = MAX_FRAME_BYTES

    def __post_init__(self) -> None:
        if not 1 <= self.batch_max <= 1000:
            raise ValueError("batch_max must be 1 to 1000 (the server's batch limit)")
        if self.max_in_flight < 1 or self.flush_interval < 0:
            raise ValueError("max_in_flight must be at least 1 and flush_interval not negative")
        if self.max_retries is not None and self.max_retries < 0:
            raise ValueError("max_retries must be None (forever) or at least 0")
        Backoff(self.backoff_base, self.backoff_max)  # raises on a bad pair


class Engine:
    def __init__(
        self,
        config: Config,
        outbox: Outbox,
        counters: Counters,
        on_error: ErrorCallback,
        on_ack: AckCallback | None = None,
    ) -> None:
        self.config, self.outbox, self.counters, self.on_error = config, outbox, counters, on_error
        self.on_ack = on_ack
        self.queue: list[Frame] = []  # frames made and not in flight, oldest (by order) first
        self.in_flight: dict[int, Frame] = {}  # by ref, in the order they were sent
        self.pause_until = 0.0  # after a refusal to go on (rate_limited, unavailable)
        self.backoff = Backoff(config.backoff_base, config.backoff_max)
        self.poke = asyncio.Event()  # set whenever anything above may have changed
        self._orders = orders_new()
        self._refs = iter(range(1, 2**62))
        self.max_frame_bytes = config.max_frame_bytes  # lowered by a server that refuses a frame as too_large

    def has_work(self) -> bool:
        return bool(self.queue) or self.outbox.peek()[0] > 0

    async def work_wait(self) -> None:
        while not self.has_work():
            self.poke.clear()
            await self.poke.wait()

    async def frame_next(self, capacity: int, until: float | None = None) -> Frame | None:
        """The next frame to send, once fewer than `capacity` are in flight, no pause holds and
        a batch is due; None when `until` (monotonic) comes first."""
        while True:
            now = time.monotonic()
            if until is not None and now >= until:
                return None
            wait = self._ready_in(now, capacity)
            if wait == 0:
                frame = self._frame_take()
                if frame is not None:
                    return frame
                continue
            if until is not None:
                wait = until - now if wait is None else min(wait, until - now)
            self.poke.clear()
            try:
                async with asyncio.timeout(wait):  # not wait_for: 3.11's can swallow a cancel
                    await self.poke.wait()
            except TimeoutError:
                pass

    def _ready_in(self, now: float, capacity: int) -> float | None:
        """0 when a frame can go now, else seconds to wait, None for as long as it takes."""
        if len(self.in_flight) >= capacity:
            return None
        if now < self.pause_until:
            return self.pause_until - now
        if self.queue:
            return 0
        count, first_at, flushing = self.outbox.peek()
        if count == 0:
            return None
        if count >= self.config.batch_max or flushing:
            return 0
        return max(0.0, first_at + self.config.flush_interval - now)

    def _frame_take(self) -> Frame | None:
        if not self.queue:
            events = self.outbox.take(self.config.batch_max)
            frames, too_large = frames_make(events, self._orders, self.max_frame_bytes)
            self.queue.extend(frames)
            for event in too_large:
                self.fail([event], "too_large", f"the event alone is over {self.max_frame_bytes} bytes")
        return self.queue.pop(0) if self.queue else None

    def frame_sent(self, frame: Frame) -> int:
        """Record `frame` as in flight, under a new ref; the ref its answer will carry."""
        ref = next(self._refs)
        self.counters.add(**({"retries": 1} if frame.sent else {"frames": 1}))
        frame.sent += 1
        frame.sent_at = time.monotonic()
        self.in_flight[ref] = frame
        return ref

    def answer(self, frame: Frame, answer: Answer) -> None:
        if answer.ok:
            self.counters.add(acked=len(frame.events), duplicates=answer.duplicates)
            self.backoff.reset()
            if self.on_ack is not None:
                self._callback("on_ack", self.on_ack, frame.events, answer.last_seq)
            self.outbox.settle(len(frame.events))  # after the callback: flush() returns past it
        elif answer.retryable:
            self.retry(frame, answer.code, answer.message, answer.retry_after)
        elif answer.code == "too_large" and len(frame.events) > 1:
            self.split(frame)
        else:
            self.fail(frame.events, answer.code, answer.message)
        self.poke.set()

    def retry(self, frame: Frame, code: str, message: str, delay: float | None = None) -> None:
        """Queue `frame` again, ahead of newer ones, unless it has had its retries; the first
        refusal of a run pauses sending (by the server's Retry-After, or the backoff)."""
        if code not in NOT_COUNTED:
            frame.attempts += 1
            limit = self.config.max_retries
            if limit is not None and frame.attempts > limit:
                self.fail(frame.events, code, f"given up after {limit} retries: {message}")
                return
        bisect.insort(self.queue, frame, key=lambda f: f.order)
        if code in ("rate_limited", "unavailable", "server_error"):
            now = time.monotonic()
            if now >= self.pause_until:
                self.pause_until = now + (delay if delay is not None else self.backoff.next())
        self.poke.set()

    def split(self, frame: Frame) -> None:
        """The server found the frame too large (its limit is below ours): send it again as two
        halves, in its place, and make later frames smaller than it was."""
        self.max_frame_bytes = min(self.max_frame_bytes, len(frame.body.encode()))
        half = len(frame.events) // 2
        for part in (frame.events[:half], frame.events[half:]):  # insort keeps the halves in order
            bisect.insort(self.queue, Frame(frame.order, part, body_make(part)), key=lambda f: f.order)

    def in_flight_requeue(self, code: str, message: str) -> None:
        """The connection went with frames unanswered: each may or may not be stored, and the
        server's exactly-once by id makes sending it again safe either way."""
        frames, self.in_flight = list(self.in_flight.values()), {}
        for frame in frames:
            self.retry(frame, code, message)

    def fail(self, events: list[dict], code: str, message: str) -> None:
        self.counters.add(failed=len(events))
        self._callback("on_error", self.on_error, events, code, message)
        self.outbox.settle(len(events), failed=True)  # after the callback: flush() returns past it

    @staticmethod
    def _callback(name: str, callback: Callable[..., None], *args: object) -> None:
        try:
            callback(*args)
        except Exception:  # a callback's bug must not stop delivery of everything else
            log.exception("webgame_client: the %s callback raised", name)

    def abandon(self, code: str, message: str) -> None:
        """Give up on everything left (at close): reported like any other failure."""
        frames, self.in_flight = [*self.in_flight.values(), *self.queue], {}
        self.queue = []
        events = [event for frame in sorted(frames, key=lambda f: f.order) for event in frame.events]
        events += self.outbox.close()
        if events:
            self.fail(events, code, message)

    def answer_wait(self) -> float:
        """How long the socket may stay silent before the oldest frame in flight is overdue."""
        if not self.in_flight:
            return self.config.answer_timeout
        oldest = next(iter(self.in_flight.values()))
        return max(0.0, oldest.sent_at + self.config.answer_timeout - time.monotonic())

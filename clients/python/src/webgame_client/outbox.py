"""Where send() leaves events for the client's thread, and how flush() knows they are settled.

The only state both sides touch, behind one lock: send() must never wait on the network, and
the client's thread must never wait on a caller."""

import threading
import time
from collections import deque


class BufferFull(RuntimeError):
    """send() while max_pending events are still unsettled: the server has been unreachable
    for long enough that keeping more would only grow memory. The caller decides: drop, or
    wait with flush() and send again."""


class ClientClosed(RuntimeError):
    """send() after close(): the event would never leave."""


class Outbox:
    def __init__(self, *, batch_max: int, max_pending: int) -> None:
        self._lock = threading.Lock()
        self._settled = threading.Condition(self._lock)
        self._events: deque[dict] = deque()
        self._batch_max, self._max_pending = batch_max, max_pending
        self._pending = 0  # given to put() and not yet acked or given up on
        self._first_at = 0.0  # when the oldest buffered event arrived (monotonic)
        self._flushers = 0  # flush() calls waiting: no lingering for a fuller batch meanwhile
        self._failed = 0  # events given up on since a flush() last returned: that flush says False
        self._closed = False

    def put(self, event: dict) -> bool:
        """Buffer one event; True when the client's thread should be woken for it (the first
        event of a batch starts its linger, a full batch ends it), not for every event."""
        with self._lock:
            if self._closed:
                raise ClientClosed("this client is closed")
            if self._pending >= self._max_pending:
                raise BufferFull(f"{self._pending} events not yet delivered (max_pending)")
            self._events.append(event)
            self._pending += 1
            if len(self._events) == 1:
                self._first_at = time.monotonic()
                return True
            return len(self._events) == self._batch_max

    def peek(self) -> tuple[int, float, bool]:
        """How many events wait, since when, and whether someone is flushing."""
        with self._lock:
            return len(self._events), self._first_at, self._flushers > 0

    def take(self, limit: int) -> list[dict]:
        with self._lock:
            count = min(limit, len(self._events))
            # Events left behind keep the oldest's start: none waits longer than one linger.
            return [self._events.popleft() for _ in range(count)]

    def close(self) -> list[dict]:
        """Take no more events (in the same lock as put(), so none slips in after); the ones
        left."""
        with self._lock:
            self._closed = True
            left, self._events = list(self._events), deque()
            return left

    def settle(self, count: int, *, failed: bool = False) -> None:
        """`count` events are done with (acked, or given up on: `failed`)."""
        with self._lock:
            self._pending -= count
            if failed:
                self._failed += count
            if self._pending <= 0:
                self._settled.notify_all()

    @property
    def pending(self) -> int:
        with self._lock:
            return self._pending

    def flushing(self, delta: int) -> None:
        with self._lock:
            self._flushers += delta

    def settled_wait(self, timeout: float | None) -> bool:
        """True once every event is settled, all of them acked since the last call that
        returned so; False on the timeout, or when some were given up on (then counted as
        told: the next call starts afresh)."""
        with self._settled:
            if not self._settled.wait_for(lambda: self._pending <= 0, timeout):
                return False
            failed, self._failed = self._failed, 0
            return failed == 0

"""The client's counters: what a game server's operator looks at to trust the pipe."""

import threading
from dataclasses import dataclass, fields


@dataclass(frozen=True)
class ClientStats:
    """A snapshot of a client's counters (events unless said otherwise).

    Once everything settles (after flush() or close()), sent == acked + failed, and
    sent / frames is the mean number of events per frame: how well batching works at the
    game server's pace (1 when each event leaves alone)."""

    sent: int = 0  # events given to send()
    acked: int = 0  # events the server confirmed it has (stored now, or already: duplicates)
    duplicates: int = 0  # of acked: events the server had already (a retry of a committed frame)
    failed: int = 0  # events given up on: refused for good, retries exhausted, or left at close()
    frames: int = 0  # frames sent, each counted once (sends again are in retries)
    retries: int = 0  # frames sent again (after a lost connection, rate_limited, unavailable)
    http_fallbacks: int = 0  # times the socket could not be opened and HTTP POST was used instead


class Counters:
    """The mutable side of ClientStats, shared by the caller's threads and the client's."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values = dict.fromkeys((f.name for f in fields(ClientStats)), 0)

    def add(self, **amounts: int) -> None:
        with self._lock:
            for name, amount in amounts.items():
                self._values[name] += amount

    def snapshot(self) -> ClientStats:
        with self._lock:
            return ClientStats(**self._values)

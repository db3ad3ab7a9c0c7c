"""How long to wait before trying again: exponential, capped, with jitter.

Jitter, because a server restart drops every game server's socket at the same moment, and
clients that all waited the same time would all come back at the same moment too."""

import random
from dataclasses import dataclass, field


@dataclass
class Backoff:
    """Equal jitter: the n-th wait in a row is between half and all of min(cap, base * 2**n),
    so it never collapses to nothing (full jitter would, and hammer a server that is down)."""

    base: float = 0.1
    cap: float = 10.0
    failures: int = 0
    rng: random.Random = field(default_factory=random.Random, repr=False)

    def __post_init__(self) -> None:
        if not 0 < self.base <= self.cap:
            raise ValueError("backoff needs 0 < base <= cap")

    def next(self) -> float:
        ceiling = min(self.cap, self.base * 2 ** min(self.failures, 60))
        self.failures += 1
        return ceiling / 2 + self.rng.uniform(0, ceiling / 2)

    def reset(self) -> None:
        self.failures = 0

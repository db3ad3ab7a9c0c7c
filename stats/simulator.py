"""A fake match for demo games: a fixed roster scoring at random, so a new user sees motion."""

import random

from stats.schemas import EventIn

ROSTER = ["ada", "grace", "linus", "margaret", "alan", "barbara", "dennis", "ken"]
KINDS = ["score", "bonus", "penalty"]
KIND_WEIGHTS = [0.8, 0.15, 0.05]
# Some players are better than others, so the leaderboard has a shape.
PLAYER_WEIGHTS = [1.0 / (i + 1) for i in range(len(ROSTER))]


def events_simulate(*, seed: str, max_count: int = 5) -> list[EventIn]:
    """A burst of events, fully determined by `seed`: a retried task re-posts the very same
    events (same ids, same content), which the service recognises as duplicates."""
    rng = random.Random(seed)
    events = []
    for i in range(rng.randint(1, max_count)):
        kind = rng.choices(KINDS, KIND_WEIGHTS)[0]
        points = {"score": rng.randint(1, 10), "bonus": rng.randint(10, 30), "penalty": -rng.randint(5, 15)}[kind]
        player = rng.choices(ROSTER, PLAYER_WEIGHTS)[0]
        events.append(EventIn(id=f"sim-{seed}-{i}"[:64], player=player, points=points, kind=kind))
    return events

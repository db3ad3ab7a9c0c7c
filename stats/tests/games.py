"""Games of a test's own: each test gets a slug no other test uses, so that nothing one test
leaves behind in Valkey (channel groups, presence, rate counts), in the session's daphne or in
a process cache keyed by the game can reach another, whatever order they run in."""

import uuid

from stats import services
from stats.models import Game


def game_slug_unique(prefix: str = "game") -> str:
    """`prefix` and a random suffix (uuid4, not `random`: pytest-randomly reseeds `random` to
    the same value before each test), within the 50 characters a slug may have."""
    return f"{prefix[:41]}-{uuid.uuid4().hex[:8]}"


def game_make(*, prefix: str = "arena", name: str | None = None, is_public: bool = True) -> Game:
    """A new game whose slug starts with `prefix`, through the service as an admin would."""
    return services.game_create(slug=game_slug_unique(prefix), name=name or prefix.title(), is_public=is_public)

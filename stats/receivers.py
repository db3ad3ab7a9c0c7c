"""Signal receivers: side effects decoupled from the services that cause them."""

from stats import selectors
from stats.live import publish


def broadcast_after_commit(sender, *, game, events, players, scored, **kwargs) -> None:
    """The live path's way in: every write of events (API, admin, staff page, Celery) sends
    the signal, and this pushes them to the game's viewers after commit (stats.live.publish)."""
    publish.events_publish_on_commit(game=game, events=events, players=players, scored=scored)


def api_key_cache_clear(sender, **kwargs) -> None:
    """A key saved or deleted here (revoked in the admin, say) stops working at once."""
    selectors.api_key_cache_clear()

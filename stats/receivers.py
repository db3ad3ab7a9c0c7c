"""Signal receivers: side effects decoupled from the services that cause them."""

from django.db import transaction

from stats import broadcast, selectors


def broadcast_after_commit(sender, *, game, events, players, **kwargs) -> None:
    """Push recorded events to viewers once (and only if) their transaction commits.

    The frames are encoded after the commit too: the game's row lock is released by then, so
    the next writer of the game need not wait for the JSON of a 1,000-event batch (~9 ms).
    What they are built from (the rows, players and counters the service wrote) is not
    touched after the write."""

    # A named function, not a partial: robust=True logs failures by the callback's __qualname__.
    def send_committed() -> None:
        broadcast.messages_send(broadcast.game_events_messages(game=game, events=events, players=players))

    transaction.on_commit(send_committed, robust=True)


def api_key_cache_clear(sender, **kwargs) -> None:
    """A key saved or deleted here (revoked in the admin, say) stops working at once."""
    selectors.api_key_cache_clear()

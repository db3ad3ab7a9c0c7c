"""Signal receivers: side effects decoupled from the services that cause them."""

from stats import selectors
from stats.live import publish, rights


def broadcast_after_commit(sender, *, game, events, players, scored, **kwargs) -> None:
    """The live path's way in: every write of events (API, admin, staff page, Celery) sends
    the signal, and this pushes them to the game's viewers after commit (stats.live.publish)."""
    publish.events_publish_on_commit(game=game, events=events, players=players, scored=scored)


def lobby_game_created(sender, *, game, **kwargs) -> None:
    """A new game shows in open lobbies at once, as the lobby's totals do (after commit)."""
    publish.lobby_game_publish_on_commit(game=game)


def api_key_cache_clear(sender, **kwargs) -> None:
    """A key saved or deleted here (revoked in the admin, say) stops working at once."""
    selectors.api_key_cache_clear()


# Rights on open sockets (stats.live.rights): each change that can take a game or chat away
# from a user tells that user's sockets, on every web process, after commit.


def rights_viewers_changed(sender, *, instance, action, reverse, pk_set, **kwargs) -> None:
    """Users removed from a private game's viewers (or all of them cleared)."""
    if action == "pre_clear":
        users = [instance.pk] if reverse else list(instance.viewers.values_list("pk", flat=True))
    elif action == "post_remove":
        users = [instance.pk] if reverse else list(pk_set or ())
    else:
        return
    for user_id in users:
        rights.rights_changed_publish(user_id=user_id)


def rights_user_saved(sender, *, instance, created=False, update_fields=None, **kwargs) -> None:
    """A user saved (made inactive, no longer staff, a new password...): not at creation, and
    not for the last_login that every login saves."""
    if created or (update_fields is not None and set(update_fields) <= {"last_login"}):
        return
    rights.rights_changed_publish(user_id=instance.pk)


def rights_logged_out(sender, *, request, user, **kwargs) -> None:
    """A logout: that session's sockets lose their user (the signal comes before the flush)."""
    if user is not None and user.pk is not None:
        rights.rights_changed_publish(user_id=user.pk, session_key=request.session.session_key)

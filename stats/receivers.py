"""Signal receivers: side effects decoupled from the services that cause them.

The live path's way in: one receiver per domain signal (stats.signals), each building the
frames and handing them to stats.live.publish.publish_on_commit, the only way to publish
(a test holds that nothing else calls it)."""

from stats import selectors
from stats.chat.wire import chat_wire
from stats.live import publish, rights
from stats.scoring.selectors import team_totals_get


def broadcast_after_commit(sender, *, game, events, players, scored, **kwargs) -> None:
    """Every write of events (API, ingest socket, admin, staff page, Celery) sends the
    signal; this pushes them to the game's viewers, and the game's totals to the lobby."""
    publish.publish_on_commit(
        lambda: publish.game_events_messages(game=game, events=events, players=players, scored=scored)
    )


def chat_posted_broadcast(sender, *, game, message, **kwargs) -> None:
    frame = {"type": "chat", "message": chat_wire(message)}
    publish.publish_on_commit(lambda: publish.chat_messages(game=game, frame=frame))


def chat_deleted_broadcast(sender, *, game, message_id, **kwargs) -> None:
    frame = {"type": "chat_deleted", "id": message_id}
    publish.publish_on_commit(lambda: publish.chat_messages(game=game, frame=frame))


def match_broadcast(sender, *, game, match, **kwargs) -> None:
    """A match started or ended. Its teams' totals are read here, in the service's
    transaction (the game's row is locked), so they are the ones the match has at commit."""
    teams = team_totals_get(game_id=game.pk, match_pks=[match.pk]).get(match.pk, [])
    publish.publish_on_commit(lambda: publish.match_messages(game=game, match=match, teams=teams))


async def viewers_broadcast(sender, *, game_id, viewers, **kwargs) -> None:
    """A game's viewer count changed (a socket came or went): sent at once, no transaction."""
    task = publish.publish_on_commit(lambda: publish.presence_messages(game_id=game_id, viewers=viewers))
    if task is not None:
        await task


def lobby_game_created(sender, *, game, **kwargs) -> None:
    """A new game shows in open lobbies at once, as the lobby's totals do (after commit)."""
    publish.publish_on_commit(lambda: publish.lobby_messages(game=game))


def api_key_cache_clear(sender, **kwargs) -> None:
    """A key saved or deleted here (revoked in the admin, say) stops working at once."""
    selectors.api_key_cache_clear()


# Rights on open sockets (stats.live.rights): each change that can take a game or chat away
# from a user tells that user's sockets, on every web process, after commit.


def _rights_changed(*, user_id: int, session_key: str | None = None) -> None:
    publish.publish_on_commit(lambda: rights.rights_changed_messages(user_id=user_id, session_key=session_key))


def rights_viewers_changed(sender, *, instance, action, reverse, pk_set, **kwargs) -> None:
    """Users removed from a private game's viewers (or all of them cleared)."""
    if action == "pre_clear":
        users = [instance.pk] if reverse else list(instance.viewers.values_list("pk", flat=True))
    elif action == "post_remove":
        users = [instance.pk] if reverse else list(pk_set or ())
    else:
        return
    for user_id in users:
        _rights_changed(user_id=user_id)


def rights_user_saved(sender, *, instance, created=False, update_fields=None, **kwargs) -> None:
    """A user saved (made inactive, no longer staff, a new password...): not at creation, and
    not for the last_login that every login saves."""
    if created or (update_fields is not None and set(update_fields) <= {"last_login"}):
        return
    _rights_changed(user_id=instance.pk)


def rights_logged_out(sender, *, request, user, **kwargs) -> None:
    """A logout: that session's sockets lose their user (the signal comes before the flush)."""
    if user is not None and user.pk is not None:
        _rights_changed(user_id=user.pk, session_key=request.session.session_key)

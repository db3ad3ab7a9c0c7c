"""Rights on open sockets (issue #19): a socket's user is resolved once, at the handshake, and
open sockets kept the rights their user had then: a viewer removed from a private game kept
its events and chat, a logged-out or deactivated user kept chatting, staff who lost
`is_staff` kept moderating.

Two checks, each against the database (the source of truth):

- **When a right is used**: every chat action reads the socket's user again from its session
  (stats.live.chat), so a logout, a deactivation or a lost `is_staff` holds from the next
  message on, on every process, with no message needed.
- **When a right changes**: a change that can take a game away from a user (removed from a
  private game's viewers, made inactive or no longer staff, logged out) publishes a `rights`
  message to the group `rights` after commit (stats.receivers). Each web process follows that
  group once (a feed of the hub, as a game's) and has every open game socket of that user
  check again: one that may no longer watch gets an error frame `forbidden` and is closed
  with 4403; a lobby socket is sent the list of games again, as its user may now see it.
  After a Redis outage every watched socket checks again (messages may be lost).
"""

import asyncio
import hashlib
import json
import logging
from importlib import import_module
from types import SimpleNamespace

from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth import get_user
from django.contrib.auth.models import AnonymousUser
from django.db import DatabaseError

from stats import selectors
from stats.live import frames
from stats.live.hub import hub_get

logger = logging.getLogger(__name__)
RIGHTS_GROUP = "rights"


def session_tag(session_key: str | None) -> str | None:
    """A session named in a message without its key (the group travels through Redis)."""
    return hashlib.sha256(session_key.encode()).hexdigest()[:32] if session_key else None


def rights_changed_messages(*, user_id: int, session_key: str | None = None) -> list[tuple[str, dict]]:
    """The message telling every web process that `user_id`'s rights changed (and, on
    logout, which session ended); published after commit by stats.receivers."""
    text = frames.json_compact({"type": "rights", "user": user_id, "session": session_tag(session_key)})
    return [(RIGHTS_GROUP, {"type": "rights.changed", "text": text})]


def user_current(*, scope: dict, logged_out: bool = False):
    """The socket's user as its session says now: anonymous once the session has ended (a
    logout), the user is inactive, or the password changed (Django's own get_user checks)."""
    session = scope.get("session")
    key = getattr(session, "session_key", None)
    if logged_out or key is None:
        return AnonymousUser()
    store = import_module(settings.SESSION_ENGINE).SessionStore(session_key=key)  # read afresh
    return get_user(SimpleNamespace(session=store))


def ended(scope: dict, tag: str | None) -> bool:
    """Whether a rights message's session tag (a logout) names this socket's session."""
    return tag is not None and tag == session_tag(getattr(scope.get("session"), "session_key", None))


async def socket_watch(socket) -> None:
    """Have `socket.rights_check(tag)` called when its user's rights change (logged-in users
    only); the socket unwatches when it goes (stats.live.jsonsocket)."""
    user = socket.scope["user"]
    if user.is_authenticated:
        socket.rights_user_id = user.pk
        await watch_get().watch(socket, user.pk)


def socket_rights(*, scope: dict, game_id: int, logged_out: bool = False) -> tuple[object, bool]:
    """(the user now, whether that user may still watch the game)."""
    user = user_current(scope=scope, logged_out=logged_out)
    return user, selectors.game_list_visible(user=user).filter(pk=game_id).exists()


class LobbyRights:
    """Mixed into LobbyConsumer: a lobby socket whose user's rights change is sent the list
    of games again as that user may now see it, and private games' totals only if so."""

    async def rights_watch(self) -> None:
        await socket_watch(self)

    async def rights_check(self, session: str | None) -> None:
        if self.closing:
            return
        try:
            user = await database_sync_to_async(user_current)(scope=self.scope, logged_out=ended(self.scope, session))
            self.scope["user"] = user
            self.sees_private = bool(user.is_authenticated and user.is_staff)
            await self.games_send()
        except DatabaseError as exc:  # the next rights message or reconnect brings it
            logger.warning("lobby rights check failed (%s: %s)", type(exc).__name__, exc)


class RightsWatch:
    """A process's (an event loop's) open game sockets by user, told of rights messages by
    its feed of the `rights` group. A Viewer of that feed (stats.live.fanout.Viewer)."""

    def __init__(self) -> None:
        self.sockets: dict[int, dict] = {}  # user id -> {socket: None}
        self.following = False  # a viewer of the hub's feed of RIGHTS_GROUP
        self.loop = asyncio.get_running_loop()
        self.hub = hub_get()

    async def watch(self, socket, user_id: int) -> None:
        self.sockets.setdefault(user_id, {})[socket] = None
        if not self.following:  # the first watched socket: follow the group (its feed retries in an outage)
            self.following = True
            await self.hub.join(RIGHTS_GROUP, self)

    def unwatch(self, socket, user_id: int) -> None:
        sockets = self.sockets.get(user_id)
        if sockets is not None:
            sockets.pop(socket, None)
            if not sockets:
                del self.sockets[user_id]
        if not self.sockets and self.following:  # the last one gone: no feed left behind
            self.following = False
            self.hub.leave(RIGHTS_GROUP, self)

    async def text_forward(self, frame) -> None:
        try:
            message = json.loads(frame.text)
        except ValueError:
            return
        if not isinstance(message, dict) or message.get("type") != "rights":
            return  # the feed's own status frames
        for socket in list(self.sockets.get(message.get("user"), ())):
            self.hub.spawn(socket.rights_check(message.get("session")))

    async def live_forward(self, last_seq: int | None) -> None:
        """Live again after an outage: rights messages may have been lost, check every socket."""
        for sockets in list(self.sockets.values()):
            for socket in list(sockets):
                self.hub.spawn(socket.rights_check(None))

    async def events_forward(self, first_seq: int, last_seq: int, frame) -> None:
        pass  # the rights group carries no events

    async def lobby_forward(self, message: dict, frame) -> None:
        pass


_watches: dict[int, RightsWatch] = {}


def watch_get() -> RightsWatch:
    loop = asyncio.get_running_loop()
    watch = _watches.get(id(loop))
    if watch is None or watch.loop is not loop:
        watch = _watches[id(loop)] = RightsWatch()
    return watch

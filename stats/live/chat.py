"""Chat on a game's socket: the seeds' group chat on the live path. A logged-in viewer's
message is stored (stats.chat.services), then pushed after commit to the game's group like
every other frame; staff delete messages and mute users from the same socket. Anonymous
viewers read the chat and are told to log in when they try to send; the socket stays open."""

import logging

from channels.db import database_sync_to_async
from django.db import DatabaseError

from stats import ratelimit
from stats.chat import services as chat_services
from stats.chat.services import ChatRefused
from stats.live import frames, rights
from stats.live.jsonsocket import CLOSE_FORBIDDEN
from stats.schemas import ChatDeleteIn, ChatIn, ChatMuteIn

logger = logging.getLogger(__name__)


def _chat_post(*, user, game_id: int, text: str) -> None:
    wait = ratelimit.chat_retry_after(user_id=user.pk)
    if wait is not None:
        raise ChatRefused("chat_rate_limited", f"you are sending too fast; wait {wait} s")
    chat_services.chat_message_post(game_id=game_id, user=user, text=text)


class ChatHandlers:
    """Mixed into GameConsumer: its `handlers` name these."""

    chat_handlers = {"chat": "on_chat", "chat_delete": "on_chat_delete", "chat_mute": "on_chat_mute"}

    async def user_fresh(self):
        """The socket's user as the database has it now (stats.live.rights): a chat action
        uses the rights its user has when it is made, not those of the handshake."""
        user = await database_sync_to_async(rights.user_current)(scope=self.scope)
        self.scope["user"] = user
        return user

    async def rights_watch(self) -> None:
        """Be told when this socket's user's rights change (a logged-in user's sockets only)."""
        await rights.socket_watch(self)

    async def rights_check(self, session: str | None) -> None:
        """The user's rights changed (`session`: the tag of a session that ended): check again;
        a socket that may no longer watch its game gets `forbidden` and is closed (4403)."""
        if self.closing:
            return
        logged_out = rights.ended(self.scope, session)
        try:
            check = database_sync_to_async(rights.socket_rights)
            user, visible = await check(scope=self.scope, game_id=self.game_id, logged_out=logged_out)
        except DatabaseError as exc:  # the next chat action checks again; never an unretrieved error
            logger.warning("rights check for %s failed (%s: %s)", self.slug, type(exc).__name__, exc)
            return
        self.scope["user"] = user
        if not visible and not self.closing:
            await self.send_json(frames.error("forbidden", "you may no longer watch this game"))
            await self.close(code=CLOSE_FORBIDDEN)

    async def chat_refuse(self, refused: ChatRefused) -> None:
        await self.send_json(frames.error(refused.code, refused.message))

    async def on_chat(self, content):
        chat = ChatIn.model_validate(content)
        user = await self.user_fresh()
        if not user.is_authenticated:
            return await self.send_json(frames.error("login_required", "log in to chat"))
        try:
            await database_sync_to_async(_chat_post)(user=user, game_id=self.game_id, text=chat.text)
        except ChatRefused as refused:
            await self.chat_refuse(refused)

    async def on_chat_delete(self, content):
        delete = ChatDeleteIn.model_validate(content)
        by = await self.user_fresh()
        try:
            await database_sync_to_async(chat_services.chat_message_delete)(message_id=delete.id, by=by)
        except ChatRefused as refused:
            await self.chat_refuse(refused)

    async def on_chat_mute(self, content):
        mute = ChatMuteIn.model_validate(content)
        by = await self.user_fresh()
        try:
            await database_sync_to_async(chat_services.chat_mute_set)(
                game_id=self.game_id, username=mute.user, by=by, muted=mute.muted
            )
        except ChatRefused as refused:
            await self.chat_refuse(refused)

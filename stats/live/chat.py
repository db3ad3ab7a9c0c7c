"""Chat on a game's socket: the seeds' group chat on the live path. A logged-in viewer's
message is stored (stats.chat.services), then pushed after commit to the game's group like
every other frame; staff delete messages and mute users from the same socket. Anonymous
viewers read the chat and are told to log in when they try to send; the socket stays open."""

from channels.db import database_sync_to_async

from stats import ratelimit
from stats.chat import services as chat_services
from stats.chat.services import ChatRefused
from stats.live import frames
from stats.schemas import ChatDeleteIn, ChatIn, ChatMuteIn


def _chat_post(*, user, game_id: int, text: str) -> None:
    wait = ratelimit.chat_retry_after(user_id=user.pk)
    if wait is not None:
        raise ChatRefused("chat_rate_limited", f"you are sending too fast; wait {wait} s")
    chat_services.chat_message_post(game_id=game_id, user=user, text=text)


class ChatHandlers:
    """Mixed into GameConsumer: its `handlers` name these."""

    chat_handlers = {"chat": "on_chat", "chat_delete": "on_chat_delete", "chat_mute": "on_chat_mute"}

    async def chat_refuse(self, refused: ChatRefused) -> None:
        await self.send_json(frames.error(refused.code, refused.message))

    async def on_chat(self, content):
        chat = ChatIn.model_validate(content)
        user = self.scope["user"]
        if not user.is_authenticated:
            return await self.send_json(frames.error("login_required", "log in to chat"))
        try:
            await database_sync_to_async(_chat_post)(user=user, game_id=self.game_id, text=chat.text)
        except ChatRefused as refused:
            await self.chat_refuse(refused)

    async def on_chat_delete(self, content):
        delete = ChatDeleteIn.model_validate(content)
        try:
            await database_sync_to_async(chat_services.chat_message_delete)(message_id=delete.id, by=self.scope["user"])
        except ChatRefused as refused:
            await self.chat_refuse(refused)

    async def on_chat_mute(self, content):
        mute = ChatMuteIn.model_validate(content)
        try:
            await database_sync_to_async(chat_services.chat_mute_set)(
                game_id=self.game_id, username=mute.user, by=self.scope["user"], muted=mute.muted
            )
        except ChatRefused as refused:
            await self.chat_refuse(refused)

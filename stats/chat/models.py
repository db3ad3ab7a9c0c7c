"""A game's chat log. Moderation never erases a row: a deleted message keeps its text with
who deleted it and when, and is only left out of what viewers read."""

from django.conf import settings
from django.db import models

# The column's size; the CHAT_MAX_CHARS setting may only lower the limit (services clamps it).
TEXT_MAX_LENGTH = 500


class ChatMessage(models.Model):
    # No index of its own on game: the (game, -id) index below leads with it.
    game = models.ForeignKey("stats.Game", on_delete=models.CASCADE, related_name="chat_messages", db_index=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    text = models.CharField(max_length=TEXT_MAX_LENGTH)
    created_at = models.DateTimeField(auto_now_add=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    deleted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        app_label = "stats"
        # Every read is "the last N of a game, by id": a backward walk of this index.
        indexes = [models.Index(fields=["game", "-id"], name="chat_recent")]

    def __str__(self) -> str:
        return f"{self.game_id}#{self.pk} {self.text[:40]}"


class ChatMute(models.Model):
    """A user who may read a game's chat but not post to it."""

    # No index of its own on game: the unique constraint leads with it.
    game = models.ForeignKey("stats.Game", on_delete=models.CASCADE, related_name="chat_mutes", db_index=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    muted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        app_label = "stats"
        constraints = [models.UniqueConstraint(fields=["game", "user"], name="chat_mute_unique")]

    def __str__(self) -> str:
        return f"{self.user_id} muted in {self.game_id}"

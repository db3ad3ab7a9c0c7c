"""Chat writes. Each one that changes what viewers see sends its signal (stats.signals)
inside its transaction; the signal's receiver publishes the frame once, after the commit,
and never for a write that is rolled back."""

import unicodedata

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import transaction
from django.utils import timezone

from stats import selectors
from stats.chat.models import TEXT_MAX_LENGTH, ChatMessage, ChatMute
from stats.models import Game
from stats.schemas import char_visible
from stats.signals import chat_message_deleted, chat_message_posted

# Bidirectional overrides and isolates: text that renders in another order than it is stored
# (a username or link shown reversed). Other format characters stay: emoji need U+200D.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


class ChatRefused(Exception):
    """A chat write refused for a reason the sender may be told (`code`: empty, too_long,
    muted, not_found, forbidden)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


def _char_keep(char: str) -> str:
    if char in "\t\n\r":
        return " "  # a line break separates words: not "a\nb" -> "ab"
    category = unicodedata.category(char)
    # Cc: C0/C1 controls (NUL is refused by PostgreSQL, ESC drives terminals that show logs);
    # Cs: lone surrogates from JSON "\ud800", which no database can encode.
    if category in ("Cc", "Cs") or char in _BIDI_CONTROLS:
        return ""
    return char


def chat_text_clean(*, text: str) -> str:
    """The text as stored: control characters stripped (tab and line breaks become spaces;
    a single chat line is all the UI shows), NFC-normalised, whitespace trimmed. Stripped
    rather than refused: a pasted line with a stray control character still goes through."""
    kept = "".join(_char_keep(c) for c in text)
    return unicodedata.normalize("NFC", kept).strip()


def _text_check(*, text: str) -> str:
    if not isinstance(text, str):
        raise ChatRefused("empty", "the message must be text")
    cleaned = chat_text_clean(text=text)
    # Zero-width or blank-looking characters alone (U+200B, U+2800...) show an empty line.
    if not any(char_visible(c) for c in cleaned):
        raise ChatRefused("empty", "the message is empty (nothing in it is visible)")
    limit = min(settings.CHAT_MAX_CHARS, TEXT_MAX_LENGTH)
    if len(cleaned) > limit:
        raise ChatRefused("too_long", f"a message holds at most {limit} characters")
    return cleaned


def _game_for_poster(*, game_id: int, user: AbstractBaseUser | AnonymousUser) -> Game:
    if not user.is_authenticated:
        raise ChatRefused("forbidden", "log in to chat")
    # The watch rules (selectors.game_list_visible): a game this user may not watch is
    # answered like a game that does not exist.
    game = selectors.game_list_visible(user=user).filter(pk=game_id).first()
    if game is None:
        raise ChatRefused("not_found", "no such game, or you may not use it")
    if ChatMute.objects.filter(game=game, user=user).exists():
        raise ChatRefused("muted", "you are muted in this game's chat")
    return game


def chat_message_post(*, game_id: int, user: AbstractBaseUser | AnonymousUser, text: str) -> ChatMessage:
    """Store a user's message; its viewers are sent it after commit (chat_message_posted)."""
    cleaned = _text_check(text=text)  # first: refusing bad text costs no query
    with transaction.atomic():
        game = _game_for_poster(game_id=game_id, user=user)
        message = ChatMessage.objects.create(game=game, user=user, text=cleaned)
        chat_message_posted.send(sender=ChatMessage, game=game, message=message)
    return message


def _staff_check(*, by: AbstractBaseUser | AnonymousUser) -> None:
    if not (by.is_authenticated and by.is_staff):
        raise ChatRefused("forbidden", "only staff may moderate the chat")


def chat_message_delete(*, message_id: int, by: AbstractBaseUser | AnonymousUser) -> ChatMessage | None:
    """Soft-delete a message (staff only); None if there is no such message. Idempotent: a
    second delete changes nothing and publishes nothing (viewers who missed the first frame
    read the chat again on reconnecting, without the message)."""
    _staff_check(by=by)
    with transaction.atomic():
        # A conditional UPDATE: of two moderators deleting at once, one wins and publishes.
        changed = ChatMessage.objects.filter(pk=message_id, deleted_at__isnull=True).update(
            deleted_at=timezone.now(), deleted_by=by
        )
        message = ChatMessage.objects.select_related("game", "user").filter(pk=message_id).first()
        if changed and message is not None:
            chat_message_deleted.send(sender=ChatMessage, game=message.game, message_id=message_id)
    return message


def chat_mute_set(*, game_id: int, username: str, by: AbstractBaseUser | AnonymousUser, muted: bool) -> None:
    """Mute or unmute a user in a game's chat (staff only). Setting the current state again
    is a no-op; the first mute's author and time are kept."""
    _staff_check(by=by)
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise ChatRefused("not_found", f"no user named {username!r}")
    if not Game.objects.filter(pk=game_id).exists():
        raise ChatRefused("not_found", "no such game")
    if muted:
        ChatMute.objects.get_or_create(game_id=game_id, user=user, defaults={"muted_by": by})
    else:
        ChatMute.objects.filter(game_id=game_id, user=user).delete()

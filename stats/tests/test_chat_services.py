"""stats.chat.services: what is stored, what is refused, and what is published (once, after
commit, never for a refusal or a rollback)."""

import pytest
from django.contrib.auth.models import AnonymousUser, User
from django.db import transaction

from stats.chat.models import ChatMessage, ChatMute
from stats.chat.services import ChatRefused, chat_message_delete, chat_message_post, chat_mute_set
from stats.live import publish
from stats.tests import chat_support
from stats.tests.games import game_make


@pytest.fixture
def published(monkeypatch):
    return chat_support.published_record(monkeypatch)


@pytest.fixture
def ada(db):
    return User.objects.create_user("ada", password="pw-ada-1")


@pytest.fixture
def staff(db):
    return User.objects.create_user("sam", password="pw-sam-1", is_staff=True)


def post(game, user, text, capture):
    with capture(execute=True):
        return chat_message_post(game_id=game.pk, user=user, text=text)


def refused_code(game, user, text, capture) -> str:
    with pytest.raises(ChatRefused) as refused:
        post(game, user, text, capture)
    assert refused.value.message
    return refused.value.code


def test_post_stores_the_message_and_publishes_it_once(game, ada, published, django_capture_on_commit_callbacks):
    message = post(game, ada, "  gg wp  ", django_capture_on_commit_callbacks)
    stored = ChatMessage.objects.get()
    assert (stored.pk, stored.game_id, stored.user_id, stored.text) == (message.pk, game.pk, ada.pk, "gg wp")
    assert len(published.calls) == 1
    group, frame = published.sent[0]
    assert (group, frame["type"], set(frame["message"])) == (
        publish.game_group(game.pk),
        "chat",
        {"id", "user", "text", "at_ms"},
    )
    assert frame["message"] | {"at_ms": 0} == {"id": message.pk, "user": "ada", "text": "gg wp", "at_ms": 0}
    assert isinstance(frame["message"]["at_ms"], int)


# Zero-width and blank-looking characters alone (issue #19): a message that shows nothing.
@pytest.mark.parametrize(
    "text", ["", "   ", "\n\t ", "\x00\x1b\u202e", "\u3000", "\u200b\u200b", "\u200d\ufeff\u2060", "\u2800", "\u3164 "]
)
def test_empty_text_is_refused_and_nothing_published(game, ada, published, text, django_capture_on_commit_callbacks):
    assert refused_code(game, ada, text, django_capture_on_commit_callbacks) == "empty"
    assert (ChatMessage.objects.count(), published.calls) == (0, [])


def test_text_over_the_limit_is_refused_at_the_limit_accepted(game, ada, published, django_capture_on_commit_callbacks):
    assert refused_code(game, ada, "x" * 501, django_capture_on_commit_callbacks) == "too_long"
    assert published.calls == []
    post(game, ada, "x" * 500, django_capture_on_commit_callbacks)
    assert len(published.sent) == 1


def test_length_is_counted_after_nfc_and_stored_as_nfc(game, ada, published, django_capture_on_commit_callbacks):
    decomposed = "e\u0301" * 500  # 1,000 code points, 500 characters once composed
    message = post(game, ada, decomposed, django_capture_on_commit_callbacks)
    message.refresh_from_db()
    assert message.text == "\u00e9" * 500


def test_chat_max_chars_setting_lowers_the_limit(game, ada, published, settings, django_capture_on_commit_callbacks):
    settings.CHAT_MAX_CHARS = 10
    assert refused_code(game, ada, "x" * 11, django_capture_on_commit_callbacks) == "too_long"
    post(game, ada, "x" * 10, django_capture_on_commit_callbacks)
    settings.CHAT_MAX_CHARS = 10_000  # never above the column's size
    assert refused_code(game, ada, "x" * 501, django_capture_on_commit_callbacks) == "too_long"


def test_control_characters_are_stripped(game, ada, published, django_capture_on_commit_callbacks):
    # NUL (PostgreSQL refuses it), ESC, C1, a bidi override and a lone surrogate: all dropped;
    # line breaks and tabs become spaces. The emoji's zero-width joiner is kept.
    text = "a\x00b\x1b[31m c\x85\u202ed\ud800\nnext\tword \U0001f469\u200d\U0001f4bb"
    message = post(game, ada, text, django_capture_on_commit_callbacks)
    message.refresh_from_db()
    assert message.text == "ab[31m cd next word \U0001f469\u200d\U0001f4bb"
    assert published.sent[0][1]["message"]["text"] == message.text


def test_muted_user_is_refused(game, ada, staff, published, django_capture_on_commit_callbacks):
    chat_mute_set(game_id=game.pk, username="ada", by=staff, muted=True)
    assert refused_code(game, ada, "hi", django_capture_on_commit_callbacks) == "muted"
    chat_mute_set(game_id=game.pk, username="ada", by=staff, muted=False)
    post(game, ada, "hi again", django_capture_on_commit_callbacks)
    assert [frame["message"]["text"] for _, frame in published.sent] == ["hi again"]


def test_private_game_only_for_staff_and_listed_viewers(ada, staff, published, django_capture_on_commit_callbacks):
    private = game_make(prefix="secret", name="Secret", is_public=False)
    assert refused_code(private, ada, "hi", django_capture_on_commit_callbacks) == "not_found"
    post(private, staff, "staff here", django_capture_on_commit_callbacks)
    private.viewers.add(ada)
    post(private, ada, "viewer here", django_capture_on_commit_callbacks)
    assert [frame["message"]["user"] for _, frame in published.sent] == ["sam", "ada"]


def test_missing_game_and_anonymous_user_are_refused(game, ada, published, django_capture_on_commit_callbacks):
    with pytest.raises(ChatRefused) as missing:
        chat_message_post(game_id=game.pk + 1000, user=ada, text="hi")
    assert missing.value.code == "not_found"
    assert refused_code(game, AnonymousUser(), "hi", django_capture_on_commit_callbacks) == "forbidden"
    assert (ChatMessage.objects.count(), published.calls) == (0, [])


def test_rolled_back_post_publishes_nothing(game, ada, published, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError):
        with transaction.atomic():
            chat_message_post(game_id=game.pk, user=ada, text="never seen")
            raise RuntimeError("the caller's transaction fails")
    assert (ChatMessage.objects.count(), published.sent) == (0, [])


def test_delete_is_staff_only_soft_and_published_once(game, ada, staff, published, django_capture_on_commit_callbacks):
    message = post(game, ada, "rude", django_capture_on_commit_callbacks)
    with pytest.raises(ChatRefused) as refused:
        chat_message_delete(message_id=message.pk, by=ada)
    assert refused.value.code == "forbidden"
    for _ in range(2):  # the second delete changes nothing and publishes nothing
        with django_capture_on_commit_callbacks(execute=True):
            deleted = chat_message_delete(message_id=message.pk, by=staff)
    assert deleted.pk == message.pk
    kept = ChatMessage.objects.get(pk=message.pk)  # still in the log, with who and when
    assert (kept.text, kept.deleted_by_id, kept.deleted_at is not None) == ("rude", staff.pk, True)
    assert [frame for _, frame in published.sent[1:]] == [{"type": "chat_deleted", "id": message.pk}]


def test_delete_of_a_missing_message_is_none(game, staff, published, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        assert chat_message_delete(message_id=123456, by=staff) is None
    assert published.calls == []


def test_mute_set_is_staff_only_and_idempotent(game, ada, staff):
    with pytest.raises(ChatRefused) as refused:
        chat_mute_set(game_id=game.pk, username="ada", by=ada, muted=True)
    assert refused.value.code == "forbidden"
    for _ in range(2):
        chat_mute_set(game_id=game.pk, username="ada", by=staff, muted=True)
    mute = ChatMute.objects.get()
    assert (mute.game_id, mute.user_id, mute.muted_by_id) == (game.pk, ada.pk, staff.pk)
    for _ in range(2):
        chat_mute_set(game_id=game.pk, username="ada", by=staff, muted=False)
    assert not ChatMute.objects.exists()


def test_mute_set_unknown_user_or_game_is_not_found(game, staff):
    for game_id, username in [(game.pk, "nobody"), (game.pk + 1000, "sam")]:
        with pytest.raises(ChatRefused) as refused:
            chat_mute_set(game_id=game_id, username=username, by=staff, muted=True)
        assert refused.value.code == "not_found"
    assert not ChatMute.objects.exists()

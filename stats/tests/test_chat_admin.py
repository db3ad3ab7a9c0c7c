"""The chat in the Django admin: moderation goes through the services, so it publishes."""

import pytest
from django.contrib.auth.models import User

from stats.chat.models import ChatMessage, ChatMute
from stats.tests import chat_support

MESSAGES = "/admin/stats/chatmessage/"
MUTES = "/admin/stats/chatmute/"


@pytest.fixture
def published(monkeypatch):
    return chat_support.published_record(monkeypatch)


@pytest.fixture
def staff(db):
    return User.objects.create_user("sam", password="pw-sam-1", is_staff=True, is_superuser=True)


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


@pytest.fixture
def ada(db):
    return User.objects.create_user("ada", password="pw-ada-1")


def test_message_list_shows_the_log(staff_client, game, ada):
    ChatMessage.objects.create(game=game, user=ada, text="hello there")
    response = staff_client.get(MESSAGES)
    assert response.status_code == 200
    page = response.content.decode()
    assert "hello there" in page and "Delete (moderate)" in page
    assert "delete_selected" not in page  # no row delete: the log keeps moderated messages


def test_moderate_action_soft_deletes_and_publishes(
    staff_client, staff, game, ada, published, django_capture_on_commit_callbacks
):
    rude, fine = (ChatMessage.objects.create(game=game, user=ada, text=t) for t in ("rude", "fine"))
    form = {"action": "moderate_delete", "_selected_action": [rude.pk], "index": 0}
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(MESSAGES, form)
    assert response.status_code == 302
    rude.refresh_from_db()
    assert (rude.deleted_by_id, rude.deleted_at is not None) == (staff.pk, True)
    assert ChatMessage.objects.get(pk=fine.pk).deleted_at is None
    assert published.sent == [(game.slug, {"type": "chat_deleted", "id": rude.pk})]
    with django_capture_on_commit_callbacks(execute=True):
        staff_client.post(MESSAGES, form)  # again: nothing changes, nothing is published
    assert len(published.sent) == 1


def test_messages_cannot_be_added_or_row_deleted(staff_client, game, ada):
    message = ChatMessage.objects.create(game=game, user=ada, text="hi")
    assert staff_client.get(f"{MESSAGES}add/").status_code == 403
    assert staff_client.post(f"{MESSAGES}{message.pk}/delete/", {"post": "yes"}).status_code == 403
    assert ChatMessage.objects.filter(pk=message.pk).exists()


def test_mute_added_through_the_admin_records_who_muted(staff_client, staff, game, ada):
    response = staff_client.post(f"{MUTES}add/", {"game": game.pk, "user": ada.pk})
    assert response.status_code == 302
    mute = ChatMute.objects.get()
    assert (mute.game_id, mute.user_id, mute.muted_by_id) == (game.pk, ada.pk, staff.pk)
    listing = staff_client.get(MUTES).content.decode()
    assert "ada" in listing and "sam" in listing


def test_mute_added_twice_is_a_form_error(staff_client, game, ada):
    staff_client.post(f"{MUTES}add/", {"game": game.pk, "user": ada.pk})
    response = staff_client.post(f"{MUTES}add/", {"game": game.pk, "user": ada.pk})
    assert response.status_code == 200
    assert ChatMute.objects.count() == 1


def test_mute_deleted_through_the_admin_one_or_many(staff_client, staff, game, ada):
    bob = User.objects.create_user("bob", password="pw-bob-1")
    one, two = (ChatMute.objects.create(game=game, user=u, muted_by=staff) for u in (ada, bob))
    assert staff_client.post(f"{MUTES}{one.pk}/delete/", {"post": "yes"}).status_code == 302
    assert list(ChatMute.objects.values_list("pk", flat=True)) == [two.pk]
    form = {"action": "delete_selected", "_selected_action": [two.pk], "post": "yes"}
    assert staff_client.post(MUTES, form).status_code == 302
    assert not ChatMute.objects.exists()

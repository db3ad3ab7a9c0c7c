"""stats.chat.selectors: what viewers read of a game's chat, oldest first, moderated
messages left out."""

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from stats.chat.models import ChatMessage
from stats.chat.selectors import chat_page, chat_recent
from stats.tests.games import game_make


@pytest.fixture
def ada(db):
    return User.objects.create_user("ada", password="pw-ada-1")


def say(game, user, *texts) -> list[ChatMessage]:
    return [ChatMessage.objects.create(game=game, user=user, text=t) for t in texts]


def texts(messages: list[dict]) -> list[str]:
    return [m["text"] for m in messages]


def test_recent_is_the_last_messages_oldest_first_in_one_query(game, ada, django_assert_num_queries):
    bob = User.objects.create_user("bob", password="pw-bob-1")
    say(game, ada, "one", "two")
    say(game, bob, "three")
    with django_assert_num_queries(1):
        recent = chat_recent(game_id=game.pk, limit=2)
    assert [(m["user"], m["text"]) for m in recent] == [("ada", "two"), ("bob", "three")]
    assert set(recent[0]) == {"id", "user", "text", "at_ms"}


def test_recent_leaves_out_deleted_messages_and_other_games(game, ada):
    other = game_make(prefix="other", name="Other")
    gone, _ = say(game, ada, "gone", "kept")
    say(other, ada, "elsewhere")
    ChatMessage.objects.filter(pk=gone.pk).update(deleted_at=timezone.now())
    assert texts(chat_recent(game_id=game.pk)) == ["kept"]


def test_recent_of_a_quiet_game_is_empty(game):
    assert chat_recent(game_id=game.pk) == []


def test_pages_walk_back_to_the_start(game, ada):
    messages = say(game, ada, "m1", "m2", "m3", "m4", "m5")
    first = chat_page(game_id=game.pk, before=None, limit=2)
    assert (texts(first["messages"]), first["before"], first["more"]) == (["m4", "m5"], messages[3].pk, True)
    second = chat_page(game_id=game.pk, before=first["before"], limit=2)
    assert (texts(second["messages"]), second["before"], second["more"]) == (["m2", "m3"], messages[1].pk, True)
    last = chat_page(game_id=game.pk, before=second["before"], limit=2)
    assert last == {"messages": last["messages"], "before": None, "more": False}
    assert texts(last["messages"]) == ["m1"]


def test_page_that_ends_exactly_at_the_start_says_no_more(game, ada):
    say(game, ada, "m1", "m2")
    assert chat_page(game_id=game.pk, before=None, limit=2)["more"] is False


def test_page_skips_deleted_messages(game, ada):
    m2 = say(game, ada, "m1", "m2", "m3")[1]
    ChatMessage.objects.filter(pk=m2.pk).update(deleted_at=timezone.now())
    page = chat_page(game_id=game.pk, before=None, limit=2)
    assert (texts(page["messages"]), page["more"]) == (["m1", "m3"], False)


def test_page_of_a_quiet_game(game):
    assert chat_page(game_id=game.pk, before=None, limit=50) == {"messages": [], "before": None, "more": False}

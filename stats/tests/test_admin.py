import asyncio
import re

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.contrib.auth.models import Permission, User

from stats import selectors, services
from stats.live import publish
from stats.models import ApiKey, Player, ScoreEvent
from stats.tests.admin_support import event_form
from stats.tests.support import event_in

ADD_EVENT = "/admin/stats/scoreevent/add/"


@pytest.fixture
def staff_client(client, db):
    user = User.objects.create_user("sam", password="pw-for-tests", is_staff=True)
    codenames = ["add_scoreevent", "change_scoreevent", "view_scoreevent", "add_apikey", "view_apikey"]
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="stats", codename__in=codenames))
    client.force_login(user)
    return client


def test_admin_add_records_an_event_with_a_seq_and_totals(staff_client, game):
    services.score_events_record(game_id=game.pk, events=[event_in("first", "bob", 1)])
    response = staff_client.post(ADD_EVENT, event_form(game))
    assert response.status_code == 302
    event = ScoreEvent.objects.get(game=game, player__name="ada")
    assert (event.seq, event.points, event.event_id.startswith("admin-")) == (2, 5, True)
    assert Player.objects.get(game=game, name="ada").total == 5
    game.refresh_from_db()
    assert (game.last_seq, game.points_total) == (2, 6)


def test_admin_add_keeps_a_given_id(staff_client, game):
    staff_client.post(ADD_EVENT, event_form(game, event_id="match-7-goal"))
    assert ScoreEvent.objects.filter(game=game, event_id="match-7-goal").exists()


def test_admin_add_with_an_existing_id_is_refused_and_stores_nothing(staff_client, game):
    services.score_events_record(game_id=game.pk, events=[event_in("taken")])
    response = staff_client.post(ADD_EVENT, event_form(game, event_id="taken"))
    assert response.status_code == 200
    assert "exists already" in response.content.decode()
    assert ScoreEvent.objects.filter(game=game).count() == 1


def test_admin_add_with_a_blank_player_is_refused(staff_client, game):
    response = staff_client.post(ADD_EVENT, event_form(game, player_name="   "))
    assert response.status_code == 200
    assert not ScoreEvent.objects.filter(game=game).exists()


@pytest.mark.django_db(transaction=True)
async def test_admin_add_appears_live_after_commit(staff_client, game):
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(publish.game_group(game.pk), channel)
    response = await database_sync_to_async(staff_client.post)(ADD_EVENT, event_form(game, points=9))
    assert response.status_code == 302
    message = await asyncio.wait_for(layer.receive(channel), 10)
    assert (message["type"], message["first_seq"], message["last_seq"]) == ("game.events", 1, 1)


def test_admin_change_records_a_correction_and_keeps_the_original(staff_client, game):
    services.score_events_record(game_id=game.pk, events=[event_in("e1", "ada", 10)])
    original = ScoreEvent.objects.get(game=game, event_id="e1")
    response = staff_client.post(f"/admin/stats/scoreevent/{original.pk}/change/", {"points": 7})
    assert response.status_code == 302
    correction = ScoreEvent.objects.get(game=game, seq=2)
    assert (correction.kind, correction.points, correction.corrects_id) == ("correction", -3, original.pk)
    original.refresh_from_db()
    assert original.points == 10
    assert Player.objects.get(game=game, name="ada").total == 7


def test_admin_change_form_shows_the_effective_points(staff_client, game):
    services.score_events_record(game_id=game.pk, events=[event_in("e1", "ada", 10)])
    original = ScoreEvent.objects.get(game=game, event_id="e1")
    services.score_event_correct(event_pk=original.pk, points=4)
    page = staff_client.get(f"/admin/stats/scoreevent/{original.pk}/change/").content.decode()
    assert re.search(r'name="points"[^>]*value="4"', page)


def test_admin_cannot_delete_events(admin_client, game):
    services.score_events_record(game_id=game.pk, events=[event_in("e1")])
    event = ScoreEvent.objects.get(game=game)
    assert admin_client.post(f"/admin/stats/scoreevent/{event.pk}/delete/", {"post": "yes"}).status_code == 403
    assert ScoreEvent.objects.filter(pk=event.pk).exists()
    changelist = admin_client.get("/admin/stats/scoreevent/").content.decode()
    assert "delete_selected" not in changelist


def test_admin_cannot_add_players_by_hand(admin_client, db):
    assert admin_client.get("/admin/stats/player/add/").status_code == 403


def test_admin_api_key_is_shown_once_and_authenticates(staff_client, game):
    response = staff_client.post("/admin/stats/apikey/add/", {"game": game.pk, "name": "server-1"}, follow=True)
    found = re.search(r"(wg_[0-9a-f]{8}_[A-Za-z0-9_-]+)", response.content.decode())
    assert found, "the new key is shown after saving"
    raw = found.group(1)
    assert selectors.api_key_get(raw=raw) == ApiKey.objects.get(game=game, name="server-1")
    assert raw not in staff_client.get("/admin/stats/apikey/").content.decode()
    key = ApiKey.objects.get(game=game)
    assert raw not in staff_client.get(f"/admin/stats/apikey/{key.pk}/change/").content.decode()


def stats_box(page: str) -> str:
    """The text in the form's Stats box (a textarea)."""
    return re.search(r'<textarea name="stats"[^>]*>(.*?)</textarea>', page, re.S).group(1).strip()


def test_admin_stats_box_is_empty_on_add_and_readable_on_change(staff_client, game):
    """Issue #22: the box was filled with `null`, which had to be deleted before typing."""
    from stats.scoring import services as scoring

    assert stats_box(staff_client.get(ADD_EVENT).content.decode()) == ""
    scoring.stat_declare(game=game, name="kills")
    scoring.stat_declare(game=game, name="deaths")
    services.score_events_record(game_id=game.pk, events=[event_in("e1", "ada", 1, stats={"kills": 2, "deaths": 1})])
    services.score_events_record(game_id=game.pk, events=[event_in("e2", "ada", 1)])
    with_stats, without = ScoreEvent.objects.filter(game=game).order_by("seq")
    page = staff_client.get(f"/admin/stats/scoreevent/{with_stats.pk}/change/").content.decode()
    assert stats_box(page) == "{&quot;deaths&quot;: 1, &quot;kills&quot;: 2}"
    assert stats_box(staff_client.get(f"/admin/stats/scoreevent/{without.pk}/change/").content.decode()) == ""


def test_admin_add_game_goes_through_the_service_and_its_signal(admin_client, db):
    """#22: a game made anywhere shows in open lobbies (services.game_create's signal)."""
    from stats.models import Game
    from stats.signals import game_created

    made = []

    def seen(sender, *, game, **kwargs):
        made.append(game.slug)

    game_created.connect(seen, dispatch_uid="test.admin.game_created")
    try:
        form = {"slug": "cup", "name": "Cup", "is_public": "on"}
        response = admin_client.post("/admin/stats/game/add/", form)
    finally:
        game_created.disconnect(dispatch_uid="test.admin.game_created")
    assert response.status_code == 302, response.content.decode()[:2000]
    assert made == ["cup"]
    assert Game.objects.get(slug="cup").name == "Cup"

"""Stats and matches in the admin (stats.scoring.admin), and corrections of stats through the
event admin: all through the services, so totals and the open match follow."""

import pytest

from stats import services
from stats.models import ScoreEvent
from stats.scoring import services as scoring
from stats.scoring.models import Match, Stat, StatTotal
from stats.tests.admin_support import event_form
from stats.tests.support import event_in


def kept(game, owner, stat, period="all", kind="p"):
    return StatTotal.objects.get(game=game, period=period, kind=kind, owner=owner, stat=stat).value


def test_a_stat_is_declared_in_the_admin_and_a_bad_one_is_refused(admin_client, game):
    form = {"game": game.pk, "name": "kills", "label": "Kills", "format": "integer", "order": "desc", "op": "incr"}
    assert admin_client.post("/admin/stats/stat/add/", form).status_code == 302
    assert Stat.objects.get(game=game, name="kills").position == 0
    bad = admin_client.post("/admin/stats/stat/add/", {**form, "name": "Bad Name"})
    assert bad.status_code == 200 and Stat.objects.count() == 1


def test_a_match_is_started_and_ended_in_the_admin(admin_client, game):
    response = admin_client.post("/admin/stats/match/add/", {"game": game.pk, "match_id": "final", "name": "Final"})
    assert response.status_code == 302
    game.refresh_from_db()
    match = Match.objects.get(match_id="final")
    assert game.open_match_id == match.pk and match.status == "live"
    ended = admin_client.post(
        "/admin/stats/match/", {"action": "end_matches", "_selected_action": [match.pk]}, follow=True
    )
    assert ended.status_code == 200
    match.refresh_from_db()
    game.refresh_from_db()
    assert match.status == "finished" and game.open_match_id is None


def test_an_event_with_stats_is_added_in_the_admin_and_an_unknown_stat_is_refused(admin_client, game):
    scoring.stat_declare(game=game, name="kills")
    ok = admin_client.post("/admin/stats/scoreevent/add/", event_form(game, stats='{"kills": 2}', team="red"))
    assert ok.status_code == 302 and kept(game, "ada", "kills") == 2
    refused = admin_client.post("/admin/stats/scoreevent/add/", event_form(game, stats='{"kils": 2}', team=""))
    assert refused.status_code == 200 and b"Not a stat of this game: kils" in refused.content
    assert ScoreEvent.objects.count() == 1


@pytest.fixture
def played(game):
    scoring.stat_declare(game=game, name="kills")
    scoring.stat_declare(game=game, name="rating", op="set")
    scoring.match_start(game_id=game.pk, match_id="m1")
    services.score_events_record(
        game_id=game.pk, events=[event_in("e1", "ada", 5, stats={"kills": 3, "rating": 10}, team="red")]
    )
    scoring.match_end(game_id=game.pk, match_id="m1")
    return game


def test_an_admin_correction_changes_stats_in_the_same_match_and_team(admin_client, played):
    event = ScoreEvent.objects.get(event_id="e1")
    page = admin_client.get(f"/admin/stats/scoreevent/{event.pk}/change/")
    assert b"&quot;kills&quot;: 3" in page.content  # the effective stats, to edit
    form = {"points": 5, "stats": '{"kills": 1, "rating": 12}'}
    assert admin_client.post(f"/admin/stats/scoreevent/{event.pk}/change/", form).status_code == 302
    fix = ScoreEvent.objects.get(corrects=event)
    assert (fix.stats, fix.team, fix.match.match_id, fix.kind) == (
        {"kills": -2, "rating": 12},
        "red",
        "m1",
        "correction",
    )
    match_key = f"m{fix.match_id}"
    assert (kept(played, "ada", "kills"), kept(played, "ada", "rating")) == (1, 12)
    assert kept(played, "red", "kills", match_key, "t") == 1  # the finished match's team total too
    assert services.score_event_effective_stats(event=event) == {"kills": 1, "rating": 12}


def test_a_correction_to_an_unknown_stat_is_refused_in_the_form(admin_client, played):
    event = ScoreEvent.objects.get(event_id="e1")
    response = admin_client.post(f"/admin/stats/scoreevent/{event.pk}/change/", {"points": 5, "stats": '{"nope": 1}'})
    assert response.status_code == 200 and b"Not a stat of this game: nope" in response.content
    assert not ScoreEvent.objects.filter(corrects=event).exists()


@pytest.fixture
def kills(game):
    stat, _ = scoring.stat_declare(game=game, name="kills", op="incr")
    services.score_events_record(game_id=game.pk, events=[event_in("k1", "ada", 1, stats={"kills": 3}),
                                                          event_in("k2", "ada", 1, stats={"kills": 5})])  # fmt: skip
    return stat


def stat_form(stat, **changes):
    return {"name": stat.name, "label": stat.label, "format": stat.format, "order": stat.order, "op": stat.op,
            **changes}  # fmt: skip


def test_a_stat_is_renamed_and_its_op_changed_in_the_admin_through_the_services(admin_client, game, kills):
    """Issue #22: the admin showed the name, order and op read-only; a save of the others
    wrote the row alone. Now a rename moves the totals and a new op rebuilds them."""
    response = admin_client.post(f"/admin/stats/stat/{kills.pk}/change/", stat_form(kills, name="frags", op="best"))
    assert response.status_code == 302
    assert (Stat.objects.get(pk=kills.pk).name, Stat.objects.get(pk=kills.pk).op) == ("frags", "best")
    assert kept(game, "ada", "frags") == 5 and not StatTotal.objects.filter(stat="kills").exists()
    assert ScoreEvent.objects.get(event_id="k1").stats == {"frags": 3}


def test_a_stat_is_removed_in_the_admin_only_while_no_event_carries_it(admin_client, game, kills):
    refused = admin_client.post(f"/admin/stats/stat/{kills.pk}/delete/", {"post": "yes"}, follow=True)
    assert "events carry &#x27;kills&#x27;, so it stays" in refused.content.decode()
    assert Stat.objects.filter(pk=kills.pk).exists()
    typo, _ = scoring.stat_declare(game=game, name="asists")
    assert admin_client.get(f"/admin/stats/stat/{typo.pk}/delete/").status_code == 200  # the confirmation
    assert admin_client.post(f"/admin/stats/stat/{typo.pk}/delete/", {"post": "yes"}).status_code == 302
    assert list(Stat.objects.filter(game=game).values_list("name", flat=True)) == ["kills"]

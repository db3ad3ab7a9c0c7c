"""Changing declared stats (stats.scoring.stat_changes, issue #22): label, format, order, op
and place at any time; a rename that the totals, the log and the ratios follow; a removal
while no event carries it; refusals that say what can be done."""

import pytest
from django.core.exceptions import ValidationError

from stats import selectors, services
from stats.models import ScoreEvent
from stats.scoring import leaderboard, stat_changes
from stats.scoring import services as scoring
from stats.scoring.models import Stat, StatTotal
from stats.scoring.record import EventsRefused
from stats.scoring.stat_changes import StatChangeRefused, stat_remove, stat_rename, stat_update
from stats.tests.games import game_make
from stats.tests.support import event_in


def board(game, stat, **query) -> list[tuple]:
    body = leaderboard.leaderboard_read(game=game, query=leaderboard.Query(stat=stat, **query))
    owner = query.get("entity", "player")
    return [(e[owner], e["value"]) for e in body["entries"]]


def names(game) -> list[str]:
    return list(Stat.objects.filter(game=game).order_by("position").values_list("name", flat=True))


@pytest.fixture
def played(game):
    scoring.stat_declare(game=game, name="kills")
    scoring.stat_declare(game=game, name="deaths", order="asc")
    scoring.stat_declare(game=game, name="streak", op="best")
    scoring.stat_declare(game=game, name="kd", numerator="kills", denominator="deaths")
    scoring.match_start(game_id=game.pk, match_id="m1")
    services.score_events_record(
        game_id=game.pk,
        events=[
            event_in("a1", "ada", 1, team="red", stats={"kills": 6, "deaths": 2, "streak": 5}),
            event_in("a2", "ada", 1, team="red", stats={"kills": 2, "streak": 2}),
            event_in("b1", "bob", 1, team="blue", stats={"kills": 3, "deaths": 3, "streak": 3}),
        ],
    )
    return game


def test_label_format_order_and_place_change_at_any_time_and_the_next_snapshot_shows_them(played):
    before = selectors.game_snapshot_shared(game_id=played.pk)  # cached: the seq will not move
    stat_update(game=played, name="kills", label="Frags", format="percent", position=3)
    stat_update(game=played, name="deaths", order="desc")
    after = selectors.game_snapshot_shared(game_id=played.pk)
    assert after["seq"] == before["seq"]
    shown = {s["name"]: s for s in after["stats"]}
    assert (shown["kills"]["label"], shown["kills"]["format"], shown["deaths"]["order"]) == ("Frags", "percent", "desc")
    assert (
        [s["name"] for s in after["stats"]]
        == ["points", "deaths", "streak", "kd", "kills"]
        == ["points", *names(played)]
    )
    assert board(played, "deaths") == [("bob", 3), ("ada", 2)]  # an incr stat: only the ranking turns


def test_a_best_stats_new_order_or_a_new_op_rebuilds_its_totals_from_the_log(played, monkeypatch):
    monkeypatch.setattr(stat_changes, "FOLD_CHUNK", 2)  # folds of 2 events, then the rest: as of 50,000
    assert board(played, "streak") == [("ada", 5), ("bob", 3)]
    stat_update(game=played, name="streak", order="asc")  # now the min of each owner's values
    assert board(played, "streak") == [("ada", 2), ("bob", 3)]
    assert board(played, "streak", match_id="m1", entity="team") == [("red", 2), ("blue", 3)]
    stat_update(game=played, name="kills", op="best")  # a typo'd op, fixed after events came in
    assert board(played, "kills") == [("ada", 6), ("bob", 3)]
    assert board(played, "kills", period="today") == [("ada", 6), ("bob", 3)]
    services.score_events_record(game_id=played.pk, events=[event_in("a3", "ada", 1, stats={"kills": 9})])
    assert board(played, "kills") == [("ada", 9), ("bob", 3)]  # later events merge by the new op
    with pytest.raises(StatChangeRefused, match="ratio"):
        stat_update(game=played, name="kd", op="best")
    with pytest.raises(ValidationError):
        stat_update(game=played, name="kills", format="float")


def test_a_rename_takes_the_totals_the_log_and_the_ratios_along(played):
    stat_rename(game=played, name="kills", new_name="frags")
    assert names(played) == ["frags", "deaths", "streak", "kd"]
    assert board(played, "frags") == [("ada", 8), ("bob", 3)]
    assert board(played, "frags", match_id="m1", entity="team") == [("red", 8), ("blue", 3)]
    kd = Stat.objects.get(game=played, name="kd")
    assert (kd.numerator, kd.denominator) == ("frags", "deaths")
    assert board(played, "kd") == [("ada", 4.0), ("bob", 1.0)]
    assert not StatTotal.objects.filter(game=played, stat="kills").exists()
    assert ScoreEvent.objects.get(game=played, event_id="a1").stats == {"frags": 6, "deaths": 2, "streak": 5}
    snapshot = selectors.game_snapshot_shared(game_id=played.pk)
    assert "frags" in [s["name"] for s in snapshot["stats"]]
    assert all("kills" not in (e.get("stats") or {}) for e in snapshot["recent"])
    with pytest.raises(EventsRefused, match="kills"):
        services.score_events_record(game_id=played.pk, events=[event_in("a4", "ada", 1, stats={"kills": 1})])
    services.score_events_record(game_id=played.pk, events=[event_in("a5", "ada", 1, stats={"frags": 1})])
    assert board(played, "frags")[0] == ("ada", 9)


@pytest.mark.parametrize("sql", [True, False])
def test_a_rename_rewrites_only_the_renamed_key_of_only_this_games_events(played, sql, monkeypatch):
    """In one statement on SQLite and PostgreSQL, row by row elsewhere: the same result."""
    if not sql:
        monkeypatch.setattr(stat_changes, "_RENAME_SQL", {})
        monkeypatch.setattr(stat_changes, "CHUNK", 2)
    other = game_make(prefix="other", name="Other")
    scoring.stat_declare(game=other, name="kills")
    services.score_events_record(game_id=other.pk, events=[event_in("o1", "ada", 1, stats={"kills": 1})])
    stat_rename(game=played, name="kills", new_name="frags")
    stored = dict(ScoreEvent.objects.filter(game=played).values_list("event_id", "stats"))
    assert stored == {"a1": {"frags": 6, "deaths": 2, "streak": 5}, "a2": {"frags": 2, "streak": 2},
                      "b1": {"frags": 3, "deaths": 3, "streak": 3}}  # fmt: skip
    assert ScoreEvent.objects.get(game=other).stats == {"kills": 1}


def test_a_ratio_read_before_a_swap_of_names_is_not_served_from_its_cache(played):
    """kd's parts are found by name; a cached ranking is keyed by the parts' rows, so two
    renames that give `kills` to other totals at the same seq read them afresh."""
    scoring.stat_declare(game=played, name="assists")
    services.score_events_record(game_id=played.pk, events=[event_in("x1", "bob", 0, stats={"assists": 40})])
    scoring.stat_declare(game=played, name="ad", numerator="assists", denominator="deaths")
    assert board(played, "kd") == [("ada", 4.0), ("bob", 1.0)]
    stat_remove(game=played, name="ad")
    stat_remove(game=played, name="kd")
    stat_rename(game=played, name="kills", new_name="old_kills")
    stat_rename(game=played, name="assists", new_name="kills")
    scoring.stat_declare(game=played, name="kd", numerator="kills", denominator="deaths")
    assert board(played, "kd") == [("bob", 13.3333), ("ada", 0.0)]


@pytest.mark.parametrize(
    ("new_name", "words"),
    [
        ("deaths", "exists: pick another name, or remove 'deaths' first"),
        ("points", "built in"),
        ("Frags", "a lowercase letter"),
        ("x" * 33, "a lowercase letter"),
    ],
)
def test_a_rename_that_cannot_be_made_says_what_can(played, new_name, words):
    with pytest.raises(StatChangeRefused, match=words):
        stat_rename(game=played, name="kills", new_name=new_name)
    assert "kills" in names(played)


def test_an_unknown_stat_is_refused_naming_the_declared_ones(played):
    with pytest.raises(StatChangeRefused, match="declared: kills, deaths, streak, kd"):
        stat_update(game=played, name="kils", label="Kills")
    with pytest.raises(StatChangeRefused, match="points is built in"):
        stat_remove(game=played, name="points")


def test_a_stat_no_event_carries_is_removed_and_the_rest_keep_their_order(played):
    scoring.stat_declare(game=played, name="assits")  # a typo, never sent
    scoring.stat_declare(game=played, name="laps")
    stat_remove(game=played, name="assits")
    assert names(played) == ["kills", "deaths", "streak", "kd", "laps"]
    positions = Stat.objects.filter(game=played).order_by("position").values_list("position", flat=True)
    assert list(positions) == [0, 1, 2, 3, 4]
    scoring.stat_declare(game=played, name="assists")  # the next place is free
    assert names(played)[-1] == "assists"
    stat_remove(game=played, name="kd")  # a ratio stores nothing: it may always go
    assert "kd" not in names(played)


def test_a_removal_that_cannot_be_made_says_what_can(played):
    with pytest.raises(StatChangeRefused, match="kd derive from 'kills': remove them first"):
        stat_remove(game=played, name="kills")
    with pytest.raises(StatChangeRefused, match="events carry 'streak', so it stays: rename it"):
        stat_remove(game=played, name="streak")
    assert names(played) == ["kills", "deaths", "streak", "kd"]


def test_a_conflicting_declaration_says_what_differs_and_what_can_be_done(played):
    with pytest.raises(scoring.ScoringConflict, match=r"op 'incr'.*--change kills.*--rename.*--remove"):
        scoring.stat_declare(game=played, name="kills", op="best")

"""Leaderboards (stats.scoring.leaderboard): ranks with ties, around a player, periods,
matches, teams and derived stats, read from kept totals."""

import pytest

from stats import services
from stats.scoring import services as scoring
from stats.tests.api_support import error_code
from stats.tests.support import event_in


def board(client, game, **params):
    query = "&".join(f"{k}={v}" for k, v in params.items())
    response = client.get(f"/api/games/{game.slug}/leaderboard?{query}")
    assert response.status_code == 200, response.content
    return response.json()


def ranks(body, entity="player"):
    return [(e["rank"], e[entity], e["value"]) for e in body["entries"]]


@pytest.fixture
def scored(game):
    scoring.stat_declare(game=game, name="kills")
    scoring.stat_declare(game=game, name="deaths")
    scoring.stat_declare(game=game, name="lap_ms", order="asc", op="best", format="duration_ms")
    scoring.stat_declare(game=game, name="kd", numerator="kills", denominator="deaths")
    rows = [
        ("ada", 10, 2, 61_000),
        ("bob", 7, 0, 59_000),
        ("cy", 7, 7, 59_000),
        ("dee", 3, 1, 70_000),
        ("eve", 1, 4, 0),
    ]
    events = []
    for name, kills, deaths, lap in rows:
        stats = {"kills": kills, "deaths": deaths} | ({"lap_ms": lap} if lap else {})
        events.append(event_in(f"{name}-1", name, kills, stats=stats))
    services.score_events_record(game_id=game.pk, events=events)
    return game


def test_ranks_share_a_rank_on_ties_by_the_stats_order(client, scored):
    assert ranks(board(client, scored, stat="kills")) == [
        (1, "ada", 10), (2, "bob", 7), (2, "cy", 7), (4, "dee", 3), (5, "eve", 1),
    ]  # fmt: skip
    laps = board(client, scored, stat="lap_ms")
    assert ranks(laps) == [(1, "bob", 59_000), (1, "cy", 59_000), (3, "ada", 61_000), (4, "dee", 70_000)]
    assert laps["stat"]["order"] == "asc" and laps["total"] == 4


def test_around_returns_the_players_neighbourhood_with_true_ranks(client, scored):
    body = board(client, scored, stat="kills", around="cy", limit=3)
    assert ranks(body) == [(2, "bob", 7), (2, "cy", 7), (4, "dee", 3)]
    assert ranks(board(client, scored, stat="points", around="eve", limit=2)) == [(4, "dee", 3), (5, "eve", 1)]
    missing = client.get(f"/api/games/{scored.slug}/leaderboard?stat=lap_ms&around=eve")
    assert (missing.status_code, error_code(missing)) == (400, "bad_param")


def test_a_derived_stat_ranks_by_its_ratio_and_a_zero_divisor_counts_as_one(client, scored):
    body = board(client, scored, stat="kd")
    assert body["entries"][0]["parts"] == {"kills": 7, "deaths": 0}
    assert ranks(body) == [
        (1, "bob", 7.0), (2, "ada", 5.0), (3, "dee", 3.0), (4, "cy", 1.0), (5, "eve", 0.25),
    ]  # fmt: skip


def test_periods_and_matches_read_their_own_totals(client, scored):
    services.score_events_record(game_id=scored.pk, events=[event_in("old", "zed", 50, at="2020-01-01T00:00:00Z")])
    assert ranks(board(client, scored, period="all"))[0] == (1, "zed", 50)
    assert "zed" not in [e["player"] for e in board(client, scored, period="today")["entries"]]
    scoring.match_start(game_id=scored.pk, match_id="m1")
    services.score_events_record(
        game_id=scored.pk,
        events=[event_in("m-a", "ada", 2, team="red"), event_in("m-b", "bob", 5, team="blue")],
    )
    assert ranks(board(client, scored, match="m1")) == [(1, "bob", 5), (2, "ada", 2)]
    assert ranks(board(client, scored, match="m1", entity="team"), "team") == [(1, "blue", 5), (2, "red", 2)]


@pytest.mark.parametrize(
    "query",
    ["stat=nope", "period=year", "entity=clan", "limit=0", "limit=101", "match=nope", "match=m1&period=today"],
)
def test_a_bad_leaderboard_query_is_a_400_saying_what(client, scored, query):
    scoring.match_start(game_id=scored.pk, match_id="m1")
    response = client.get(f"/api/games/{scored.slug}/leaderboard?{query}")
    assert (response.status_code, error_code(response)) == (400, "bad_param")


def test_a_leaderboard_reads_a_handful_of_queries_whatever_the_log(client, scored, django_assert_max_num_queries):
    services.score_events_record(
        game_id=scored.pk, events=[event_in(f"bulk{i}", f"p{i % 50}", 1, stats={"kills": 1}) for i in range(500)]
    )
    with django_assert_max_num_queries(8):
        board(client, scored, stat="kills", around="p7", limit=5)


def test_around_fills_the_page_at_either_end_of_the_board(client, scored):
    """Issue #22: around=ken&limit=5 gave the 3 rows from ken down: the page shifts instead."""
    assert ranks(board(client, scored, stat="kills", around="eve", limit=3)) == [
        (2, "cy", 7), (4, "dee", 3), (5, "eve", 1)]  # fmt: skip
    assert [e["player"] for e in board(client, scored, stat="kills", around="ada", limit=4)["entries"]] == [
        "ada", "bob", "cy", "dee"]  # fmt: skip
    assert len(board(client, scored, stat="kills", around="dee", limit=5)["entries"]) == 5
    assert len(board(client, scored, stat="kills", around="dee", limit=50)["entries"]) == 5  # all there is


@pytest.fixture
def two_matches(scored):
    scoring.stat_declare(game=scored, name="best_lap", order="asc", op="best")
    scoring.stat_declare(game=scored, name="level", op="set")
    scoring.stat_declare(game=scored, name="team_kd", numerator="kills", denominator="deaths")
    for match, red, blue in [("m1", (3, 1, 50), (5, 5, 40)), ("m2", (4, 1, 30), (1, 0, 45))]:
        scoring.match_start(game_id=scored.pk, match_id=match)
        events = []
        for team, (kills, deaths, lap) in (("red", red), ("blue", blue)):
            stats = {"kills": kills, "deaths": deaths, "best_lap": lap, "level": kills}
            events.append(event_in(f"{match}-{team}", f"{team}-p", kills, team=team, stats=stats))
        services.score_events_record(game_id=scored.pk, events=events)
    return scored


def test_teams_without_a_match_rank_by_their_all_time_totals(client, two_matches):
    """Issue #22: entity=team without match answered an empty board. All time folds the
    teams' match totals: sums, the best of a `best` stat, a ratio of summed parts."""
    assert ranks(board(client, two_matches, entity="team"), "team") == [(1, "red", 7), (2, "blue", 6)]
    assert ranks(board(client, two_matches, entity="team", stat="kills"), "team") == [(1, "red", 7), (2, "blue", 6)]
    assert ranks(board(client, two_matches, entity="team", stat="best_lap"), "team") == [
        (1, "red", 30), (2, "blue", 40)]  # fmt: skip
    derived = board(client, two_matches, entity="team", stat="team_kd")
    assert ranks(derived, "team") == [(1, "red", 3.5), (2, "blue", 1.2)]
    assert derived["entries"][0]["parts"] == {"kills": 7, "deaths": 2} and derived["total"] == 2
    assert ranks(board(client, two_matches, entity="team", around="blue", limit=1), "team") == [(2, "blue", 6)]


@pytest.mark.parametrize("query", ["stat=level", "period=today", "period=week"])
def test_team_totals_that_cannot_be_given_without_a_match_are_a_400_naming_match(client, two_matches, query):
    response = client.get(f"/api/games/{two_matches.slug}/leaderboard?entity=team&{query}")
    assert (response.status_code, error_code(response)) == (400, "bad_param")
    assert response.json()["error"]["message"].startswith("match:")

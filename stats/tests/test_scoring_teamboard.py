"""All-time team totals (stats.scoring.teamboard): folded from the teams' match totals by
each stat's op when read; refused, naming `match`, where no fold can give them."""

import pytest

from stats import services
from stats.scoring import services as scoring
from stats.scoring.models import Stat
from stats.scoring.teamboard import TeamTotalsUnavailable, team_alltime_values
from stats.tests.support import event_in


@pytest.fixture
def seasons(game):
    for name, fields in [("kills", {}), ("lap", {"op": "best", "order": "asc"}), ("peak", {"op": "best"}),
                         ("rank", {"op": "set"}), ("deaths", {})]:  # fmt: skip
        scoring.stat_declare(game=game, name=name, **fields)
    scoring.stat_declare(game=game, name="kd", numerator="kills", denominator="deaths")
    for match, values in [
        ("m1", {"red": (3, 50, 7, 1, 1), "blue": (5, 40, 9, 2, 0)}),
        ("m2", {"red": (4, 30, 2, 3, 3)}),
    ]:
        scoring.match_start(game_id=game.pk, match_id=match)
        events = [
            event_in(f"{match}-{team}", f"{team}-p", kills, team=team,
                     stats={"kills": kills, "lap": lap, "peak": peak, "rank": rank, "deaths": deaths})
            for team, (kills, lap, peak, rank, deaths) in values.items()
        ]  # fmt: skip
        services.score_events_record(game_id=game.pk, events=events)
    services.score_events_record(game_id=game.pk, events=[event_in("solo", "ada", 100, stats={"kills": 100})])
    return game


def values(game, name: str, period: str = "all") -> tuple[dict, dict | None]:
    stat = None if name == "points" else Stat.objects.get(game=game, name=name)
    items, parts = team_alltime_values(game=game, stat=stat, period=period)
    return dict(items), parts


def test_sums_bests_and_ratios_fold_over_the_matches_and_teamless_events_count_for_no_team(seasons):
    assert values(seasons, "points") == ({"red": 7, "blue": 5}, None)
    assert values(seasons, "kills") == ({"red": 7, "blue": 5}, None)
    assert values(seasons, "lap") == ({"red": 30, "blue": 40}, None)  # asc: the min
    assert values(seasons, "peak") == ({"red": 7, "blue": 9}, None)  # desc: the max
    ratios, parts = values(seasons, "kd")
    assert ratios == {"red": 1.75, "blue": 5.0}
    assert parts == {"red": {"kills": 7, "deaths": 4}, "blue": {"kills": 5, "deaths": 0}}


@pytest.mark.parametrize(("name", "period"), [("rank", "all"), ("kills", "today"), ("points", "week")])
def test_what_no_fold_can_give_is_refused_naming_match(seasons, name, period):
    with pytest.raises(TeamTotalsUnavailable, match=r"^match: .*give match=<id>"):
        values(seasons, name, period)

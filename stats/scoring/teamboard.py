"""All-time team totals, for a leaderboard of teams without a match. A team's totals are kept
per match only (stats.scoring.totals: a team exists within a match), so all time is folded
from a team's match rows when read: a sum for points and `incr` stats, the best for `best`
stats, and a derived stat's ratio of its two summed parts. A `set` stat (the last value) has
no all-time team total that its per-match rows could give, nor has any period but all time:
those answer a LeaderboardError that names `match`."""

from django.db.models import Max, Min, Sum

from stats.models import Game
from stats.scoring import periods
from stats.scoring.models import Stat, StatTotal
from stats.scoring.wire import ratio

MATCH_PREFIX = periods.match_key(0)[:1]  # "m": every match's period key starts with it


class TeamTotalsUnavailable(Exception):
    """No all-time team total can be given for this stat or period (the message says why)."""


def _fold_of(stat: Stat | None):
    if stat is None or stat.op == Stat.Op.INCR:
        return Sum
    if stat.op == Stat.Op.BEST:
        return Max if stat.order == Stat.Order.DESC else Min
    raise TeamTotalsUnavailable(
        f"match: {stat.name!r} keeps its last value (op set), so teams have it per match only; give match=<id>"
    )


def _folded(*, game: Game, name: str, fold) -> dict[str, int]:
    rows = StatTotal.objects.filter(game=game, kind=StatTotal.TEAM, period__startswith=MATCH_PREFIX, stat=name)
    return dict(rows.values("owner").annotate(folded=fold("value")).values_list("owner", "folded"))


def team_alltime_values(*, game: Game, stat: Stat | None, period: str) -> tuple[list[tuple[str, float]], dict | None]:
    """(owner, value) of every team over all time, unsorted, and a derived stat's parts by
    owner (else None). Raises TeamTotalsUnavailable for a period other than all time, or a
    stat whose team totals exist per match only."""
    if period != periods.ALL:
        raise TeamTotalsUnavailable(f"match: team totals are kept per match and for all time, not {period!r}; "
                                    "give match=<id>, or period=all")  # fmt: skip
    if stat is None or not stat.derived:
        name = "points" if stat is None else stat.name
        return list(_folded(game=game, name=name, fold=_fold_of(stat)).items()), None
    by_name = {s.name: s for s in Stat.objects.filter(game=game, name__in=[stat.numerator, stat.denominator])}
    values = {}
    for part in (stat.numerator, stat.denominator):
        values[part] = _folded(game=game, name=part, fold=_fold_of(by_name.get(part)))
    owners = sorted(set(values[stat.numerator]) | set(values[stat.denominator]))
    parts = {o: {p: values[p].get(o, 0) for p in (stat.numerator, stat.denominator)} for o in owners}
    items = [(o, ratio(parts[o][stat.numerator], parts[o][stat.denominator])) for o in owners]
    return items, parts

"""Reads of stats, matches and leaderboards: all from kept totals, never from the event log."""

from collections import defaultdict
from collections.abc import Iterable

from stats.models import Game
from stats.scoring import periods
from stats.scoring.models import Match, MatchPlayer, Stat, StatTotal
from stats.scoring.wire import POINTS, match_wire, stat_wire

MATCH_PAGE_MAX = 100


def stats_declared(*, game_id: int) -> list[dict]:
    """The game's stats as the wire shows them, points first."""
    return [POINTS, *(stat_wire(s) for s in Stat.objects.filter(game_id=game_id))]


def player_stats_get(*, game_id: int, names: Iterable[str]) -> dict[str, dict[str, int]]:
    """All-time values of the declared stats, by player."""
    rows = StatTotal.objects.filter(
        game_id=game_id, period=periods.ALL, kind=StatTotal.PLAYER, owner__in=list(names)
    ).values_list("owner", "stat", "value")
    out: dict[str, dict[str, int]] = defaultdict(dict)
    for owner, stat, value in rows:
        out[owner][stat] = value
    return dict(out)


def team_totals_get(*, game_id: int, match_pks: Iterable[int]) -> dict[int, list[dict]]:
    """Each match's teams with their totals, by match pk."""
    keys = {periods.match_key(pk): pk for pk in match_pks}
    if not keys:
        return {}
    rows = StatTotal.objects.filter(game_id=game_id, period__in=list(keys), kind=StatTotal.TEAM).values_list(
        "period", "owner", "stat", "value"
    )
    teams: dict[int, dict[str, dict[str, int]]] = defaultdict(dict)
    for period, owner, stat, value in rows:
        teams[keys[period]].setdefault(owner, {})[stat] = value
    return {pk: [{"team": t, "stats": s} for t, s in sorted(by_team.items())] for pk, by_team in teams.items()}


def roster_get(*, match_pk: int | None, names: Iterable[str]) -> dict[str, str]:
    """The players' teams in a match."""
    if match_pk is None:
        return {}
    rows = MatchPlayer.objects.filter(match_id=match_pk, player__name__in=list(names))
    return dict(rows.values_list("player__name", "team"))


def match_get(*, game_id: int, match_id: str) -> Match:
    """Raises Match.DoesNotExist."""
    return Match.objects.get(game_id=game_id, match_id=match_id)


def match_open_wire(*, game: Game) -> dict | None:
    if game.open_match_id is None:
        return None
    match = Match.objects.get(pk=game.open_match_id)
    return match_wire(match, team_totals_get(game_id=game.pk, match_pks=[match.pk]).get(match.pk, []))


def match_list(*, game_id: int, before: int | None = None, limit: int = 20) -> dict:
    """Matches newest first, a page at a time: `before` is the `next_before` of the last page."""
    limit = max(1, min(limit, MATCH_PAGE_MAX))
    matches = Match.objects.filter(game_id=game_id).order_by("-pk")
    if before is not None:
        matches = matches.filter(pk__lt=before)
    page = list(matches[: limit + 1])
    more, page = len(page) > limit, page[:limit]
    teams = team_totals_get(game_id=game_id, match_pks=[m.pk for m in page])
    return {
        "matches": [match_wire(m, teams.get(m.pk, [])) for m in page],
        "next_before": page[-1].pk if more else None,
    }

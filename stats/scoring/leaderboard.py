"""Leaderboards per stat, period or match, for players or teams (Nakama's "around the owner"
included). Read from kept totals with a handful of indexed queries; a derived stat reads its
two stats' totals and ranks their ratios here. Ties share a rank (1, 2, 2, 4)."""

import bisect
import threading
from collections import OrderedDict
from dataclasses import dataclass

from django.db.models import F, QuerySet

from stats.models import Game, Player
from stats.scoring import periods, teamboard
from stats.scoring.models import Match, Stat, StatTotal
from stats.scoring.wire import POINTS, ratio, stat_wire

LIMIT_MAX = 100


class LeaderboardError(Exception):
    """A query that names something the game does not have (the message says what)."""


@dataclass(frozen=True, slots=True)
class Query:
    stat: str = "points"
    period: str = "all"
    match_id: str | None = None
    around: str | None = None
    limit: int = 10
    entity: str = "player"  # or "team"


def _stat_get(*, game: Game, name: str) -> Stat | None:
    if name == "points":
        return None
    stat = Stat.objects.filter(game=game, name=name).first()
    if stat is None:
        known = ", ".join(["points", *Stat.objects.filter(game=game).values_list("name", flat=True)])
        raise LeaderboardError(f"stat: no stat {name!r} in this game (declared: {known})")
    return stat


def _period_key(*, game: Game, query: Query) -> str:
    if query.match_id is None:
        return periods.period_key(query.period)
    if query.period != periods.ALL:
        raise LeaderboardError("period: give a match or a period, not both")
    match = Match.objects.filter(game=game, match_id=query.match_id).only("pk").first()
    if match is None:
        raise LeaderboardError(f"match: no match {query.match_id!r} in this game")
    return periods.match_key(match.pk)


@dataclass(frozen=True, slots=True)
class Ranking:
    """A derived stat's rows in rank order, indexed so a kept one answers in microseconds."""

    items: list[tuple[str, float]]  # (owner, ratio), best first, ties by name
    parts: dict[str, dict[str, int]]  # each owner's {numerator: n, denominator: d}
    places: dict[str, int]  # owner -> 0-based place in `items`
    keys: list[float]  # each item's value, signed so that `keys` ascends (for bisect)
    sign: int


class _Rows:
    """(owner, value) rows in rank order, from a queryset or (derived stats) a Ranking."""

    def __init__(self, *, qs: QuerySet | None = None, ranking: Ranking | None = None, desc: bool = True) -> None:
        self.qs, self.ranking, self.desc = qs, ranking, desc
        self.parts = ranking.parts if ranking is not None else None

    def _better(self, value) -> QuerySet:
        return self.qs.filter(value__gt=value) if self.desc else self.qs.filter(value__lt=value)

    def count(self) -> int:
        return self.qs.count() if self.ranking is None else len(self.ranking.items)

    def value_of(self, owner: str):
        if self.ranking is None:
            return self.qs.filter(owner=owner).values_list("value", flat=True).first()
        place = self.ranking.places.get(owner)
        return None if place is None else self.ranking.items[place][1]

    def better_count(self, value) -> int:
        if self.ranking is None:
            return self._better(value).count()
        return bisect.bisect_left(self.ranking.keys, self.ranking.sign * value)

    def position(self, owner: str, value) -> int:
        """0-based place in rank order (ties by name)."""
        if self.ranking is None:
            return self.better_count(value) + self.qs.filter(value=value, owner__lt=owner).count()
        return self.ranking.places[owner]

    def window(self, start: int, limit: int) -> list:
        source = self.qs.values_list("owner", "value") if self.ranking is None else self.ranking.items
        return list(source[start : start + limit])


def _rows(*, game: Game, stat: Stat | None, key: str, kind: str) -> _Rows:
    desc = stat is None or stat.order == Stat.Order.DESC
    if stat is not None and stat.derived:
        return _Rows(ranking=_ratios(game=game, stat=stat, key=key, kind=kind), desc=desc)
    if stat is None and key == periods.ALL and kind == StatTotal.PLAYER:
        qs = Player.objects.filter(game=game).annotate(owner=F("name"), value=F("total"))
    else:
        qs = StatTotal.objects.filter(game=game, period=key, kind=kind, stat=stat.name if stat else "points")
    return _Rows(qs=qs.order_by("-value" if desc else "value", "owner"), desc=desc)


# Ranked ratios, per (game, its last seq, the ratio, period, kind): totals change only with a
# write of events, which moves the seq, so an entry is exact until the next write. At 20,000
# players a ranking was ~200 ms of CPU per request, open to anonymous readers (issue #19).
_RATIOS_MAX = 32
_ratios_kept: OrderedDict[tuple, Ranking] = OrderedDict()
_ratios_lock = threading.Lock()


def _ratios(*, game: Game, stat: Stat, key: str, kind: str) -> Ranking:
    # The seq read now, not the caller's game row (a key's game is cached): a ranking read
    # after it reflects it or a later write, never an earlier one.
    seq = Game.objects.filter(pk=game.pk).values_list("last_seq", flat=True).first()
    # The parts by their rows' pks, not their names: a renamed stat keeps its pk and takes its
    # totals along, so a name may mean other totals at the same seq (stat_changes.stat_rename).
    pks = dict(Stat.objects.filter(game=game, name__in=[stat.numerator, stat.denominator]).values_list("name", "pk"))
    parts = tuple(pks.get(name, name) for name in (stat.numerator, stat.denominator))
    cache_key = (game.pk, seq, *parts, stat.order, key, kind)
    with _ratios_lock:
        kept = _ratios_kept.get(cache_key)
        if kept is not None:
            _ratios_kept.move_to_end(cache_key)
            return kept
    kept = _ratios_rank(game=game, stat=stat, key=key, kind=kind)
    with _ratios_lock:
        _ratios_kept[cache_key] = kept
        while len(_ratios_kept) > _RATIOS_MAX:
            _ratios_kept.popitem(last=False)
    return kept


def _ratios_rank(*, game: Game, stat: Stat, key: str, kind: str) -> Ranking:
    rows = StatTotal.objects.filter(game=game, period=key, kind=kind, stat__in=[stat.numerator, stat.denominator])
    parts: dict[str, dict[str, int]] = {}
    for owner, name, value in rows.values_list("owner", "stat", "value"):
        parts.setdefault(owner, {})[name] = value
    items = [(o, ratio(p.get(stat.numerator, 0), p.get(stat.denominator, 0))) for o, p in parts.items()]
    parts = {o: {stat.numerator: p.get(stat.numerator, 0), stat.denominator: p.get(stat.denominator, 0)}
             for o, p in parts.items()}  # fmt: skip
    return _ranking(items=items, parts=parts, desc=stat.order == Stat.Order.DESC)


def _ranking(*, items: list[tuple[str, float]], parts: dict | None, desc: bool) -> Ranking:
    sign = -1 if desc else 1
    items.sort(key=lambda item: (sign * item[1], item[0]))
    places = {owner: i for i, (owner, _) in enumerate(items)}
    return Ranking(items=items, parts=parts, places=places, keys=[sign * v for _, v in items], sign=sign)


def _team_rows(*, game: Game, stat: Stat | None, period: str) -> _Rows:
    """All-time team totals, folded from the teams' match totals when read (teams are few)."""
    try:
        items, parts = teamboard.team_alltime_values(game=game, stat=stat, period=period)
    except teamboard.TeamTotalsUnavailable as exc:
        raise LeaderboardError(str(exc)) from None
    desc = stat is None or stat.order == Stat.Order.DESC
    return _Rows(ranking=_ranking(items=items, parts=parts, desc=desc), desc=desc)


def _start(*, rows: _Rows, query: Query, total: int) -> int:
    if query.around is None:
        return 0
    value = rows.value_of(query.around)
    if value is None:
        raise LeaderboardError(f"around: {query.around!r} has no value for this stat here")
    # Centred on the player, and shifted at either end so the page is full where there are
    # enough rows: `limit` rows whenever the board has that many (issue #22: 3 of 5 at the end).
    centred = rows.position(query.around, value) - query.limit // 2
    return max(0, min(centred, total - query.limit))


def _ranked(*, rows: _Rows, window: list, start: int, entity: str) -> list[dict]:
    """Competition ranks: a row's rank is 1 + the rows strictly better than it, so the first
    row asks the database, and each later one is its place unless it ties the row before."""
    entries, rank = [], 0
    for i, (owner, value) in enumerate(window):
        if i == 0:
            rank = rows.better_count(value) + 1
        elif value != window[i - 1][1]:
            rank = start + i + 1
        entry = {"rank": rank, entity: owner, "value": value}
        if rows.parts is not None:
            entry["parts"] = rows.parts[owner]  # a ratio's two stats, to keep it live from frames
        entries.append(entry)
    return entries


def leaderboard_read(*, game: Game, query: Query) -> dict:
    if not 1 <= query.limit <= LIMIT_MAX:
        raise LeaderboardError(f"limit: must be from 1 to {LIMIT_MAX}")
    stat = _stat_get(game=game, name=query.stat)
    key = _period_key(game=game, query=query)
    kind = StatTotal.TEAM if query.entity == "team" else StatTotal.PLAYER
    if kind == StatTotal.TEAM and query.match_id is None:
        rows = _team_rows(game=game, stat=stat, period=query.period)
    else:
        rows = _rows(game=game, stat=stat, key=key, kind=kind)
    total = rows.count()
    start = _start(rows=rows, query=query, total=total)
    window = rows.window(start, query.limit)
    return {
        "stat": POINTS if stat is None else stat_wire(stat),
        "period": query.period,
        "match": query.match_id,
        "entity": query.entity,
        "around": query.around,
        "total": total,
        "entries": _ranked(rows=rows, window=window, start=start, entity=query.entity),
    }

"""Kept totals: fold a batch of new events into per-stat deltas, then write them in one upsert
per operator, inside the write transaction (the game's row is locked).

The fold groups a batch first by who and when (player, team, match, day): a 1,000-event
batch of ten players is then ten groups to spread over periods, not a thousand."""

import operator
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db import connection

from stats.scoring import periods
from stats.scoring.models import StatTotal

PLAYER, TEAM = StatTotal.PLAYER, StatTotal.TEAM
# How a new value meets the kept one, per stored operator: the SQL of each, and its Python
# twin for folding a batch before it reaches the database.
_MERGE_SQL = {
    "add": "s.value + excluded.value",
    "max": "CASE WHEN excluded.value > s.value THEN excluded.value ELSE s.value END",
    "min": "CASE WHEN excluded.value < s.value THEN excluded.value ELSE s.value END",
    "set": "excluded.value",
}
_MERGE_PY: dict[str, Callable[[int, int], int]] = {
    "add": operator.add,
    "max": max,
    "min": min,
    "set": lambda _kept, new: new,
}


def merge_of(*, op: str, order: str) -> str:
    """The stored merge of a stat's operator: incr adds, best keeps the max or min by the
    stat's order, set keeps the last."""
    if op == "incr":
        return "add"
    if op == "best":
        return "max" if order == "desc" else "min"
    return "set"


@dataclass(slots=True)
class Fold:
    """One event as the fold needs it."""

    player: str
    team: str
    match_pk: int | None
    at: datetime
    points: int
    stats: dict[str, int] | None  # the declared stats it carries


def _grouped(events: Iterable[Fold], merges: dict[str, str]) -> dict[tuple, dict[str, int]]:
    groups: dict[tuple, dict[str, int]] = {}
    dates: dict[object, tuple[str, str]] = {}
    mergers = {stat: _MERGE_PY[merge] for stat, merge in merges.items()}
    for e in events:
        keys = dates.get(e.at)  # the batch's events mostly share one time (its receipt)
        if keys is None:
            keys = dates[e.at] = periods.calendar_keys(e.at)
        group = groups.get((e.player, e.team, e.match_pk, keys))
        if group is None:
            group = groups[(e.player, e.team, e.match_pk, keys)] = {"points": 0}
        group["points"] += e.points
        for stat, value in (e.stats or {}).items():
            kept = group.get(stat)
            group[stat] = value if kept is None else mergers[stat](kept, value)
    return groups


def deltas_fold(events: Iterable[Fold], merges: dict[str, str]) -> dict[str, dict[tuple, int]]:
    """{merge: {(period, kind, owner, stat): value}} for a batch, in seq order."""
    out: dict[str, dict[tuple, int]] = {merge: {} for merge in _MERGE_SQL}
    for (player, team, match_pk, (day, week)), values in _grouped(events, merges).items():
        match = [periods.match_key(match_pk)] if match_pk is not None else []
        # All-time points of a player are Player.total already; a team's totals are per match.
        points_spans, stat_spans = [day, week, *match], [periods.ALL, day, week, *match]
        for stat, value in values.items():
            rows = out[merges[stat]]
            merge = _MERGE_PY[merges[stat]]
            owned = [(PLAYER, player, points_spans if stat == "points" else stat_spans)]
            if team and match:
                owned.append((TEAM, team, match))
            for kind, owner, spans in owned:
                for span in spans:
                    key = (span, kind, owner, stat)
                    kept = rows.get(key)
                    rows[key] = value if kept is None else merge(kept, value)
    return out


def _table() -> str:
    return connection.ops.quote_name(StatTotal._meta.db_table)


def _upsert_sql(merge: str, values_sql: str, returning: bool) -> str:
    tail = " RETURNING period, kind, owner, stat, value" if returning else ""
    return (
        f"INSERT INTO {_table()} AS s (game_id, period, kind, owner, stat, value) {values_sql}"
        " ON CONFLICT (game_id, period, kind, stat, owner)"
        f" DO UPDATE SET value = {_MERGE_SQL[merge]}{tail}"
    )


def _upsert(cursor, *, game_id: int, merge: str, rows: dict[tuple, int], keys: list, returning: bool) -> list:
    if not keys:
        return []
    if connection.vendor == "postgresql":  # arrays: one statement whatever the size
        values = "SELECT %s, * FROM unnest(%s::varchar[], %s::varchar[], %s::varchar[], %s::varchar[], %s::bigint[])"
        columns = [list(col) for col in zip(*keys, strict=True)]
        cursor.execute(_upsert_sql(merge, values, returning), [game_id, *columns, [rows[k] for k in keys]])
        return cursor.fetchall() if returning else []
    written = []
    limit = max(1, (connection.features.max_query_params or 999) // 6)
    for start in range(0, len(keys), limit):
        chunk = keys[start : start + limit]
        marks = ", ".join(["(%s, %s, %s, %s, %s, %s)"] * len(chunk))
        params = [v for k in chunk for v in (game_id, *k, rows[k])]
        cursor.execute(_upsert_sql(merge, f"VALUES {marks}", returning), params)
        written += cursor.fetchall() if returning else []
    return written


def _wanted(key: tuple) -> bool:
    """What the frames show: players' all-time stats, teams' match totals."""
    return key[1] == TEAM or key[0] == periods.ALL


def totals_write(*, game_id: int, deltas: dict[str, dict[tuple, int]]) -> list[tuple]:
    """Apply folded deltas; returns the new (period, kind, owner, stat, value) of the rows the
    frames show (see _wanted). Keys are sorted so concurrent writers lock rows in one order."""
    written: list[tuple] = []
    with connection.cursor() as cursor:
        for merge, rows in deltas.items():
            keys = sorted(rows)
            wanted = [k for k in keys if _wanted(k)]
            rest = [k for k in keys if not _wanted(k)] if wanted else keys
            written += _upsert(cursor, game_id=game_id, merge=merge, rows=rows, keys=wanted, returning=True)
            _upsert(cursor, game_id=game_id, merge=merge, rows=rows, keys=rest, returning=False)
    return written

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
    values: dict[str, int]  # points and the declared stats it carries


def _grouped(events: Iterable[Fold], merges: dict[str, str]) -> dict[tuple, dict[str, int]]:
    groups: dict[tuple, dict[str, int]] = {}
    dates: dict[object, tuple[str, str]] = {}
    for e in events:
        day = e.at.date()  # the cache key only; calendar_keys applies the time zone
        keys = dates.get(day)
        if keys is None:
            keys = dates[day] = periods.calendar_keys(e.at)
        group = groups.setdefault((e.player, e.team, e.match_pk, keys), {})
        for stat, value in e.values.items():
            kept = group.get(stat)
            group[stat] = value if kept is None else _MERGE_PY[merges[stat]](kept, value)
    return groups


def deltas_fold(events: Iterable[Fold], merges: dict[str, str]) -> dict[str, dict[tuple, int]]:
    """{merge: {(period, kind, owner, stat): value}} for a batch, in seq order."""
    out: dict[str, dict[tuple, int]] = {merge: {} for merge in _MERGE_SQL}
    for (player, team, match_pk, (day, week)), values in _grouped(events, merges).items():
        spans = [day, week] if match_pk is None else [day, week, periods.match_key(match_pk)]
        owners = [(PLAYER, player)] if not team else [(PLAYER, player), (TEAM, team)]
        for stat, value in values.items():
            rows = out[merges[stat]]
            merge = _MERGE_PY[merges[stat]]
            for kind, owner in owners:
                # All-time points of a player are Player.total already.
                stat_spans = spans if (stat == "points" and kind == PLAYER) else [periods.ALL, *spans]
                for span in stat_spans:
                    key = (span, kind, owner, stat)
                    kept = rows.get(key)
                    rows[key] = value if kept is None else merge(kept, value)
    return out


def _table() -> str:
    return connection.ops.quote_name(StatTotal._meta.db_table)


def _upsert_sql(merge: str, values_sql: str) -> str:
    return (
        f"INSERT INTO {_table()} AS s (game_id, period, kind, owner, stat, value) {values_sql}"
        " ON CONFLICT (game_id, period, kind, stat, owner)"
        f" DO UPDATE SET value = {_MERGE_SQL[merge]} RETURNING period, kind, owner, stat, value"
    )


def totals_write(*, game_id: int, deltas: dict[str, dict[tuple, int]]) -> list[tuple]:
    """Apply folded deltas; returns the new (period, kind, owner, stat, value) of every row
    touched. Keys are sorted so concurrent writers take row locks in one order."""
    written: list[tuple] = []
    with connection.cursor() as cursor:
        for merge, rows in deltas.items():
            if not rows:
                continue
            keys = sorted(rows)
            if connection.vendor == "postgresql":
                cursor.execute(
                    _upsert_sql(
                        merge,
                        "SELECT %s, * FROM unnest(%s::varchar[], %s::varchar[], %s::varchar[], %s::varchar[],"
                        " %s::bigint[])",
                    ),
                    [game_id, *(list(col) for col in zip(*keys, strict=True)), [rows[k] for k in keys]],
                )
                written += cursor.fetchall()
                continue
            limit = max(1, (connection.features.max_query_params or 999) // 6)
            for start in range(0, len(keys), limit):
                chunk = keys[start : start + limit]
                marks = ", ".join(["(%s, %s, %s, %s, %s, %s)"] * len(chunk))
                params = [v for k in chunk for v in (game_id, *k, rows[k])]
                cursor.execute(_upsert_sql(merge, f"VALUES {marks}"), params)
                written += cursor.fetchall()
    return written

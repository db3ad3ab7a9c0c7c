"""The fixed SQL of the write path, for stats.services.score_events_record.

Every recorded event runs these few statements, and building them through the ORM (query
compilation, model instances per row) profiled as most of a single-event POST's CPU. They
never change shape, so they are written once here, in SQL that PostgreSQL and SQLite (3.35+,
for RETURNING; see stats.checks) both take. Everything else keeps using the ORM.

All of them run inside the caller's transaction, which holds the game's row lock.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db import connection

from stats.models import Game, Player, ScoreEvent

_GAME_FIELDS = ("id", "slug", "name", "is_public", "last_seq", "event_count", "points_total", "open_match_id")
_PLAYER_FIELDS = ("id", "game_id", "name", "total", "event_count")
_EVENT_COLUMNS = (
    "game_id", "event_id", "seq", "player_id", "points", "kind", "at", "received_at", "corrects_id",
    "stats", "team", "match_id",
)  # fmt: skip
# From this many rows, PostgreSQL gets them by COPY: one huge INSERT spent most of a
# 1,000-event POST on building and quoting its text (profiled).
COPY_MIN_ROWS = 50


@dataclass(slots=True)
class LogRow:
    """A row appended to the log, as the broadcast and the callers read it. Not a model
    instance: building one per row was a third of a 1,000-event POST's CPU (profiled)."""

    game_id: int
    event_id: str
    seq: int
    player_id: int
    points: int
    kind: str
    at: datetime
    received_at: datetime
    corrects_id: int | None = None
    stats: dict[str, int] | None = None
    team: str = ""
    match_id: int | None = None


def _table(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def game_lock(*, game_id: int) -> Game:
    """The game's row, locked until the transaction ends (SQLite: the whole database is,
    by its IMMEDIATE transactions). Fields the write path does not read stay deferred."""
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(_GAME_FIELDS)} FROM {_table(Game)} WHERE id = %s{lock}", [game_id])
        row = cursor.fetchone()
    if row is None:
        raise Game.DoesNotExist(f"no game with id {game_id}")
    return Game.from_db(connection.alias, _GAME_FIELDS, row)


def game_counters_save(*, game: Game) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {_table(Game)} SET last_seq = %s, event_count = %s, points_total = %s WHERE id = %s",
            [game.last_seq, game.event_count, game.points_total, game.pk],
        )


def _chunks(items: list, params_each: int, reserved: int = 0) -> Iterable[list]:
    """`items` in runs that stay under the database's limit of parameters per statement."""
    limit = connection.features.max_query_params
    step = max(1, (limit - reserved) // params_each) if limit else max(1, len(items))
    for start in range(0, len(items), step):
        yield items[start : start + step]


def event_ids_stored(*, game_id: int, ids: list[str]) -> set[str]:
    """Which of these ids the game's log already holds."""
    sql = f"SELECT event_id FROM {_table(ScoreEvent)} WHERE game_id = %s AND event_id "
    found: set[str] = set()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # One array parameter: psycopg's client-side binding spent milliseconds parsing
            # a 1,000-placeholder IN list (profiled).
            cursor.execute(sql + "= ANY(%s::varchar[])", [game_id, ids])
            return {r[0] for r in cursor.fetchall()}
        for chunk in _chunks(ids, 1, reserved=1):
            cursor.execute(sql + f"IN ({', '.join(['%s'] * len(chunk))})", [game_id, *chunk])
            found.update(r[0] for r in cursor.fetchall())
    return found


_UPSERT_TAIL = (
    " ON CONFLICT (game_id, name) DO UPDATE SET total = p.total + excluded.total,"
    " event_count = p.event_count + excluded.event_count RETURNING id, name, total, event_count"
)


def players_add(*, game: Game, deltas: dict[str, tuple[int, int]]) -> dict[str, Player]:
    """Add (points, events) to each named player, creating the ones that are new, in one
    upsert; returns the players with their new totals, by name."""
    names = sorted(deltas)  # a fixed order: concurrent upserts take row locks alike
    insert = f"INSERT INTO {_table(Player)} AS p (game_id, name, total, event_count) "
    rows = []
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":  # arrays, as in event_ids_stored
            cursor.execute(
                insert + "SELECT %s, * FROM unnest(%s::varchar[], %s::bigint[], %s::bigint[])" + _UPSERT_TAIL,
                [game.pk, names, [deltas[n][0] for n in names], [deltas[n][1] for n in names]],
            )
            rows = cursor.fetchall()
        else:
            for chunk in _chunks(names, 4):
                values = ", ".join(["(%s, %s, %s, %s)"] * len(chunk))
                cursor.execute(
                    insert + f"VALUES {values}" + _UPSERT_TAIL, [x for n in chunk for x in (game.pk, n, *deltas[n])]
                )
                rows += cursor.fetchall()
    return {
        name: Player.from_db(connection.alias, _PLAYER_FIELDS, (pk, game.pk, name, total, count))
        for pk, name, total, count in rows
    }


def _stats_json(stats: dict[str, int]) -> str:
    # Names are [a-z0-9_] and values ints (stats.schemas): nothing to escape, and a third of
    # the time of json.dumps per row (measured, bench/gamestats.py).
    return "{" + ",".join([f'"{name}":{value:d}' for name, value in stats.items()]) + "}"


def _row_values(row: LogRow, adapt) -> list:
    stats = _stats_json(row.stats) if row.stats else None
    return [
        row.game_id, row.event_id, row.seq, row.player_id, row.points, row.kind,
        adapt(row.at), adapt(row.received_at), row.corrects_id, stats, row.team, row.match_id,
    ]  # fmt: skip


def _memo(adapt):
    """`adapt` once per distinct time: a batch's rows share one received_at, and mostly one
    `at` (the events that gave none), and SQLite's adapter was the top cost of an insert."""
    seen: dict = {}

    def adapt_once(value):
        adapted = seen.get(value)
        if adapted is None:
            adapted = seen[value] = adapt(value)
        return adapted

    return adapt_once


def events_insert(*, rows: list[LogRow]) -> None:
    """Append rows to the log (by COPY for big batches on PostgreSQL)."""
    if connection.vendor == "postgresql" and len(rows) >= COPY_MIN_ROWS:
        return _events_copy(rows)
    adapt = _memo(connection.ops.adapt_datetimefield_value)
    # PostgreSQL's jsonb takes the JSON text only with a cast (COPY needs none).
    json_mark = "%s::jsonb" if connection.vendor == "postgresql" else "%s"
    marks = "(" + ", ".join(json_mark if c == "stats" else "%s" for c in _EVENT_COLUMNS) + ")"
    insert = f"INSERT INTO {_table(ScoreEvent)} ({', '.join(_EVENT_COLUMNS)}) VALUES "
    with connection.cursor() as cursor:
        for chunk in _chunks(rows, len(_EVENT_COLUMNS)):
            params = [v for row in chunk for v in _row_values(row, adapt)]
            cursor.execute(insert + ", ".join([marks] * len(chunk)), params)


# COPY's text format: these four would end a value or a row (event ids and kinds cannot hold
# them, team names may hold a backslash).
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_NULL = "\\N"


def _copy_lines(rows: Iterable[LogRow]) -> str:
    """The rows as COPY text, built in one pass: psycopg's write_row per row (adapting each
    value) was ~8 us a row, a tenth of a 1,000-event batch's write (profiled)."""
    times: dict[datetime, str] = {}  # a batch's rows share one received_at, and mostly one at

    def iso(value: datetime) -> str:
        text = times.get(value)
        if text is None:
            text = times[value] = value.isoformat()
        return text

    lines = []
    for r in rows:
        corrects = _NULL if r.corrects_id is None else str(r.corrects_id)
        stats = _stats_json(r.stats) if r.stats else _NULL
        match = _NULL if r.match_id is None else str(r.match_id)
        lines.append(
            f"{r.game_id}\t{r.event_id.translate(_COPY_ESCAPES)}\t{r.seq}\t{r.player_id}\t{r.points}\t"
            f"{r.kind.translate(_COPY_ESCAPES)}\t{iso(r.at)}\t{iso(r.received_at)}\t{corrects}\t{stats}\t"
            f"{r.team.translate(_COPY_ESCAPES)}\t{match}\n"
        )
    return "".join(lines)


def _events_copy(rows: Iterable[LogRow]) -> None:
    with connection.cursor() as cursor:
        with cursor.cursor.copy(f"COPY {_table(ScoreEvent)} ({', '.join(_EVENT_COLUMNS)}) FROM STDIN") as copy:
            copy.write(_copy_lines(rows))

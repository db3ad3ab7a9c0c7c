"""Changing a declared stat (issue #22): how it is shown (label, format, place in the list),
its order and its op at any time, its name, and its removal while no event carries it.

Each change takes the game's row lock, as every write of the game does, so no batch is
planned against a half-changed declaration; what is kept by the stat's name (its totals, the
log's values, the ratios that name it) moves in the same transaction. A refusal says what can
be done instead. Viewers see the change in their next snapshot (stats.selectors rebuilds a
cached snapshot whose declarations no longer match)."""

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Q

from stats import eventlog
from stats.models import Game, ScoreEvent
from stats.scoring import totals
from stats.scoring.models import STAT_NAME_VALIDATOR, Stat, StatTotal
from stats.scoring.services import ScoringConflict

# Events are rewritten (a rename, on a database without JSON SQL) this many at a time.
CHUNK = 2000
# Events folded at a time by a rebuild: each fold's rows are upserted once, so a bigger fold
# writes fewer rows (a player's all-time row once per fold, not once per 2,000 events).
FOLD_CHUNK = 50_000
# Positions are moved through this offset: (game, position) is unique at every row update.
_PARKED = 1000


class StatChangeRefused(ScoringConflict):
    """The change cannot be made as asked; the message says what can be done."""


def _declared(game: Game) -> str:
    return ", ".join(Stat.objects.filter(game=game).values_list("name", flat=True)) or "none"


def _stat_locked(*, game: Game, name: str) -> Stat:
    """The stat, under the game's row lock (the caller's transaction)."""
    eventlog.game_lock(game_id=game.pk)
    stat = Stat.objects.filter(game=game, name=name).first()
    if stat is None:
        hint = "points is built in and cannot be changed" if name == "points" else f"declared: {_declared(game)}"
        raise StatChangeRefused(f"no stat {name!r} in this game ({hint})")
    return stat


def _carried(*, game: Game, name: str) -> bool:
    return ScoreEvent.objects.filter(game=game, stats__has_key=name).exists()


def stat_update(
    *,
    game: Game,
    name: str,
    label: str | None = None,
    format: str | None = None,
    order: str | None = None,
    op: str | None = None,
    position: int | None = None,
) -> Stat:
    """Change how a stat is shown (label, format, its place among the game's stats), its
    order, or how its values merge (op), at any time. Totals kept by another merge (a new op,
    or a `best` stat's new order: the max or the min) are rebuilt from the log, in the same
    transaction. Raises StatChangeRefused or ValidationError."""
    if op is not None and op not in Stat.Op.values:
        raise ValidationError({"op": f"must be one of {', '.join(Stat.Op.values)}"})
    with transaction.atomic():
        stat = _stat_locked(game=game, name=name)
        if op is not None and stat.derived and op != stat.op:
            raise StatChangeRefused(f"{name!r} is a ratio, computed when read: it has no op")
        merge = totals.merge_of(op=stat.op, order=stat.order)
        for field, value in (("label", label), ("format", format), ("order", order), ("op", op)):
            if value is not None:
                setattr(stat, field, value)
        stat.full_clean(exclude=["game", "position"], validate_unique=False)
        stat.save(update_fields=["label", "format", "order", "op"])
        if not stat.derived and totals.merge_of(op=stat.op, order=stat.order) != merge:
            stat_totals_rebuild(game=game, stat=stat)
        if position is not None:
            _position_move(game=game, stat=stat, position=position)
    return stat


def _position_move(*, game: Game, stat: Stat, position: int) -> None:
    stats = [s for s in Stat.objects.filter(game=game).order_by("position") if s.pk != stat.pk]
    if not 0 <= position <= len(stats):
        raise StatChangeRefused(f"position must be from 0 to {len(stats)} (the game has {len(stats) + 1} stats)")
    stats.insert(position, stat)
    _positions_write(stats)


def _positions_write(stats: list[Stat]) -> None:
    """Positions 0, 1, 2... in this order, in two passes so no two rows ever share one."""
    for i, s in enumerate(stats):
        s.position = _PARKED + i
    Stat.objects.bulk_update(stats, ["position"])
    for i, s in enumerate(stats):
        s.position = i
    Stat.objects.bulk_update(stats, ["position"])


def stat_rename(*, game: Game, name: str, new_name: str) -> Stat:
    """Rename a stat: its totals, the log's values and the ratios that name it follow, in one
    transaction (the log's events keep their values under the new name). Game servers must
    send the new name from then on: the old one is refused `unknown_stat`."""
    if new_name == "points":
        raise StatChangeRefused("points is built in: pick another name")
    try:
        STAT_NAME_VALIDATOR(new_name)
    except ValidationError:
        message = f"bad name {new_name!r}: a lowercase letter, then letters, digits and _ (32 at most)"
        raise StatChangeRefused(message) from None
    with transaction.atomic():
        stat = _stat_locked(game=game, name=name)
        if new_name == name:
            return stat
        if Stat.objects.filter(game=game, name=new_name).exists():
            raise StatChangeRefused(
                f"stat {new_name!r} exists: pick another name, or remove {new_name!r} first "
                "(possible while no event carries it)"
            )
        stat.name = new_name
        stat.save(update_fields=["name"])
        Stat.objects.filter(game=game, numerator=name).update(numerator=new_name)
        Stat.objects.filter(game=game, denominator=name).update(denominator=new_name)
        StatTotal.objects.filter(game=game, stat=name).update(stat=new_name)
        _log_rename(game=game, name=name, new_name=new_name)
    return stat


# One statement per database: a stat name is [a-z][a-z0-9_]*, so it is a plain JSON path
# member. Row by row (bulk_update) took 29 s for 100,000 events on SQLite, under the lock.
_RENAME_SQL = {
    "sqlite": "UPDATE {table} SET stats = json_set(json_remove(stats, %s), %s, json_extract(stats, %s))"
    " WHERE game_id = %s AND json_type(stats, %s) IS NOT NULL",
    "postgresql": "UPDATE {table} SET stats = (stats - %s) || jsonb_build_object(%s, stats -> %s)"
    " WHERE game_id = %s AND stats ? %s",
}


def _log_rename(*, game: Game, name: str, new_name: str) -> int:
    sql = _RENAME_SQL.get(connection.vendor)
    if sql is not None:
        old, new = (f"$.{name}", f"$.{new_name}") if connection.vendor == "sqlite" else (name, new_name)
        with connection.cursor() as cursor:
            cursor.execute(sql.format(table=connection.ops.quote_name(ScoreEvent._meta.db_table)),
                           [old, new, old, game.pk, old])  # fmt: skip
            return cursor.rowcount
    events = ScoreEvent.objects.filter(game=game, stats__has_key=name).only("pk", "stats").order_by("pk")
    batch, renamed = [], 0
    for event in events.iterator(chunk_size=CHUNK):
        event.stats = {(new_name if key == name else key): value for key, value in event.stats.items()}
        batch.append(event)
        if len(batch) == CHUNK:
            renamed += ScoreEvent.objects.bulk_update(batch, ["stats"])
            batch = []
    return renamed + (ScoreEvent.objects.bulk_update(batch, ["stats"]) if batch else 0)


def stat_remove(*, game: Game, name: str) -> None:
    """Remove a stat no event carries (a typo, a stat never sent), or a derived one; the
    others keep their order. Raises StatChangeRefused saying what can be done instead."""
    with transaction.atomic():
        stat = _stat_locked(game=game, name=name)
        users = list(Stat.objects.filter(game=game).filter(Q(numerator=name) | Q(denominator=name)).values_list(
            "name", flat=True))  # fmt: skip
        if users:
            raise StatChangeRefused(f"{', '.join(users)} derive from {name!r}: remove them first")
        if not stat.derived and _carried(game=game, name=name):
            raise StatChangeRefused(
                f"events carry {name!r}, so it stays: rename it (the events follow), "
                "or change its label, format or order"
            )
        StatTotal.objects.filter(game=game, stat=name).delete()
        stat.delete()
        _positions_write(list(Stat.objects.filter(game=game).order_by("position")))


def stat_totals_rebuild(*, game: Game, stat: Stat) -> int:
    """A plain stat's kept totals (every period, players and teams) folded again from the
    log, in seq order as the write path folded them. Returns the events folded. The caller
    holds the game's row lock."""
    StatTotal.objects.filter(game=game, stat=stat.name).delete()
    merges = {"points": "add", stat.name: totals.merge_of(op=stat.op, order=stat.order)}
    rows = ScoreEvent.objects.filter(game=game, stats__has_key=stat.name).order_by("seq")
    folded, chunk = 0, []
    columns = rows.values_list("player__name", "team", "match_id", "at", "stats")
    for player, team, match_pk, at, values in columns.iterator(chunk_size=CHUNK):
        chunk.append(totals.Fold(player, team, match_pk, at, 0, {stat.name: values[stat.name]}))
        if len(chunk) == FOLD_CHUNK:
            folded += _fold_write(game=game, chunk=chunk, merges=merges)
            chunk = []
    return folded + (_fold_write(game=game, chunk=chunk, merges=merges) if chunk else 0)


def _fold_write(*, game: Game, chunk: list[totals.Fold], merges: dict[str, str]) -> int:
    deltas = totals.deltas_fold(chunk, merges)
    # The fold keeps points too (zero here): only the stat's rows are written.
    only = {merge: {k: v for k, v in rows.items() if k[3] != "points"} for merge, rows in deltas.items()}
    totals.totals_write(game_id=game.pk, deltas=only)
    return len(chunk)

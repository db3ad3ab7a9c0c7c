"""Writes. Every change to a game's log goes through score_events_record, which assigns the
per-game seq under a row lock, keeps the totals, and announces the change (signal -> after
commit -> broadcast)."""

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.db.models import Count, Sum
from django.db.models.functions import TruncMinute
from django.utils import timezone

from stats.models import ApiKey, Game, Player, Rollup, RollupCursor, ScoreEvent
from stats.schemas import EventIn
from stats.signals import score_events_recorded


class EventConflict(Exception):
    """An id was reused with different content: not a retry, so the batch is refused."""

    def __init__(self, ids: list[str]):
        self.ids = ids
        super().__init__(f"id reused with different content: {', '.join(ids[:10])}")


@dataclass(frozen=True)
class RecordResult:
    accepted: int
    duplicates: int
    last_seq: int
    events: list[ScoreEvent] = field(default_factory=list)


def game_create(*, slug: str, name: str, is_public: bool = True) -> Game:
    game = Game(slug=slug, name=name, is_public=is_public)
    game.full_clean()
    game.save()
    return game


def api_key_hash(raw: str) -> str:
    # Keys are 32 random bytes: a fast hash is enough (nothing to brute-force), and it keeps
    # authentication O(1) per request.
    return hashlib.sha256(raw.encode()).hexdigest()


def api_key_create(*, game: Game, name: str = "") -> tuple[ApiKey, str]:
    """Make a key for one game. Returns the row and the raw key, which is never stored."""
    prefix = secrets.token_hex(4)
    raw = f"wg_{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey.objects.create(game=game, name=name, prefix=prefix, hashed=api_key_hash(raw))
    return key, raw


def _same_content(stored: ScoreEvent, new: EventIn) -> bool:
    same = (stored.player.name, stored.points, stored.kind) == (new.player, new.points, new.kind)
    return same and (new.at is None or new.at == stored.at)


def _batch_dedupe(events: Sequence[EventIn]) -> list[EventIn]:
    """Drop repeats of an id inside one batch; a repeat with other content is a conflict."""
    first: dict[str, EventIn] = {}
    conflicts = []
    for event in events:
        seen = first.setdefault(event.id, event)
        # The same rule as against a stored event: a repeat may omit "at", not change it.
        same = seen.model_dump(exclude={"at"}) == event.model_dump(exclude={"at"})
        if seen is not event and not (same and (event.at is None or event.at == seen.at)):
            conflicts.append(event.id)
    if conflicts:
        raise EventConflict(conflicts)
    return list(first.values())


def _players_get_or_create(*, game: Game, names: set[str]) -> dict[str, Player]:
    players = {p.name: p for p in Player.objects.filter(game=game, name__in=names)}
    # bulk_create sets primary keys on PostgreSQL and SQLite >= 3.35 (RETURNING).
    missing = Player.objects.bulk_create([Player(game=game, name=n) for n in sorted(names - players.keys())])
    players.update({p.name: p for p in missing})
    return players


# From this many rows, PostgreSQL gets them by COPY: bulk_create spent most of a 1,000-event
# POST building and client-side quoting one huge INSERT (profiled). Below it, the ORM path.
COPY_MIN_ROWS = 50
_COPY_FIELDS = ("game", "event_id", "seq", "player", "points", "kind", "at", "received_at", "corrects")


def _events_insert(rows: list[ScoreEvent]) -> None:
    """Insert new log rows in the current transaction. Rows inserted by COPY get no pk
    (nothing reads it: the log is addressed by (game, seq) and (game, id))."""
    if connection.vendor != "postgresql" or len(rows) < COPY_MIN_ROWS:
        ScoreEvent.objects.bulk_create(rows)
        return
    quote = connection.ops.quote_name
    fields = [ScoreEvent._meta.get_field(name) for name in _COPY_FIELDS]
    columns = ", ".join(quote(f.column) for f in fields)
    attnames = [f.attname for f in fields]
    with connection.cursor() as cursor:
        with cursor.cursor.copy(f"COPY {quote(ScoreEvent._meta.db_table)} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([getattr(row, a) for a in attnames])


def _players_totals_save(players: list[Player]) -> None:
    """Write the new totals of the players a batch touched (read under the game's lock).

    One UPDATE ... FROM a VALUES list for all of them (PostgreSQL, and SQLite >= 3.33): the
    ORM's bulk_update builds a CASE expression per field and player, which profiled as ~10%
    of a single-event POST and ~16% of a 1,000-event one."""
    quote = connection.ops.quote_name
    table, pk = quote(Player._meta.db_table), quote(Player._meta.pk.column)
    values = ", ".join(["(%s, %s, %s)"] * len(players))
    sql = (
        f"WITH v (id, total, event_count) AS (VALUES {values})"
        f" UPDATE {table} SET total = v.total, event_count = v.event_count FROM v WHERE {table}.{pk} = v.id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [x for p in players for x in (p.pk, p.total, p.event_count)])


def _stored_get(*, game: Game, events: list[EventIn]) -> dict[str, ScoreEvent]:
    """The already stored events among `events`, by id."""
    # order_by(): the model's default ordering goes through the game's own (by slug), a join
    # the check does not need. exists() first: fresh ids (the usual case) then cost no join
    # and no model instances (together ~8% of a single-event POST, profiled).
    found = ScoreEvent.objects.filter(game=game, event_id__in=[e.id for e in events]).order_by()
    return {e.event_id: e for e in found.select_related("player")} if found.exists() else {}


def _rows_build(
    *, game: Game, events: list[EventIn], players: dict[str, Player], corrects: ScoreEvent | None
) -> list[ScoreEvent]:
    """The new log rows, numbered from the game's next seq (the caller holds its lock)."""
    now = timezone.now()
    return [
        ScoreEvent(
            game=game,
            event_id=e.id,
            seq=game.last_seq + i,
            player=players[e.player],
            points=e.points,
            kind=e.kind,
            at=e.at or now,
            received_at=now,
            corrects=corrects,
        )
        for i, e in enumerate(events, start=1)
    ]


def _totals_apply(*, game: Game, rows: list[ScoreEvent]) -> list[Player]:
    """Add the rows to the kept totals (players and game); returns the players touched."""
    for row in rows:
        row.player.total += row.points
        row.player.event_count += 1
    touched = list({row.player.pk: row.player for row in rows}.values())
    _players_totals_save(touched)
    game.last_seq += len(rows)
    game.event_count += len(rows)
    game.points_total += sum(row.points for row in rows)
    game.save(update_fields=["last_seq", "event_count", "points_total"])
    return touched


def score_events_record(*, game_id: int, events: Sequence[EventIn], corrects: ScoreEvent | None = None) -> RecordResult:
    """Store new events exactly once under (game, id); all or nothing.

    Raises EventConflict when an id is reused with other content (nothing is stored).
    """
    unique = _batch_dedupe(events)
    with transaction.atomic():
        # The row lock serialises writers of one game: seq stays gap-free and unique, and two
        # concurrent posts of the same id cannot both pass the existence check.
        game = Game.objects.select_for_update().get(pk=game_id)
        stored = _stored_get(game=game, events=unique)
        conflicts = [e.id for e in unique if e.id in stored and not _same_content(stored[e.id], e)]
        if conflicts:
            raise EventConflict(conflicts)
        fresh = [e for e in unique if e.id not in stored]
        if not fresh:
            return RecordResult(accepted=0, duplicates=len(events), last_seq=game.last_seq)
        players = _players_get_or_create(game=game, names={e.player for e in fresh})
        rows = _rows_build(game=game, events=fresh, players=players, corrects=corrects)
        _events_insert(rows)
        touched = _totals_apply(game=game, rows=rows)
        score_events_recorded.send(sender=ScoreEvent, game=game, events=rows, players=touched)
    return RecordResult(accepted=len(rows), duplicates=len(events) - len(rows), last_seq=game.last_seq, events=rows)


def score_event_effective_points(*, event: ScoreEvent) -> int:
    corrections = event.corrections.aggregate(total=Sum("points"))["total"] or 0
    return event.points + corrections


def score_event_correct(*, event_pk: int, points: int) -> ScoreEvent | None:
    """Set an event's effective points by appending a correction (the log stays append-only,
    so a replay from seq 0 still adds up). Returns the correction, or None if nothing changed."""
    with transaction.atomic():
        event = ScoreEvent.objects.select_related("player").get(pk=event_pk)
        # Lock the game first: two concurrent corrections must not both read the same
        # effective points (and pick the same correction number).
        Game.objects.select_for_update().only("pk").get(pk=event.game_id)
        delta = points - score_event_effective_points(event=event)
        if delta == 0:
            return None
        number = event.corrections.count() + 1
        # model_construct: "~" ids are refused from clients, so server-made ids can never
        # collide with theirs; the values come from the database, not from input.
        correction = EventIn.model_construct(
            id=f"~fix:{event.pk}:{number}", player=event.player.name, points=delta, kind="correction", at=None
        )
        result = score_events_record(game_id=event.game_id, events=[correction], corrects=event)
    return result.events[0]


def rollups_compute(*, game_id: int, batch: int = 50_000) -> int:
    """Fold events past the game's cursor into per-minute rollups. Returns events folded.

    Idempotent: the cursor and the rollups move in one transaction, so a re-run (or a retried
    task) never counts an event twice."""
    with transaction.atomic():
        cursor, _ = RollupCursor.objects.select_for_update().get_or_create(game_id=game_id)
        upto = (
            ScoreEvent.objects.filter(game_id=game_id, seq__gt=cursor.seq)
            .order_by("seq")
            .values_list("seq", flat=True)[batch - 1 : batch]
        )
        last = upto[0] if upto else Game.objects.get(pk=game_id).last_seq
        buckets = (
            ScoreEvent.objects.filter(game_id=game_id, seq__gt=cursor.seq, seq__lte=last)
            .annotate(minute=TruncMinute("at"))
            .values("minute")
            .annotate(events=Count("id"), points=Sum("points"))
        )
        folded = 0
        for bucket in buckets:
            rollup, _ = Rollup.objects.get_or_create(game_id=game_id, minute=bucket["minute"])
            rollup.events += bucket["events"]
            rollup.points += bucket["points"] or 0
            rollup.save(update_fields=["events", "points"])
            folded += bucket["events"]
        cursor.seq = last
        cursor.save(update_fields=["seq"])
    return folded

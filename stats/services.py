"""Writes. Every change to a game's log goes through one write, stats.ingest.group's
score_event_batches_record (score_events_record here is it with a group of one; group commit
gives it many), which assigns the per-game seq under a row lock, keeps the totals (fresh_write)
and announces the change (signal -> after commit -> broadcast)."""

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Count, Sum
from django.db.models.functions import TruncMinute
from django.utils import timezone

from stats import eventlog
from stats.models import ApiKey, Game, Player, Rollup, RollupCursor, ScoreEvent
from stats.ops import metrics
from stats.schemas import EventIn
from stats.scoring import record
from stats.scoring.models import Stat
from stats.signals import game_created, score_events_recorded


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
    events: list[eventlog.LogRow] = field(default_factory=list)


def game_create(*, slug: str, name: str, is_public: bool = True, announce: bool = True) -> Game:
    """Make a game. `announce=False` skips the lobby's live push (the game_created signal):
    for set-up before the stack runs (demo_setup in `make setup`), when nobody watches and
    the channel layer is not up yet, so the push could only fail and log an outage."""
    game = Game(slug=slug, name=name, is_public=is_public)
    game.full_clean()
    with transaction.atomic():
        game.save()
        if announce:
            game_created.send(sender=Game, game=game)
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
    """A retry may leave out what the server filled in (at, team, match), not change it."""
    own = (stored.player.name, stored.points, stored.kind, stored.stats or None)
    same = own == (new.player, new.points, new.kind, new.stats)
    same = same and (new.team is None or new.team == stored.team)
    same = same and (new.match is None or (stored.match is not None and new.match == stored.match.match_id))
    return same and (new.at is None or new.at == stored.at)


def same_repeat(seen: EventIn, event: EventIn) -> bool:
    """The same rule as against a stored event: a repeat may omit "at", not change it."""
    same = seen.model_dump(exclude={"at"}) == event.model_dump(exclude={"at"})
    return same and (event.at is None or event.at == seen.at)


def batch_dedupe(events: Sequence[EventIn]) -> list[EventIn]:
    """Drop repeats of an id inside one batch; a repeat with other content is a conflict."""
    first: dict[str, EventIn] = {}
    conflicts = []
    for event in events:
        seen = first.setdefault(event.id, event)
        if seen is not event and not same_repeat(seen, event):
            conflicts.append(event.id)
    if conflicts:
        raise EventConflict(conflicts)
    return list(first.values())


def stored_events_get(*, game_id: int, ids: list[str]) -> dict[str, ScoreEvent]:
    """The events among `ids` that the log holds already (retries), by id."""
    stored_ids = eventlog.event_ids_stored(game_id=game_id, ids=ids)
    if not stored_ids:
        return {}  # the usual case: no model instances, no join
    found = ScoreEvent.objects.filter(game_id=game_id, event_id__in=stored_ids).select_related("player", "match")
    return {e.event_id: e for e in found.order_by()}


def stored_conflicts(stored: dict[str, ScoreEvent], events: Sequence[EventIn]) -> list[str]:
    return [e.id for e in events if e.id in stored and not _same_content(stored[e.id], e)]


def _player_deltas(events: list[EventIn]) -> dict[str, tuple[int, int]]:
    """(points, events) each player gains from `events`."""
    deltas: dict[str, tuple[int, int]] = {}
    for e in events:
        points, count = deltas.get(e.player, (0, 0))
        deltas[e.player] = (points + e.points, count + 1)
    return deltas


def _rows_build(
    *, game: Game, events: list[EventIn], players: dict[str, Player], corrects: ScoreEvent | None, plan: record.Plan
) -> list[eventlog.LogRow]:
    """The new log rows, numbered from the game's next seq (the caller holds its lock)."""
    now = timezone.now()
    corrects_id = corrects.pk if corrects is not None else None
    return [
        eventlog.LogRow(
            game.pk,
            e.id,
            game.last_seq + i,
            players[e.player].pk,
            e.points,
            e.kind,
            e.at or now,
            now,
            corrects_id,
            e.stats,
            team,
            match_pk,
        )
        for i, (e, team, match_pk) in enumerate(zip(events, plan.teams, plan.match_pks, strict=True), start=1)
    ]


def score_events_record(*, game_id: int, events: Sequence[EventIn], corrects: ScoreEvent | None = None) -> RecordResult:
    """Store new events exactly once under (game, id); all or nothing: the group commit's
    write (stats.ingest.group) with a group of one, so there is one write path.

    Raises EventConflict when an id is reused with other content, and record.EventsRefused
    when an event names an unknown stat or match, or an ended match (nothing is stored).
    """
    from stats.ingest import group  # it builds on this module's helpers

    (outcome,) = group.score_event_batches_record(game_id=game_id, batches=[events], corrects=corrects)
    if isinstance(outcome, Exception):
        raise outcome
    metrics.events_recorded(outcome.accepted)  # admin, staff, simulator (an HTTP POST counts its own)
    return outcome


def fresh_write(
    *, game: Game, fresh: list[EventIn], plan: record.Plan, corrects: ScoreEvent | None = None
) -> list[eventlog.LogRow]:
    """Append events known to be new, keep every total, and announce them after commit. The
    caller holds the game's row lock (eventlog.game_lock) in its transaction."""
    players = eventlog.players_add(game=game, deltas=_player_deltas(fresh))
    record.teams_settle(events=fresh, plan=plan, players=players)
    rows = _rows_build(game=game, events=fresh, players=players, corrects=corrects, plan=plan)
    eventlog.events_insert(rows=rows)
    scored = record.totals_keep(game=game, events=fresh, plan=plan, ats=[r.at for r in rows])
    game.last_seq += len(rows)
    game.event_count += len(rows)
    game.points_total += sum(e.points for e in fresh)
    eventlog.game_counters_save(game=game)
    score_events_recorded.send(sender=ScoreEvent, game=game, events=rows, players=list(players.values()), scored=scored)
    return rows


def score_event_effective_points(*, event: ScoreEvent) -> int:
    corrections = event.corrections.aggregate(total=Sum("points"))["total"] or 0
    return event.points + corrections


def score_event_effective_stats(*, event: ScoreEvent) -> dict[str, int]:
    """The event's stats with its corrections applied: summed for incr stats, the last value
    given for best and set ones."""
    ops = dict(Stat.objects.filter(game_id=event.game_id).values_list("name", "op"))
    effective = dict(event.stats or {})
    for fix in event.corrections.order_by("seq").values_list("stats", flat=True):
        for name, value in (fix or {}).items():
            effective[name] = effective.get(name, 0) + value if ops.get(name) == Stat.Op.INCR else value
    return effective


def _stat_corrections(*, event: ScoreEvent, stats: dict[str, int] | None) -> dict[str, int]:
    if not stats:
        return {}
    ops = dict(Stat.objects.filter(game_id=event.game_id).values_list("name", "op"))
    effective = score_event_effective_stats(event=event)
    fixes = {}
    for name, value in stats.items():
        if value == effective.get(name, 0 if ops.get(name) == Stat.Op.INCR else None):
            continue
        fixes[name] = value - effective.get(name, 0) if ops.get(name) == Stat.Op.INCR else value
    return fixes


def score_event_correct(*, event_pk: int, points: int, stats: dict[str, int] | None = None) -> eventlog.LogRow | None:
    """Set an event's effective points (and stats) by appending a correction (the log stays
    append-only, so a replay from seq 0 still adds up). Returns the correction, or None if
    nothing changed. An incr stat's correction is the change; a best or set stat's is the new
    value, kept by the stat's operator (so a correction can raise a best, not lower it).
    Raises record.EventsRefused for a stat the game does not declare."""
    with transaction.atomic():
        event = ScoreEvent.objects.select_related("player", "match").get(pk=event_pk)
        # Lock the game first: two concurrent corrections must not both read the same
        # effective points (and pick the same correction number).
        Game.objects.select_for_update().only("pk").get(pk=event.game_id)
        delta = points - score_event_effective_points(event=event)
        fixes = _stat_corrections(event=event, stats=stats)
        if delta == 0 and not fixes:
            return None
        number = event.corrections.count() + 1
        # model_construct: "~" ids are refused from clients, so server-made ids can never
        # collide with theirs; the values come from the database (or the admin's form, checked
        # against the game's stats by the record service), and the team and match are the
        # corrected event's, so the fix lands in the same totals.
        correction = EventIn.model_construct(
            id=f"~fix:{event.pk}:{number}", player=event.player.name, points=delta, kind="correction", at=None,
            stats=fixes or None, team=event.team or None, match=event.match.match_id if event.match else None,
        )  # fmt: skip
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

"""The write of events, the only one (services.score_events_record is a group of one): the
frames (or POSTs) of one game that arrived together, as one run of the log in one transaction,
with every frame answered on its own.

Each frame keeps the rules of a single POST: all or nothing (a frame with a conflicting id or
an unknown stat is refused whole, before anything is written, and its neighbours are not
touched), exactly once by id (against the log and against the earlier frames of the group).
The admitted frames' new events are then written as one batch (services.fresh_write): one
lock, one insert, one upsert per kind of total, one commit and one publish for the group,
where a frame at a time paid all of them per frame."""

from collections.abc import Sequence

from django.db import transaction

from stats import eventlog, services
from stats.models import Game, ScoreEvent
from stats.schemas import EventIn
from stats.scoring import record


def _admit(
    *, game: Game, uniques: dict[int, list[EventIn]], stored: dict, outcomes: list, ended_ok: bool
) -> tuple[list[tuple[int, list[EventIn]]], record.Plan]:
    """The frames that may be written, each with its new events, in arrival order, and the
    plan of all of them (each frame's events planned once, joined); the refusals go into
    `outcomes`."""
    admitted, seen, plan = [], {}, record.Plan.empty()
    for i, unique in uniques.items():
        conflicts = services.stored_conflicts(stored, unique)
        conflicts += [e.id for e in unique if e.id in seen and not services.same_repeat(seen[e.id], e)]
        if conflicts:
            outcomes[i] = services.EventConflict(conflicts)
            continue
        fresh = [e for e in unique if e.id not in stored and e.id not in seen]
        if fresh:
            try:
                frame_plan = record.plan_make(game=game, events=fresh, ended_ok=ended_ok, before=len(plan.match_pks))
            except record.EventsRefused as exc:
                outcomes[i] = exc
                continue
            plan.extend(frame_plan)
        seen.update((e.id, e) for e in fresh)
        admitted.append((i, fresh))
    return admitted, plan


def score_event_batches_record(
    *, game_id: int, batches: Sequence[Sequence[EventIn]], corrects: ScoreEvent | None = None
) -> list:
    """Returns, per batch, its services.RecordResult or the EventConflict / EventsRefused that
    refused it. Anything else (the database failing) raises: then nothing of the group is
    stored, and every sender may send again. `corrects`: the events are the admin's correction
    of that event (a group of one), which may land in an ended match."""
    outcomes: list = [None] * len(batches)
    uniques: dict[int, list[EventIn]] = {}
    for i, batch in enumerate(batches):
        try:
            uniques[i] = services.batch_dedupe(batch)
        except services.EventConflict as exc:
            outcomes[i] = exc
    with transaction.atomic():
        game = eventlog.game_lock(game_id=game_id)
        last_seq = game.last_seq
        stored = services.stored_events_get(game_id=game_id, ids=[e.id for u in uniques.values() for e in u])
        admitted, plan = _admit(
            game=game, uniques=uniques, stored=stored, outcomes=outcomes, ended_ok=corrects is not None
        )
        fresh = [e for _, frame in admitted for e in frame]
        rows = services.fresh_write(game=game, fresh=fresh, plan=plan, corrects=corrects) if fresh else []
    taken = 0
    for i, frame in admitted:
        frame_rows = rows[taken : taken + len(frame)]
        taken += len(frame)
        last_seq = frame_rows[-1].seq if frame_rows else last_seq
        duplicates = len(batches[i]) - len(frame)
        outcomes[i] = services.RecordResult(len(frame), duplicates, last_seq, frame_rows)
    return outcomes

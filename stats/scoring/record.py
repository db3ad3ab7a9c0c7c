"""The stats part of recording a batch (called by stats.services.score_events_record, under
the game's row lock): check the stats and matches the events name, find each event's team,
and keep the totals. Raises before anything is written, so a batch stays all or nothing."""

from collections.abc import Sequence
from dataclasses import dataclass, field

from stats.models import Game, Player
from stats.schemas import MAX_POINTS, MAX_STAT_VALUE, EventIn
from stats.scoring import periods, totals
from stats.scoring.models import Match, MatchPlayer, Stat, StatTotal


class EventsRefused(Exception):
    """The batch names a stat or a match it may not: nothing is stored."""

    def __init__(self, status: int, code: str, message: str, details: list[dict] | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details


@dataclass(slots=True)
class Plan:
    """Per fresh event (in seq order): its match's pk and its team; the merge of each stat."""

    match_pks: list[int | None]
    teams: list[str]
    merges: dict[str, str]
    matches: dict[int, str] = field(default_factory=dict)  # pk -> the match's id

    @classmethod
    def empty(cls) -> "Plan":
        return cls(match_pks=[], teams=[], merges={"points": "add"})

    def extend(self, other: "Plan") -> None:
        """This plan, then `other`'s events (of the same game, planned after this one's)."""
        self.match_pks += other.match_pks
        self.merges.update(other.merges)
        self.matches.update(other.matches)


@dataclass(slots=True)
class Scored:
    """What the totals became, for the frames: players' all-time stats, teams' match stats."""

    players: dict[str, dict[str, int]] = field(default_factory=dict)
    teams: list[dict] = field(default_factory=list)
    matches: dict[int, str] = field(default_factory=dict)  # pk -> the match's id


def _merges(*, game: Game, events: Sequence[EventIn]) -> dict[str, str]:
    merges = {"points": "add"}
    named = {name for e in events if e.stats for name in e.stats}
    if not named:
        return merges  # points alone: no query
    declared = {s.name: s for s in Stat.objects.filter(game=game, numerator="")}
    unknown = sorted(named - declared.keys())
    if unknown:
        known = ", ".join(sorted(declared)) or "none"
        details = [{"field": f"stats.{n}", "message": f"not a stat of this game (declared: {known})"} for n in unknown]
        raise EventsRefused(422, "unknown_stat", f"unknown stat: {', '.join(unknown)}", details)
    merges.update((n, totals.merge_of(op=declared[n].op, order=declared[n].order)) for n in named)
    return merges


# A match's pk never changes its id: known ids are kept (bounded) rather than read per batch.
_MATCH_IDS_MAX = 4096
_match_ids: dict[int, str] = {}


def _match_id_of(pk: int) -> str:
    match_id = _match_ids.get(pk)
    if match_id is None:
        if len(_match_ids) >= _MATCH_IDS_MAX:
            _match_ids.clear()
        match_id = _match_ids[pk] = Match.objects.values_list("match_id", flat=True).get(pk=pk)
    return match_id


def _matches(*, game: Game, events: Sequence[EventIn], ended_ok: bool) -> tuple[list[int | None], dict[int, str]]:
    named = {e.match for e in events if e.match}
    found = {m.match_id: m for m in Match.objects.filter(game=game, match_id__in=named)} if named else {}
    unknown = sorted(named - found.keys())
    if unknown:
        raise EventsRefused(422, "unknown_match", f"no such match in this game: {', '.join(unknown)}")
    ended = sorted(m.match_id for m in found.values() if m.status == Match.Status.FINISHED)
    if ended and not ended_ok:
        raise EventsRefused(409, "match_ended", f"match ended, its events are closed: {', '.join(ended)}")
    by_pk = {m.pk: m.match_id for m in found.values()}
    if game.open_match_id is not None and any(not e.match for e in events):
        by_pk.setdefault(game.open_match_id, _match_id_of(game.open_match_id))
    pks = [found[e.match].pk if e.match else game.open_match_id for e in events]
    return pks, by_pk


def _roster(*, plan: Plan, players: dict[str, Player]) -> dict[tuple[int, str], str]:
    """The kept team of each (match, player) the batch touches, in one query by ids."""
    match_pks = {pk for pk in plan.match_pks if pk}
    if not match_pks:
        return {}
    names = {p.pk: name for name, p in players.items()}
    rows = MatchPlayer.objects.filter(match_id__in=match_pks, player_id__in=names).values_list(
        "match_id", "player_id", "team"
    )
    return {(pk, names[player_id]): team for pk, player_id, team in rows}


# Every kept total (points, a stat's sum, per player, team and period) adds at most one value
# per event, each within 2 x 10^9 (a value, or an admin correction's difference): up to this
# many events in a game, none can pass bigint. Past it PostgreSQL failed every later write
# that touched the total (a 500) and SQLite kept it as a float (issue #19).
EVENTS_MAX = (2**63 - 1) // (2 * max(MAX_POINTS, MAX_STAT_VALUE))


def _room_check(*, game: Game, count: int) -> None:
    if game.event_count + count > EVENTS_MAX:
        message = f"the game holds {game.event_count} events of at most {EVENTS_MAX}: its totals could overflow"
        raise EventsRefused(409, "totals_overflow", message)


def plan_make(*, game: Game, events: Sequence[EventIn], ended_ok: bool = False, before: int = 0) -> Plan:
    """Check the batch's room, stats and matches (raises EventsRefused); before anything is
    written. `game` is the locked row (eventlog.game_lock), so its event count is current;
    `before` events of the same write are planned ahead of these."""
    _room_check(game=game, count=before + len(events))
    merges = _merges(game=game, events=events)
    match_pks, matches = _matches(game=game, events=events, ended_ok=ended_ok)
    return Plan(match_pks=match_pks, teams=[], merges=merges, matches=matches)


def teams_settle(*, events: Sequence[EventIn], plan: Plan, players: dict[str, Player]) -> None:
    """Each event's team (its own, else its player's latest in its match, else none) into
    `plan.teams`; the roster keeps the teams that changed."""
    roster = _roster(plan=plan, players=players)
    latest = dict(roster)
    for e, pk in zip(events, plan.match_pks, strict=True):
        if e.team and pk:
            latest[(pk, e.player)] = e.team  # later events of the batch follow a team change
        plan.teams.append(e.team or latest.get((pk, e.player), ""))
    changed = {key: team for key, team in latest.items() if roster.get(key) != team}
    if changed:
        MatchPlayer.objects.bulk_create(
            [MatchPlayer(match_id=pk, player=players[name], team=team) for (pk, name), team in sorted(changed.items())],
            update_conflicts=True,
            unique_fields=["match", "player"],
            update_fields=["team"],
        )


def totals_keep(*, game: Game, events: Sequence[EventIn], plan: Plan, ats: list) -> Scored:
    folds = [
        totals.Fold(e.player, team, pk, at, e.points, e.stats)
        for e, team, pk, at in zip(events, plan.teams, plan.match_pks, ats, strict=True)
    ]
    written = totals.totals_write(game_id=game.pk, deltas=totals.deltas_fold(folds, plan.merges))
    return _scored(written, plan)


def _scored(written: list[tuple], plan: Plan) -> Scored:
    scored = Scored(matches=plan.matches)
    teams: dict[tuple[str, str], dict[str, int]] = {}
    match_ids = {periods.match_key(pk): match_id for pk, match_id in plan.matches.items()}
    for period, kind, owner, stat, value in written:
        if period == periods.ALL and kind == StatTotal.PLAYER:
            scored.players.setdefault(owner, {})[stat] = value
        elif kind == StatTotal.TEAM and period in match_ids:
            teams.setdefault((match_ids[period], owner), {})[stat] = value
    scored.teams = [{"match": m, "team": t, "stats": s} for (m, t), s in sorted(teams.items())]
    return scored

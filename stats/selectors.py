"""Reads. Snapshots and replays are read in one consistent transaction, so the seq they
report matches exactly the totals and events they carry."""

import threading
import time
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import connection, transaction
from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncSecond
from django.utils import timezone

from stats.models import ApiKey, Game, Match, Player, Rollup, RollupCursor, ScoreEvent
from stats.scoring import selectors as scoring
from stats.services import api_key_hash
from stats.wire import event_wire, game_wire, player_wire, ts_ms

LEADERBOARD_SIZE = 20
SERIES_PLAYERS = 5
SERIES_WINDOW = 300
RATE_SECONDS = 60
HISTORY_RANGES = ("5m", "match", "today")
# A chart needs no more points than this; longer ranges are merged into wider buckets.
HISTORY_MAX_BUCKETS = 720


class GameNotVisible(Exception):
    """The game does not exist or this user may not see it (the two are not told apart)."""


@contextmanager
def snapshot_read():
    """A transaction that sees one point in time (PostgreSQL REPEATABLE READ; SQLite's
    transactions already do)."""
    # Inside a caller's transaction (a savepoint) the level is already fixed: PostgreSQL
    # refuses SET TRANSACTION after the first query, so only the outermost block sets it.
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if outermost and connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        yield


def game_list_visible(*, user: AbstractBaseUser | AnonymousUser) -> QuerySet[Game]:
    games = Game.objects.all()
    if user.is_authenticated and user.is_staff:
        return games
    if user.is_authenticated:
        return games.filter(Q(is_public=True) | Q(viewers=user)).distinct()
    return games.filter(is_public=True)


def game_get_visible(*, slug: str, user: AbstractBaseUser | AnonymousUser) -> Game:
    game = game_list_visible(user=user).filter(slug=slug).first()
    if game is None:
        raise GameNotVisible(slug)
    return game


# Valid keys seen by this process, by hash: a game server posting one event per request
# would otherwise pay a query per POST for the same key. A revocation saved in this process
# drops the entry at once (stats.receivers); one saved elsewhere is seen within the TTL.
API_KEY_CACHE_SECONDS = 5.0
_API_KEY_CACHE_MAX = 1024
_api_keys: dict[str, tuple[float, ApiKey]] = {}


def api_key_get(*, raw: str) -> ApiKey | None:
    if not _api_key_shaped(raw):
        return None
    hashed = api_key_hash(raw)
    now = time.monotonic()
    cached = _api_keys.get(hashed)
    if cached is not None and cached[0] > now:
        return cached[1]
    key = ApiKey.objects.select_related("game").filter(prefix=raw.split("_")[1], revoked=False).first()
    if key is None or key.hashed != hashed:
        return None
    if len(_api_keys) >= _API_KEY_CACHE_MAX:
        _api_keys.clear()  # bounded; the next requests simply look their keys up again
    _api_keys[hashed] = (now + API_KEY_CACHE_SECONDS, key)
    return key


async def api_key_aget(*, raw: str) -> ApiKey | None:
    """api_key_get for async code: a cached key is answered on the loop, a miss is read in
    the request's thread (the database)."""
    cached = _api_keys.get(api_key_hash(raw))
    if cached is not None and cached[0] > time.monotonic():
        return cached[1]
    if not _api_key_shaped(raw):  # nothing to look up: no hop either
        return None
    return await sync_to_async(api_key_get)(raw=raw)


def _api_key_shaped(raw: str) -> bool:
    parts = raw.split("_")
    return len(parts) >= 3 and parts[0] == "wg"


def api_key_cache_clear() -> None:
    _api_keys.clear()


def api_key_active(*, key_id: int) -> bool:
    """Whether the key still stands (not revoked, not deleted), read now, past the cache: an
    open ingest socket asks this every INGEST_KEY_RECHECK_SECONDS."""
    return ApiKey.objects.filter(pk=key_id, revoked=False).exists()


def _series(*, game: Game, leaders: list[Player]) -> list[dict]:
    """Each top player's running total over the recent window, rebuilt backwards from the
    kept totals (no scan of the whole log)."""
    top = leaders[:SERIES_PLAYERS]
    window = list(
        ScoreEvent.objects.filter(game=game, player__in=top)
        .order_by("-seq")
        .values("player_id", "points", "at")[:SERIES_WINDOW]
    )
    running = {p.pk: p.total for p in top}
    points: dict[int, list] = defaultdict(list)
    for row in window:
        points[row["player_id"]].append([ts_ms(row["at"]), running[row["player_id"]]])
        running[row["player_id"]] -= row["points"]
    return [{"player": p.name, "points": points[p.pk][::-1]} for p in top]


def _rate(*, game: Game) -> list[list[int]]:
    since = timezone.now() - timedelta(seconds=RATE_SECONDS)
    rows = (
        ScoreEvent.objects.filter(game=game, received_at__gte=since)
        .annotate(second=TruncSecond("received_at"))
        .values("second")
        .annotate(n=Count("id"))
        .order_by("second")
    )
    return [[ts_ms(row["second"]), row["n"]] for row in rows]


def game_last_seq(*, game_id: int) -> int:
    return Game.objects.filter(pk=game_id).values_list("last_seq", flat=True).first() or 0


def game_snapshot(*, game_id: int) -> dict:
    """Everything a dashboard needs to draw from scratch, and the seq it reflects."""
    with snapshot_read():
        game = Game.objects.get(pk=game_id)
        leaders = list(Player.objects.filter(game=game).order_by("-total", "name")[:LEADERBOARD_SIZE])
        recent = list(
            ScoreEvent.objects.filter(game=game)
            .select_related("player", "match")
            .order_by("-seq")[: settings.WEBGAME_RECENT_EVENTS]
        )
        return {
            "type": "snapshot",
            "seq": game.last_seq,
            "game": game_wire(game),
            "players": Player.objects.filter(game=game).count(),
            "leaderboard": _players_wire(game=game, players=leaders),
            "recent": [event_wire(e) for e in reversed(recent)],
            "series": _series(game=game, leaders=leaders),
            "rate": _rate(game=game),
            "server_ms": ts_ms(timezone.now()),
            "stats": scoring.stats_declared(game_id=game.pk),
            "match": scoring.match_open_wire(game=game),
        }


def _players_wire(*, game: Game, players: list[Player]) -> list[dict]:
    """Players with their declared stats and their team in the open match."""
    names = [p.name for p in players]
    stats = scoring.player_stats_get(game_id=game.pk, names=names)
    teams = scoring.roster_get(match_pk=game.open_match_id, names=names)
    return [player_wire(p, stats.get(p.name), teams.get(p.name, "")) for p in players]


# The last snapshot built per game in this process, with the identity of the game it shows
# (a deleted game's id may come back: SQLite reuses ids after a rollback). Every reader of
# the game shares it, the HTTP endpoint and each WebSocket that connects, as long as the
# game's seq has not moved: a thousand reads of one state cost one build.
_SNAPSHOT_CACHE_MAX = 1024
_snapshots: dict[int, tuple[datetime, dict]] = {}
# One build at a time per game (striped): readers that find the seq moved wait for the one
# build instead of each making their own.
_snapshot_build_locks = [threading.Lock() for _ in range(16)]


def game_snapshot_shared(*, game_id: int) -> dict:
    """game_snapshot, built once per (game, seq) in this process; a new dict for each call,
    which the caller may add keys to (not change the lists in: they are shared).

    What only the seq decides is cached: totals, leaderboard, recent events, series, and the
    rate rows. What the clock decides is made per call: server_ms, and the rate chart cut to
    the last RATE_SECONDS (the same seq means no event since the build: rows only slide out).
    The game row is read on every call (the seq check) and sent as read, so a rename shows.
    So are its declared stats (a query of at most GAME_MAX_STATS rows): a stat changed since
    the build (stats.scoring.stat_changes: a label, a rename...) moves no seq, and a snapshot
    that names it otherwise is built again, in every process (issue #22)."""
    game = Game.objects.get(pk=game_id)
    stats = scoring.stats_declared(game_id=game_id)
    cached = _snapshots.get(game_id)
    if cached is None or not _snapshot_current(cached, game=game, stats=stats):
        cached = _snapshot_build(game=game, stats=stats)
    snapshot = dict(cached[1])
    if snapshot["seq"] == game.last_seq:
        snapshot["game"] = game_wire(game)  # else the build saw a newer seq: keep its own game
    now = timezone.now()
    since_ms = ts_ms(now) - RATE_SECONDS * 1000
    snapshot["rate"] = [row for row in snapshot["rate"] if row[0] + 1000 > since_ms]
    snapshot["server_ms"] = ts_ms(now)
    return snapshot


def _snapshot_current(cached: tuple[datetime, dict], *, game: Game, stats: list[dict]) -> bool:
    return (cached[0], cached[1]["seq"]) == (game.created_at, game.last_seq) and cached[1]["stats"] == stats


def _snapshot_build(*, game: Game, stats: list[dict]) -> tuple[datetime, dict]:
    with _snapshot_build_locks[game.pk % len(_snapshot_build_locks)]:
        cached = _snapshots.get(game.pk)  # built by the reader this one waited for?
        if cached is not None and _snapshot_current(cached, game=game, stats=stats):
            return cached
        built = (game.created_at, game_snapshot(game_id=game.pk))
        if len(_snapshots) >= _SNAPSHOT_CACHE_MAX:
            _snapshots.clear()  # bounded; the next reads simply build again
        _snapshots[game.pk] = built
        return built


@dataclass(frozen=True, slots=True)
class EventsRun:
    """The events after a seq, with the totals of the players they touch (frames.events_text
    makes the `events` frame of it)."""

    events: list[dict]
    players: list[dict]
    game: dict
    last_seq: int
    teams: list[dict]


def game_events_after(*, game_id: int, after_seq: int, limit: int) -> EventsRun | None:
    """The events after `after_seq`, or None when more than `limit` were missed (the caller
    sends a snapshot instead)."""
    with snapshot_read():
        game = Game.objects.get(pk=game_id)
        if game.last_seq - after_seq > limit:
            return None
        events = list(
            ScoreEvent.objects.filter(game=game, seq__gt=after_seq).select_related("player", "match").order_by("seq")
        )
        players = {e.player.pk: e.player for e in events}
        matches = {e.match.pk: e.match.match_id for e in events if e.match is not None}
        teams = scoring.team_totals_get(game_id=game.pk, match_pks=matches)
        return EventsRun(
            events=[event_wire(e) for e in events],
            players=_players_wire(game=game, players=list(players.values())),
            game=game_wire(game),
            last_seq=game.last_seq,
            teams=[{"match": matches[pk], **team} for pk, by_match in teams.items() for team in by_match],
        )


def game_events_page(*, game_id: int, after_seq: int, limit: int, match: Match | None = None) -> dict:
    """One page of the log for the replay API (plain reads: the log never changes). With a
    match, only its events, read within the seq range it was live in."""
    events = ScoreEvent.objects.filter(game_id=game_id, seq__gt=after_seq)
    if match is not None:
        events = events.filter(match=match, seq__gte=match.first_seq)
        if match.last_seq is not None:
            events = events.filter(seq__lte=match.last_seq)
    events = list(events.select_related("player", "match").order_by("seq")[: limit + 1])
    more = len(events) > limit
    events = events[:limit]
    return {
        "events": [event_wire(e) for e in events],
        "next_after_seq": events[-1].seq if events else after_seq,
        "more": more,
    }


def _history_since(*, game: Game, range: str):
    now = timezone.now()
    if range == "match" and game.open_match_id is not None:
        return Match.objects.values_list("started_at", flat=True).get(pk=game.open_match_id)
    if range == "5m":
        return now - timedelta(minutes=5)
    if range == "today":
        return timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    # "match": from the first event (seq order uses the unique index), else the game's creation.
    first_at = ScoreEvent.objects.filter(game=game).order_by("seq").values_list("at", flat=True).first()
    return first_at or game.created_at


def _buckets_merge(rows: list[tuple], width: int) -> list[list[int]]:
    merged: dict[int, list[int]] = {}
    for minute, events, points in rows:
        start = ts_ms(minute) // (width * 60_000) * (width * 60_000)
        bucket = merged.setdefault(start, [start, 0, 0])
        bucket[1] += events
        bucket[2] += points
    return list(merged.values())


def game_history(*, game_id: int, range: str, match: Match | None = None) -> dict:
    """Events and points per bucket over a range, read from the per-minute rollups (never
    the raw log). Buckets are one minute wide unless the range needs wider ones. "match" is
    the open match (before any, the game since its first event), or the `match` given."""
    if range not in HISTORY_RANGES:
        raise ValueError(f"range must be one of {', '.join(HISTORY_RANGES)}")
    game = Game.objects.get(pk=game_id)
    since = match.started_at if match is not None else _history_since(game=game, range=range)
    since = since.replace(second=0, microsecond=0)
    until = match.ended_at if match is not None and match.ended_at else timezone.now()
    rows = list(
        Rollup.objects.filter(game=game, minute__gte=since, minute__lte=until)
        .order_by("minute")
        .values_list("minute", "events", "points")
    )
    span_minutes = max(1, int((until - since).total_seconds() // 60) + 1)
    width = -(-span_minutes // HISTORY_MAX_BUCKETS)
    cursor = RollupCursor.objects.filter(game=game).values_list("seq", flat=True).first() or 0
    return {
        "range": range,
        "from_ms": ts_ms(since),
        "to_ms": ts_ms(until),
        "bucket_ms": width * 60_000,
        "buckets": _buckets_merge(rows, width),
        "rolled_up_seq": cursor,
        "last_seq": game.last_seq,
    }

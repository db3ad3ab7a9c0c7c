"""The JSON API of game stats: declared stats, matches and leaderboards. Writes take the
game's API key, as events do; reads follow the other reads' rules (stats.api)."""

from typing import Literal

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import JsonResponse
from ninja import Query, Router
from pydantic import BaseModel, ConfigDict

from stats.api import READER, game_for_reader, writer_key
from stats.apikit import ApiError, ApiKeyAuth, Slug, Text, answers, digits
from stats.apimodels import Leaderboard, MatchPage, Stats
from stats.live.frames import MatchWire, StatWire
from stats.models import Game
from stats.schemas import EVENT_ID_RE, EventId, MatchName, StatLabel, StatName
from stats.scoring import leaderboard, selectors, services
from stats.scoring.models import Match
from stats.scoring.periods import PERIODS
from stats.scoring.wire import match_wire, stat_wire

router = Router(tags=["scoring"])

# The highest `before` of the matches page (a match's pk): past bigint the database fails.
BEFORE_MAX = 2**62


class StatIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: StatName
    label: StatLabel = ""
    format: Literal["integer", "duration_ms", "percent"] = "integer"
    order: Literal["desc", "asc"] = "desc"
    op: Literal["incr", "best", "set"] = "incr"
    numerator: StatName | Literal[""] = ""
    denominator: StatName | Literal[""] = ""


class MatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: EventId | None = None
    name: MatchName = ""


def _stat_declare(game: Game, data: StatIn):
    try:
        return services.stat_declare(game=game, **data.model_dump())
    except DjangoValidationError as exc:
        details = [{"field": f, "message": m} for f, ms in exc.message_dict.items() for m in ms]
        raise ApiError(422, "invalid", "the stat is invalid", details) from None
    except services.StatLimitReached as exc:
        raise ApiError(409, "too_many_stats", str(exc)) from None
    except services.ScoringConflict as exc:
        raise ApiError(409, "conflict", str(exc)) from None


@router.get(
    "/games/{slug:slug}/stats",
    response=answers({200: Stats}, 404, 429),
    summary="The game's stats, points first",
    openapi_extra=READER,
)
def stats_get(request, slug: Slug):
    game = game_for_reader(request, slug)
    return JsonResponse({"stats": selectors.stats_declared(game_id=game.pk)})


@router.post(
    "/games/{slug:slug}/stats",
    auth=ApiKeyAuth(),
    response=answers({201: StatWire, 200: StatWire}, 401, 404, 409, 422, 429),
    summary="Declare a stat (the same again is a no-op: 200; new: 201)",
    description="A name that exists with another definition is a 409 `conflict` whose message names what "
    "differs and what can be done: a declared stat's label, format, order and op are changed, and a stat "
    "renamed or removed (while no event carries it), by its owner with `manage.py game_stats` "
    "(`--change`, `--rename`, `--remove`) or in the admin; live viewers see it at their next snapshot.",
)
def stats_post(request, slug: Slug, data: StatIn):
    game = writer_key(request, slug).game
    stat, created = _stat_declare(game, data)
    return JsonResponse(stat_wire(stat), status=201 if created else 200)


@router.get(
    "/games/{slug:slug}/matches",
    response=answers({200: MatchPage}, 404, 429),
    summary="Matches, newest first, a page at a time",
    openapi_extra=READER,
)
def matches_get(
    request,
    slug: Slug,
    before: digits(1, BEFORE_MAX) = None,
    limit: digits(1, selectors.MATCH_PAGE_MAX) = 20,
):
    game = game_for_reader(request, slug)
    return JsonResponse(selectors.match_list(game_id=game.pk, before=before, limit=limit))


@router.post(
    "/games/{slug:slug}/matches",
    auth=ApiKeyAuth(),
    response=answers({201: MatchWire, 200: MatchWire}, 401, 404, 409, 422, 429),
    summary="Start a match; it becomes the open match that events fall into (a retry with the same id and name: 200)",
)
def matches_post(request, slug: Slug, data: MatchIn):
    game = writer_key(request, slug).game
    try:
        match, created = services.match_start(game_id=game.pk, match_id=data.id, name=data.name)
    except services.ScoringConflict as exc:
        raise ApiError(409, "conflict", str(exc)) from None
    return JsonResponse(_match_body(game, match), status=201 if created else 200)


@router.post(
    "/games/{slug:slug}/matches/{match_id}/end",
    auth=ApiKeyAuth(),
    response=answers({200: MatchWire}, 401, 404, 429),
    summary="End a match (idempotent); its events are closed from then on (409 match_ended)",
)
def match_end(request, slug: Slug, match_id: str):
    game = writer_key(request, slug).game
    # Only an id a match can have reaches the database: PostgreSQL fails on a NUL (%00).
    if not EVENT_ID_RE.fullmatch(match_id):
        raise ApiError(404, "not_found", f"no match {match_id[:64]!r} in this game")
    try:
        match = services.match_end(game_id=game.pk, match_id=match_id)
    except Match.DoesNotExist:
        raise ApiError(404, "not_found", f"no match {match_id!r} in this game") from None
    return JsonResponse(_match_body(game, match))


def _match_body(game: Game, match: Match) -> dict:
    return match_wire(match, selectors.team_totals_get(game_id=game.pk, match_pks=[match.pk]).get(match.pk, []))


@router.get(
    "/games/{slug:slug}/leaderboard",
    response=answers({200: Leaderboard}, 404, 429),
    summary="Ranks by a stat over a period or a match, for players or teams; `around` gives a player's neighbourhood",
    openapi_extra=READER,
)
def leaderboard_get(
    request,
    slug: Slug,
    stat: Text = "points",
    period: Literal[PERIODS] = PERIODS[0],
    match: Text = Query(None, description="a match's id (with period all)"),
    around: Text = Query(
        None,
        description="a player (or team) to centre the page on; the page shifts at the board's ends, "
        "so it has `limit` rows whenever the board has that many",
    ),
    limit: digits(1, leaderboard.LIMIT_MAX) = 10,
    entity: Literal["player", "team"] = Query(
        "player",
        description="team without `match`: all-time team totals, folded from the teams' match totals "
        "(sum; the best of a `best` stat; a ratio of summed parts). A `set` stat, or period today or week, "
        "has team totals per match only: 400 bad_param, its message starting `match:`",
    ),
):
    game = game_for_reader(request, slug)
    query = leaderboard.Query(stat=stat, period=period, match_id=match, around=around, limit=limit, entity=entity)
    try:
        return JsonResponse(leaderboard.leaderboard_read(game=game, query=query))
    except leaderboard.LeaderboardError as exc:
        raise ApiError(400, "bad_param", str(exc)) from None

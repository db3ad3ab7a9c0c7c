"""The JSON API of game stats: declared stats, matches and leaderboards. Writes take the
game's API key, as events do; reads follow the other reads' rules (stats.api)."""

from typing import Literal

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import JsonResponse
from pydantic import BaseModel, ConfigDict
from pydantic import ValidationError as PydanticValidationError

from stats.api import ApiError, api_view, game_for_reader, int_param, json_object, str_param, writer_key
from stats.models import Game
from stats.schemas import EVENT_ID_RE, EventId, MatchName, StatLabel, StatName, errors_describe
from stats.scoring import leaderboard, selectors, services
from stats.scoring.models import Match
from stats.scoring.wire import match_wire, stat_wire

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


def _validated(model: type[BaseModel], request) -> BaseModel:
    try:
        return model.model_validate(json_object(request))
    except PydanticValidationError as exc:
        raise ApiError(422, "invalid", "some fields are invalid", errors_describe(exc)) from None


@api_view("GET", "POST")
def stats_view(request, slug: str):
    if request.method == "GET":
        game = game_for_reader(request, slug)
        return JsonResponse({"stats": selectors.stats_declared(game_id=game.pk)})
    game = writer_key(request, slug).game
    data = _validated(StatIn, request)
    try:
        stat, created = services.stat_declare(game=game, **data.model_dump())
    except DjangoValidationError as exc:
        details = [{"field": f, "message": m} for f, ms in exc.message_dict.items() for m in ms]
        raise ApiError(422, "invalid", "the stat is invalid", details) from None
    except services.StatLimitReached as exc:
        raise ApiError(409, "too_many_stats", str(exc)) from None
    except services.ScoringConflict as exc:
        raise ApiError(409, "conflict", str(exc)) from None
    return JsonResponse(stat_wire(stat), status=201 if created else 200)


@api_view("GET", "POST")
def matches_view(request, slug: str):
    if request.method == "GET":
        game = game_for_reader(request, slug)
        before = int_param(request, "before", 0, 1, BEFORE_MAX) if "before" in request.GET else None
        limit = int_param(request, "limit", 20, 1, selectors.MATCH_PAGE_MAX)
        return JsonResponse(selectors.match_list(game_id=game.pk, before=before, limit=limit))
    game = writer_key(request, slug).game
    data = _validated(MatchIn, request)
    try:
        match, created = services.match_start(game_id=game.pk, match_id=data.id, name=data.name)
    except services.ScoringConflict as exc:
        raise ApiError(409, "conflict", str(exc)) from None
    return JsonResponse(_match_body(game, match), status=201 if created else 200)


@api_view("POST")
def match_end_view(request, slug: str, match_id: str):
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


@api_view("GET")
def leaderboard_view(request, slug: str):
    game = game_for_reader(request, slug)
    period = request.GET.get("period", "all")
    entity = request.GET.get("entity", "player")
    if period not in ("all", "today", "week"):
        raise ApiError(400, "bad_param", "period must be one of all, today, week")
    if entity not in ("player", "team"):
        raise ApiError(400, "bad_param", "entity must be player or team")
    query = leaderboard.Query(
        stat=str_param(request, "stat", "points"),
        period=period,
        match_id=str_param(request, "match"),
        around=str_param(request, "around"),
        limit=int_param(request, "limit", 10, 1, leaderboard.LIMIT_MAX),
        entity=entity,
    )
    try:
        return JsonResponse(leaderboard.leaderboard_read(game=game, query=query))
    except leaderboard.LeaderboardError as exc:
        raise ApiError(400, "bad_param", str(exc)) from None

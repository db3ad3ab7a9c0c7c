"""The games and events slice of the HTTP API (a django-ninja router; webgame.api mounts it
under /api/). Every error is a JSON body: {"error": {"code": ..., "message": ..., "details"?:
[...]}} (stats.apikit)."""

from typing import Literal

from django.conf import settings
from django.http import JsonResponse
from django.views import defaults
from ninja import Body, Query, Router

from stats import ratelimit, selectors, services
from stats.apikit import (
    GAME_NOT_FOUND,
    ApiError,
    AsyncApiKeyAuth,
    Slug,
    Text,
    answers,
    digits,
    error_response,
    suspicious_response,
)
from stats.apimodels import Accepted, EventPage, Games, History, SnapshotBody
from stats.ingest import keyrate
from stats.ingest.committer import events_record_grouped
from stats.models import ApiKey, Game, Match
from stats.ops import metrics
from stats.schemas import MAX_SEQ, EventsIn, stat_values_refusal
from stats.scoring.record import EventsRefused
from stats.wire import game_wire
from webgame import httpkit

router = Router(tags=["games and events"])
# Reads are open to anyone for a public game; a private one takes its key (or a login).
READER = {"security": [{}, {"ApiKeyAuth": []}]}


def _bearer_key(request) -> ApiKey | None:
    raw = httpkit.bearer_token(request.headers.get("Authorization"))
    return None if raw is None else selectors.api_key_get(raw=raw)


def _reader_key(request) -> ApiKey | None:
    """The reader's valid bearer key, if any. A reader with neither a key nor a session is
    counted per address (ratelimit.anon_read_retry_after), before anything is read for it:
    lookups of games that do not exist count too."""
    key = _bearer_key(request)
    if key is None and not request.user.is_authenticated:
        retry_after = ratelimit.anon_read_retry_after(address=ratelimit.request_address(request))
        if retry_after is not None:
            message = f"too many reads from this address without a key or a login; retry in {retry_after}s"
            raise ApiError(429, "rate_limited", message, headers={"Retry-After": str(retry_after)})
    return key


def game_for_reader(request, slug: Slug) -> Game:
    """A game the caller may read: visible to its session user, or its own bearer key's."""
    key = _reader_key(request)
    if key is not None and key.game.slug == slug:
        return key.game
    try:
        return selectors.game_get_visible(slug=slug, user=request.user)
    except selectors.GameNotVisible:
        raise ApiError(404, "not_found", GAME_NOT_FOUND) from None


def writer_key(request, slug: Slug) -> ApiKey:
    """The game server's key (ApiKeyAuth found it) for this game, within its rate limit."""
    return _within_rate(_own_key(request, slug), keyrate.http_take(request.auth.prefix))


async def writer_key_async(request, slug: Slug) -> ApiKey:
    """writer_key for an async endpoint (AsyncApiKeyAuth found the key)."""
    key = _own_key(request, slug)
    return _within_rate(key, await keyrate.http_atake(key.prefix))  # counted here, told to Redis in batches


def _own_key(request, slug: Slug) -> ApiKey:
    key = request.auth
    if key.game.slug != slug:  # whether that game exists is none of this key's business
        raise ApiError(404, "not_found", GAME_NOT_FOUND)
    return key


def _within_rate(key: ApiKey, retry_after: int | None) -> ApiKey:
    if retry_after is not None:
        message = f"too many requests for this key; retry in {retry_after}s"
        raise ApiError(429, "rate_limited", message, headers={"Retry-After": str(retry_after)})
    return key


@router.post(
    "/games/{slug:slug}/events",
    url_name="events",  # the path's name (its GET too): stats.admission knows the reads by name
    auth=AsyncApiKeyAuth(),
    response=answers({202: Accepted}, 401, 404, 409, 422, 429),
    summary=f"Post one event or a batch of up to {settings.WEBGAME_MAX_BATCH:,} (idempotent by id)",
    # Another game's key gets the 404 of a missing game (no 403): it must not tell which
    # private games exist.
)
@metrics.counts_own_ingest
async def events_post(request, slug: Slug, body: EventsIn = Body(...)):
    # Async: the POST awaits its group commit on the loop, as an ingest frame does; no thread
    # is held while the writer commits (with a cached key, the request takes no thread at all).
    key = await writer_key_async(request, slug)
    events = body.events if hasattr(body, "events") else [body]
    refusal = stat_values_refusal(events)
    if refusal is not None:
        raise ApiError(413, "too_many_stat_values", refusal)
    try:
        # Group commit with the other POSTs and ingest frames of this game (stats.ingest).
        result = await events_record_grouped(game_id=key.game_id, events=events)
    except Game.DoesNotExist:  # deleted since its key was cached
        raise ApiError(404, "not_found", GAME_NOT_FOUND) from None
    except services.EventConflict as exc:
        raise ApiError(422, "id_conflict", str(exc), [{"field": "id", "message": i} for i in exc.ids]) from None
    except EventsRefused as exc:
        raise ApiError(exc.status, exc.code, exc.message, exc.details) from None
    metrics.events_ingested("http", result.accepted)
    return JsonResponse(
        {"accepted": result.accepted, "duplicates": result.duplicates, "last_seq": result.last_seq}, status=202
    )


@router.get(
    "/games/{slug:slug}/snapshot",
    response=answers({200: SnapshotBody}, 404, 429),
    summary="Leaderboard, recent events and chart series, with the seq they reflect",
    openapi_extra=READER,
)
def snapshot_get(request, slug: Slug):
    game = game_for_reader(request, slug)
    return JsonResponse(selectors.game_snapshot_shared(game_id=game.pk))


@router.get(
    "/games/{slug:slug}/events",
    url_name="events",
    response=answers({200: EventPage}, 404, 429),
    summary="Replay: the events after a seq, in order",
    openapi_extra=READER,
)
def events_get(
    request,
    slug: Slug,
    after_seq: digits(0, MAX_SEQ) = None,
    limit: digits(1, settings.WEBGAME_MAX_BATCH) = 500,
    match: Text = Query(None, description="only this match's events"),
):
    game = game_for_reader(request, slug)
    match = match_get(game, match)
    return JsonResponse(selectors.game_events_page(game_id=game.pk, after_seq=after_seq or 0, limit=limit, match=match))


def match_get(game: Game, match_id: str | None) -> Match | None:
    """The `match` query parameter: a match of this game, or None when not given."""
    if match_id is None:
        return None
    match = Match.objects.filter(game=game, match_id=match_id).first()
    if match is None:
        raise ApiError(404, "not_found", f"no match {match_id[:64]!r} in this game")
    return match


@router.get(
    "/games/{slug:slug}/history",
    response=answers({200: History}, 404, 429),
    summary="Events and points per bucket over a range, from the per-minute rollups",
    openapi_extra=READER,
)
def history_get(
    request,
    slug: Slug,
    range: Literal[selectors.HISTORY_RANGES] = selectors.HISTORY_RANGES[0],
    match: Text = Query(None, description="a match's id (range match)"),
):
    game = game_for_reader(request, slug)
    return JsonResponse(selectors.game_history(game_id=game.pk, range=range, match=match_get(game, match)))


@router.get(
    "/games", response=answers({200: Games}, 429), summary="Visible games with live totals", openapi_extra=READER
)
def games_get(request):
    _reader_key(request)
    return JsonResponse({"games": [game_wire(g) for g in selectors.game_list_visible(user=request.user)]})


def not_found(request, exception=None):
    return error_response(404, "not_found", "no such endpoint")


def _under_api(request) -> bool:
    return request.path_info.startswith("/api/")


# Django's error handlers (webgame.urls): the API's JSON shape under /api/, the usual pages elsewhere.
def handler_bad_request(request, exception):
    return suspicious_response(exception) if _under_api(request) else defaults.bad_request(request, exception)


def handler_forbidden(request, exception):
    if _under_api(request):
        return error_response(403, "forbidden", "not allowed")
    return defaults.permission_denied(request, exception)


def handler_not_found(request, exception):
    return not_found(request) if _under_api(request) else defaults.page_not_found(request, exception)


def handler_server_error(request):
    if _under_api(request):  # Django has logged the traceback already
        return error_response(500, "server_error", "the server failed on this request; it is logged")
    return defaults.server_error(request)

"""The JSON HTTP API for game servers and dashboards. Every error is a JSON body:
{"error": {"code": ..., "message": ..., "details"?: [...]}}."""

import json
import unicodedata
from functools import wraps

from django.conf import settings
from django.core.exceptions import DisallowedHost, RequestDataTooBig, TooManyFieldsSent
from django.http import JsonResponse
from django.views import defaults
from django.views.decorators.csrf import csrf_exempt
from pydantic import ValidationError

from stats import ratelimit, selectors, services
from stats.chat import selectors as chat_selectors
from stats.ingest import keyrate
from stats.ingest.committer import events_record_grouped
from stats.models import ApiKey, Game, Match
from stats.ops import metrics
from stats.schemas import MAX_SEQ, EventBatchIn, EventIn, errors_describe, stat_values_refusal
from stats.scoring.record import EventsRefused
from stats.wire import game_wire
from webgame import httpkit

# One answer for a game that does not exist and for one the caller may not use (private, or
# another game's key): telling them apart would let any key holder discover private games.
GAME_NOT_FOUND = "no such game, or you may not use it"


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, details: list | None = None, headers: dict | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details
        self.headers = headers or {}


# The one builder of the error body (webgame.httpkit), under the name the API's callers use.
error_response = httpkit.error_response


def api_view(*methods: str):
    """JSON in and out, CSRF-exempt (bearer keys, not cookies), errors as JSON."""

    def decorate(view):
        @csrf_exempt
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if request.method not in methods:
                response = error_response(405, "method_not_allowed", f"use {' or '.join(methods)}")
                response["Allow"] = ", ".join(methods)
                return response
            try:
                return view(request, *args, **kwargs)
            except ApiError as exc:
                return error_response(exc.status, exc.code, exc.message, exc.details, exc.headers)
            except (RequestDataTooBig, TooManyFieldsSent) as exc:  # from reading the query string
                return suspicious_response(exc)

        return wrapper

    return decorate


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


def game_for_reader(request, slug: str) -> Game:
    """A game the caller may read: visible to its session user, or its own bearer key's."""
    key = _reader_key(request)
    if key is not None and key.game.slug == slug:
        return key.game
    try:
        return selectors.game_get_visible(slug=slug, user=request.user)
    except selectors.GameNotVisible:
        raise ApiError(404, "not_found", GAME_NOT_FOUND) from None


def _reject_constant(name: str):
    raise ValueError(f"{name} is not allowed in JSON")


def json_object(request) -> dict:
    """The body as a JSON object, or a clear 4xx."""
    try:
        body = request.body
    except RequestDataTooBig:
        raise ApiError(413, "too_large", f"body over {settings.MAX_BODY_BYTES} bytes") from None
    try:
        data = json.loads(body, parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, "bad_json", f"body is not valid JSON: {exc}") from None
    except RecursionError:  # nesting deeper than the parser's stack: refuse, never crash
        raise ApiError(400, "bad_json", "body is nested too deeply") from None
    if not isinstance(data, dict):
        raise ApiError(400, "bad_shape", "body must be a JSON object")
    return data


def _parse_events(request) -> list[EventIn]:
    data = json_object(request)
    if "events" in data and isinstance(data["events"], list) and len(data["events"]) > settings.WEBGAME_MAX_BATCH:
        raise ApiError(413, "batch_too_large", f"at most {settings.WEBGAME_MAX_BATCH} events per batch")
    try:
        events = EventBatchIn.model_validate(data).events if "events" in data else [EventIn.model_validate(data)]
    except ValidationError as exc:
        raise ApiError(422, "invalid", "some fields are invalid", errors_describe(exc)) from None
    refusal = stat_values_refusal(events)
    if refusal is not None:
        raise ApiError(413, "too_many_stat_values", refusal)
    return events


def writer_key(request, slug: str) -> ApiKey:
    """The game server's key for this game, within its rate limit, or a clear 4xx."""
    key = _bearer_key(request)
    if key is None:
        raise ApiError(401, "unauthorized", "send 'Authorization: Bearer <api key>'")
    if key.game.slug != slug:  # whether that game exists is none of this key's business
        raise ApiError(404, "not_found", GAME_NOT_FOUND)
    retry_after = keyrate.http_take(key.prefix)  # counted here, told to Redis in batches
    if retry_after is not None:
        message = f"too many requests for this key; retry in {retry_after}s"
        raise ApiError(429, "rate_limited", message, headers={"Retry-After": str(retry_after)})
    return key


@api_view("POST")
@metrics.counts_own_ingest
def events_post(request, slug: str):
    key = writer_key(request, slug)
    events = _parse_events(request)
    try:
        # Group commit with the other POSTs and ingest frames of this game (stats.ingest).
        result = events_record_grouped(game_id=key.game_id, events=events)
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


@api_view("GET")
def snapshot_get(request, slug: str):
    game = game_for_reader(request, slug)
    return JsonResponse(selectors.game_snapshot_shared(game_id=game.pk))


def int_param(request, name: str, default: int, low: int, high: int) -> int:
    raw = request.GET.get(name)
    if raw is None:
        return default
    # ASCII digits only: int() also takes "+5", " 5 ", "5_0" and other scripts' digits.
    if not (raw.isascii() and raw.isdigit()):
        raise ApiError(400, "bad_param", f"{name} must be an integer written in digits 0-9")
    # The length check first, leading zeros counted: int() refuses more than 4,300 digits
    # (a ValueError, a 500), zeros included, and a megabyte of digits costs CPU.
    if len(raw) > len(str(high)) or not low <= int(raw) <= high:
        raise ApiError(400, "bad_param", f"{name} must be between {low} and {high}")
    return int(raw)


PARAM_TEXT_MAX = 64
# str_param's rules, for the OpenAPI document (stats.openapi, stats.scoring.openapi).
TEXT_PARAM_SCHEMA = {
    "type": "string",
    "minLength": 1,
    "maxLength": PARAM_TEXT_MAX,
    "pattern": "^[^\\u0000-\\u001f\\u007f-\\u009f]+$",
}


def str_param(request, name: str, default: str | None = None, max_chars: int = PARAM_TEXT_MAX) -> str | None:
    """A text query parameter: 1 to `max_chars` characters, none of them a control character.
    PostgreSQL refuses NUL in any string (a 500 from deep in a query), and nothing a parameter
    names (a stat, match or player) can be empty, longer, or hold one."""
    raw = request.GET.get(name)
    if raw is None:
        return default
    if not 1 <= len(raw) <= max_chars or any(unicodedata.category(ch) == "Cc" for ch in raw):
        message = f"{name} must be 1 to {max_chars} characters, none of them a control character"
        raise ApiError(400, "bad_param", message)
    return raw


@api_view("GET")
def events_get(request, slug: str):
    game = game_for_reader(request, slug)
    after_seq = int_param(request, "after_seq", 0, 0, MAX_SEQ)
    limit = int_param(request, "limit", 500, 1, settings.WEBGAME_MAX_BATCH)
    match = match_param(request, game)
    return JsonResponse(selectors.game_events_page(game_id=game.pk, after_seq=after_seq, limit=limit, match=match))


def match_param(request, game: Game) -> Match | None:
    """The `match` query parameter: a match of this game, or None when not given."""
    match_id = str_param(request, "match")
    if match_id is None:
        return None
    match = Match.objects.filter(game=game, match_id=match_id).first()
    if match is None:
        raise ApiError(404, "not_found", f"no match {match_id[:64]!r} in this game")
    return match


@api_view("GET")
def history_get(request, slug: str):
    game = game_for_reader(request, slug)
    range_ = request.GET.get("range", "5m")
    if range_ not in selectors.HISTORY_RANGES:
        raise ApiError(400, "bad_param", f"range must be one of {', '.join(selectors.HISTORY_RANGES)}")
    return JsonResponse(selectors.game_history(game_id=game.pk, range=range_, match=match_param(request, game)))


@api_view("GET")
def chat_get(request, slug: str):
    game = game_for_reader(request, slug)
    before = int_param(request, "before", 0, 1, chat_selectors.CHAT_ID_MAX) if "before" in request.GET else None
    limit = int_param(request, "limit", chat_selectors.CHAT_RECENT_DEFAULT, 1, chat_selectors.CHAT_PAGE_MAX)
    return JsonResponse(chat_selectors.chat_page(game_id=game.pk, before=before, limit=limit))


@api_view("GET")
def games_get(request):
    _reader_key(request)
    return JsonResponse({"games": [game_wire(g) for g in selectors.game_list_visible(user=request.user)]})


def not_found(request, exception=None):
    return error_response(404, "not_found", "no such endpoint")


def suspicious_response(exc: Exception) -> JsonResponse:
    """What Django raises for a request it refuses to read, as the API's JSON error."""
    if isinstance(exc, RequestDataTooBig):
        return error_response(413, "too_large", f"body over {settings.MAX_BODY_BYTES} bytes")
    if isinstance(exc, TooManyFieldsSent):
        return error_response(400, "too_many_fields", f"over {settings.DATA_UPLOAD_MAX_NUMBER_FIELDS} parameters")
    if isinstance(exc, DisallowedHost):
        return error_response(400, "bad_host", "this server does not answer for that Host")
    return error_response(400, "bad_request", "the request was refused")


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


@csrf_exempt
def events_post_or_get(request, slug: str):
    """/api/games/<slug>/events: POST stores, GET replays."""
    if request.method == "GET":
        return events_get(request, slug)
    if request.method == "POST":
        return events_post(request, slug)
    response = error_response(405, "method_not_allowed", "use GET or POST")
    response["Allow"] = "GET, POST"
    return response

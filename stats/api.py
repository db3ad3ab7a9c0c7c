"""The JSON HTTP API for game servers and dashboards. Every error is a JSON body:
{"error": {"code": ..., "message": ..., "details"?: [...]}}."""

import json
from functools import wraps

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from pydantic import ValidationError

from stats import ratelimit, selectors, services
from stats.models import ApiKey, Game
from stats.schemas import EventBatchIn, EventIn, errors_describe
from stats.wire import game_wire


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, details: list | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details


def error_response(status: int, code: str, message: str, details: list | None = None) -> JsonResponse:
    body = {"error": {"code": code, "message": message}}
    if details:
        body["error"]["details"] = details
    return JsonResponse(body, status=status)


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
                return error_response(exc.status, exc.code, exc.message, exc.details)

        return wrapper

    return decorate


def _bearer_key(request) -> ApiKey | None:
    header = request.headers.get("Authorization", "")
    scheme, _, raw = header.partition(" ")
    if scheme.lower() != "bearer" or not raw.strip():
        return None
    return selectors.api_key_get(raw=raw.strip())


def _game_for_reader(request, slug: str) -> Game:
    """A game the caller may read: visible to its session user, or its own bearer key's."""
    key = _bearer_key(request)
    if key is not None and key.game.slug == slug:
        return key.game
    try:
        return selectors.game_get_visible(slug=slug, user=request.user)
    except selectors.GameNotVisible:
        raise ApiError(404, "not_found", f"no game {slug!r} that you may see") from None


def _reject_constant(name: str):
    raise ValueError(f"{name} is not allowed in JSON")


def _parse_events(request) -> list[EventIn]:
    try:
        body = request.body
    except RequestDataTooBig:
        raise ApiError(413, "too_large", f"body over {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes") from None
    try:
        data = json.loads(body, parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, "bad_json", f"body is not valid JSON: {exc}") from None
    except RecursionError:  # nesting deeper than the parser's stack: refuse, never crash
        raise ApiError(400, "bad_json", "body is nested too deeply") from None
    if not isinstance(data, dict):
        raise ApiError(400, "bad_shape", 'body must be an event object or {"events": [...]}')
    if "events" in data and isinstance(data["events"], list) and len(data["events"]) > settings.WEBGAME_MAX_BATCH:
        raise ApiError(413, "batch_too_large", f"at most {settings.WEBGAME_MAX_BATCH} events per batch")
    try:
        if "events" in data:
            return EventBatchIn.model_validate(data).events
        return [EventIn.model_validate(data)]
    except ValidationError as exc:
        raise ApiError(422, "invalid", "some fields are invalid", errors_describe(exc)) from None


@api_view("POST")
def events_post(request, slug: str):
    key = _bearer_key(request)
    if key is None:
        raise ApiError(401, "unauthorized", "send 'Authorization: Bearer <api key>'")
    if key.game.slug != slug:  # the key's own game needs no second lookup
        if not Game.objects.filter(slug=slug).exists():
            raise ApiError(404, "not_found", f"no game {slug!r}")
        raise ApiError(403, "forbidden", "this key belongs to another game")
    retry_after = ratelimit.api_key_retry_after(key_prefix=key.prefix)
    if retry_after is not None:
        response = error_response(429, "rate_limited", f"too many requests for this key; retry in {retry_after}s")
        response["Retry-After"] = str(retry_after)
        return response
    events = _parse_events(request)
    try:
        result = services.score_events_record(game_id=key.game_id, events=events)
    except Game.DoesNotExist:  # deleted since its key was cached
        raise ApiError(404, "not_found", f"no game {slug!r}") from None
    except services.EventConflict as exc:
        raise ApiError(422, "id_conflict", str(exc), [{"field": "id", "message": i} for i in exc.ids]) from None
    return JsonResponse(
        {"accepted": result.accepted, "duplicates": result.duplicates, "last_seq": result.last_seq}, status=202
    )


@api_view("GET")
def snapshot_get(request, slug: str):
    game = _game_for_reader(request, slug)
    return JsonResponse(selectors.game_snapshot(game_id=game.pk))


def _int_param(request, name: str, default: int, low: int, high: int) -> int:
    raw = request.GET.get(name, str(default))
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, "bad_param", f"{name} must be an integer") from None
    if not low <= value <= high:
        raise ApiError(400, "bad_param", f"{name} must be between {low} and {high}")
    return value


@api_view("GET")
def events_get(request, slug: str):
    game = _game_for_reader(request, slug)
    after_seq = _int_param(request, "after_seq", 0, 0, 2**62)
    limit = _int_param(request, "limit", 500, 1, settings.WEBGAME_MAX_BATCH)
    return JsonResponse(selectors.game_events_page(game_id=game.pk, after_seq=after_seq, limit=limit))


@api_view("GET")
def history_get(request, slug: str):
    game = _game_for_reader(request, slug)
    range_ = request.GET.get("range", "5m")
    if range_ not in selectors.HISTORY_RANGES:
        raise ApiError(400, "bad_param", f"range must be one of {', '.join(selectors.HISTORY_RANGES)}")
    return JsonResponse(selectors.game_history(game_id=game.pk, range=range_))


@api_view("GET")
def games_get(request):
    return JsonResponse({"games": [game_wire(g) for g in selectors.game_list_visible(user=request.user)]})


def not_found(request, exception=None):
    return error_response(404, "not_found", "no such endpoint")


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

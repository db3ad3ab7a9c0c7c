"""What every router of the HTTP API (django-ninja) shares: its errors in the API's shape,
`{"error": {"code", "message", "details"?}}` (webgame.httpkit builds them), the JSON body
parser, the game servers' key auth, the query parameter types, and the answers every
operation documents.

django-ninja answers its own way ({"detail": ...}, 422 for any bad input, a text 405): the
handlers registered by `errors_install` answer as the API always has, so clients and the
contract tests see no change: a bad query parameter is 400 `bad_param`, a body that is not a
JSON object 400 `bad_json`/`bad_shape`, invalid fields 422 `invalid` with `details`.
"""

import json
from typing import Annotated

from django.conf import settings
from django.core.exceptions import DisallowedHost, RequestDataTooBig, TooManyFieldsSent
from django.http import Http404
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.parser import Parser
from ninja.security.http import HttpAuthBase
from pydantic import BaseModel, BeforeValidator, Field
from pydantic_core import PydanticCustomError

from stats import selectors
from stats.models import SLUG_VALIDATOR
from stats.schemas import error_list_describe
from webgame import httpkit

# One answer for a game that does not exist and for one the caller may not use (private, or
# another game's key): telling them apart would let any key holder discover private games.
GAME_NOT_FOUND = "no such game, or you may not use it"
PARAM_TEXT_MAX = 64
# The union tags of a body that is one of several models (the event POST): not a field name.
BODY_TAGS = ("event", "batch")
error_response = httpkit.error_response


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, details: list | None = None, headers: dict | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details
        self.headers = headers or {}


class ErrorDetail(BaseModel):
    field: str
    message: str


class ErrorFields(BaseModel):
    code: str
    message: str
    details: list[ErrorDetail] = Field(default=None, description="only where fields are at fault")


class Error(BaseModel):
    """Every error answer's body."""

    error: ErrorFields


def answers(ok: dict, *codes: int) -> dict:
    """An operation's `response=`: its successes' models, and the error statuses its own code
    can answer. Those every operation shares are added by webgame.api (one place)."""
    return {**ok, **{code: Error for code in codes}}


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


class JsonObjectParser(Parser):
    """ninja's parser, with the API's rules: NaN and Infinity refused, an object or nothing."""

    def parse_body(self, request) -> dict:
        return json_object(request)


class ApiKeyAuth(HttpAuthBase):
    """`Authorization: Bearer <key of this game>`: the key, or a 401. Whether it is this
    game's key, and its rate, are the view's to check (stats.api.writer_key): they take the path."""

    openapi_scheme = "bearer"

    def __call__(self, request):
        # META, not request.headers: that builds a dict of every header first (~10 us a POST).
        raw = httpkit.bearer_token(request.META.get("HTTP_AUTHORIZATION"))
        return None if raw is None else selectors.api_key_get(raw=raw)


class AsyncApiKeyAuth(ApiKeyAuth):
    """ApiKeyAuth for an async endpoint: a cached key costs no thread hop."""

    async def __call__(self, request):
        raw = httpkit.bearer_token(request.META.get("HTTP_AUTHORIZATION"))
        return None if raw is None else await selectors.api_key_aget(raw=raw)


def _ascii_digits(raw):
    """An integer parameter as ASCII digits only (int() also takes "+5", " 5 ", "5_0" and other
    scripts' digits), at most 20 of them: int() refuses more than 4,300 (a 500) and a megabyte
    of digits costs CPU. Leading zeros count: 0002 is 2."""
    if isinstance(raw, str):
        if not (raw.isascii() and raw.isdigit()):
            raise PydanticCustomError("bad_param", "must be an integer written in digits 0-9")
        if len(raw) > 20:
            raise PydanticCustomError("bad_param", "is out of range")
        return int(raw)
    return raw


# A text parameter: 1 to 64 characters, none of them a control character (the pattern is
# Unicode's Cc). PostgreSQL refuses NUL in any string (a 500 from deep in a query), and nothing
# a parameter names (a stat, match or player) can be empty, longer, or hold one.
Text = Annotated[
    str,
    Field(min_length=1, max_length=PARAM_TEXT_MAX, pattern="^[^\\u0000-\\u001f\\u007f-\\u009f]+$"),
]


# A game's slug in a path: one that no game can have is the 404 of a missing game.
Slug = Annotated[str, Field(max_length=50, pattern=SLUG_VALIDATOR.regex.pattern)]


def digits(low: int, high: int, *, description: str | None = None):
    """A query integer from `low` to `high`, written in ASCII digits."""
    return Annotated[int, Field(ge=low, le=high, description=description), BeforeValidator(_ascii_digits)]


def _details(errors: list[dict]) -> list[dict]:
    """The fields at fault as the API names them: without ninja's ("body", <parameter>) and the
    body's union tag in front."""
    located = []
    for err in errors:
        loc = list(err["loc"][2:])
        located.append({**err, "loc": loc[1:] if loc and loc[0] in BODY_TAGS else loc})
    return error_list_describe(located)


def validation_error(errors: list[dict]):
    """ninja's ValidationError as the API has always answered it."""
    where = {err["loc"][0] for err in errors}
    if "path" in where:  # a slug or match id no game or match can have
        return error_response(404, "not_found", GAME_NOT_FOUND)
    if "query" in where:
        err = next(err for err in errors if err["loc"][0] == "query")
        return error_response(400, "bad_param", f"{err['loc'][1]} {err['msg'].lower()}")
    if any(err["type"] == "too_long" and err["loc"][-1] == "events" for err in errors):
        return error_response(413, "batch_too_large", f"at most {settings.WEBGAME_MAX_BATCH} events per batch")
    if any(err["type"] == "missing" and len(err["loc"]) <= 2 for err in errors):  # no body at all
        return error_response(400, "bad_json", "body is not valid JSON: it is empty")
    return error_response(422, "invalid", "some fields are invalid", _details(errors))


def suspicious_response(exc: Exception):
    """What Django raises for a request it refuses to read, as the API's JSON error."""
    if isinstance(exc, RequestDataTooBig):
        return error_response(413, "too_large", f"body over {settings.MAX_BODY_BYTES} bytes")
    if isinstance(exc, TooManyFieldsSent):
        return error_response(400, "too_many_fields", f"over {settings.DATA_UPLOAD_MAX_NUMBER_FIELDS} parameters")
    if isinstance(exc, DisallowedHost):
        return error_response(400, "bad_host", "this server does not answer for that Host")
    return error_response(400, "bad_request", "the request was refused")


def _http_error(request, exc: HttpError):
    if isinstance(exc.__cause__, ApiError):  # from JsonObjectParser, wrapped by ninja
        return _api_error(request, exc.__cause__)
    if isinstance(exc, AuthenticationError):
        return error_response(401, "unauthorized", "send 'Authorization: Bearer <api key>'")
    return error_response(exc.status_code, "bad_request", str(exc))


def _api_error(request, exc: ApiError):
    return error_response(exc.status, exc.code, exc.message, exc.details, exc.headers)


def errors_install(api) -> None:
    """Replace ninja's error answers with the API's."""
    api.add_exception_handler(ApiError, _api_error)
    api.add_exception_handler(HttpError, _http_error)
    api.add_exception_handler(NinjaValidationError, lambda request, exc: validation_error(exc.errors))
    api.add_exception_handler(Http404, lambda request, exc: error_response(404, "not_found", "no such endpoint"))
    for exc_class in (RequestDataTooBig, TooManyFieldsSent):  # from reading the query string or body
        api.add_exception_handler(exc_class, lambda request, exc: suspicious_response(exc))

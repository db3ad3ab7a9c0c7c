"""The HTTP API: one django-ninja NinjaAPI under /api/, a router per slice (games and events:
stats.api; game stats: stats.scoring.api; chat: stats.chat.api). Its OpenAPI 3.1 document is
the one ninja generates from the routes and their pydantic models, at /api/openapi.json, and
/api/docs shows it (Swagger UI from ninja's own static files: templates/ninja/swagger.html).

Answers every operation shares are added to the document here, in one place, from the code
that gives them: 400 (a Host this server does not answer for, or too many parameters: the
error handlers of webgame.urls), 405 (JsonNotAllowed below), 503 `busy` for the heavy reads
(stats.admission), 413 and 408 for request bodies (webgame.edge)."""

import functools
import re

from ninja import NinjaAPI
from ninja.openapi.docs import Swagger
from ninja.operation import PathView

from stats import api as games_api
from stats.admission import heavy_read_path
from stats.apikit import JsonObjectParser, error_response, errors_install
from stats.chat import api as chat_api
from stats.scoring import api as scoring_api

ERROR_REF = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
ERROR_ANSWERS = {
    400: "a Host this server does not answer for (`bad_host`), a bad query parameter (`bad_param`), "
    "too many parameters (`too_many_fields`); a body that is not JSON or not an object (`bad_json`, `bad_shape`)",
    401: "no key, or an unknown or revoked one (`unauthorized`)",
    404: "no such game, or one you may not use: the same answer, so private games cannot be found by "
    "probing (`not_found`); also an unknown match named in the path or the query",
    405: "another method; `Allow` lists this path's (`method_not_allowed`)",
    408: "the body stopped coming for HTTP_BODY_TIMEOUT; the connection is closed (`body_timeout`)",
    409: "an event names a match that has ended (`match_ended`); a stat or match exists otherwise (`conflict`); "
    "the game has declared GAME_MAX_STATS stats (`too_many_stats`); the game holds so many events (4.6 billion) "
    "that a total could pass 2^63 (`totals_overflow`)",
    413: "a body over MAX_BODY_BYTES, refused before it is read (`too_large`), a batch over the most events "
    "(`batch_too_large`), or over BATCH_MAX_STAT_VALUES stat values in all (`too_many_stat_values`)",
    422: "invalid fields, each named in `details` (the first 50, then a `(more)` entry that counts the rest) "
    "(`invalid`), also an integer written with a fraction or an exponent (1.0, 1e3); an event id reused with "
    "other content (`id_conflict`); a stat the game does not declare (`unknown_stat`); an unknown match "
    "(`unknown_match`)",
    429: "too many requests for this key, or from this address without a key or a login; retry after "
    "`Retry-After` seconds (`rate_limited`)",
    503: "the server is busy with other reads; retry after `Retry-After` seconds (`busy`)",
}
RETRY_AFTER = {"required": True, "schema": {"type": "integer", "minimum": 1}, "description": "seconds"}
ERROR_HEADERS = {
    "405": {"Allow": {"required": True, "schema": {"type": "string"}, "description": "this path's methods"}},
    "429": {"Retry-After": RETRY_AFTER},
    "503": {"Retry-After": RETRY_AFTER},
}


def _not_allowed(self: PathView):
    """ninja's 405 (text, the methods in any order), as the API's JSON with a stable Allow."""
    methods = sorted({method for op in self.operations for method in op.methods})
    return error_response(
        405, "method_not_allowed", f"use {' or '.join(methods)}", headers={"Allow": ", ".join(methods)}
    )


PathView._not_allowed = _not_allowed  # ninja has no hook for it; checked by test_api's 405 tests


class WebgameAPI(NinjaAPI):
    @functools.cache  # noqa: B019 - one document per process: the routes never change
    def _document(self) -> dict:
        return _shared_answers(super().get_openapi_schema())

    def get_openapi_schema(self, *, path_prefix=None, path_params=None) -> dict:
        return self._document()


def _parameter_plain(parameter: dict) -> None:
    """A parameter's schema without pydantic's title (its name again, in title case), and an
    optional one's without `null`: a query string cannot carry one (absent is the null)."""
    schema = parameter["schema"]
    schema.pop("title", None)
    options = schema.get("anyOf", [])
    if len(options) == 2 and {"type": "null"} in options:
        parameter["schema"] = next(option for option in options if option != {"type": "null"})


def _shared_answers(document) -> dict:
    for path, item in document["paths"].items():
        concrete = re.sub(r"\{[^}]+\}", "x", path)
        for method, operation in item.items():
            for parameter in operation.get("parameters", ()):
                _parameter_plain(parameter)
            codes = [400, 405]
            if method == "get" and heavy_read_path(concrete):
                codes.append(503)
            if method == "post":
                codes += [408, 413]
            responses = {str(code): answer for code, answer in operation["responses"].items()}
            for code in codes:
                responses.setdefault(str(code), {"content": ERROR_REF})
            for code, answer in responses.items():
                if int(code) in ERROR_ANSWERS:  # what the code means in this API, not its HTTP name
                    answer["description"] = ERROR_ANSWERS[int(code)]
            for code, headers in ERROR_HEADERS.items():
                if code in responses:
                    responses[code]["headers"] = headers
            operation["responses"] = dict(sorted(responses.items()))
    return document


api = WebgameAPI(
    title="webgame API",
    version="1.0.0",
    urls_namespace="api",
    parser=JsonObjectParser(),
    docs=Swagger(settings={"deepLinking": True, "validatorUrl": None}),
    docs_url="/docs",
    openapi_url="/openapi.json",
)
errors_install(api)
api.add_router("", games_api.router)
api.add_router("", chat_api.router)
api.add_router("", scoring_api.router)

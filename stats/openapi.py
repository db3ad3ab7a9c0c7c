"""The OpenAPI 3.1 description of the HTTP API, built from the same pydantic models that
validate requests (and the frame models that shape answers), so the document cannot drift
from the code. stats/tests/test_openapi_drift.py checks it against the routes and the status
codes the code can answer; stats/tests/test_openapi_schemathesis.py against a running server.

Answers every operation shares are added in one place (_common_answers), from the code that
gives them: 400 (a Host this server does not answer for, or too many parameters: the error
handlers of webgame.urls), 405 (stats.api.api_view), 503 `busy` for the reads that
webgame.handler.HEAVY_READ bounds, 413 and 408 for request bodies (webgame.edge)."""

import copy
import re

from django.conf import settings
from pydantic.json_schema import models_json_schema

from stats.api import TEXT_PARAM_SCHEMA
from stats.chat.selectors import CHAT_ID_MAX, CHAT_PAGE_MAX, CHAT_RECENT_DEFAULT
from stats.live.frames import EventWire, GameWire, Snapshot
from stats.models import SLUG_VALIDATOR
from stats.schemas import MAX_SEQ, EventBatchIn, EventIn
from stats.scoring import openapi as scoring_openapi
from stats.selectors import HISTORY_RANGES
from webgame.handler import HEAVY_READ

REF = "#/components/schemas/{model}"

ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "details": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["field", "message"],
                        "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
                    },
                },
            },
        }
    },
}
# What each error status means in this API, and its `error.code`s (the README's tables).
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
    405: {"Allow": {"required": True, "schema": {"type": "string"}, "description": "this path's methods"}},
    429: {"Retry-After": RETRY_AFTER},
    503: {"Retry-After": RETRY_AFTER},
}
BODY_METHODS = ("post", "put", "patch")


CHAT_MESSAGE = {
    "type": "object",
    "required": ["id", "user", "text", "at_ms"],
    "properties": {
        "id": {"type": "integer"},
        "user": {"type": "string", "description": "the sender's username"},
        "text": {"type": "string"},
        "at_ms": {"type": "integer", "description": "when it was sent, in ms since the epoch"},
    },
}
CHAT_PAGE = {
    "type": "object",
    "required": ["messages", "before", "more"],
    "properties": {
        "messages": {"type": "array", "items": {"$ref": "#/components/schemas/ChatMessage"}},
        "before": {"type": ["integer", "null"], "description": "pass as `before` for the older page; null if none"},
        "more": {"type": "boolean"},
    },
}
EVENT_PAGE = {
    "type": "object",
    "required": ["events", "next_after_seq", "more"],
    "properties": {
        "events": {"type": "array", "items": {"$ref": "#/components/schemas/EventWire"}},
        "next_after_seq": {"type": "integer", "minimum": 0, "description": "pass as `after_seq` for the next page"},
        "more": {"type": "boolean"},
    },
}
HISTORY = {
    "type": "object",
    "required": ["range", "from_ms", "to_ms", "bucket_ms", "buckets", "rolled_up_seq", "last_seq"],
    "properties": {
        "range": {"enum": list(HISTORY_RANGES)},
        "from_ms": {"type": "integer"},
        "to_ms": {"type": "integer"},
        "bucket_ms": {"type": "integer", "minimum": 60000},
        "buckets": {
            "type": "array",
            "description": "[start_ms, events, points] per bucket",
            "items": {"type": "array", "items": {"type": "integer"}, "minItems": 3, "maxItems": 3},
        },
        "rolled_up_seq": {"type": "integer", "minimum": 0},
        "last_seq": {"type": "integer", "minimum": 0},
    },
}
GAMES = {
    "type": "object",
    "required": ["games"],
    "properties": {"games": {"type": "array", "items": {"$ref": "#/components/schemas/GameWire"}}},
}
# The socket's snapshot frame but for what only a socket has (its viewers and the chat).
SOCKET_ONLY = ("viewers", "chat")


def _errors(*codes: int) -> dict:
    answers = {}
    for code in codes:
        answer = {
            "description": ERROR_ANSWERS[code],
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
        if code in ERROR_HEADERS:
            answer["headers"] = ERROR_HEADERS[code]
        answers[str(code)] = answer
    return answers


def _json(description: str, schema: dict) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _snapshot_body(defs: dict) -> dict:
    body = copy.deepcopy(defs["Snapshot"])
    for name in SOCKET_ONLY:
        body["properties"].pop(name)
        if name in body.get("required", ()):
            body["required"].remove(name)
    body["title"] = "SnapshotBody"
    return body


def _common_answers(paths: dict) -> dict:
    """Add the answers any operation can get from outside its view (see the module's docstring)."""
    for path, item in paths.items():
        concrete = re.sub(r"\{[^}]+\}", "x", path)
        for method, operation in item.items():
            codes = [400, 405]
            if method == "get" and HEAVY_READ.search(concrete):
                codes.append(503)
            if method in BODY_METHODS:
                codes += [408, 413]
            operation["responses"] = {**operation["responses"], **_errors(*codes)}
            operation["responses"] = dict(sorted(operation["responses"].items()))
    return paths


def openapi_document() -> dict:
    _, defs = models_json_schema(
        [
            (EventIn, "validation"),
            (EventBatchIn, "validation"),
            (GameWire, "serialization"),
            (EventWire, "serialization"),
            (Snapshot, "serialization"),
        ],
        ref_template=REF,
    )
    defs = defs["$defs"]
    schemas = {
        **defs,
        "SnapshotBody": _snapshot_body(defs),
        "Error": ERROR,
        "ChatMessage": CHAT_MESSAGE,
        **scoring_openapi.schemas(),
    }
    schemas.pop("Snapshot")
    schemas.pop("ChatWire")  # the snapshot's chat is the socket's (SOCKET_ONLY); the API's is ChatMessage
    slug = {
        "name": "slug",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "maxLength": 50, "pattern": SLUG_VALIDATOR.regex.pattern},
    }
    # Reads are open to anyone for a public game; a private one takes its key (or a login).
    reader = [{}, {"apiKey": []}]
    paths = {
        "/api/openapi.json": {
            "get": {"summary": "This document", "responses": {"200": _json("the document", {"type": "object"})}}
        },
        "/api/games": {
            "get": {
                "summary": "Visible games with live totals",
                "security": reader,
                "responses": {"200": _json("games", GAMES), **_errors(429)},
            }
        },
        "/api/games/{slug}/events": {
            "post": {
                "summary": f"Post one event or a batch of up to {settings.WEBGAME_MAX_BATCH:,} (idempotent by id)",
                "security": [{"apiKey": []}],
                "parameters": [slug],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "oneOf": [
                                    {"$ref": "#/components/schemas/EventIn"},
                                    {"$ref": "#/components/schemas/EventBatchIn"},
                                ]
                            }
                        }
                    },
                },
                "responses": {
                    "202": _json(
                        "stored",
                        {
                            "type": "object",
                            "required": ["accepted", "duplicates", "last_seq"],
                            "properties": {
                                "accepted": {"type": "integer", "minimum": 0},
                                "duplicates": {"type": "integer", "minimum": 0},
                                "last_seq": {"type": "integer", "minimum": 0},
                            },
                        },
                    ),
                    # Another game's key gets the 404 of a missing game (no 403): it must not
                    # tell which private games exist.
                    **_errors(401, 404, 409, 422, 429),
                },
            },
            "get": {
                "summary": "Replay: the events after a seq, in order",
                "security": reader,
                "parameters": [
                    slug,
                    {
                        "name": "after_seq",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 0, "maximum": MAX_SEQ},
                    },
                    {
                        "name": "limit",
                        "in": "query",
                        "schema": {
                            "type": "integer",
                            "minimum": 1,
                            "maximum": settings.WEBGAME_MAX_BATCH,
                            "default": 500,
                        },
                    },
                    {
                        "name": "match",
                        "in": "query",
                        "description": "only this match's events",
                        "schema": TEXT_PARAM_SCHEMA,
                    },
                ],
                "responses": {"200": _json("events", EVENT_PAGE), **_errors(404, 429)},
            },
        },
        "/api/games/{slug}/chat": {
            "get": {
                "summary": "A page of the game's chat, oldest first; page back with `before`",
                "security": reader,
                "parameters": [
                    slug,
                    {
                        "name": "before",
                        "in": "query",
                        "description": "only messages with a smaller id (the `before` of the previous page)",
                        "schema": {"type": "integer", "minimum": 1, "maximum": CHAT_ID_MAX},
                    },
                    {
                        "name": "limit",
                        "in": "query",
                        "schema": {
                            "type": "integer",
                            "minimum": 1,
                            "maximum": CHAT_PAGE_MAX,
                            "default": CHAT_RECENT_DEFAULT,
                        },
                    },
                ],
                "responses": {"200": _json("chat messages", CHAT_PAGE), **_errors(404, 429)},
            }
        },
        "/api/games/{slug}/history": {
            "get": {
                "summary": "Events and points per bucket over a range, from the per-minute rollups",
                "security": reader,
                "parameters": [
                    slug,
                    {
                        "name": "range",
                        "in": "query",
                        "schema": {"enum": list(HISTORY_RANGES), "default": HISTORY_RANGES[0]},
                    },
                    {
                        "name": "match",
                        "in": "query",
                        "description": "a match's id (range match)",
                        "schema": TEXT_PARAM_SCHEMA,
                    },
                ],
                "responses": {"200": _json("history", HISTORY), **_errors(404, 429)},
            }
        },
        **scoring_openapi.paths(slug=slug, json=_json, errors=_errors, reader=reader),
        "/api/games/{slug}/snapshot": {
            "get": {
                "summary": "Leaderboard, recent events and chart series, with the seq they reflect",
                "security": reader,
                "parameters": [slug],
                "responses": {
                    "200": _json("snapshot", {"$ref": REF.format(model="SnapshotBody")}),
                    **_errors(404, 429),
                },
            }
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "webgame API", "version": "1.0.0"},
        "components": {
            "schemas": schemas,
            "securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer"}},
        },
        "paths": _common_answers(paths),
    }

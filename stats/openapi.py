"""The OpenAPI 3.1 description of the HTTP API, built from the same pydantic models that
validate requests, so the document cannot drift from the code."""

from pydantic.json_schema import models_json_schema

from stats.chat.selectors import CHAT_ID_MAX, CHAT_PAGE_MAX, CHAT_RECENT_DEFAULT
from stats.models import SLUG_VALIDATOR
from stats.schemas import MAX_SEQ, EventBatchIn, EventIn
from stats.scoring import openapi as scoring_openapi

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
                "details": {"type": "array", "items": {"type": "object"}},
            },
        }
    },
}


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


def _errors(*codes: int) -> dict:
    return {
        str(c): {
            "description": "error",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
        for c in codes
    }


def _json(description: str, schema: dict) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def openapi_document() -> dict:
    _, defs = models_json_schema(
        [(EventIn, "validation"), (EventBatchIn, "validation")], ref_template="#/components/schemas/{model}"
    )
    schemas = {**defs["$defs"], "Error": ERROR, "ChatMessage": CHAT_MESSAGE, **scoring_openapi.schemas()}
    slug = {
        "name": "slug",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "maxLength": 50, "pattern": SLUG_VALIDATOR.regex.pattern},
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "webgame API", "version": "1.0.0"},
        "components": {
            "schemas": schemas,
            "securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer"}},
        },
        "paths": {
            "/api/games": {
                "get": {
                    "summary": "Visible games with live totals",
                    "responses": {"200": _json("games", {"type": "object"})},
                }
            },
            "/api/games/{slug}/events": {
                "post": {
                    "summary": "Post one event or a batch of up to 1,000 (idempotent by id)",
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
                                    "accepted": {"type": "integer"},
                                    "duplicates": {"type": "integer"},
                                    "last_seq": {"type": "integer"},
                                },
                            },
                        ),
                        # Another game's key gets the 404 of a missing game (no 403): it must not
                        # tell which private games exist.
                        **_errors(400, 401, 404, 413, 422, 429),
                    },
                },
                "get": {
                    "summary": "Replay: the events after a seq, in order",
                    "parameters": [
                        slug,
                        {
                            "name": "after_seq",
                            "in": "query",
                            "schema": {"type": "integer", "minimum": 0, "maximum": MAX_SEQ},
                        },
                        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000}},
                        {
                            "name": "match",
                            "in": "query",
                            "description": "only this match's events",
                            "schema": {"type": "string"},
                        },
                    ],
                    "responses": {"200": _json("events", {"type": "object"}), **_errors(400, 404)},
                },
            },
            "/api/games/{slug}/chat": {
                "get": {
                    "summary": "A page of the game's chat, oldest first; page back with `before`",
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
                    "responses": {"200": _json("chat messages", CHAT_PAGE), **_errors(400, 404, 429)},
                }
            },
            "/api/games/{slug}/history": {
                "get": {
                    "summary": "Events and points per bucket over a range, from the per-minute rollups",
                    "parameters": [
                        slug,
                        {"name": "range", "in": "query", "schema": {"enum": ["5m", "match", "today"]}},
                        {
                            "name": "match",
                            "in": "query",
                            "description": "a match's id (range match)",
                            "schema": {"type": "string"},
                        },
                    ],
                    "responses": {"200": _json("history", {"type": "object"}), **_errors(400, 404, 429)},
                }
            },
            **scoring_openapi.paths(slug=slug, json=_json, errors=_errors),
            "/api/games/{slug}/snapshot": {
                "get": {
                    "summary": "Leaderboard, recent events and chart series, with the seq they reflect",
                    "parameters": [slug],
                    "responses": {"200": _json("snapshot", {"type": "object"}), **_errors(404)},
                }
            },
        },
    }

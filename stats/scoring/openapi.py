"""The game-stats part of the OpenAPI document (stats.openapi merges it in): request bodies
from the models that validate them, responses from the frame models they share."""

from django.urls.converters import StringConverter
from pydantic.json_schema import models_json_schema

from stats.api import TEXT_PARAM_SCHEMA
from stats.live.frames import MatchWire, StatWire
from stats.scoring.api import BEFORE_MAX, MatchIn, StatIn
from stats.scoring.leaderboard import LIMIT_MAX
from stats.scoring.periods import PERIODS
from stats.scoring.selectors import MATCH_PAGE_MAX

REF = "#/components/schemas/{model}"

LEADERBOARD = {
    "type": "object",
    "required": ["stat", "period", "match", "entity", "around", "total", "entries"],
    "properties": {
        "stat": {"$ref": "#/components/schemas/StatWire"},
        "period": {"enum": list(PERIODS)},
        "match": {"type": ["string", "null"]},
        "entity": {"enum": ["player", "team"]},
        "around": {"type": ["string", "null"]},
        "total": {"type": "integer", "description": "how many players (or teams) have a value"},
        "entries": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["rank", "value"],
                "properties": {
                    "rank": {"type": "integer", "description": "ties share a rank: 1, 2, 2, 4"},
                    "player": {"type": "string"},
                    "team": {"type": "string"},
                    "value": {"type": "number", "description": "an integer, or a derived stat's ratio"},
                    "parts": {
                        "type": "object",
                        "additionalProperties": {"type": "integer"},
                        "description": "a derived stat's numerator and denominator values, by stat name",
                    },
                },
            },
        },
    },
}
MATCH_PAGE = {
    "type": "object",
    "required": ["matches", "next_before"],
    "properties": {
        "matches": {"type": "array", "items": {"$ref": "#/components/schemas/MatchWire"}},
        "next_before": {"type": ["integer", "null"], "description": "pass as `before` for the next page"},
    },
}


def _query(name: str, schema: dict, description: str = "") -> dict:
    param = {"name": name, "in": "query", "schema": schema}
    return {**param, "description": description} if description else param


def schemas() -> dict:
    _, defs = models_json_schema(
        [(StatIn, "validation"), (MatchIn, "validation"), (StatWire, "serialization"), (MatchWire, "serialization")],
        ref_template=REF,
    )
    return {**defs["$defs"], "Leaderboard": LEADERBOARD, "MatchPage": MATCH_PAGE}


def ref(name: str) -> dict:
    return {"$ref": REF.format(model=name)}


def body(name: str) -> dict:
    return {"required": True, "content": {"application/json": {"schema": ref(name)}}}


def paths(*, slug: dict, json, errors, reader: list) -> dict:
    """`json(description, schema)` and `errors(*codes)` build responses as stats.openapi does,
    which adds the answers every operation shares; `reader` is the reads' security."""
    match_id = {
        "name": "match_id",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "pattern": f"^{StringConverter.regex}$"},
    }
    return {
        "/api/games/{slug}/stats": {
            "get": {"summary": "The game's stats, points first", "security": reader, "parameters": [slug],
                    "responses": {"200": json("stats", {"type": "object", "required": ["stats"], "properties": {
                        "stats": {"type": "array", "items": ref("StatWire")}}}), **errors(404, 429)}},
            "post": {"summary": "Declare a stat (the same again is a no-op: 200; new: 201)",
                     "security": [{"apiKey": []}], "parameters": [slug], "requestBody": body("StatIn"),
                     "responses": {"201": json("declared", ref("StatWire")), "200": json("as it was", ref("StatWire")),
                                   **errors(401, 404, 409, 422, 429)}},
        },
        "/api/games/{slug}/matches": {
            "get": {"summary": "Matches, newest first, a page at a time", "security": reader,
                    "parameters": [slug, _query("before", {"type": "integer", "minimum": 1, "maximum": BEFORE_MAX}),
                                   _query("limit", {"type": "integer", "minimum": 1, "maximum": MATCH_PAGE_MAX,
                                                    "default": 20})],
                    "responses": {"200": json("matches", ref("MatchPage")), **errors(404, 429)}},
            "post": {"summary": "Start a match; it becomes the open match that events fall into "
                                "(a retry with the same id and name: 200)",
                     "security": [{"apiKey": []}], "parameters": [slug], "requestBody": body("MatchIn"),
                     "responses": {"201": json("started", ref("MatchWire")), "200": json("as it was", ref("MatchWire")),
                                   **errors(401, 404, 409, 422, 429)}},
        },
        "/api/games/{slug}/matches/{match_id}/end": {
            "post": {"summary": "End a match (idempotent); its events are closed from then on (409 match_ended)",
                     "security": [{"apiKey": []}], "parameters": [slug, match_id],
                     "responses": {"200": json("ended", ref("MatchWire")), **errors(401, 404, 429)}},
        },
        "/api/games/{slug}/leaderboard": {
            "get": {"summary": "Ranks by a stat over a period or a match, for players or teams; "
                               "`around` gives a player's neighbourhood", "security": reader,
                    "parameters": [
                        slug,
                        _query("stat", {**TEXT_PARAM_SCHEMA, "default": "points"}),
                        _query("period", {"enum": list(PERIODS), "default": PERIODS[0]}),
                        _query("match", TEXT_PARAM_SCHEMA, "a match's id (with period all)"),
                        _query("around", TEXT_PARAM_SCHEMA, "a player (or team) to centre the page on"),
                        _query("limit", {"type": "integer", "minimum": 1, "maximum": LIMIT_MAX, "default": 10}),
                        _query("entity", {"enum": ["player", "team"], "default": "player"}),
                    ],
                    "responses": {"200": json("leaderboard", ref("Leaderboard")), **errors(404, 429)}},
        },
    }  # fmt: skip

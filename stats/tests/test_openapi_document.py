"""The OpenAPI document django-ninja generates (webgame.api) against what the API does: its
bounds are the validations' bounds, the player name's pattern is the validation code point by
code point, and an event body is valid by the document exactly when the API stores it.
(Kept from the hand-built document's drift test, #19; what that test read from the views'
source went with the hand-built document, #20.)"""

import json
import re
import unicodedata

import jsonschema_rs  # schemathesis' validator (requirements-dev.txt): Draft 2020-12, as OpenAPI 3.1
import pytest
from pydantic import TypeAdapter, ValidationError

from stats.schemas import PlayerName, name_pattern

pytestmark = pytest.mark.django_db


@pytest.fixture
def doc(client) -> dict:
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    return response.json()


def test_the_documents_bounds_are_the_validations(client, game, doc):
    """after_seq: the reported 48810792437570602415188606976 is outside the document's bound,
    and its bound is answered."""
    params = {p["name"]: p["schema"] for p in doc["paths"]["/api/games/{slug}/events"]["get"]["parameters"]}
    high = params["after_seq"]["maximum"]
    assert 48810792437570602415188606976 > high
    assert client.get(f"/api/games/{game.slug}/events?after_seq={high}").status_code == 200
    assert client.get(f"/api/games/{game.slug}/events?after_seq={high + 1}").status_code == 400
    for path, name in [("matches", "before"), ("chat", "before"), ("events", "limit"), ("leaderboard", "limit")]:
        params = {p["name"]: p["schema"] for p in doc["paths"][f"/api/games/{{slug}}/{path}"]["get"]["parameters"]}
        high = params[name]["maximum"]
        assert client.get(f"/api/games/{game.slug}/{path}?{name}={high}").status_code == 200, (path, name)
        assert client.get(f"/api/games/{game.slug}/{path}?{name}={high + 1}").status_code == 400, (path, name)


# The document and the validation agree on bodies ----------------------------------------


def name_probe_code_points() -> list[int]:
    """Every BMP code point; beyond it, each one whose category differs from its predecessor's,
    and that predecessor (the name rules go by category, so these are the edges of every run)."""
    category = unicodedata.category
    edges = {e for cp in range(0x10001, 0x110000) if category(chr(cp)) != category(chr(cp - 1)) for e in (cp - 1, cp)}
    return [*range(0x10000), *sorted(edges)]


def test_the_name_pattern_is_the_validation_code_point_by_code_point():
    """The player and team names' pattern in the document against PlayerName's validation: the
    code point alone, after a letter, and before a space and a letter. With Python's re (how
    Hypothesis generates from it) everywhere; with a JSON Schema validator (ECMA-262 patterns,
    in Rust) on every 7th, surrogates left out (they cannot be encoded as UTF-8)."""
    pattern, adapter = re.compile(name_pattern()), TypeAdapter(PlayerName)
    validator = jsonschema_rs.Draft202012Validator({"type": "string", "pattern": name_pattern()})

    def valid(name: str) -> bool:
        try:
            adapter.validate_python(name)
        except ValidationError:
            return False
        return True

    disagree = []
    for n, cp in enumerate(name_probe_code_points()):
        for name in (chr(cp), f"a{chr(cp)}", f"{chr(cp)} b"):
            expected = valid(name)
            if bool(pattern.fullmatch(name)) != expected:
                disagree.append(f"U+{cp:04X} in {name!r}: re")
            if n % 7 == 0 and not 0xD800 <= cp <= 0xDFFF and validator.is_valid(name) != expected:
                disagree.append(f"U+{cp:04X} in {name!r}: JSON Schema")
    assert disagree == []


EVENT = {"id": "e", "player": "ada", "points": 1}
VALID = {
    "a plain event": EVENT,
    "a batch": {"events": [EVENT]},
    "at with a zone": {**EVENT, "at": "2026-11-21T19:00:00+05:30"},
    "a name with spaces, accents and a combining mark": {**EVENT, "player": " Zoë e\u0301 "},
    "a name of another script": {**EVENT, "player": "\u0410\u0434\u0430 \U0001f3ae"},
    "a Hangul filler beside a letter": {**EVENT, "player": "a\u3164b"},
    "stats alone (points 0)": {"id": "e", "player": "ada", "stats": {"kills": 1}},
    "a team": {**EVENT, "team": "red"},
}
INVALID = {
    "at as a number": {**EVENT, "at": 0},
    "at as a number in a batch": {"events": [{**EVENT, "at": 0}]},
    "at as a numeric string": {**EVENT, "at": "1763751600"},
    "at without a zone": {**EVENT, "at": "2026-11-21T19:00:00"},
    "a control character": {**EVENT, "player": "a\u0000b"},
    "a C1 control character": {**EVENT, "player": "a\u0085"},
    "a zero-width space": {**EVENT, "player": "a\u200bb"},
    "a bidi override": {**EVENT, "player": "\u202eada"},
    "a private-use character": {**EVENT, "player": "a\ue000"},
    "an unassigned code point": {**EVENT, "player": "a\u0378"},
    "a line separator": {**EVENT, "player": "a\u2028b"},
    "only a Hangul filler": {**EVENT, "player": "\u3164"},
    "only blanks": {**EVENT, "player": "   "},
    "only a combining mark": {**EVENT, "player": "\u0301"},
    "a team with a control character": {**EVENT, "team": "red\u0007"},
    "neither points nor stats": {"id": "e", "player": "ada"},
    "empty stats and no points": {"id": "e", "player": "ada", "stats": {}},
    "points among the stats": {**EVENT, "stats": {"points": 1}},
    "a stat name out of pattern": {**EVENT, "stats": {"Kills": 1}},
    "a reserved kind": {**EVENT, "kind": "correction"},
    "a float for points": {**EVENT, "points": 1.5},
    "an empty batch": {"events": []},
}


@pytest.fixture
def events_body_validator(doc):
    request = doc["paths"]["/api/games/{slug}/events"]["post"]["requestBody"]["content"]["application/json"]
    schema = {**request["schema"], "components": doc["components"]}
    return jsonschema_rs.Draft202012Validator(schema, validate_formats=True)


@pytest.mark.parametrize("name", [*VALID, *INVALID])
def test_the_document_and_the_api_agree_on_events(client, game, api_key, events_body_validator, name):
    body = VALID.get(name) or INVALID[name]
    auth = {"HTTP_AUTHORIZATION": f"Bearer {api_key}"}
    declared = client.post(f"/api/games/{game.slug}/stats", json.dumps({"name": "kills"}), "application/json", **auth)
    assert declared.status_code == 201
    response = client.post(f"/api/games/{game.slug}/events", json.dumps(body), "application/json", **auth)
    expected = name in VALID
    assert events_body_validator.is_valid(body) is expected, "the document"
    assert (response.status_code == 202) is expected, response.content

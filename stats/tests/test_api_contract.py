"""The request contract of POST /api/games/<slug>/events and of the replay's after_seq, as
the README and the OpenAPI document state it: each refusal is a 422 (or 400) naming what was
wrong, and nothing is stored. Run on SQLite and on PostgreSQL (DATABASE_URL=postgres://...):
the out-of-range times failed differently on each."""

import json
import unicodedata
from datetime import UTC, datetime

import pytest

from stats.models import Player, ScoreEvent
from stats.schemas import MAX_SEQ

AT_OUT_OF_RANGE = [
    "9999-12-31T23:59:59-01:00",  # year 10000 in UTC
    "9999-12-31T23:00:00-23:59",
    "0001-01-01T00:00:00+01:00",  # 1 BC in UTC
    "0001-01-01T00:59:59.999999+01:00",
]
AT_NOT_ISO_WITH_ZONE = [0, "0", 1.5, -1, True, "1763751600", "1763751600.5", "2025-01-01T00:00:00", "2025-01-01"]
AT_NOT_ISO_WITH_ZONE += ["٢٠٢٥-01-01T00:00:00Z", " 2025-01-01T00:00:00Z", "2025-01-01T00:00:00Z\n", {"$date": 0}]
AT_EDGES = ["0001-01-01T00:00:00Z", "0001-01-01T01:00:00+01:00", "9999-12-31T23:59:59.999999Z"]
AT_EDGES += ["9999-12-31T22:59:59-01:00", "2026-11-21T19:00:00+05:30", "2026-11-21T19:00Z"]
AT_EDGES += ["2026-11-21T19:00:00+20:00", "2026-11-21T19:00:00-23:59"]  # PostgreSQL takes up to 15:59
BLANK_NAMES = ["\u3164", "\u2800", "\u0301", "\u2028", "\u2029", "\u115f\u1160", "\uffa0", " \u3164 ", "\u3000\u0301"]


def post(client, game, key, body):
    return client.post(
        f"/api/games/{game.slug}/events", json.dumps(body), content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {key}",
    )  # fmt: skip


def refused_fields(response) -> list[str]:
    assert response.status_code == 422, response.content
    assert response["Content-Type"] == "application/json"
    error = response.json()["error"]
    assert error["code"] == "invalid"
    return [d["field"] for d in error["details"]]


def nothing_stored(game) -> bool:
    game.refresh_from_db()
    return not ScoreEvent.objects.filter(game=game).exists() and game.last_seq == 0


@pytest.mark.parametrize("at", AT_OUT_OF_RANGE + AT_NOT_ISO_WITH_ZONE)
def test_at_out_of_range_or_not_an_iso_time_with_zone_is_422_naming_at(client, game, api_key, at):
    response = post(client, game, api_key, {"id": "x", "player": "p", "points": 1, "at": at})
    assert refused_fields(response) == ["at"]
    assert nothing_stored(game)


@pytest.mark.parametrize("at", AT_OUT_OF_RANGE[:1] + AT_NOT_ISO_WITH_ZONE[:1])
def test_a_bad_at_in_a_batch_names_its_event_and_stores_nothing(client, game, api_key, at):
    events = [{"id": "ok", "player": "p", "points": 1}, {"id": "bad", "player": "p", "points": 1, "at": at}]
    assert refused_fields(post(client, game, api_key, {"events": events})) == ["events.1.at"]
    assert nothing_stored(game)


@pytest.mark.parametrize("at", AT_EDGES)
def test_at_at_the_edges_of_the_range_is_stored_and_read_back(client, game, api_key, at):
    response = post(client, game, api_key, {"id": "x", "player": "p", "points": 1, "at": at})
    assert response.status_code == 202, response.content
    expected = datetime.fromisoformat(at.replace("Z", "+00:00")).astimezone(UTC)
    assert ScoreEvent.objects.get(game=game).at == expected
    replayed = client.get(f"/api/games/{game.slug}/events").json()["events"][0]
    assert datetime.fromisoformat(replayed["at"]) == expected
    assert client.get(f"/api/games/{game.slug}/snapshot").status_code == 200


@pytest.mark.parametrize("name", BLANK_NAMES)
def test_name_of_only_invisible_or_separator_characters_is_422(client, game, api_key, name):
    assert refused_fields(post(client, game, api_key, {"id": "x", "player": name, "points": 1})) == ["player"]
    assert nothing_stored(game)


@pytest.mark.parametrize("name", ["\ufb2c" * 64, "\ufb2c" * 22, "a" * 63 + "\u0958", "\u0958" * 33])
def test_name_longer_than_64_once_normalised_is_422(client, game, api_key, name):
    assert len(name) <= 64 < len(unicodedata.normalize("NFC", name))
    assert refused_fields(post(client, game, api_key, {"id": "x", "player": name, "points": 1})) == ["player"]
    assert nothing_stored(game)


@pytest.mark.parametrize("name", ["\ufb2c" * 21, "a" * 62 + "\u0958", "e\u0301" * 32, "a\u3164b", "\u3164a"])
def test_name_within_64_once_normalised_is_stored_normalised(client, game, api_key, name):
    assert post(client, game, api_key, {"id": "x", "player": name, "points": 1}).status_code == 202
    assert Player.objects.get(game=game).name == unicodedata.normalize("NFC", name)


def test_kind_correction_is_refused_to_clients(client, game, api_key):
    response = post(client, game, api_key, {"id": "x", "player": "p", "points": 1, "kind": "correction"})
    assert refused_fields(response) == ["kind"]
    assert nothing_stored(game)


def test_after_seq_at_its_maximum_is_answered(client, game):
    response = client.get(f"/api/games/{game.slug}/events?after_seq={MAX_SEQ}")
    assert (response.status_code, response.json()["events"]) == (200, [])


def test_openapi_document_states_the_bounds_and_patterns(client):
    doc = client.get("/api/openapi.json").json()
    events = doc["paths"]["/api/games/{slug}/events"]
    params = {p["name"]: p for p in events["get"]["parameters"]}
    assert params["after_seq"]["schema"] == {"type": "integer", "minimum": 0, "maximum": MAX_SEQ}
    assert params["slug"]["schema"]["pattern"] == "^[a-z0-9][a-z0-9_-]{0,49}$"
    assert "403" not in events["post"]["responses"]  # another game's key is a 404, as no game
    fields = doc["components"]["schemas"]["EventIn"]["properties"]
    assert fields["player"]["maxLength"] == 64 and "pattern" in fields["player"]
    assert fields["kind"]["not"] == {"enum": ["correction"]}
    assert {"type": "string", "format": "date-time"} in fields["at"]["anyOf"]

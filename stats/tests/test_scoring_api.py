"""The game-stats API (stats.scoring.api): stats, matches, events with stats, and errors."""

import json

import pytest

from stats.scoring import services as scoring
from stats.tests.api_support import error_code, post


def send(client, path, body, key):
    return client.post(path, data=json.dumps(body), content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}")


@pytest.fixture
def base(game):
    return f"/api/games/{game.slug}"


def test_stats_are_declared_listed_and_redeclared_idempotently(client, base, api_key):
    kills = {"name": "kills", "label": "Kills"}
    assert send(client, f"{base}/stats", kills, api_key).status_code == 201
    assert send(client, f"{base}/stats", kills, api_key).status_code == 200
    lap = {"name": "lap_ms", "format": "duration_ms", "order": "asc", "op": "best"}
    assert send(client, f"{base}/stats", lap, api_key).json()["op"] == "best"
    send(client, f"{base}/stats", {"name": "deaths"}, api_key)
    kd = send(client, f"{base}/stats", {"name": "kd", "numerator": "kills", "denominator": "deaths"}, api_key)
    assert kd.json() == {
        "name": "kd", "label": "Kd", "format": "integer", "order": "desc", "op": None,
        "numerator": "kills", "denominator": "deaths",
    }  # fmt: skip
    names = [s["name"] for s in client.get(f"{base}/stats").json()["stats"]]
    assert names == ["points", "kills", "lap_ms", "deaths", "kd"]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"name": "Kills"}, 422, "invalid"),
        ({"name": "kills", "op": "max"}, 422, "invalid"),
        ({"name": "points"}, 422, "invalid"),
        ({"name": "kd", "numerator": "kills", "denominator": "nope"}, 422, "invalid"),
        ({"name": "kills", "colour": "red"}, 422, "invalid"),
    ],
)
def test_a_bad_stat_is_refused_with_what_was_wrong(client, base, api_key, body, status, code):
    response = send(client, f"{base}/stats", body, api_key)
    assert (response.status_code, error_code(response)) == (status, code)
    assert response.json()["error"].get("details")


def test_a_stat_redeclared_otherwise_is_a_conflict_and_writes_need_the_key(client, base, api_key):
    send(client, f"{base}/stats", {"name": "kills"}, api_key)
    response = send(client, f"{base}/stats", {"name": "kills", "op": "set"}, api_key)
    assert (response.status_code, error_code(response)) == (409, "conflict")
    anonymous = client.post(f"{base}/stats", data="{}", content_type="application/json")
    assert (anonymous.status_code, error_code(anonymous)) == (401, "unauthorized")


def test_events_carry_stats_teams_and_matches(client, game, base, api_key):
    send(client, f"{base}/stats", {"name": "kills"}, api_key)
    started = send(client, f"{base}/matches", {"id": "m1", "name": "Final"}, api_key)
    assert started.status_code == 201 and started.json()["status"] == "live"
    body = {"events": [{"id": "a", "player": "ada", "stats": {"kills": 2}, "team": "red"}]}
    assert post(client, game.slug, body, api_key).status_code == 202
    event = client.get(f"{base}/events").json()["events"][0]
    assert (event["stats"], event["team"], event["match"], event["points"]) == ({"kills": 2}, "red", "m1", 0)
    ended = send(client, f"{base}/matches/m1/end", {}, api_key).json()
    assert ended["status"] == "finished" and ended["teams"] == [{"team": "red", "stats": {"kills": 2, "points": 0}}]


@pytest.mark.parametrize(
    ("event", "status", "code", "named"),
    [
        ({"id": "x", "player": "ada", "stats": {"kils": 1}}, 422, "unknown_stat", "kils"),
        ({"id": "x", "player": "ada", "stats": {"kills": 1.5}}, 422, "invalid", "stats.kills"),
        ({"id": "x", "player": "ada", "stats": {"kills": "1"}}, 422, "invalid", "stats.kills"),
        ({"id": "x", "player": "ada", "stats": {"points": 1}}, 422, "invalid", "stats"),
        ({"id": "x", "player": "ada", "points": 1, "match": "m9"}, 422, "unknown_match", "m9"),
        ({"id": "x", "player": "ada", "points": 1, "match": "done"}, 409, "match_ended", "done"),
        ({"id": "x", "player": "ada"}, 422, "invalid", "points"),
    ],
)
def test_bad_stats_and_matches_are_refused_naming_them(client, game, api_key, event, status, code, named):
    scoring.stat_declare(game=game, name="kills")
    scoring.match_start(game_id=game.pk, match_id="done")
    scoring.match_end(game_id=game.pk, match_id="done")
    response = post(client, game.slug, {"events": [{"id": "ok", "player": "bob", "points": 1}, event]}, api_key)
    assert (response.status_code, error_code(response)) == (status, code)
    assert named in json.dumps(response.json())
    assert client.get(f"/api/games/{game.slug}/events").json()["events"] == []  # all or nothing


def test_matches_are_listed_newest_first_a_page_at_a_time(client, base, api_key):
    for i in range(5):
        send(client, f"{base}/matches", {"id": f"m{i}"}, api_key)
    first = client.get(f"{base}/matches?limit=2").json()
    assert [m["id"] for m in first["matches"]] == ["m4", "m3"]
    rest = client.get(f"{base}/matches?limit=10&before={first['next_before']}").json()
    assert [m["id"] for m in rest["matches"]] == ["m2", "m1", "m0"] and rest["next_before"] is None
    missing = send(client, f"{base}/matches/nope/end", {}, api_key)
    assert (missing.status_code, error_code(missing)) == (404, "not_found")
    conflict = send(client, f"{base}/matches", {"id": "m1", "name": "renamed"}, api_key)
    assert (conflict.status_code, error_code(conflict)) == (409, "conflict")


def test_a_finished_match_is_replayed_from_its_own_events(client, game, base, api_key):
    post(client, game.slug, {"id": "before", "player": "ada", "points": 1}, api_key)
    send(client, f"{base}/matches", {"id": "m1"}, api_key)
    post(client, game.slug, {"events": [{"id": f"in{i}", "player": "ada", "points": 1} for i in range(3)]}, api_key)
    send(client, f"{base}/matches/m1/end", {}, api_key)
    post(client, game.slug, {"id": "after", "player": "ada", "points": 1}, api_key)
    page = client.get(f"{base}/events?match=m1").json()
    assert [e["id"] for e in page["events"]] == ["in0", "in1", "in2"]
    assert client.get(f"{base}/history?range=match&match=m1").status_code == 200
    assert error_code(client.get(f"{base}/events?match=nope")) == "not_found"


def test_openapi_documents_every_stats_endpoint_and_field(client):
    doc = client.get("/api/openapi.json").json()
    for path in ("stats", "matches", "matches/{match_id}/end", "leaderboard"):
        assert f"/api/games/{{slug}}/{path}" in doc["paths"]
    event = doc["components"]["schemas"]["EventIn"]["properties"]
    assert {"stats", "team", "match"} <= set(event)
    params = {p["name"] for p in doc["paths"]["/api/games/{slug}/leaderboard"]["get"]["parameters"]}
    assert params == {"slug", "stat", "period", "match", "around", "limit", "entity"}
    assert {"StatIn", "MatchIn", "StatWire", "MatchWire", "Leaderboard"} <= set(doc["components"]["schemas"])


@pytest.mark.parametrize("team", ["\ufb2c" * 11, "a" * 31 + "\u0958", "a" * 33])
def test_a_team_name_over_32_characters_once_normalised_is_a_422_not_a_database_error(client, game, api_key, team):
    """NFC can lengthen a name (U+FB2C is 3 characters): the stored form must fit its column,
    which PostgreSQL enforces with an error, so the check is on the normalised name."""
    response = post(client, game.slug, {"id": "t", "player": "ada", "points": 1, "team": team}, api_key)
    assert (response.status_code, error_code(response)) == (422, "invalid")
    assert "team" in json.dumps(response.json())
    ok = post(client, game.slug, {"id": "t", "player": "ada", "points": 1, "team": "\ufb2c" * 10}, api_key)
    assert ok.status_code == 202


def test_a_ratio_format_is_declared_for_a_k_d(client, base, api_key):
    """#22: K/D was declared `integer` for want of a format for ratios."""
    for name in ("kills", "deaths"):
        send(client, f"{base}/stats", {"name": name}, api_key)
    body = {"name": "kd", "label": "K/D", "format": "ratio", "numerator": "kills", "denominator": "deaths"}
    response = send(client, f"{base}/stats", body, api_key)
    assert (response.status_code, response.json()["format"]) == (201, "ratio")
    listed = client.get(f"{base}/stats").json()["stats"]
    assert [s["format"] for s in listed if s["name"] == "kd"] == ["ratio"]

import json
import urllib.request

import pytest
from django.contrib.auth.models import User
from django.test import Client

from stats import services
from stats.models import ScoreEvent
from stats.tests.api_support import error_code, post
from stats.tests.games import game_make


@pytest.fixture
def private_game(db):
    return game_make(prefix="secret", is_public=False)


def stored(game) -> int:
    return ScoreEvent.objects.filter(game=game).count()


def test_post_one_event_returns_202_with_counts(client, game, api_key):
    response = post(client, game.slug, {"id": "e1", "player": "ada", "points": 3}, api_key)
    assert response.status_code == 202
    assert response.json() == {"accepted": 1, "duplicates": 0, "last_seq": 1}


def test_post_a_batch_returns_accepted_and_last_seq(client, game, api_key):
    events = [{"id": f"e{i}", "player": "ada", "points": i} for i in range(3)]
    response = post(client, game.slug, {"events": events}, api_key)
    assert (response.status_code, response.json()) == (202, {"accepted": 3, "duplicates": 0, "last_seq": 3})


def test_retried_post_is_not_counted_twice(client, game, api_key):
    body = {"events": [{"id": "e1", "player": "ada", "points": 3}, {"id": "e2", "player": "bob", "points": 1}]}
    post(client, game.slug, body, api_key)
    response = post(client, game.slug, body, api_key)
    assert (response.status_code, response.json()) == (202, {"accepted": 0, "duplicates": 2, "last_seq": 2})
    assert stored(game) == 2


def test_post_needs_no_csrf_token(game, api_key):
    response = post(Client(enforce_csrf_checks=True), game.slug, {"id": "e1", "player": "ada", "points": 1}, api_key)
    assert response.status_code == 202


def test_post_without_key_is_401(client, game):
    response = post(client, game.slug, {"id": "e1", "player": "ada", "points": 1})
    assert (response.status_code, error_code(response)) == (401, "unauthorized")


def test_post_with_unknown_key_is_401(client, game, api_key):
    response = post(client, game.slug, {"id": "e1", "player": "ada", "points": 1}, api_key[:-3] + "abc")
    assert (response.status_code, error_code(response)) == (401, "unauthorized")


def test_post_with_revoked_key_is_401(client, game):
    key, raw = services.api_key_create(game=game)
    key.revoked = True
    key.save()
    response = post(client, game.slug, {"id": "e1", "player": "ada", "points": 1}, raw)
    assert response.status_code == 401


def test_post_with_key_of_another_game_is_the_404_of_an_unknown_game(client, game):
    other = game_make(prefix="other", name="Other")
    _, raw = services.api_key_create(game=other)
    response = post(client, game.slug, {"id": "e1", "player": "ada", "points": 1}, raw)
    unknown = post(client, "nosuch", {"id": "e1", "player": "ada", "points": 1}, raw)
    assert (response.status_code, error_code(response)) == (404, "not_found")
    assert response.json() == unknown.json()
    assert stored(game) == 0


def test_post_to_unknown_game_is_404(client, api_key):
    response = post(client, "nosuch", {"id": "e1", "player": "ada", "points": 1}, api_key)
    assert (response.status_code, error_code(response)) == (404, "not_found")


def test_post_invalid_json_is_400(client, game, api_key):
    response = post(client, game.slug, "{not json", api_key, raw=True)
    assert (response.status_code, error_code(response)) == (400, "bad_json")


@pytest.mark.parametrize("body", ["[1, 2]", '"text"', "42"])
def test_post_body_that_is_not_an_object_is_400(client, game, api_key, body):
    response = post(client, game.slug, body, api_key, raw=True)
    assert (response.status_code, error_code(response)) == (400, "bad_shape")


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_post_with_nan_or_infinity_is_400(client, game, api_key, constant):
    response = post(client, game.slug, f'{{"id": "e1", "player": "ada", "points": {constant}}}', api_key, raw=True)
    assert (response.status_code, error_code(response)) == (400, "bad_json")
    assert stored(game) == 0


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("points", 1.5),
        ("points", "3"),
        ("points", True),
        ("id", ""),
        ("id", "x" * 65),
        ("id", "has space"),
        ("player", ""),
        ("at", "2025-01-01T00:00:00"),
    ],
)
def test_post_with_an_invalid_field_is_422_naming_it(client, game, api_key, field, value):
    body = {"id": "e1", "player": "ada", "points": 1, field: value}
    response = post(client, game.slug, body, api_key)
    assert (response.status_code, error_code(response)) == (422, "invalid")
    assert [d["field"] for d in response.json()["error"]["details"]] == [field]


def test_post_with_an_unknown_field_is_422(client, game, api_key):
    response = post(client, game.slug, {"id": "e1", "player": "ada", "points": 1, "bonus": 2}, api_key)
    assert response.status_code == 422


def test_id_of_64_chars_is_accepted(client, game, api_key):
    response = post(client, game.slug, {"id": "x" * 64, "player": "ada", "points": 1}, api_key)
    assert response.status_code == 202


def test_batch_with_one_invalid_event_stores_nothing(client, game, api_key):
    events = [{"id": "ok", "player": "ada", "points": 1}, {"id": "bad", "player": "ada", "points": "many"}]
    response = post(client, game.slug, {"events": events}, api_key)
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["field"] == "events.1.points"
    assert stored(game) == 0


def test_id_reused_with_other_content_is_422_and_stores_nothing(client, game, api_key):
    post(client, game.slug, {"id": "e1", "player": "ada", "points": 1}, api_key)
    events = [{"id": "new", "player": "ada", "points": 1}, {"id": "e1", "player": "ada", "points": 2}]
    response = post(client, game.slug, {"events": events}, api_key)
    assert (response.status_code, error_code(response)) == (422, "id_conflict")
    assert response.json()["error"]["details"] == [{"field": "id", "message": "e1"}]
    assert stored(game) == 1


def test_empty_batch_is_422(client, game, api_key):
    assert post(client, game.slug, {"events": []}, api_key).status_code == 422


def test_batch_of_1000_events_is_accepted(client, game, api_key):
    events = [{"id": f"e{i}", "player": f"p{i % 7}", "points": 1} for i in range(1000)]
    response = post(client, game.slug, {"events": events}, api_key)
    assert (response.status_code, response.json()["accepted"]) == (202, 1000)


def test_batch_over_1000_events_is_413(client, game, api_key):
    events = [{"id": f"e{i}", "player": "ada", "points": 1} for i in range(1001)]
    response = post(client, game.slug, {"events": events}, api_key)
    assert (response.status_code, error_code(response)) == (413, "batch_too_large")
    assert stored(game) == 0


def test_body_over_the_size_limit_is_413(client, game, api_key, settings):
    settings.MAX_BODY_BYTES = settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 200
    events = [{"id": f"e{i}", "player": "ada", "points": 1} for i in range(20)]
    response = post(client, game.slug, {"events": events}, api_key)
    assert (response.status_code, error_code(response)) == (413, "too_large")
    assert stored(game) == 0


def test_unsupported_method_is_405_with_allow(client, game):
    response = client.put(f"/api/games/{game.slug}/events")
    assert (response.status_code, error_code(response), response["Allow"]) == (405, "method_not_allowed", "GET, POST")


def test_snapshot_of_a_public_game_is_open_to_anyone(client, game, api_key):
    post(client, game.slug, {"id": "e1", "player": "ada", "points": 4}, api_key)
    body = client.get(f"/api/games/{game.slug}/snapshot").json()
    assert (body["type"], body["seq"], body["leaderboard"][0]["total"]) == ("snapshot", 1, 4)


def test_snapshot_of_a_private_game_is_404_for_anonymous(client, private_game):
    response = client.get(f"/api/games/{private_game.slug}/snapshot")
    assert (response.status_code, error_code(response)) == (404, "not_found")


def test_snapshot_of_a_private_game_is_200_for_a_listed_viewer(client, private_game):
    user = User.objects.create_user("vera")
    private_game.viewers.add(user)
    client.force_login(user)
    assert client.get(f"/api/games/{private_game.slug}/snapshot").status_code == 200


def test_snapshot_of_a_private_game_is_404_for_an_unlisted_user(client, private_game):
    client.force_login(User.objects.create_user("otto"))
    assert client.get(f"/api/games/{private_game.slug}/snapshot").status_code == 404


def test_snapshot_of_a_private_game_is_200_with_its_own_key(client, private_game):
    _, raw = services.api_key_create(game=private_game)
    assert client.get(f"/api/games/{private_game.slug}/snapshot", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 200


def test_snapshot_of_a_private_game_is_404_with_another_games_key(client, private_game, api_key):
    assert (
        client.get(f"/api/games/{private_game.slug}/snapshot", HTTP_AUTHORIZATION=f"Bearer {api_key}").status_code
        == 404
    )


def test_snapshot_of_an_unknown_game_is_404(client, db):
    assert client.get("/api/games/nosuch/snapshot").status_code == 404


def test_events_replay_pages_by_seq(client, game, api_key):
    post(client, game.slug, {"events": [{"id": f"e{i}", "player": "ada", "points": 1} for i in range(5)]}, api_key)
    first = client.get(f"/api/games/{game.slug}/events?after_seq=0&limit=3").json()
    assert ([e["seq"] for e in first["events"]], first["more"]) == ([1, 2, 3], True)
    rest = client.get(f"/api/games/{game.slug}/events?after_seq={first['next_after_seq']}&limit=3").json()
    assert ([e["seq"] for e in rest["events"]], rest["more"], rest["next_after_seq"]) == ([4, 5], False, 5)


def test_replayed_event_has_the_wire_fields(client, game, api_key):
    post(client, game.slug, {"id": "e1", "player": "ada", "points": 2, "kind": "bonus"}, api_key)
    event = client.get(f"/api/games/{game.slug}/events").json()["events"][0]
    assert {k: event[k] for k in ("id", "seq", "player", "points", "kind")} == {
        "id": "e1",
        "seq": 1,
        "player": "ada",
        "points": 2,
        "kind": "bonus",
    }
    assert {"at", "at_ms", "received_ms"} <= event.keys()


@pytest.mark.parametrize(
    "query",
    [
        *["after_seq=abc", "after_seq=-1", "after_seq=", "after_seq=%2B5", "after_seq=+5", "after_seq=%205%20"],
        *[
            "after_seq=5_0",
            "after_seq=%D9%A5",
            "after_seq=4611686018427387905",
            "after_seq=48810792437570602415188606976",
        ],
        *["after_seq=" + "9" * 5000, "limit=0", "limit=1001", "limit=%2B5", "limit=1e3"],
    ],
)
def test_events_replay_with_a_bad_parameter_is_400(client, game, query):
    response = client.get(f"/api/games/{game.slug}/events?{query}")
    assert (response.status_code, error_code(response)) == (400, "bad_param")


def test_events_replay_of_a_private_game_is_404_for_anonymous(client, private_game):
    assert client.get(f"/api/games/{private_game.slug}/events").status_code == 404


def test_games_list_hides_private_games_from_anonymous(client, game, private_game):
    assert [g["slug"] for g in client.get("/api/games").json()["games"]] == [game.slug]


def test_games_list_shows_private_games_to_staff(client, game, private_game):
    client.force_login(User.objects.create_user("sam", is_staff=True))
    assert [g["slug"] for g in client.get("/api/games").json()["games"]] == [game.slug, private_game.slug]


def test_history_with_an_unknown_range_is_400(client, game):
    response = client.get(f"/api/games/{game.slug}/history?range=forever")
    assert (response.status_code, error_code(response)) == (400, "bad_param")


def test_history_returns_buckets(client, game):
    body = client.get(f"/api/games/{game.slug}/history?range=match").json()
    assert (body["range"], body["buckets"], body["last_seq"]) == ("match", [], 0)


def test_unknown_api_path_is_a_json_404(client, db):
    response = client.post("/api/nothing/here")
    assert (response.status_code, error_code(response)) == (404, "not_found")


def test_openapi_document_lists_the_endpoints(client):
    paths = client.get("/api/openapi.json").json()["paths"]
    assert {"/api/games", "/api/games/{slug}/events", "/api/games/{slug}/snapshot"} <= paths.keys()


def test_post_and_snapshot_over_a_real_http_server(live, game, api_key):
    request = urllib.request.Request(
        f"{live.url}/api/games/{game.slug}/events",
        data=json.dumps({"id": "e1", "player": "ada", "points": 7}).encode(),
        headers={"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request) as response:
        assert (response.status, json.load(response)["last_seq"]) == (202, 1)
    with urllib.request.urlopen(f"{live.url}/api/games/{game.slug}/snapshot") as response:
        assert json.load(response)["leaderboard"] == [{"player": "ada", "total": 7, "events": 1}]

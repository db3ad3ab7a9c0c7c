"""Issue #19, hostile query parameters and strings: a NUL character (PostgreSQL refuses it in a
string, so it failed there with a 500) and integers of more than 4,300 digits (Python's int()
refuses those) are answered with a JSON 4xx on both databases, anonymously and with the key."""

import json

import pytest

from stats.scoring import services as scoring
from stats.tests.api_support import error_code

NUL = "%00"
HUGE = "0" * 4300 + "1"  # 4,301 digits: one past Python's int() limit, worth 1


def send(client, path, body, key):
    return client.post(path, data=json.dumps(body), content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}")


@pytest.fixture
def base(game):
    scoring.stat_declare(game=game, name="kills")
    scoring.match_start(game_id=game.pk, match_id="m1")
    return f"/api/games/{game.slug}"


@pytest.mark.parametrize(
    "query",
    [
        f"leaderboard?stat={NUL}",
        f"leaderboard?match={NUL}",
        f"leaderboard?around={NUL}",
        f"leaderboard?around=a{NUL}b",
        f"events?match={NUL}",
        f"history?range=match&match={NUL}",
        "events?match=",
        "leaderboard?stat=",
        f"leaderboard?stat={'k' * 500}",
    ],
)
def test_a_nul_or_empty_string_parameter_is_a_400(client, base, query):
    response = client.get(f"{base}/{query}")
    assert (response.status_code, error_code(response)) == (400, "bad_param"), response.content[:300]


@pytest.mark.parametrize(
    "query",
    [
        f"leaderboard?limit={HUGE}",
        f"events?after_seq={HUGE}",
        f"events?limit={HUGE}",
        f"chat?before={HUGE}",
        f"chat?limit={HUGE}",
        f"matches?before={HUGE}",
        f"matches?limit={HUGE}",
        "events?after_seq=" + "9" * 5000,
    ],
)
def test_an_integer_of_thousands_of_digits_is_a_400(client, base, query):
    response = client.get(f"{base}/{query}")
    assert (response.status_code, error_code(response)) == (400, "bad_param"), response.content[:300]


def test_a_small_integer_with_a_few_leading_zeros_is_still_read(client, base):
    assert client.get(f"{base}/events?limit=0002").status_code == 200


def test_the_overlay_limit_of_thousands_of_digits_is_a_400_page(client, game):
    response = client.get(f"/games/{game.slug}/overlay/?limit={HUGE}")
    assert response.status_code == 400
    assert b"limit" in response.content


def test_a_match_path_holding_nul_is_a_404(client, base, api_key):
    response = send(client, f"{base}/matches/{NUL}/end", {}, api_key)
    assert (response.status_code, error_code(response)) == (404, "not_found")


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("matches", {"id": "m2", "name": "Fi\u0000nal"}, "name"),
        ("matches", {"id": "m2", "name": "Final \u202egnp.exe"}, "name"),
        ("stats", {"name": "deaths", "label": "De\u0000aths"}, "label"),
        ("stats", {"name": "deaths", "label": "\u202eshtaed"}, "label"),
    ],
)
def test_a_name_or_label_with_nul_or_a_bidi_override_is_refused(client, base, api_key, path, body, field):
    response = send(client, f"{base}/{path}", body, api_key)
    assert (response.status_code, error_code(response)) == (422, "invalid"), response.content[:300]
    assert [d["field"] for d in response.json()["error"]["details"]] == [field]


def test_plain_names_and_labels_are_still_taken(client, base, api_key):
    assert send(client, f"{base}/matches", {"id": "m2", "name": "Grand Final"}, api_key).status_code == 201
    assert send(client, f"{base}/matches", {"id": "m3"}, api_key).status_code == 201
    assert send(client, f"{base}/stats", {"name": "deaths", "label": "Deaths ☠"}, api_key).status_code == 201


TEXT_PARAMS = [
    ("/api/games/{slug}/events", "match", "events?match="),
    ("/api/games/{slug}/history", "match", "history?range=match&match="),
    ("/api/games/{slug}/leaderboard", "stat", "leaderboard?stat="),
    ("/api/games/{slug}/leaderboard", "match", "leaderboard?match="),
    ("/api/games/{slug}/leaderboard", "around", "leaderboard?around="),
]


@pytest.mark.parametrize(("path", "name", "query"), TEXT_PARAMS)
def test_the_document_refuses_the_text_parameters_the_server_refuses(client, base, path, name, query):
    """The OpenAPI document says what the server does (issue #19): an empty value, a NUL or
    a value past 64 characters is a 400 from the server, and invalid by the document."""
    import jsonschema_rs

    doc = client.get("/api/openapi.json").json()
    (param,) = [p for p in doc["paths"][path]["get"]["parameters"] if p["name"] == name]
    valid = jsonschema_rs.Draft202012Validator(param["schema"]).is_valid
    for value, sent in [("", ""), ("\x00", NUL), ("k" * 65, "k" * 65)]:
        assert not valid(value), value
        assert client.get(f"{base}/{query}{sent}").status_code == 400
    assert valid("m1") and valid("ada \u2620")


def test_the_document_says_a_float_written_integer_is_refused(client, game, api_key):
    doc = client.get("/api/openapi.json").json()
    assert "1.0" in doc["components"]["schemas"]["EventIn"]["properties"]["points"]["description"]
    body = '{"id": "f", "player": "ada", "points": 999999999.0}'
    response = client.post(
        f"/api/games/{game.slug}/events", body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {api_key}"
    )
    assert (response.status_code, error_code(response)) == (422, "invalid")

"""GET /api/games/<slug>/chat: the chat's pages, with the read rules of the other GETs."""

import uuid

import pytest
from django.contrib.auth.models import User
from django.test import Client

from stats import services
from stats.chat.models import ChatMessage
from stats.tests.games import game_make


@pytest.fixture
def ada(db):
    return User.objects.create_user("ada", password="pw-ada-1")


@pytest.fixture
def private_game(db):
    return game_make(prefix="secret", name="Secret", is_public=False)


def chat_url(game, query: str = "") -> str:
    return f"/api/games/{game.slug}/chat{query}"


def error_code(response) -> str:
    body = response.json()
    assert set(body) == {"error"} and body["error"]["message"]
    return body["error"]["code"]


def test_chat_page_of_a_public_game(client, game, ada):
    m1 = ChatMessage.objects.create(game=game, user=ada, text="hello")
    response = client.get(chat_url(game))
    assert response.status_code == 200
    body = response.json()
    assert (body["before"], body["more"]) == (None, False)
    assert body["messages"] == [{"id": m1.pk, "user": "ada", "text": "hello", "at_ms": body["messages"][0]["at_ms"]}]


def test_paging_with_before_and_limit(client, game, ada):
    ids = [ChatMessage.objects.create(game=game, user=ada, text=f"m{i}").pk for i in range(3)]
    first = client.get(chat_url(game, "?limit=2")).json()
    assert ([m["id"] for m in first["messages"]], first["before"], first["more"]) == (ids[1:], ids[1], True)
    older = client.get(chat_url(game, f"?before={first['before']}&limit=2")).json()
    assert ([m["id"] for m in older["messages"]], older["before"], older["more"]) == (ids[:1], None, False)


def test_private_game_chat_is_404_for_strangers_like_a_missing_game(client, private_game, ada):
    ChatMessage.objects.create(game=private_game, user=ada, text="secret plans")
    for path in [chat_url(private_game), "/api/games/nosuch/chat"]:
        response = client.get(path)
        assert (response.status_code, error_code(response)) == (404, "not_found")
    client.force_login(ada)
    assert client.get(chat_url(private_game)).status_code == 404  # logged in, not a viewer


def test_private_game_chat_for_viewers_staff_and_its_key(client, private_game, ada):
    private_game.viewers.add(ada)
    client.force_login(ada)
    assert client.get(chat_url(private_game)).status_code == 200
    staff = Client()
    staff.force_login(User.objects.create_user("sam", password="pw-sam-1", is_staff=True))
    assert staff.get(chat_url(private_game)).status_code == 200
    key = services.api_key_create(game=private_game, name="t")[1]
    assert Client(HTTP_AUTHORIZATION=f"Bearer {key}").get(chat_url(private_game)).status_code == 200


@pytest.mark.parametrize(
    "query",
    [
        "?limit=0",
        "?limit=201",
        "?limit=abc",
        "?limit=+5",
        "?limit=%D9%A3",  # an Arabic-Indic digit: int() would take it
        "?limit=",
        "?before=0",
        "?before=-1",
        "?before=9223372036854775808",
        "?before=" + "9" * 10_000,
    ],
)
def test_bad_params_are_400_bad_param(client, game, query):
    response = client.get(chat_url(game, query))
    assert (response.status_code, error_code(response)) == (400, "bad_param")


def test_largest_limit_and_before_are_answered(client, game):
    assert client.get(chat_url(game, "?limit=200&before=9223372036854775807")).status_code == 200


def test_chat_is_read_only(client, game):
    response = client.post(chat_url(game), data="{}", content_type="application/json")
    assert (response.status_code, error_code(response), response["Allow"]) == (405, "method_not_allowed", "GET")


def test_anonymous_chat_reads_count_against_the_address_limit(settings, game):
    settings.API_ANON_READ_RATE = 2
    settings.API_ANON_READ_WINDOW = 60
    # An address of its own (IPv6 counts per /64): counts live in the session's Valkey.
    client = Client(REMOTE_ADDR=f"2001:db8:{uuid.uuid4().hex[:4]}:{uuid.uuid4().hex[:4]}::1")
    assert [client.get(chat_url(game)).status_code for _ in range(2)] == [200, 200]
    refused = client.get(chat_url(game))
    assert (refused.status_code, error_code(refused)) == (429, "rate_limited")
    assert 1 <= int(refused["Retry-After"]) <= 60


def test_openapi_documents_the_chat_endpoint(client):
    doc = client.get("/api/openapi.json").json()
    chat = doc["paths"]["/api/games/{slug}/chat"]["get"]
    assert set(chat["responses"]) == {"200", "400", "404", "405", "429", "503"}  # 503: a heavy read (stats.admission)
    params = {p["name"]: p["schema"] for p in chat["parameters"]}
    assert params["limit"] | {"default": None} == {"type": "integer", "minimum": 1, "maximum": 200, "default": None}
    assert params["before"]["minimum"] == 1
    assert set(doc["components"]["schemas"]["ChatMessage"]["required"]) == {"id", "user", "text", "at_ms"}

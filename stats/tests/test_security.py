import asyncio
import http.client
import json
import os
import secrets
import subprocess
import sys

import pytest
import websockets
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client

from stats import services
from stats.models import ApiKey, ScoreEvent
from stats.tests.games import game_make
from stats.tests.support import ROOT
from webgame.asgi import application

READ_PATHS = ["/api/games/{slug}/snapshot", "/api/games/{slug}/events", "/api/games/{slug}/history", "/games/{slug}/"]


@pytest.fixture
def private_game(db):
    return game_make(prefix="secret", name="Secret", is_public=False)


def logged_in(username: str, *, staff: bool = False) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(User.objects.create_user(username, is_staff=staff))
    return client


# --- who may read a private game -------------------------------------------------------


@pytest.mark.parametrize("path", READ_PATHS)
def test_private_game_is_hidden_from_anonymous_on_every_read_path(client, private_game, path):
    assert client.get(path.format(slug=private_game.slug)).status_code == 404


@pytest.mark.parametrize("path", READ_PATHS)
def test_private_game_is_hidden_from_a_user_not_listed_on_every_read_path(private_game, path):
    assert logged_in("mallory").get(path.format(slug=private_game.slug)).status_code == 404


@pytest.mark.parametrize("path", READ_PATHS)
def test_private_game_is_shown_to_staff_on_every_read_path(private_game, path):
    assert logged_in("sam", staff=True).get(path.format(slug=private_game.slug)).status_code == 200


@pytest.mark.parametrize("path", READ_PATHS[:3])
def test_api_key_of_another_game_reads_nothing_of_a_private_game(client, private_game, game, api_key, path):
    response = client.get(path.format(slug=private_game.slug), HTTP_AUTHORIZATION=f"Bearer {api_key}")
    assert response.status_code == 404


def ask(client: Client, method: str, path: str, key: str):
    body = json.dumps({"id": "x", "player": "p", "points": 1}) if method == "post" else None
    kwargs = {"data": body, "content_type": "application/json"} if body else {}
    response = getattr(client, method)(path, HTTP_AUTHORIZATION=f"Bearer {key}", **kwargs)
    return response.status_code, response.json()


@pytest.mark.parametrize("method,path", [("post", "/api/games/{slug}/events"), *[("get", p) for p in READ_PATHS[:3]]])
def test_another_games_key_gets_the_same_404_as_a_missing_game(client, private_game, game, api_key, method, path):
    """Any key holder could otherwise tell which private games exist (a 403 said "belongs to
    another game" where a missing game was a 404)."""
    other_public = game_make(prefix="open", name="Open")
    missing = ask(client, method, path.format(slug="nosuch"), api_key)
    assert missing[0] == 404 and missing[1]["error"]["code"] == "not_found"
    assert ask(client, method, path.format(slug=private_game.slug), api_key) == missing
    if method == "post":  # a public game is readable by anyone, but not writable with this key
        assert ask(client, method, path.format(slug=other_public.slug), api_key) == missing
    assert not ScoreEvent.objects.exists()


@pytest.mark.django_db(transaction=True)
async def test_private_game_stream_is_refused_to_a_user_not_listed():
    def setup():
        secret = game_make(prefix="secret", name="Secret", is_public=False)
        client = Client()
        client.force_login(User.objects.create_user("mallory"))
        return secret, f"sessionid={client.cookies['sessionid'].value}".encode()

    secret, cookie = await sync_to_async(setup)()
    headers = [(b"origin", b"http://localhost"), (b"cookie", cookie)]
    comm = WebsocketCommunicator(application, f"/ws/games/{secret.slug}/", headers=headers)
    assert (await comm.connect())[0]
    assert (await comm.receive_json_from())["code"] == "not_found"
    assert (await comm.receive_output())["code"] == 4404


# --- Origin and Host ------------------------------------------------------------------


def test_a_client_without_origin_watches_a_public_game_but_not_a_private_one(live, game, private_game):
    """Issue #22: a client that is not a browser (no Origin, so no other site's page) was
    refused. It may watch what an anonymous visitor may: a private game answers not_found and
    closes 4404, as for a browser that is not logged in."""

    async def first_frames(slug: str) -> tuple[str, str, int | None]:
        url = f"ws://127.0.0.1:{live.port}/ws/games/{slug}/"
        async with websockets.connect(url, open_timeout=5) as ws:  # websockets sends no Origin
            first = json.loads(await asyncio.wait_for(ws.recv(), 10))
            if first["type"] != "error":
                return first["type"], "", None
            with pytest.raises(websockets.ConnectionClosed):
                await asyncio.wait_for(ws.recv(), 10)
            return first["type"], first["code"], ws.close_code

    assert asyncio.run(first_frames(game.slug)) == ("snapshot", "", None)
    assert asyncio.run(first_frames(private_game.slug)) == ("error", "not_found", 4404)


@pytest.mark.django_db(transaction=True)
async def test_stream_without_origin_from_a_foreign_host_is_refused_at_the_handshake(game):
    comm = WebsocketCommunicator(application, f"/ws/games/{game.slug}/", headers=[(b"host", b"evil.test")])
    assert not (await comm.connect())[0]


@pytest.mark.parametrize(
    "origin", ["http://evil.test", "http://localhost.evil.test", "null", "http://127.0.0.1.nip.io"]
)
def test_real_server_refuses_foreign_origins_with_403(live, game, origin):
    async def handshake():
        url = f"ws://127.0.0.1:{live.port}/ws/games/{game.slug}/"
        with pytest.raises(websockets.InvalidStatus) as refused:
            async with websockets.connect(url, origin=origin, open_timeout=5):
                pass
        return refused.value.response.status_code

    assert asyncio.run(handshake()) == 403


@pytest.mark.parametrize("host", ["evil.test", "localhost.evil.test", "127.0.0.1@evil.test"])
def test_foreign_host_header_is_refused_with_400(client, game, host):
    assert client.get(f"/api/games/{game.slug}/snapshot", HTTP_HOST=host).status_code == 400


def test_real_server_refuses_a_foreign_host_header(live, game):
    conn = http.client.HTTPConnection("127.0.0.1", live.port, timeout=10)
    conn.request("GET", f"/api/games/{game.slug}/snapshot", headers={"Host": "evil.test"})
    response = conn.getresponse()
    assert response.status == 400
    conn.close()


# --- API keys ---------------------------------------------------------------------------


def test_api_key_is_stored_only_as_its_sha256(game):
    key, raw = services.api_key_create(game=game, name="server")
    row = ApiKey.objects.filter(pk=key.pk).values().get()
    assert row["hashed"] == services.api_key_hash(raw) != raw
    assert not any(raw in str(value) for value in row.values())
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM stats_apikey WHERE hashed = %s", [raw])
        assert cursor.fetchone()[0] == 0


def test_api_key_with_a_right_prefix_and_wrong_secret_is_refused(client, game, api_key):
    forged = api_key[:-4] + ("AAAA" if not api_key.endswith("AAAA") else "BBBB")
    body = json.dumps({"id": "x", "player": "p", "points": 1})
    response = client.post(
        f"/api/games/{game.slug}/events", body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {forged}"
    )
    assert response.status_code == 401
    assert not ScoreEvent.objects.exists()


# --- staff-only writes -----------------------------------------------------------------


def staff_post(client: Client, game, with_token: bool):
    for page in ("/staff/score/", "/admin/login/"):  # a form page sets the CSRF cookie
        if "csrftoken" not in client.cookies:
            client.get(page)
    data = {"game": game.slug, "player": "ada", "points": "5", "kind": "score"}
    if with_token:
        data["csrfmiddlewaretoken"] = client.cookies["csrftoken"].value
    return client.post("/staff/score/", data)


def test_staff_score_without_csrf_token_is_403_and_stores_nothing(game):
    assert staff_post(logged_in("sam", staff=True), game, with_token=False).status_code == 403
    assert not ScoreEvent.objects.exists()


def test_staff_score_with_csrf_token_is_stored(game):
    assert staff_post(logged_in("sam", staff=True), game, with_token=True).status_code == 302
    assert ScoreEvent.objects.get().points == 5


def test_staff_score_is_refused_to_a_non_staff_user(game):
    response = staff_post(logged_in("mallory"), game, with_token=True)
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
    assert not ScoreEvent.objects.exists()


def test_admin_is_refused_to_a_non_staff_user(game):
    response = logged_in("mallory").get("/admin/stats/scoreevent/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


# --- production settings ---------------------------------------------------------------

PRODUCTION = {
    "DEBUG": "false",
    "SECURE_COOKIES": "true",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_SSL_REDIRECT": "true",
    "ALLOWED_HOSTS": "example.com",
    "DJANGO_SETTINGS_MODULE": "webgame.settings",
}


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DJANGO_SETTINGS_MODULE")}
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env={**base, **env}, capture_output=True, text=True, timeout=60
    )


def test_production_settings_pass_check_deploy_without_warnings():
    result = manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION, SECRET_KEY=secrets.token_urlsafe(50))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize("secret", ["", "django-insecure-webgame-development-only"])
def test_production_settings_refuse_to_start_without_a_real_secret_key(secret):
    env = {**PRODUCTION, "SECRET_KEY": secret} if secret else PRODUCTION
    result = manage("check", **env)
    assert result.returncode != 0
    assert "Set SECRET_KEY" in result.stderr


def test_production_settings_turn_on_secure_cookies_and_hsts():
    code = (
        "from django.conf import settings as s;"
        "print(s.DEBUG, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS,"
        " s.SECURE_HSTS_INCLUDE_SUBDOMAINS, s.SECURE_SSL_REDIRECT)"
    )
    result = manage("shell", "-v", "0", "-c", code, **PRODUCTION, SECRET_KEY=secrets.token_urlsafe(50))
    assert result.stdout.split() == ["False", "True", "True", "31536000", "True", "True"], result.stderr

"""Accounts for everyone (stats.accounts): login, logout, sign-up behind ACCOUNTS_SIGNUP, who
is logged in in the header, and the chat panel's parts that depend on who reads the page."""

import os
import re
import secrets
import subprocess
import sys

import pytest
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.models import User
from django.test import Client

from stats.tests.browser_support import csrf_masked
from stats.tests.games import game_make
from stats.tests.support import ROOT

PASSWORD = "a-long-enough-pass-42"


@pytest.fixture
def private_game(db):
    return game_make(prefix="secret", name="Hidden Vault", is_public=False)


@pytest.fixture
def vera(db):
    return User.objects.create_user("vera", password=PASSWORD)


def login_post(client: Client, username: str, next_url: str | None = None, password: str = PASSWORD):
    data = {"username": username, "password": password}
    if next_url is not None:
        data["next"] = next_url
    return client.post("/accounts/login/", data)


def logged_in_as(client: Client) -> str | None:
    user_id = client.session.get(SESSION_KEY)
    return User.objects.get(pk=user_id).username if user_id else None


# --- login ---------------------------------------------------------------------------------


def test_login_page_is_styled_like_the_site_with_a_strict_csp(client, db):
    response = client.get("/accounts/login/?next=/games/arena/")
    page = response.content.decode()
    assert response.status_code == 200
    assert "stats/site.css" in page and 'class="site-header"' in page
    assert 'name="next" value="/games/arena/"' in page
    assert "<script" not in page and "unsafe-inline" not in response["Content-Security-Policy"]


def test_a_non_staff_user_logs_in_and_lands_on_the_lobby(client, vera):
    response = login_post(client, "vera")
    assert (response.status_code, response["Location"]) == (302, "/")
    assert logged_in_as(client) == "vera"


def test_login_honours_a_local_next(client, vera):
    response = login_post(client, "vera", next_url="/games/secret/?x=1")
    assert response["Location"] == "/games/secret/?x=1"


@pytest.mark.parametrize(
    "next_url", ["https://evil.example/", "//evil.example/steal", "javascript:alert(1)", "\\\\evil.example"]
)
def test_login_ignores_a_next_off_this_site(client, vera, next_url):
    response = login_post(client, "vera", next_url=next_url)
    assert (response.status_code, response["Location"]) == (302, "/")


def test_a_wrong_password_is_refused_on_the_page(client, vera):
    response = login_post(client, "vera", password="wrong")
    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()
    assert logged_in_as(client) is None


def test_login_without_a_csrf_token_is_refused(vera):
    client = Client(enforce_csrf_checks=True)
    assert login_post(client, "vera").status_code == 403
    assert logged_in_as(client) is None


def test_the_admin_login_still_refuses_a_non_staff_user(client, vera):
    response = client.post("/admin/login/", {"username": "vera", "password": PASSWORD})
    assert response.status_code == 200 and logged_in_as(client) is None


# --- logout --------------------------------------------------------------------------------


def test_logout_is_post_only(client, vera):
    client.force_login(vera)
    assert client.get("/accounts/logout/").status_code == 405
    assert logged_in_as(client) == "vera"


def test_logout_by_post_ends_the_session_and_lands_on_the_lobby(client, vera):
    client.force_login(vera)
    response = client.post("/accounts/logout/")
    assert (response.status_code, response["Location"]) == (302, "/")
    assert logged_in_as(client) is None


def test_logout_without_a_csrf_token_is_refused(vera):
    client = Client(enforce_csrf_checks=True)
    client.force_login(vera)
    assert client.post("/accounts/logout/").status_code == 403
    assert logged_in_as(client) == "vera"


# --- the header ------------------------------------------------------------------------------


def test_header_shows_the_user_and_a_logout_form(client, vera):
    client.force_login(vera)
    page = client.get("/").content.decode()
    assert re.search(r'<span class="site-user"[^>]*>vera</span>', page)
    form = re.search(r'<form method="post" action="/accounts/logout/" class="logout-form">(.*?)</form>', page, re.S)
    assert form and 'name="csrfmiddlewaretoken"' in form.group(1)
    assert "/accounts/login/" not in page


def test_header_offers_an_anonymous_viewer_to_log_in_and_come_back(client, db):
    page = client.get("/?from=here").content.decode()
    assert 'href="/accounts/login/?next=/%3Ffrom%3Dhere"' in page
    assert "logout-form" not in page


def test_header_escapes_the_username(client, db):
    client.force_login(User.objects.create_user("<b>x</b>"))
    page = client.get("/").content.decode()
    assert "<b>x</b>" not in page and "&lt;b&gt;x&lt;/b&gt;" in page


# --- sign-up -----------------------------------------------------------------------------------


def signup_post(client: Client, username: str, next_url: str = ""):
    data = {"username": username, "password1": PASSWORD, "password2": PASSWORD, "next": next_url}
    return client.post("/accounts/signup/", data)


def test_signup_makes_an_account_logs_it_in_and_follows_next(client, db, settings):
    settings.ACCOUNTS_SIGNUP = True
    assert client.get("/accounts/signup/").status_code == 200
    response = signup_post(client, "newbie", next_url="/games/arena/")
    assert (response.status_code, response["Location"]) == (302, "/games/arena/")
    assert logged_in_as(client) == "newbie"
    assert not User.objects.get(username="newbie").is_staff


def test_signup_ignores_a_next_off_this_site(client, db, settings):
    settings.ACCOUNTS_SIGNUP = True
    assert signup_post(client, "newbie", next_url="https://evil.example/")["Location"] == "/"


def test_signup_shows_the_password_rules_and_stores_nothing_on_error(client, db, settings):
    settings.ACCOUNTS_SIGNUP = True
    response = client.post("/accounts/signup/", {"username": "newbie", "password1": "x", "password2": "y"})
    assert response.status_code == 200 and response.context["form"].errors
    assert not User.objects.filter(username="newbie").exists()


def test_signup_is_404_when_off_and_the_login_page_does_not_offer_it(client, db, settings):
    settings.ACCOUNTS_SIGNUP = False
    assert client.get("/accounts/signup/").status_code == 404
    assert signup_post(client, "newbie").status_code == 404
    assert not User.objects.filter(username="newbie").exists()
    assert "/accounts/signup/" not in client.get("/accounts/login/").content.decode()


def test_the_login_page_offers_signup_when_on(client, db, settings):
    settings.ACCOUNTS_SIGNUP = True
    page = client.get("/accounts/login/?next=/games/arena/").content.decode()
    assert 'href="/accounts/signup/?next=/games/arena/"' in page


@pytest.mark.parametrize(("debug", "expected"), [("true", "True"), ("false", "False")])
def test_signup_defaults_to_on_in_development_and_off_in_production(debug, expected):
    env = {k: v for k, v in os.environ.items() if k not in ("ACCOUNTS_SIGNUP", "DJANGO_SETTINGS_MODULE")}
    env.update(DEBUG=debug, SECRET_KEY=secrets.token_urlsafe(50))
    code = "from webgame import settings; print(settings.ACCOUNTS_SIGNUP, settings.LOGIN_URL)"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.stdout.split() == [expected, "/accounts/login/"], result.stderr


# --- private games ---------------------------------------------------------------------------


def test_a_listed_viewer_logs_in_and_sees_the_private_game_in_the_lobby_and_its_dashboard(
    client, vera, game, private_game
):
    private_game.viewers.add(vera)
    assert "Hidden Vault" not in client.get("/").content.decode()
    response = login_post(client, "vera", next_url=f"/games/{private_game.slug}/")
    assert response["Location"] == f"/games/{private_game.slug}/"
    assert client.get(f"/games/{private_game.slug}/").status_code == 200
    lobby = client.get("/").content.decode()
    assert "Hidden Vault" in lobby and "Arena" in lobby


def test_an_unlisted_user_gets_the_same_404_as_for_no_game(client, vera, private_game):
    login_post(client, "vera")
    hidden, missing = client.get(f"/games/{private_game.slug}/"), client.get("/games/nosuch/")
    assert hidden.status_code == missing.status_code == 404
    # The same page, but for the log-out form's CSRF token, which is masked anew per render.
    assert csrf_masked(hidden.content) == csrf_masked(missing.content)
    assert "Hidden Vault" not in client.get("/").content.decode()


# --- the chat panel, by who reads ---------------------------------------------------------------


def chat_section(page: str) -> str:
    found = re.search(r'<section class="card area-chat chat" id="chat".*?</section>', page, re.S)
    assert found, "no chat panel"
    return found.group(0)


def test_chat_panel_offers_an_anonymous_viewer_to_log_in_instead_of_an_input(client, game):
    chat = chat_section(client.get(f"/games/{game.slug}/").content.decode())
    assert f'<a id="chat-login" href="/accounts/login/?next=/games/{game.slug}/">Log in to chat</a>' in chat
    assert "chat-input" not in chat and 'data-staff=""' in chat and 'data-user=""' in chat


def test_chat_panel_has_an_input_of_500_characters_for_a_logged_in_user(client, vera, game):
    client.force_login(vera)
    chat = chat_section(client.get(f"/games/{game.slug}/").content.decode())
    assert re.search(r'<input id="chat-input"[^>]* maxlength="500"', chat)
    assert 'data-user="vera"' in chat and 'data-staff=""' in chat and "Log in to chat" not in chat


def test_chat_panel_tells_the_page_of_a_staff_reader(client, game):
    client.force_login(User.objects.create_user("sam", is_staff=True))
    assert 'data-staff="1"' in chat_section(client.get(f"/games/{game.slug}/").content.decode())

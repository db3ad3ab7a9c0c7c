"""Accounts in a real browser (Debian's Chromium through Playwright, against daphne): a listed
viewer logs in at /accounts/login/ and watches their private game live; an unlisted one gets
the same 404, page and socket alike, as for a game that does not exist."""

from urllib.parse import quote, urlsplit

import pytest
from django.contrib.auth import get_user_model

from stats import services
from stats.tests.test_accounts import csrf_masked
from stats.tests.test_browser import WAIT_MS, api_post, ui_wait_for_totals

pytestmark = pytest.mark.browser
PASSWORD = "viewer-pass-123"

# A socket to a game's stream, from the page: its close code and the frames it got.
SOCKET_PROBE = """(path) => new Promise((resolve) => {
  const ws = new WebSocket(`ws://${location.host}${path}`);
  const frames = [];
  ws.onmessage = (event) => frames.push(JSON.parse(event.data));
  ws.onclose = (event) => resolve({ code: event.code, frames });
})"""


def user_create(username: str, *, staff: bool = False):
    return get_user_model().objects.create_user(username, password=PASSWORD, is_staff=staff)


def account_login(page, username: str, next_path: str = "/") -> None:
    """Log in through the login page, as a person would, and wait to land on `next_path`."""
    page.goto(f"/accounts/login/?next={quote(next_path)}")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("form.account-form button[type=submit]")

    def landed(url: str) -> bool:
        parts = urlsplit(url)
        return parts.path != "/accounts/login/" and parts.path + (f"?{parts.query}" if parts.query else "") == next_path

    page.wait_for_url(landed, timeout=WAIT_MS)


def snapshot_wait(page) -> None:
    page.wait_for_function("() => window.webgame && window.webgame.stats.snapshots > 0", timeout=WAIT_MS)


@pytest.fixture
def private_game(db):
    return services.game_create(slug="secret", name="Hidden Vault", is_public=False)


def test_a_listed_viewer_logs_in_and_watches_their_private_game_live(page, live, private_game):
    vera = user_create("vera")
    private_game.viewers.add(vera)
    key = services.api_key_create(game=private_game, name="test")[1]
    assert page.goto("/games/secret/").status == 404  # anonymous: no such game

    account_login(page, "vera", next_path="/games/secret/")
    snapshot_wait(page)
    assert page.locator(".site-user").text_content() == "vera"
    assert page.locator("#game-name").text_content() == "Hidden Vault"
    api_post(live, "secret", key, [{"id": "p1", "player": "ada", "points": 5}])
    ui = ui_wait_for_totals(page, {"ada": 5}, seq=1)
    assert ui["status"] == "live"

    page.goto("/")
    assert page.locator('#game-list [data-slug="secret"] [data-field="name"]').text_content() == "Hidden Vault"
    page.click(".logout-form button")
    page.locator(".site-account a", has_text="Log in").wait_for(timeout=WAIT_MS)
    assert page.locator(".site-user").count() == 0
    assert page.locator('#game-list [data-slug="secret"]').count() == 0
    assert page.goto("/games/secret/").status == 404


def test_an_unlisted_viewer_gets_the_same_404_as_a_game_that_does_not_exist(page, live, private_game):
    user_create("mallory")
    account_login(page, "mallory")
    assert page.locator(".site-user").text_content() == "mallory"
    assert page.locator('#game-list [data-slug="secret"]').count() == 0
    hidden = page.goto("/games/secret/")
    hidden_body = hidden.text()
    missing = page.goto("/games/nosuch/")
    assert hidden.status == missing.status == 404
    assert csrf_masked(hidden_body) == csrf_masked(missing.text())
    hidden_socket = page.evaluate(SOCKET_PROBE, "/ws/games/secret/")
    missing_socket = page.evaluate(SOCKET_PROBE, "/ws/games/nosuch/")
    assert hidden_socket == missing_socket
    assert hidden_socket["code"] == 4404

"""Accounts in a real browser (Debian's Chromium through Playwright, against daphne): a listed
viewer logs in at /accounts/login/ and watches their private game live; an unlisted one gets
the same 404, page and socket alike, as for a game that does not exist."""

import pytest

from stats import services
from stats.tests.browser_support import WAIT_MS, account_login, api_post, csrf_masked, ui_wait_for_totals, user_create
from stats.tests.games import game_make

pytestmark = pytest.mark.browser
# A socket to a game's stream, from the page: its close code and the frames it got.
SOCKET_PROBE = """(path) => new Promise((resolve) => {
  const ws = new WebSocket(`ws://${location.host}${path}`);
  const frames = [];
  ws.onmessage = (event) => frames.push(JSON.parse(event.data));
  ws.onclose = (event) => resolve({ code: event.code, frames });
})"""


def snapshot_wait(page) -> None:
    page.wait_for_function("() => window.webgame && window.webgame.stats.snapshots > 0", timeout=WAIT_MS)


@pytest.fixture
def private_game(db):
    return game_make(prefix="secret", name="Hidden Vault", is_public=False)


def test_a_listed_viewer_logs_in_and_watches_their_private_game_live(page, live, private_game):
    vera = user_create("vera")
    private_game.viewers.add(vera)
    key = services.api_key_create(game=private_game, name="test")[1]
    assert page.goto(f"/games/{private_game.slug}/").status == 404  # anonymous: no such game

    account_login(page, "vera", next_path=f"/games/{private_game.slug}/")
    snapshot_wait(page)
    assert page.locator(".site-user").text_content() == "vera"
    assert page.locator("#game-name").text_content() == "Hidden Vault"
    api_post(live, private_game.slug, key, [{"id": "p1", "player": "ada", "points": 5}])
    ui = ui_wait_for_totals(page, {"ada": 5}, seq=1)
    assert ui["status"] == "live"

    page.goto("/")
    assert (
        page.locator(f'#game-list [data-slug="{private_game.slug}"] [data-field="name"]').text_content()
        == "Hidden Vault"
    )
    page.click(".logout-form button")
    page.locator(".site-account a", has_text="Log in").wait_for(timeout=WAIT_MS)
    assert page.locator(".site-user").count() == 0
    assert page.locator(f'#game-list [data-slug="{private_game.slug}"]').count() == 0
    assert page.goto(f"/games/{private_game.slug}/").status == 404


def test_an_unlisted_viewer_gets_the_same_404_as_a_game_that_does_not_exist(page, live, private_game):
    user_create("mallory")
    account_login(page, "mallory")
    assert page.locator(".site-user").text_content() == "mallory"
    assert page.locator(f'#game-list [data-slug="{private_game.slug}"]').count() == 0
    hidden = page.goto(f"/games/{private_game.slug}/")
    hidden_body = hidden.text()
    missing = page.goto("/games/nosuch/")
    assert hidden.status == missing.status == 404
    assert csrf_masked(hidden_body) == csrf_masked(missing.text())
    hidden_socket = page.evaluate(SOCKET_PROBE, f"/ws/games/{private_game.slug}/")
    missing_socket = page.evaluate(SOCKET_PROBE, "/ws/games/nosuch/")
    assert hidden_socket == missing_socket
    assert hidden_socket["code"] == 4404

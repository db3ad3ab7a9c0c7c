"""The wall screen (/games/<slug>/tv/) in a real browser (Debian's Chromium through Playwright,
against daphne), at 1920x1080 and 3840x2160: it fits the screen with no scrollbars, has no
controls, follows the game live (scoreboard, leaderboard, ticker), cuts long names, scales its
type with the screen, and keeps to the CSP. The helpers here serve the overlay tests too."""

import pytest

from stats import services
from stats.tests.browser_support import (
    WAIT_MS,
    XSS_NAMES,
    FirstEventsFrameDropper,
    account_login,
    api_post,
    record_off_loop,
    user_create,
)
from stats.tests.games import game_make
from stats.tests.support import event_in
from stats.tests.wall_support import (
    CONTROLS,
    CUT_READ,
    FULL_HD,
    LONG_NAME,
    MATCH_READ,
    UHD,
    WALL_SIZES,
    assert_cut,
    csp_violations,
    font_px,
    match_with_big_teams,
    scroll_size,
    wall_open,
    wall_read,
    wall_ready,
    wall_wait,
)

pytestmark = pytest.mark.browser
wall_open = wall_open  # the fixture: a wall page in a context of its own


def players_post(live, game, key, count: int = 14, *, prefix: str = "p") -> list[dict]:
    """Events for `count` players (the last one with the longest name allowed), each with
    its own total, posted in one batch."""
    events = [{"id": f"{prefix}{i}", "player": f"player{i:02d}", "points": 10 + i} for i in range(count - 1)]
    events.append({"id": f"{prefix}-long", "player": LONG_NAME, "points": 5})
    api_post(live, game.slug, key, events)
    return events


@pytest.mark.parametrize("viewport", [FULL_HD, UHD], ids=["1920x1080", "3840x2160"])
def test_tv_fills_the_screen_exactly_with_no_scrollbars_and_no_controls(wall_open, live, game, api_key, viewport):
    page, response = wall_open(f"/games/{game.slug}/tv/", viewport)
    assert response.status == 200
    players_post(live, game, api_key, count=16)
    wall_wait(page, events=16)
    page.wait_for_function("() => document.querySelectorAll('.lb-row').length === 10", timeout=WAIT_MS)
    size = scroll_size(page)
    screen = [viewport["width"], viewport["height"]]
    assert size == {"doc": screen, "body": screen, "client": screen, "viewport": screen}
    assert page.evaluate(f"() => document.querySelectorAll('{CONTROLS}').length") == 0
    # Every part is on the screen, none cut by its edge.
    boxes = page.evaluate("""() => Array.from(document.querySelectorAll(
        '.tv-head, .scoreboard, .leaderboard, .ticker, .lb-row, .sb-side')).map((el) => {
      const r = el.getBoundingClientRect();
      return [el.className, r.left >= 0 && r.top >= 0 && r.right <= innerWidth && r.bottom <= innerHeight];
    })""")
    assert [name for name, inside in boxes if not inside] == []
    assert len(boxes) == 4 + 10 + 3
    assert csp_violations(page) == []


def test_tv_type_scales_with_the_screen(wall_open, live, game, api_key):
    players_post(live, game, api_key)
    selectors = [".tv-title", ".sb-total dd", ".sb-name", ".lb-name", ".lb-total", ".tk-who"]
    sizes = {}
    for name, viewport in (("hd", FULL_HD), ("uhd", UHD)):
        page, _ = wall_open(f"/games/{game.slug}/tv/", viewport)
        wall_wait(page, events=14)
        sizes[name] = {selector: font_px(page, selector) for selector in selectors}
    for selector in selectors:
        assert sizes["uhd"][selector] >= 1.8 * sizes["hd"][selector], (selector, sizes)
    # Big type: read from across a room even at 1080p.
    assert min(sizes["hd"].values()) >= 28, sizes["hd"]
    assert sizes["hd"][".sb-total dd"] >= 80


def test_tv_follows_the_game_live(wall_open, live, game, api_key):
    page, _ = wall_open(f"/games/{game.slug}/tv/")
    shown = wall_read(page)
    assert (shown["leaderboard"], shown["ticker"], shown["sides"]) == ([], [], [])
    assert page.locator(".lb-list .empty").text_content() == "Waiting for the first score…"
    assert page.locator(".tk-list .empty").text_content() == "Waiting for the first event…"
    api_post(
        live,
        game.slug,
        api_key,
        [
            {"id": "e1", "player": "ada", "points": 30},
            {"id": "e2", "player": "linus", "points": 12},
            {"id": "e3", "player": "ada", "points": 5},
            {"id": "e4", "player": "grace", "points": 20},
        ],
    )
    wall_wait(
        page,
        points=67,
        events=4,
        sides=[["ada", 35], ["grace", 20], ["linus", 12]],
        leaderboard=[["ada", 35], ["grace", 20], ["linus", 12]],
        ticker=[["grace", 20], ["ada", 5], ["linus", 12], ["ada", 30]],
    )
    assert page.locator(".tv-meta").text_content() == "3 players"
    # Through the service (as the admin and the staff page write), a correction among them.
    record_off_loop(game.pk, [event_in("e5", "linus", 40), event_in("e6", "ada", -3, kind="penalty")])
    shown = wall_wait(
        page,
        points=104,
        events=6,
        sides=[["linus", 52], ["ada", 32], ["grace", 20]],
        leaderboard=[["linus", 52], ["ada", 32], ["grace", 20]],
    )
    assert shown["ticker"][:2] == [["ada", -3], ["linus", 40]]
    newest = page.locator(".tk-item").first
    assert newest.locator(".tk-kind").text_content() == "penalty"
    assert "neg" in newest.locator(".tk-pts").get_attribute("class")
    assert page.locator(".tk-item").nth(1).locator(".tk-kind").is_hidden()  # "score" goes unsaid
    assert shown["status"] == "live"
    assert csp_violations(page) == []


def test_tv_cuts_long_names_with_an_ellipsis_and_keeps_them_whole_in_title(wall_open, live, game, api_key):
    page, _ = wall_open(f"/games/{game.slug}/tv/")
    api_post(
        live,
        game.slug,
        api_key,
        [{"id": "l1", "player": LONG_NAME, "points": 99}, {"id": "l2", "player": "ada", "points": 1}],
    )
    wall_wait(page, leaderboard=[[LONG_NAME, 99], ["ada", 1]])
    for selector in (".lb-row .lb-name", ".sb-side .sb-name", ".tk-item:nth-child(2) .tk-who"):
        assert_cut(page, selector, LONG_NAME)
    assert scroll_size(page)["doc"] == [1920, 1080]


def test_tv_draws_markup_in_names_as_text(wall_open, live, game, api_key):
    page, _ = wall_open(f"/games/{game.slug}/tv/")
    api_post(
        live, game.slug, api_key, [{"id": f"x{i}", "player": n, "points": 10 - i} for i, n in enumerate(XSS_NAMES)]
    )
    wall_wait(page, leaderboard=[[n, 10 - i] for i, n in enumerate(XSS_NAMES)])
    assert page.evaluate("() => document.querySelectorAll('#wall img, #wall svg, #wall script, #wall b').length") == 0
    assert page.evaluate("() => [window.__xss, window.__csp]") == [None, []]


def test_tv_resumes_after_a_lost_events_frame(wall_open, live, game, api_key):
    """The page follows the stream as the dashboard does: a gap is noticed and resumed."""
    dropper = FirstEventsFrameDropper()
    page, _ = wall_open(f"/games/{game.slug}/tv/", ws_route=dropper)
    dropper.posted_then_dropped(page, live, game, api_key)
    api_post(live, game.slug, api_key, [{"id": "g2", "player": "ada", "points": 7}])
    wall_wait(page, leaderboard=[["ada", 12]], ticker=[["ada", 7], ["ada", 5]])
    assert len(dropper.dropped) == 1
    assert page.evaluate("() => [window.webgame.stats.gaps, window.webgame.stats.snapshots]") == [1, 1]


def test_tv_shows_a_lost_connection_and_comes_back(wall_open, live, game, api_key):
    page, _ = wall_open(f"/games/{game.slug}/tv/")
    status = page.locator(".wall-status")
    page.locator('.wall-status[data-status="live"]').wait_for(state="attached", timeout=WAIT_MS)
    assert page.locator(".wall-status-text").bounding_box()["width"] <= 1  # live: only the dot
    page.context.set_offline(True)
    page.locator('.wall-status[data-status="offline"]').wait_for(timeout=WAIT_MS)
    assert status.text_content() == "offline, retrying"
    assert page.locator(".wall-status-text").bounding_box()["width"] > 20  # said in words
    api_post(live, game.slug, api_key, [{"id": "o1", "player": "ada", "points": 3}])
    page.context.set_offline(False)
    wall_wait(page, status="live", leaderboard=[["ada", 3]])  # the new snapshot has what was missed


def test_tv_shows_degraded_while_the_server_says_so(wall_open, game):
    page, _ = wall_open(f"/games/{game.slug}/tv/")
    wall_wait(page, status="live")
    frame = "(frame) => window.webgame.socket.onFrame(frame)"
    page.evaluate(frame, {"type": "status", "live": False, "reason": "layer_down"})
    wall_wait(page, status="degraded")
    assert page.locator(".wall-status").text_content() == "degraded: updating every few seconds"
    page.evaluate(frame, {"type": "status", "live": True})
    wall_wait(page, status="live")


def test_tv_scoreboard_shows_teams_when_the_snapshot_has_them(wall_open, live, game, api_key):
    page, _ = wall_open(f"/games/{game.slug}/tv/")
    api_post(live, game.slug, api_key, [{"id": "t1", "player": "ada", "points": 21}])
    wall_wait(page, sides=[["ada", 21]])
    assert page.evaluate(MATCH_READ) == {"match": None, "teams": [], "totals": ["Points", "Events"]}
    snapshot = page.evaluate(f"() => fetch('/api/games/{game.slug}/snapshot').then((r) => r.json())")
    snapshot = {**snapshot, "type": "snapshot", "teams": [], "match": None}
    frame_in = "(frame) => window.webgame.socket.onFrame(frame)"
    teams = [{"team": "Red", "stats": {"points": 12}}, {"team": "Blue", "stats": {"points": 9}}]
    page.evaluate(frame_in, {**snapshot, "teams": teams})
    # The teams above the top 3 players, who stay.
    page.wait_for_function("() => document.querySelectorAll('.sb-team').length === 2", timeout=WAIT_MS)
    assert page.evaluate(MATCH_READ)["teams"] == [["Red", 12], ["Blue", 9]]
    assert wall_read(page)["sides"] == [["ada", 21]]
    # One line, "Red 12 - 9 Blue" (an en dash): left to right, name, score, dash, score, name.
    order = page.evaluate("""() => Array.from(document.querySelectorAll('.sb-team-name, .sb-team-score'))
      .sort((a, b) => a.getBoundingClientRect().left - b.getBoundingClientRect().left).map((el) => el.textContent)""")
    assert order == ["Red", "12", "9", "Blue"]
    dash = page.evaluate("() => getComputedStyle(document.querySelector('.sb-team:last-child'), '::before').content")
    assert dash == '"\u2013"'
    # The teams of the open match, and an events frame's absolute totals of the teams that changed.
    match = {"id": "m-1", "name": "Final", "status": "live", "teams": [*teams, {"team": "Green", "stats": {}}]}
    page.evaluate(frame_in, {**snapshot, "match": match})
    page.wait_for_function("() => document.querySelectorAll('.sb-team').length === 3", timeout=WAIT_MS)
    assert page.evaluate(MATCH_READ)["match"] == "Final"
    event = {**snapshot["recent"][-1], "id": "t2", "seq": 2, "points": 1}
    events = {
        "type": "events",
        "events": [event],
        "players": [{"player": "ada", "total": 22, "events": 2}],
        "game": {**snapshot["game"], "last_seq": 2, "events": 2, "points": 22},
        "teams": [{"match": "m-1", "team": "Blue", "stats": {"points": 15}}],
    }
    page.evaluate(frame_in, events)
    wall_wait(page, sides=[["ada", 22]], leaderboard=[["ada", 22]])
    assert page.evaluate(MATCH_READ)["teams"] == [["Red", 12], ["Blue", 15], ["Green", 0]]
    page.evaluate(frame_in, snapshot)  # no match, no teams: the box goes
    page.wait_for_function("() => document.querySelector('.sb-match').hidden", timeout=WAIT_MS)
    assert page.evaluate(MATCH_READ) == {"match": None, "teams": [], "totals": ["Points", "Events"]}


def test_tv_of_a_private_game_is_404_for_an_anonymous_viewer_and_live_for_a_listed_one(wall_open, live, db):
    secret = game_make(prefix="secret", name="Hidden Vault", is_public=False)
    page, response = wall_open(f"/games/{secret.slug}/tv/", wait=False)
    assert response.status == 404
    vera = user_create("vera")
    secret.viewers.add(vera)
    key = services.api_key_create(game=secret, name="test")[1]
    account_login(page, "vera", next_path=f"/games/{secret.slug}/tv/")
    wall_ready(page)
    api_post(live, secret.slug, key, [{"id": "s1", "player": "ada", "points": 4}])
    wall_wait(page, leaderboard=[["ada", 4]])


@pytest.mark.parametrize("viewport", WALL_SIZES, ids=lambda v: f"{v['width']}x{v['height']}")
def test_tv_fits_a_match_score_and_the_top_3_at_every_size(wall_open, live, game, api_key, viewport):
    """Issue #22: "Red" was cut at the panel's edge, and the score took the top 3's place."""
    page, _ = wall_open(f"/games/{game.slug}/tv/", viewport)
    match_with_big_teams(live, game, api_key)
    shown = wall_wait(page, events=7, sides=[["ada", 17_800], ["kenji", 13_350], ["vera", 4_900]])
    assert page.evaluate(MATCH_READ) == {
        "match": "Grand Final",
        "teams": [["Blue", 22_500], ["Red", 23_050]],
        "totals": ["All-time points", "All-time events"],
    }
    assert shown["points"] == 45_550
    assert page.evaluate(CUT_READ) == []
    assert csp_violations(page) == []

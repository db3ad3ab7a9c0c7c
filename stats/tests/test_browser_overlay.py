"""Stream overlays (/games/<slug>/overlay/?view=leaderboard|scoreboard|ticker) in a real
browser (Debian's Chromium through Playwright, against daphne): each view follows the game
live on a see-through page (html and body transparent, and a screenshot without background
has transparent pixels), with no page chrome; a bad URL is a 400 page naming what is allowed."""

import struct
import zlib

import pytest

from stats.tests.browser_support import WAIT_MS, api_post
from stats.tests.games import game_make
from stats.tests.wall_support import (
    CONTROLS,
    CUT_READ,
    LONG_NAME,
    MATCH_READ,
    WALL_SIZES,
    assert_cut,
    csp_violations,
    font_px,
    match_with_big_teams,
    scroll_size,
    wall_open,
    wall_read,
    wall_wait,
)

pytestmark = pytest.mark.browser
wall_open = wall_open  # the fixture of test_browser_tv: a wall page in a context of its own

SOURCE = {"width": 800, "height": 450}  # a browser source in the streaming tool
TRANSPARENT = "rgba(0, 0, 0, 0)"
EVENTS = [
    {"id": "e1", "player": "ada", "points": 30},
    {"id": "e2", "player": "linus", "points": 12},
    {"id": "e3", "player": "grace", "points": 20},
    {"id": "e4", "player": "ada", "points": 5},
]


def png_alpha(png: bytes) -> tuple[int, int, list[bytes]]:
    """Width, height and each row's alpha bytes of an 8-bit RGBA PNG (what Chromium writes),
    read with the standard library: the IDAT stream inflated, each row's filter undone."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, bytearray(), None
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        kind, data = png[pos + 4 : pos + 8], png[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", data)
        elif kind == b"IDAT":
            idat += data
        elif kind == b"IEND":
            break
    width, height, depth, color, _, _, interlace = header
    assert (depth, color, interlace) == (8, 6, 0), f"expected 8-bit RGBA, not interlaced: {header}"
    raw, stride, bpp = zlib.decompress(bytes(idat)), width * 4, 4
    rows, previous = [], bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for i in range(stride):
            left = line[i - bpp] if i >= bpp else 0
            up = previous[i]
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + ((left + up) >> 1)) & 0xFF
            elif kind == 4:
                corner = previous[i - bpp] if i >= bpp else 0
                guess = left + up - corner
                da, db, dc = abs(guess - left), abs(guess - up), abs(guess - corner)
                line[i] = (line[i] + (left if da <= db and da <= dc else up if db <= dc else corner)) & 0xFF
        rows.append(bytes(line[3::4]))
        previous = line
    return width, height, rows


def overlay_open(wall_open, game, query: str, viewport: dict | None = None):
    page, response = wall_open(f"/games/{game.slug}/overlay/?{query}", viewport or SOURCE)
    assert response.status == 200
    return page


def test_the_leaderboard_overlay_follows_the_game_live(wall_open, live, game, api_key):
    page = overlay_open(wall_open, game, "view=leaderboard")
    assert wall_read(page)["leaderboard"] == []
    api_post(live, game.slug, api_key, EVENTS)
    wall_wait(page, leaderboard=[["ada", 35], ["grace", 20], ["linus", 12]])
    api_post(live, game.slug, api_key, [{"id": "e5", "player": "linus", "points": 40}])
    shown = wall_wait(page, leaderboard=[["linus", 52], ["ada", 35], ["grace", 20]])
    assert (shown["ticker"], shown["sides"]) == ([], [])  # the one view asked for
    assert page.locator(".overlay-title").text_content() == "Arena"
    assert csp_violations(page) == []


def test_the_scoreboard_overlay_follows_the_game_live(wall_open, live, game, api_key):
    page = overlay_open(wall_open, game, "view=scoreboard")
    wall_wait(page, points=0, events=0, sides=[])
    api_post(live, game.slug, api_key, EVENTS)
    wall_wait(page, points=67, events=4, sides=[["ada", 35], ["grace", 20], ["linus", 12]])
    api_post(live, game.slug, api_key, [{"id": "e5", "player": "ken", "points": 50}])
    shown = wall_wait(page, points=117, events=5, sides=[["ken", 50], ["ada", 35], ["grace", 20]])
    assert (shown["leaderboard"], shown["ticker"]) == ([], [])
    assert csp_violations(page) == []


def test_the_ticker_overlay_follows_the_game_live(wall_open, live, game, api_key):
    page = overlay_open(wall_open, game, "view=ticker&limit=3")
    api_post(live, game.slug, api_key, EVENTS)
    wall_wait(page, ticker=[["ada", 5], ["grace", 20], ["linus", 12]])  # newest first, 3 at most
    api_post(live, game.slug, api_key, [{"id": "e5", "player": "ken", "points": 50}])
    shown = wall_wait(page, ticker=[["ken", 50], ["ada", 5], ["grace", 20]])
    assert (shown["leaderboard"], shown["sides"]) == ([], [])
    # A strip along the bottom of the source, across it.
    box = page.locator(".ticker").bounding_box()
    assert SOURCE["height"] - 20 < box["y"] + box["height"] <= SOURCE["height"]
    assert box["width"] > SOURCE["width"] - 30
    assert csp_violations(page) == []


@pytest.mark.parametrize("view", ["leaderboard", "scoreboard", "ticker"])
def test_an_overlay_is_see_through_with_no_page_chrome(wall_open, live, game, api_key, view):
    api_post(live, game.slug, api_key, EVENTS)
    page = overlay_open(wall_open, game, f"view={view}")
    backgrounds = page.evaluate("""() => [document.documentElement, document.body].map((el) => {
      const style = getComputedStyle(el);
      return [style.backgroundColor, style.backgroundImage];
    })""")
    assert backgrounds == [[TRANSPARENT, "none"], [TRANSPARENT, "none"]]
    assert page.evaluate(f"() => document.querySelectorAll('{CONTROLS}, header, footer, h1').length") == 0
    size = scroll_size(page)
    assert size["doc"] == size["viewport"] == [SOURCE["width"], SOURCE["height"]]  # no scrollbars
    assert page.locator('.wall-status[data-status="live"]').is_hidden()  # nothing to see while live
    assert csp_violations(page) == []


def test_a_screenshot_without_background_has_transparent_pixels_around_the_panel(wall_open, live, game, api_key):
    api_post(live, game.slug, api_key, EVENTS)
    page = overlay_open(wall_open, game, "view=leaderboard", {"width": 320, "height": 240})
    wall_wait(page, leaderboard=[["ada", 35], ["grace", 20], ["linus", 12]])
    width, height, alpha = png_alpha(page.screenshot(omit_background=True, animations="disabled"))
    assert (width, height) == (320, 240)
    panel = page.locator(".leaderboard").bounding_box()
    inside = alpha[int(panel["y"] + panel["height"] / 2)][int(panel["x"] + panel["width"] / 2)]
    assert inside >= 190  # the panel: semi-opaque (text over it fully opaque)
    assert alpha[height - 1][width - 1] == 0  # below and right of it: nothing
    see_through = sum(row.count(0) for row in alpha)
    assert see_through > width * height // 4


def test_an_unknown_view_is_a_400_page_naming_the_allowed_values(wall_open, game):
    page, response = wall_open(f"/games/{game.slug}/overlay/?view=nope", wait=False)
    assert response.status == 400
    assert response.headers["content-type"].startswith("text/html")
    text = page.locator("main").inner_text()
    assert "view: 'nope' is not a view; use leaderboard, scoreboard, ticker." in text
    assert "limit" in text and "scale" in text
    assert page.evaluate("() => document.querySelectorAll('script').length") == 0
    assert csp_violations(page) == []


def test_a_missing_view_is_the_leaderboard(wall_open, live, game, api_key):
    page = overlay_open(wall_open, game, "")
    api_post(live, game.slug, api_key, EVENTS[:1])
    wall_wait(page, leaderboard=[["ada", 30]])


def test_limit_caps_the_leaderboard_rows(wall_open, live, game, api_key):
    api_post(live, game.slug, api_key, [{"id": f"r{i}", "player": f"p{i:02d}", "points": 50 - i} for i in range(12)])
    page = overlay_open(wall_open, game, "view=leaderboard&limit=5")
    wall_wait(page, leaderboard=[[f"p{i:02d}", 50 - i] for i in range(5)])


def test_long_names_are_cut_with_an_ellipsis_and_whole_in_title(wall_open, live, game, api_key):
    api_post(live, game.slug, api_key, [{"id": "l1", "player": LONG_NAME, "points": 9}])
    for view, selector in (("leaderboard", ".lb-name"), ("scoreboard", ".sb-name"), ("ticker", ".tk-who")):
        page = overlay_open(wall_open, game, f"view={view}")
        page.wait_for_function("(s) => document.querySelector(s)?.textContent", arg=selector, timeout=WAIT_MS)
        assert_cut(page, selector, LONG_NAME)


def test_scale_and_title_knobs(wall_open, live, game, api_key):
    api_post(live, game.slug, api_key, EVENTS[:1])
    plain = overlay_open(wall_open, game, "view=leaderboard")
    bigger = overlay_open(wall_open, game, "view=leaderboard&scale=2&title=0")
    wall_wait(bigger, leaderboard=[["ada", 30]])
    assert font_px(bigger, ".lb-name") == pytest.approx(2 * font_px(plain, ".lb-name"), rel=0.02)
    assert bigger.locator(".overlay-title").count() == 0 and plain.locator(".overlay-title").count() == 1
    assert bigger.evaluate("() => document.documentElement.style.getPropertyValue('--scale')") == "2"
    assert csp_violations(bigger) == []


def test_an_overlay_of_a_private_game_is_404_for_an_anonymous_viewer(wall_open, db):
    secret = game_make(prefix="secret", name="Hidden Vault", is_public=False)
    for query in ("view=leaderboard", "view=nope"):
        _, response = wall_open(f"/games/{secret.slug}/overlay/?{query}", wait=False)
        assert response.status == 404


def test_an_overlay_shows_its_connection_only_while_it_is_lost(wall_open, game):
    page = overlay_open(wall_open, game, "view=leaderboard")
    page.context.set_offline(True)
    status = page.locator(".wall-status")
    page.locator('.wall-status[data-status="offline"]').wait_for(timeout=WAIT_MS)
    assert status.is_visible() and status.text_content() == "offline, retrying"  # the caster sees it
    page.context.set_offline(False)
    page.locator('.wall-status[data-status="live"]').wait_for(state="hidden", timeout=WAIT_MS)


@pytest.mark.parametrize("viewport", WALL_SIZES, ids=lambda v: f"{v['width']}x{v['height']}")
def test_the_scoreboard_overlay_names_the_match_and_fits_its_score(wall_open, live, game, api_key, viewport):
    """Issue #22: the all-time POINTS sat next to the match's score, and no match was named."""
    page = overlay_open(wall_open, game, "view=scoreboard", viewport)
    match_with_big_teams(live, game, api_key)
    wall_wait(page, events=7, sides=[["ada", 17_800], ["kenji", 13_350], ["vera", 4_900]])
    assert page.evaluate(MATCH_READ) == {
        "match": "Grand Final",
        "teams": [["Blue", 22_500], ["Red", 23_050]],
        "totals": [],  # the game's all-time totals are not shown beside a match's score
    }
    assert page.evaluate(CUT_READ) == []
    assert csp_violations(page) == []

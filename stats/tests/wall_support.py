"""Helpers shared by the TV wall and overlay browser tests."""

import re

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from stats.tests.browser_support import CSP_WATCH, WAIT_MS, api_post, off_loop

FULL_HD = {"width": 1920, "height": 1080}
UHD = {"width": 3840, "height": 2160}


LONG_NAME = "TheUnstoppableQuantumSniperFromTheNorthernServers_" + "x" * 13  # 64 characters, the most


# What a wall page shows, read from the page (numbers without their thousands separators).
WALL_READ = """() => {
  const num = (el) => el ? Number(el.textContent.replace(/[^0-9-]/g, "")) : null;
  const text = (el) => el ? el.textContent : null;
  const rows = (selector, name, value) => Array.from(document.querySelectorAll(selector)).map(
    (row) => [text(row.querySelector(name)), num(row.querySelector(value))]);
  const status = document.querySelector(".wall-status");
  return {
    leaderboard: rows(".lb-row", ".lb-name", ".lb-total"),
    ticker: rows(".tk-item", ".tk-who", ".tk-pts"),
    sides: rows(".sb-side", ".sb-name", ".sb-score"),
    points: num(document.querySelector('.sb-total [data-field="points"]')),
    events: num(document.querySelector('.sb-total [data-field="events"]')),
    status: status && status.dataset.status,
  };
}"""


CONTROLS = (
    "a[href], button, input, select, textarea, [tabindex], [contenteditable], [role=button],"
    " nav, .site-header, .skip-link"
)


@pytest.fixture
def wall_open(browser, live):
    """Opens a wall page in a browser context of its own (a viewport per call), watching the
    CSP; waits for its first snapshot to be drawn. Closes them all afterwards."""
    contexts = []

    def open_page(path: str, viewport: dict | None = None, *, wait: bool = True, ws_route=None):
        context = browser.new_context(base_url=live.url, viewport=viewport or FULL_HD)
        contexts.append(context)
        page = context.new_page()
        page.add_init_script(CSP_WATCH)
        if ws_route:
            page.route_web_socket(re.compile(r"/ws/games/"), ws_route)
        response = page.goto(path)
        if wait:
            wall_ready(page)
        return page, response

    yield open_page
    for context in contexts:
        context.close()


def wall_ready(page) -> None:
    page.wait_for_function(
        "() => window.webgame && window.webgame.stats.snapshots > 0 && window.webgame.stats.redraws > 0",
        timeout=WAIT_MS,
    )


def wall_read(page) -> dict:
    return page.evaluate(WALL_READ)


def wall_wait(page, **expected) -> dict:
    """Wait until every part named shows exactly what is expected, e.g. ticker=[["ada", 5]]."""
    try:
        page.wait_for_function(
            f"""(expected) => {{
              const shown = ({WALL_READ})();
              return Object.entries(expected).every(([k, v]) => JSON.stringify(shown[k]) === JSON.stringify(v));
            }}""",
            arg=expected,
            timeout=WAIT_MS,
        )
    except PlaywrightTimeout:
        raise AssertionError(f"expected {expected}, the page shows {wall_read(page)}") from None
    return wall_read(page)


def csp_violations(page) -> list:
    return page.evaluate("() => window.__csp")


def scroll_size(page) -> dict:
    return page.evaluate("""() => {
      const doc = document.documentElement;
      return {
        doc: [doc.scrollWidth, doc.scrollHeight], body: [document.body.scrollWidth, document.body.scrollHeight],
        client: [doc.clientWidth, doc.clientHeight], viewport: [innerWidth, innerHeight],
      };
    }""")


def font_px(page, selector: str) -> float:
    return page.evaluate(
        "(selector) => parseFloat(getComputedStyle(document.querySelector(selector)).fontSize)", selector
    )


CUT = {"overflowing": True, "css": ["ellipsis", "hidden", "nowrap"]}


def assert_cut(page, selector: str, name: str) -> None:
    """The element shows `name` cut with an ellipsis, the whole name in its title."""
    assert cut_with_ellipsis(page, selector) == {"text": name, "title": name, **CUT}, selector


def cut_with_ellipsis(page, selector: str) -> dict:
    """The first element matching `selector`: its text, title, and whether its text is cut."""
    return page.evaluate(
        """(selector) => {
          const el = document.querySelector(selector);
          const style = getComputedStyle(el);
          return {
            text: el.textContent, title: el.title, overflowing: el.scrollWidth > el.clientWidth,
            css: [style.textOverflow, style.overflowX, style.whiteSpace],
          };
        }""",
        selector,
    )


# Every element of the wall's panels whose content is wider than its box (cut by the panel
# or by an ellipsis), and the panels not wholly on the screen. Not the ticker: a strip of the
# latest events that fades out what does not fit, by design; nor the connection's words,
# hidden while live (a screen reader's).
CUT_READ = """() => {
  const cut = [];
  for (const panel of document.querySelectorAll('.scoreboard, .leaderboard, .tv-head, .overlay-title')) {
    const r = panel.getBoundingClientRect();
    const off = r.left < 0 || r.top < 0 || r.right > innerWidth + 0.5 || r.bottom > innerHeight + 0.5;
    if (off) cut.push(['off-screen', panel.className]);
    for (const el of [panel, ...panel.querySelectorAll('*')]) {
      if (el.closest('.wall-status')) continue;
      if (el.scrollWidth > el.clientWidth) cut.push([el.className, el.textContent, el.scrollWidth, el.clientWidth]);
      const box = el.getBoundingClientRect();
      const outside = box.width > 0 && (box.right > r.right + 0.5 || box.bottom > r.bottom + 0.5);
      if (outside) cut.push(['outside', el.className, el.textContent]);
    }
  }
  return cut;
}"""

MATCH_READ = """() => {
  const num = (el) => Number(el.textContent.replace(/[^0-9-]/g, ''));
  const teams = document.querySelectorAll('.sb-match:not([hidden]) .sb-team');
  const totals = Array.from(document.querySelectorAll('.sb-total')).filter((el) => el.offsetParent !== null);
  return {
    match: document.querySelector('.sb-match:not([hidden]) .sb-match-name')?.textContent ?? null,
    teams: Array.from(teams).map((t) => [t.querySelector('.sb-team-name').textContent, num(t.lastElementChild)]),
    totals: totals.map((el) => el.querySelector('dt').textContent),
  };
}"""

WALL_SIZES = [
    {"width": 1280, "height": 720},
    {"width": 1440, "height": 900},
    FULL_HD,
    UHD,
]


def match_with_big_teams(live, game, key) -> None:
    """A live match "Grand Final" with Blue 22,500 and Red 23,050, and five players."""
    from stats.scoring import services as scoring

    off_loop(lambda: scoring.match_start(game_id=game.pk, match_id="gf", name="Grand Final"))
    events = []
    roster = [("ada", "Blue"), ("kenji", "Red"), ("linus", "Blue"), ("zed", "Red"), ("vera", "Red")]
    for i, (player, team) in enumerate(roster):
        events.append({"id": f"m{i}", "player": player, "team": team, "points": 4_500 + 100 * i})
    events += [{"id": "b1", "player": "ada", "team": "Blue", "points": 22_500 - 4_500 - 4_700}]
    events += [{"id": "r1", "player": "kenji", "team": "Red", "points": 23_050 - 4_600 - 4_800 - 4_900}]
    api_post(live, game.slug, key, events)

"""Helpers shared by the TV wall and overlay browser tests."""

import re

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from stats.tests.browser_support import CSP_WATCH, WAIT_MS

FULL_HD = {"width": 1920, "height": 1080}


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

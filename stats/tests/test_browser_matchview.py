"""A match picked in the dashboard's match picker (static/stats/dashboard/matchview.js), in a
real browser against daphne: the header, the KPIs, the leaderboard and the timeline all move to
that match, and back to live with "Open match"; a finished match with no successor shows in the
header at once; a replay's badges say "replay" while it plays and "finished" after (#22)."""

from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from stats.tests.browser_stats_support import (
    BOARD_READ,
    DASH,
    api_json,
    api_rows,
    as_shown,
    page_watched,
    scoreboard_wait,
)
from stats.tests.browser_support import WAIT_MS, api_post

pytestmark = pytest.mark.browser

# What the page shows beside the header: KPIs, the table, the timeline's last values, badges.
VIEW_READ = f"""() => {{
  const text = (id) => document.getElementById(id).textContent;
  const board = ({BOARD_READ})();
  return {{
    points: text("kpi-points"), events: text("kpi-events"), players: text("kpi-players"),
    table: board.table, lines: board.lines, badge: text("conn-badge"), freshness: text("freshness"),
  }};
}}"""


def at(step: int) -> str:
    """Events 1.5 s apart, 10 minutes ago: a replay at 1x lasts some 4.5 s (long enough to be
    seen playing), and the timeline's points are distinct."""
    moment = datetime.now(UTC) - timedelta(minutes=10) + timedelta(seconds=1.5 * step)
    return moment.isoformat().replace("+00:00", "Z")


def opening_then_second(live, game, key) -> dict:
    """Match "Opening" (ended: Red ada 60 + ken 20, Blue grace 30), then "Second", live, where
    ken scores 500 more. Returns the Opening's totals."""
    api_json(live, f"/api/games/{game.slug}/matches", key, {"id": "m-1", "name": "Opening"})
    api_post(
        live,
        game.slug,
        key,
        [
            {"id": "o1", "player": "ada", "team": "Red", "points": 40, "at": at(0)},
            {"id": "o2", "player": "grace", "team": "Blue", "points": 30, "at": at(1)},
            {"id": "o3", "player": "ken", "team": "Red", "points": 20, "at": at(2)},
            {"id": "o4", "player": "ada", "team": "Red", "points": 20, "at": at(3)},
        ],
    )
    api_json(live, f"/api/games/{game.slug}/matches/m-1/end", key, {})
    api_json(live, f"/api/games/{game.slug}/matches", key, {"id": "m-2", "name": "Second"})
    api_post(live, game.slug, key, [{"id": "late", "player": "ken", "team": "Red", "points": 500}])
    return {"ada": 60, "grace": 30, "ken": 20}


def view_wait(page, **expected) -> dict:
    try:
        page.wait_for_function(
            f"""(expected) => {{
              const shown = ({VIEW_READ})();
              return Object.entries(expected).every(([k, v]) => JSON.stringify(shown[k]) === JSON.stringify(v));
            }}""",
            arg=expected,
            timeout=WAIT_MS,
        )
    except PlaywrightTimeout:
        raise AssertionError(f"expected {expected}, the page shows {page.evaluate(VIEW_READ)}") from None
    return page.evaluate(VIEW_READ)


def test_picking_a_match_moves_header_kpis_leaderboard_and_timeline_to_it(page, live, game, api_key):
    totals = opening_then_second(live, game, api_key)
    page_watched(page, game.slug)
    scoreboard_wait(page, hidden=False, name="Second", status="live", score="Red 500")
    view_wait(page, points="610", events="5", table=as_shown(api_rows(live, game.slug, "limit=20")))
    page.wait_for_function("() => document.querySelectorAll('#match-picker option').length === 3", timeout=WAIT_MS)

    page.select_option("#match-picker", "m-1")
    scoreboard_wait(page, name="Opening", status="finished", score=f"Blue 30 {DASH} 80 Red")
    shown = view_wait(page, points="110", events="4", players="3", lines=totals)
    assert shown["table"] == as_shown(api_rows(live, game.slug, "match=m-1&limit=20"))
    assert shown["table"] == [["1", "ada", "60"], ["2", "grace", "30"], ["3", "ken", "20"]]

    # A live match picked grows with the stream; the finished one shown before is left.
    page.select_option("#match-picker", "m-2")
    scoreboard_wait(page, name="Second", status="live", score="Red 500")
    view_wait(page, points="500", events="1", table=[["1", "ken", "500"]])
    api_post(live, game.slug, api_key, [{"id": "s2", "player": "zoe", "team": "Blue", "points": 7}])
    view_wait(page, points="507", events="2", table=[["1", "ken", "500"], ["2", "zoe", "7"]])
    scoreboard_wait(page, score=f"Blue 7 {DASH} 500 Red")

    page.select_option("#match-picker", "")  # the open match: the live, all-time view again
    view_wait(page, points="617", events="6", table=as_shown(api_rows(live, game.slug, "limit=20")))
    assert page.evaluate("() => window.__csp") == []


def test_a_finished_match_with_no_successor_shows_in_the_header_at_once(page, live, game, api_key):
    api_json(live, f"/api/games/{game.slug}/matches", api_key, {"id": "m-1", "name": "Only"})
    api_post(live, game.slug, api_key, [{"id": "a", "player": "ada", "team": "Red", "points": 12}])
    api_json(live, f"/api/games/{game.slug}/matches/m-1/end", api_key, {})
    page_watched(page, game.slug)
    scoreboard_wait(page, hidden=False, name="Only", status="finished", score="Red 12")


def test_a_replay_says_replay_while_it_plays_and_finished_after(page, live, game, api_key):
    opening_then_second(live, game, api_key)
    page_watched(page, game.slug)
    view_wait(page, badge="live")
    page.wait_for_function("() => document.querySelectorAll('#match-picker option').length === 3", timeout=WAIT_MS)
    page.select_option("#match-picker", "m-1")
    scoreboard_wait(page, name="Opening", status="finished")
    page.select_option("#replay-speed", "1")
    page.click("#replay-match")
    scoreboard_wait(page, name="Opening", status="replay")
    shown = view_wait(page, badge="replay", freshness="replaying the log")
    assert "lag" not in shown["freshness"]
    page.locator("#replay-status").filter(has_text="replay finished").wait_for(timeout=WAIT_MS)
    scoreboard_wait(page, name="Opening", status="finished", score=f"Blue 30 {DASH} 80 Red")
    view_wait(page, badge="replay", freshness="replay finished")
    page.click("#back-live")
    view_wait(page, badge="live")
    fresh = "() => document.getElementById('freshness').textContent.startsWith('updated')"
    page.wait_for_function(fresh, timeout=WAIT_MS)

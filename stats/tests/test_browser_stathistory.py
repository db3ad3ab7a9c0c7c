"""The stat lines' history (static/stats/dashboard/stathistory.js) in a real browser against
daphne: a stat picked draws its lines from the log's events before the switch, not from the
moment of the switch, and laps older than the snapshot's recent events still draw (#22)."""

from datetime import UTC, datetime, timedelta

import pytest

from stats.scoring import services as scoring
from stats.tests.browser_stats_support import page_watched, stats_declare
from stats.tests.browser_support import WAIT_MS, api_post

pytestmark = pytest.mark.browser

TIMELINE_READ = """() => {
  const chart = window.webgame.charts.timeline;
  const note = chart.canvas.parentElement.querySelector(".chart-empty");
  return {
    lines: Object.fromEntries(chart.data.datasets.map((d) => [d.label, d.data.map((p) => [p.x, p.y])])),
    note: note && !note.hidden ? note.textContent : null,
  };
}"""
FILLERS = 60  # points-only events after the stats: more than the snapshot's 50 recent events


def iso(at: datetime, seconds: int = 0) -> str:
    return (at + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


def fillers_post(live, game, key) -> None:
    api_post(live, game.slug, key, [{"id": f"f{i}", "player": f"filler{i % 3}", "points": 1} for i in range(FILLERS)])


def test_a_stat_switch_draws_the_lines_from_before_it(page, live, game, api_key):
    stats_declare(game, "kills")
    start = datetime.now(UTC) - timedelta(minutes=10)
    kills = [
        {"id": f"k{i}", "player": ["ada", "ken"][i % 2], "points": 0, "stats": {"kills": 1}, "at": iso(start, 10 * i)}
        for i in range(20)
    ]
    api_post(live, game.slug, api_key, kills)
    fillers_post(live, game, api_key)
    page_watched(page, game.slug)
    switched_ms = page.evaluate("() => Date.now()")
    page.select_option("#stat-picker", "kills")
    # Read in the same step as the wait: a snapshot (a resync under load) redraws the lines
    # after its top lists are read again, and a second read could fall between the two.
    # Lines are drawn first from what the page has, then again once the history and the top
    # list are read: wait for the settled picture (10 kills each).
    both = f"""() => {{ const s = ({TIMELINE_READ})(), l = s.lines;
      const ten = (line) => line?.length >= 10 && line.at(-1)[1] === 10;
      return ten(l.ada) && ten(l.ken) && s.note === null && s; }}"""
    shown = page.wait_for_function(both, timeout=WAIT_MS).json_value()
    start_ms = int(start.timestamp() * 1000)
    for player, first in (("ada", 0), ("ken", 1)):
        line = shown["lines"][player]
        # From the first kill, 10 minutes before the switch, one step per kill up to 10.
        assert line[0][0] <= start_ms + 10_000 * (first + 1) < switched_ms - 60_000, (player, line[:2])
        assert [y for _, y in line][-1] == 10, line
        assert sorted(y for _, y in line) == [y for _, y in line]


def test_laps_older_than_the_recent_events_still_draw(page, live, game, api_key):
    scoring.stat_declare(game=game, name="lap_ms", label="Lap", format="duration_ms", order="asc", op="best")
    start = datetime.now(UTC) - timedelta(minutes=5)
    laps = [
        {"id": "l1", "player": "ada", "points": 0, "stats": {"lap_ms": 61_234}, "at": iso(start)},
        {"id": "l2", "player": "ken", "points": 0, "stats": {"lap_ms": 59_999}, "at": iso(start, 5)},
        {"id": "l3", "player": "ada", "points": 0, "stats": {"lap_ms": 60_500}, "at": iso(start, 70)},
    ]
    api_post(live, game.slug, api_key, laps)
    fillers_post(live, game, api_key)
    page_watched(page, game.slug, "?stat=lap_ms")
    # The note is read with the lines (not "No Lap yet"): see the test above.
    two = f"() => {{ const s = ({TIMELINE_READ})(); return Object.keys(s.lines).length === 2 && !s.note && s; }}"
    shown = page.wait_for_function(two, timeout=WAIT_MS).json_value()
    assert [y for _, y in shown["lines"]["ada"]] == [61_234, 60_500]
    assert [y for _, y in shown["lines"]["ken"]] == [59_999]
    table = page.eval_on_selector_all(
        "#leaderboard-table tbody tr", "(rows) => rows.map((r) => [r.cells[1].textContent, r.cells[3].textContent])"
    )
    assert table == [["ken", "0:59.999"], ["ada", "1:00.500"]]


def test_a_long_game_walks_the_lines_back_from_the_values_now(page, live, game, api_key):
    """Past the bound (2,000 events), each value is walked back from the player's value now
    (the window does not start at zero)."""
    stats_declare(game, "kills")
    start = datetime.now(UTC) - timedelta(minutes=30)
    events = [
        {"id": f"e{i}", "player": ["ada", "ken"][i % 2], "points": 1, "stats": {"kills": 1}, "at": iso(start, i // 2)}
        for i in range(2_200)
    ]
    for i in range(0, len(events), 500):
        api_post(live, game.slug, api_key, events[i : i + 500])
    page_watched(page, game.slug, "?stat=kills")
    # A line keeps its last 300 to 360 points (LIMITS.seriesPoints, trimmed in chunks).
    both = f"() => {{ const l = ({TIMELINE_READ})().lines; return l.ada?.length >= 300 && l.ken?.length >= 300 && l; }}"
    lines = page.wait_for_function(both, timeout=WAIT_MS).json_value()
    for player in ("ada", "ken"):
        ys = [y for _, y in lines[player]]
        # 1,100 kills each, one per event: the line ends at the value now, one step a kill.
        assert ys[-1] == 1_100
        assert ys == list(range(1_100 - len(ys) + 1, 1_101)), ys[:3]

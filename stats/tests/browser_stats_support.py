"""What the dashboard's game-stats browser tests share (test_browser_stats, _matchview and
_stathistory): reads of the page's leaderboard and scoreboard, and API helpers."""

import json
import urllib.request

from playwright.sync_api import TimeoutError as PlaywrightTimeout

from stats.scoring import services as scoring
from stats.tests.browser_support import CSP_WATCH, WAIT_MS, api_post

# The leaderboard as shown: table rows (rank, player, value), bars, the timeline's last values.
BOARD_READ = """() => {
  const w = window.webgame;
  const bars = w.charts.leaders.data;
  return {
    live: w.state === w.live,
    stat: w.stat.name,
    picked: document.getElementById("stat-picker").value,
    head: document.getElementById("value-head").textContent,
    table: Array.from(document.querySelectorAll("#leaderboard-table tbody tr:not(.empty)")).map(
      (row) => Array.from(row.cells).filter((c) => c.className !== "team").slice(0, 3).map((c) => c.textContent)),
    bars: bars.labels.map((name, i) => [name, bars.datasets[0].data[i]]),
    lines: Object.fromEntries(w.charts.timeline.data.datasets.map((d) => [d.label, d.data.at(-1).y])),
    search: location.search,
  };
}"""

SCOREBOARD_READ = """() => {
  const root = document.getElementById("scoreboard");
  return {
    hidden: root.hidden,
    score: document.getElementById("sb-score").textContent,
    name: document.getElementById("sb-name").textContent,
    status: document.getElementById("sb-status").textContent,
    stat: document.getElementById("sb-stat").hidden ? null : document.getElementById("sb-stat").textContent,
  };
}"""

DASH = "\u2013"  # the scoreboard's en dash: "Red 12 \u2013 9 Blue"
FILLERS = 21  # players with more points than any scorer of stats: the snapshot's top 20 holds none of those


def stats_declare(game, *names: str) -> None:
    known = {
        "kills": {"label": "Kills"},
        "deaths": {"label": "Deaths", "order": "asc"},
        "best_streak": {"label": "Best streak", "op": "best"},
        "kd": {"label": "K/D", "numerator": "kills", "denominator": "deaths"},
    }
    for name in names:
        scoring.stat_declare(game=game, name=name, **known[name])


def api_json(live, path: str, key: str | None = None, body: dict | None = None) -> dict:
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{live.url}{path}", data=data, headers=headers, method="POST" if data else "GET")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def api_rows(live, slug: str, query: str) -> list[list]:
    """The leaderboard API's entries as [rank, player, value]."""
    body = api_json(live, f"/api/games/{slug}/leaderboard?{query}")
    return [[e["rank"], e["player"], e["value"]] for e in body["entries"]]


def fillers_post(live, slug: str, key: str) -> None:
    events = [{"id": f"f{i}", "player": f"filler-{i:02}", "points": 1000} for i in range(FILLERS)]
    api_post(live, slug, key, events)


def board_wait(page, table: list[list[str]]) -> dict:
    """Until the live leaderboard's table shows `table` (rank, player, value per row)."""
    try:
        page.wait_for_function(
            f"""(table) => {{
              const b = ({BOARD_READ})();
              return b.live && JSON.stringify(b.table) === JSON.stringify(table);
            }}""",
            arg=table,
            timeout=WAIT_MS,
        )
    except PlaywrightTimeout:
        raise AssertionError(f"expected {table}, the page shows {page.evaluate(BOARD_READ)}") from None
    return page.evaluate(BOARD_READ)


def lines_wait(page, lines: dict) -> None:
    """Until the timeline's lines end at `lines` (player: last value)."""
    try:
        page.wait_for_function(
            f"(lines) => JSON.stringify(({BOARD_READ})().lines) === JSON.stringify(lines)", arg=lines, timeout=WAIT_MS
        )
    except PlaywrightTimeout:
        raise AssertionError(f"expected {lines}, the timeline shows {page.evaluate(BOARD_READ)['lines']}") from None


def scoreboard_wait(page, **expected) -> dict:
    try:
        page.wait_for_function(
            f"""(expected) => {{
              const shown = ({SCOREBOARD_READ})();
              return Object.entries(expected).every(([k, v]) => JSON.stringify(shown[k]) === JSON.stringify(v));
            }}""",
            arg=expected,
            timeout=WAIT_MS,
        )
    except PlaywrightTimeout:
        raise AssertionError(f"expected {expected}, the header shows {page.evaluate(SCOREBOARD_READ)}") from None
    return page.evaluate(SCOREBOARD_READ)


def page_watched(page, slug: str, query: str = ""):
    page.add_init_script(CSP_WATCH)
    page.goto(f"/games/{slug}/{query}")
    page.wait_for_function(
        "() => window.webgame && window.webgame.stats.snapshots > 0 && window.webgame.stats.redraws > 0",
        timeout=WAIT_MS,
    )
    return page


def as_shown(rows: list[list], fmt=str) -> list[list[str]]:
    return [[str(rank), player, fmt(value)] for rank, player, value in rows]

"""The dashboard's game stats in a real browser (Debian's Chromium through Playwright, against
daphne): the stat picker ranks the leaderboard (table and bars) and draws the timeline by a
stat, kept live from events frames and kept in the URL; a derived stat shows its ratio; the
match header follows a match live to its end; a finished match is picked and replayed. What
the page shows is checked against the leaderboard API."""

import pytest

from stats.tests.browser_stats_support import (
    BOARD_READ,
    DASH,
    SCOREBOARD_READ,
    api_json,
    api_rows,
    as_shown,
    board_wait,
    fillers_post,
    lines_wait,
    page_watched,
    scoreboard_wait,
    stats_declare,
)
from stats.tests.browser_support import CSP_WATCH, WAIT_MS, api_post
from stats.tests.games import game_make

pytestmark = pytest.mark.browser


def test_stat_picker_ranks_by_kills_with_ties_then_by_an_asc_stat_live(page, live, game, api_key):
    stats_declare(game, "kills", "deaths")
    fillers_post(live, game.slug, api_key)
    api_post(
        live,
        game.slug,
        api_key,
        [
            {"id": "k1", "player": "ada", "points": 10, "stats": {"kills": 1}},
            {"id": "k2", "player": "ada", "points": 10, "stats": {"kills": 1}},
            {"id": "k3", "player": "ken", "points": 5, "stats": {"kills": 2}},
            {"id": "k4", "player": "linus", "points": 1, "stats": {"kills": 1}},
            {"id": "d1", "player": "ada", "stats": {"deaths": 1}},
            {"id": "d2", "player": "ken", "stats": {"deaths": 3}},
            {"id": "d3", "player": "grace", "stats": {"deaths": 2}},
        ],
    )
    page_watched(page, game.slug)
    assert page.evaluate(BOARD_READ)["table"][0][1].startswith("filler-")  # points, as always
    options = page.eval_on_selector_all("#stat-picker option", "(os) => os.map((o) => [o.value, o.textContent])")
    assert options == [["points", "Points"], ["kills", "Kills"], ["deaths", "Deaths"]]

    page.select_option("#stat-picker", "kills")
    # None of them is in the snapshot (the fillers have more points): the top list is the API's.
    shown = board_wait(page, [["1", "ada", "2"], ["1", "ken", "2"], ["3", "linus", "1"]])
    assert shown["table"] == as_shown(api_rows(live, game.slug, "stat=kills&limit=20"))
    assert shown["bars"] == [["ada", 2], ["ken", 2], ["linus", 1]]
    assert shown["head"] == "Kills" and shown["search"] == "?stat=kills"

    # Live: absolute all-time values from the events frame, ranked again in the page.
    api_post(live, game.slug, api_key, [{"id": "k5", "player": "linus", "points": 3, "stats": {"kills": 2}}])
    shown = board_wait(page, [["1", "linus", "3"], ["2", "ada", "2"], ["2", "ken", "2"]])
    assert shown["table"] == as_shown(api_rows(live, game.slug, "stat=kills&limit=20"))
    assert shown["bars"] == [["linus", 3], ["ada", 2], ["ken", 2]]
    # The lines hold the kills from before the page opened too (stathistory.js), not a stub.
    lines_wait(page, {"linus": 3, "ada": 2, "ken": 2})

    # Deaths: lower is better.
    page.select_option("#stat-picker", "deaths")
    shown = board_wait(page, [["1", "ada", "1"], ["2", "grace", "2"], ["3", "ken", "3"]])
    assert shown["table"] == as_shown(api_rows(live, game.slug, "stat=deaths&limit=20"))
    assert shown["bars"] == [["ada", 1], ["grace", 2], ["ken", 3]]
    assert shown["head"] == "Deaths" and shown["search"] == "?stat=deaths"
    api_post(live, game.slug, api_key, [{"id": "d4", "player": "ada", "stats": {"deaths": 2}}])
    board_wait(page, [["1", "grace", "2"], ["2", "ada", "3"], ["2", "ken", "3"]])
    lines_wait(page, {"grace": 2, "ada": 3, "ken": 3})

    page.select_option("#stat-picker", "points")
    page.wait_for_function(
        f"() => {{ const b = ({BOARD_READ})(); return b.head === 'Points' && b.table[0][1].startsWith('filler-'); }}",
        timeout=WAIT_MS,
    )
    assert page.evaluate(BOARD_READ)["search"] == ""
    assert page.evaluate("() => window.__csp") == []


def test_derived_stat_shows_its_ratio_live_and_the_url_keeps_it(page, live, game, api_key):
    stats_declare(game, "kills", "deaths", "kd")
    fillers_post(live, game.slug, api_key)
    api_post(
        live,
        game.slug,
        api_key,
        [
            {"id": "a", "player": "ada", "points": 3, "stats": {"kills": 3}},  # no deaths: 3 / 1
            {"id": "k", "player": "ken", "points": 3, "stats": {"kills": 3, "deaths": 2}},
            {"id": "l", "player": "linus", "points": 1, "stats": {"kills": 1, "deaths": 4}},
            {"id": "g", "player": "grace", "stats": {"deaths": 1}},
        ],
    )
    page_watched(page, game.slug, "?stat=kd")
    expected = [["1", "ada", "3.00"], ["2", "ken", "1.50"], ["3", "linus", "0.25"], ["4", "grace", "0.00"]]
    shown = board_wait(page, expected)
    assert shown["picked"] == "kd" and shown["head"] == "K/D"
    assert shown["table"] == as_shown(api_rows(live, game.slug, "stat=kd&limit=20"), lambda v: f"{v:.2f}")
    assert shown["bars"] == [["ada", 3], ["ken", 1.5], ["linus", 0.25], ["grace", 0]]

    # One part changes in a frame: the ratio is made again from both parts.
    after = [["1", "ada", "3.00"], ["2", "ken", "1.00"], ["3", "linus", "0.25"], ["4", "grace", "0.00"]]
    api_post(live, game.slug, api_key, [{"id": "k2", "player": "ken", "stats": {"deaths": 1}}])
    board_wait(page, after)
    lines_wait(page, {"ada": 3, "ken": 1, "linus": 0.25, "grace": 0})
    api_post(live, game.slug, api_key, [{"id": "a2", "player": "ada", "stats": {"deaths": 1}}])
    shown = board_wait(page, after)
    assert shown["table"] == as_shown(api_rows(live, game.slug, "stat=kd&limit=20"), lambda v: f"{v:.2f}")
    lines_wait(page, {"ada": 3, "ken": 1, "linus": 0.25, "grace": 0})

    # A reload opens on the stat of the URL; an unknown one falls back to points.
    page.reload()
    page.wait_for_function("() => window.webgame && window.webgame.stats.snapshots > 0", timeout=WAIT_MS)
    shown = board_wait(page, after)
    assert shown["picked"] == "kd" and shown["search"] == "?stat=kd"
    page.goto(f"/games/{game.slug}/?stat=nope")
    page.wait_for_function("() => window.webgame && window.webgame.stats.snapshots > 0", timeout=WAIT_MS)
    page.wait_for_function("() => window.webgame.stat.name === 'points' && location.search === ''", timeout=WAIT_MS)
    assert page.evaluate(BOARD_READ)["head"] == "Points"
    assert page.evaluate("() => window.__csp") == []


def test_match_header_follows_the_match_live_to_its_end_and_the_next(page, live, game, api_key):
    stats_declare(game, "kills")
    page_watched(page, game.slug)
    page.wait_for_function("() => window.webgame.stats.redraws > 0", timeout=WAIT_MS)
    assert page.evaluate(SCOREBOARD_READ)["hidden"] is True  # no match: no header
    api_json(live, f"/api/games/{game.slug}/matches", api_key, {"id": "m-1", "name": "Final"})
    scoreboard_wait(page, hidden=False, name="Final", status="live", score="no score yet")

    api_post(
        live,
        game.slug,
        api_key,
        [
            {"id": "r1", "player": "ada", "team": "Red", "points": 100, "stats": {"kills": 1}},
            {"id": "b1", "player": "ken", "team": "Blue", "points": 50, "stats": {"kills": 1}},
        ],
    )
    scoreboard_wait(page, score=f"Blue 50 {DASH} 100 Red", stat=None)  # teams in name order, as the API lists them
    page.select_option("#stat-picker", "kills")
    scoreboard_wait(page, stat="Kills: Blue 1 · Red 1")
    kill = {"player": "ada", "team": "Red", "points": 100, "stats": {"kills": 1}}
    api_post(live, game.slug, api_key, [{"id": "r2", **kill}])
    scoreboard_wait(page, score=f"Blue 50 {DASH} 200 Red", stat="Kills: Blue 1 · Red 2", status="live")
    teams = api_json(live, f"/api/games/{game.slug}/matches")["matches"][0]["teams"]
    assert teams == [
        {"team": "Blue", "stats": {"points": 50, "kills": 1}},
        {"team": "Red", "stats": {"points": 200, "kills": 2}},
    ]

    api_json(live, f"/api/games/{game.slug}/matches/m-1/end", api_key, {})
    scoreboard_wait(page, name="Final", status="finished", score=f"Blue 50 {DASH} 200 Red")
    api_json(live, f"/api/games/{game.slug}/matches", api_key, {"id": "m-2", "name": "Rematch"})
    scoreboard_wait(page, name="Rematch", status="live", score="no score yet", stat=None)
    api_post(live, game.slug, api_key, [{"id": "r3", **kill, "points": 7}])
    scoreboard_wait(page, score="Red 7", stat="Kills: Red 1")
    # A reload shows the same (from the snapshot's open match).
    page.reload()
    scoreboard_wait(page, hidden=False, name="Rematch", status="live", score="Red 7", stat="Kills: Red 1")
    # Team names are text.
    evil = "<b>Blue</b>"
    api_post(live, game.slug, api_key, [{"id": "x1", "player": "eve", "team": evil, "points": 1}])
    scoreboard_wait(page, score=f"{evil} 1 {DASH} 7 Red", stat=f"Kills: {evil} {DASH} \u00b7 Red 1")
    assert page.evaluate("() => document.querySelectorAll('#scoreboard b').length") == 0
    assert page.evaluate("() => window.__csp") == []


def test_a_finished_match_is_picked_and_replayed_to_its_final_totals(page, live, game, api_key):
    stats_declare(game, "kills", "best_streak")
    api_json(live, f"/api/games/{game.slug}/matches", api_key, {"id": "m-1", "name": "Opening"})
    players = [("ada", "Red"), ("ken", "Red"), ("grace", "Blue"), ("linus", "Blue")]
    events = [
        {
            "id": f"o{i}",
            "player": p,
            "team": t,
            "points": 10 * (i % 4 + 1),
            "stats": {"kills": i % 3, "best_streak": i % 5},
        }
        for i, (p, t) in enumerate(players * 4)
    ]
    api_post(live, game.slug, api_key, events[:8])
    api_post(live, game.slug, api_key, events[8:])
    api_json(live, f"/api/games/{game.slug}/matches/m-1/end", api_key, {})
    api_json(live, f"/api/games/{game.slug}/matches", api_key, {"id": "m-2", "name": "Second"})
    # After the match: all-time totals are not the match's.
    late = {"id": "late", "player": "ken", "team": "Red", "points": 500, "stats": {"kills": 9}}
    api_post(live, game.slug, api_key, [late])

    page_watched(page, game.slug)
    page.wait_for_function("() => document.querySelectorAll('#match-picker option').length === 3", timeout=WAIT_MS)
    options = page.eval_on_selector_all("#match-picker option", "(os) => os.map((o) => o.textContent)")
    assert options == ["Open match", "Second · live", "Opening · finished"]
    page.select_option("#match-picker", "m-1")
    assert page.is_checked("#range-match")
    page.wait_for_function("() => window.webgame.history !== null", timeout=WAIT_MS)
    assert "Opening (finished)" in page.locator("#rate-note").text_content()

    page.select_option("#stat-picker", "kills")
    page.click("#replay-match")
    page.locator("#replay-status").filter(has_text="replay finished").wait_for(timeout=WAIT_MS)
    kills = as_shown(api_rows(live, game.slug, "stat=kills&match=m-1&limit=20"))
    page.wait_for_function(
        f"(table) => JSON.stringify(({BOARD_READ})().table) === JSON.stringify(table)", arg=kills, timeout=WAIT_MS
    )
    match = api_json(live, f"/api/games/{game.slug}/matches")["matches"][1]
    blue, red = (team["stats"]["points"] for team in match["teams"])
    assert [t["team"] for t in match["teams"]] == ["Blue", "Red"]
    scoreboard_wait(page, hidden=False, name="Opening", status="finished", score=f"Blue {blue} {DASH} {red} Red")
    page.select_option("#stat-picker", "best_streak")
    best = as_shown(api_rows(live, game.slug, "stat=best_streak&match=m-1&limit=20"))
    page.wait_for_function(
        f"(table) => JSON.stringify(({BOARD_READ})().table) === JSON.stringify(table)", arg=best, timeout=WAIT_MS
    )
    page.select_option("#stat-picker", "points")
    points = as_shown(api_rows(live, game.slug, "match=m-1&limit=20"))
    page.wait_for_function(
        f"(table) => JSON.stringify(({BOARD_READ})().table) === JSON.stringify(table)", arg=points, timeout=WAIT_MS
    )
    assert page.evaluate("() => window.webgame.state.mode") == "replay"

    page.click("#back-live")
    scoreboard_wait(page, name="Second", status="live", score="Red 500")
    board_wait(page, as_shown(api_rows(live, game.slug, "limit=20")))
    assert page.evaluate("() => window.__csp") == []


def test_lobby_tags_a_game_with_a_live_match(page, live, game, api_key):
    quiet = game_make(prefix="quiet", name="Quiet")
    api_json(live, f"/api/games/{game.slug}/matches", api_key, {"id": "m-1", "name": "<b>Final</b>"})
    page.add_init_script(CSP_WATCH)
    page.goto("/")
    tag = page.locator(f'[data-slug="{game.slug}"] [data-field="match"]')
    assert tag.text_content() == "match live: <b>Final</b>"  # as text
    assert page.locator(f'[data-slug="{quiet.slug}"] [data-field="match"]').count() == 0
    api_json(live, f"/api/games/{game.slug}/matches/m-1/end", api_key, {})
    page.reload()
    assert page.locator('[data-field="match"]').count() == 0
    assert page.evaluate("() => [document.querySelectorAll('#game-list b').length, window.__csp]") == [0, []]


# stats.js, the page's stat arithmetic, run in the page: formats, ratios, ranks and what a
# ratio the API sent becomes when one of its parts changes.
STATS_JS_CHECK = """async () => {
  const s = await import(new URL("./dashboard/stats.js", document.querySelector("script[type=module]").src));
  const lap = { name: "lap", label: "Lap", format: "duration_ms", order: "asc", op: "best" };
  const acc = { name: "acc", format: "percent", order: "desc", op: null, numerator: "hits", denominator: "shots" };
  const kd = { name: "kd", format: "ratio", order: "desc", op: null, numerator: "kills", denominator: "deaths" };
  const players = new Map([
    ["ada", { player: "ada", total: 1, events: 1, stats: { lap: 83456, kills: 3 }, full: true }],
    ["ken", { player: "ken", total: 1, events: 1, stats: { lap: 5123, kills: 3, deaths: 2 }, full: true }],
    ["bob", { player: "bob", total: 1, events: 1, stats: { lap: 5123 }, full: true }],
    ["eve", { player: "eve", total: null, events: null, stats: { kills: 9 }, full: false, ratios: { kd: 4.5 } }],
  ]);
  const rank = (stat) => s.statRank(players, stat, 10).rows.map((r) => [r.rank, r.player, s.statFormat(stat, r.value)]);
  const laps = rank(lap);
  const kds = rank(kd);
  const guessBefore = s.statRank(players, kd, 10).guesses;
  players.get("eve").ratiosStale = true;
  return {
    laps, kds, guessBefore, guessAfter: s.statRank(players, kd, 10).guesses,
    texts: [
      s.statFormat(lap, 83456), s.statFormat(lap, 5123), s.statFormat(lap, 600000), s.statFormat(acc, s.ratio(1, 3)),
      s.statFormat({ format: "percent", op: "set" }, 45), s.statFormat(kd, s.ratio(5, 0)), s.statFormat(kd, undefined),
    ],
    // #22: laps read alike in a column (0:59.999 next to 1:01.234); a stored stat of format
    // "ratio" (a game's own K/D, sent as a value) shows its decimals, as a derived one does.
    column: [s.statFormat(lap, 59999), s.statFormat(lap, 61234), s.statFormat(lap, 999)],
    ratios: [s.statFormat({ format: "ratio", op: "set" }, 1.5), s.statTickFormat({ format: "ratio", op: "set" })(0.25),
      s.statStepMin({ format: "ratio", op: "set" })],
    merges: [
      s.statMerge(lap, 5000, 4000), s.statMerge({ ...lap, order: "desc" }, 5000, 4000),
      s.statMerge({ op: "set" }, 5, 2), s.statMerge({ op: "incr" }, 5, 2), s.statMerge({ op: "incr" }, undefined, 2),
    ],
  };
}"""


def test_stat_arithmetic_of_the_page(page, live, game):
    page_watched(page, game.slug)
    got = page.evaluate(STATS_JS_CHECK)
    assert got["laps"] == [[1, "bob", "0:05.123"], [1, "ken", "0:05.123"], [3, "ada", "1:23.456"]]  # asc, ties by name
    assert got["kds"] == [[1, "eve", "4.50"], [2, "ada", "3.00"], [3, "ken", "1.50"]]  # eve: the API's ratio
    assert [got["guessBefore"], got["guessAfter"]] == [0, 1]
    assert got["texts"] == ["1:23.456", "0:05.123", "10:00.000", "33.33 %", "45 %", "5.00", "\u2013"]
    assert got["column"] == ["0:59.999", "1:01.234", "0:00.999"]
    assert got["ratios"] == ["1.50", "0.25", 0.01]
    assert got["merges"] == [4000, 5000, 2, 7, 2]

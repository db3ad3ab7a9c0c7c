"""The dashboard's charts with little data, read from Chart.js itself (window.webgame.charts):
empty states, a single point, axes that follow the data, tick labels that never repeat, and
long player names cut the same way everywhere (lib/format.js nameShort)."""

from datetime import UTC, datetime, timedelta

import pytest

from stats import services
from stats.tests.browser_support import WAIT_MS, api_post, dashboard_open

pytestmark = pytest.mark.browser

# Every shown scale of every chart: its tick labels.
TICKS_READ = """() => Object.fromEntries(Object.entries(window.webgame.charts).flatMap(([name, chart]) =>
  Object.values(chart.scales).filter((s) => s.options.display !== false)
    .map((s) => [`${name}.${s.id}`, s.ticks.map((t) => String(t.label))])))"""

# The message over each chart's box, or null when the chart shows data.
EMPTY_READ = """() => Object.fromEntries(Object.entries(window.webgame.charts).map(([name, chart]) => {
  const box = chart.canvas.parentElement;
  const note = box.querySelector(".chart-empty");
  return [name, box.classList.contains("chart-box--empty") && !note.hidden ? note.textContent : null];
}))"""

# The timeline's points as drawn: radius, and whether they sit inside the plot area.
POINTS_READ = """() => {
  const chart = window.webgame.charts.timeline;
  const area = chart.chartArea;
  return chart.data.datasets.map((d, i) => ({
    label: d.label,
    points: chart.getDatasetMeta(i).data.map((el) => ({
      radius: el.options.radius,
      inside: el.x >= area.left && el.x <= area.right && el.y >= area.top && el.y <= area.bottom,
    })),
  }));
}"""

Y_READ = "() => { const y = window.webgame.charts.timeline.scales.y; return [y.min, y.max]; }"


def drawn_wait(page, seq: int) -> None:
    """Until the state holds `seq` and a redraw has run since (charts are drawn per frame)."""
    page.wait_for_function("(seq) => window.webgame.live.lastSeq === seq", arg=seq, timeout=WAIT_MS)
    redraws = page.evaluate("() => window.webgame.stats.redraws")
    page.wait_for_function(
        """([n, seq]) => window.webgame.stats.redraws > n && window.webgame.charts.timeline.data.datasets.length > 0
              && window.webgame.charts.leaders.data.labels.length > 0""",
        arg=[redraws, seq],
        timeout=WAIT_MS,
    )


def repeated(labels: list[str]) -> list[str]:
    return sorted({label for label in labels if labels.count(label) > 1})


def assert_ticks_unique(page) -> dict[str, list[str]]:
    ticks = page.evaluate(TICKS_READ)
    for scale, labels in ticks.items():
        assert not repeated(labels), f"{scale} repeats {repeated(labels)}: {labels}"
    return ticks


def at_iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def test_a_new_game_shows_empty_states_and_no_repeated_ticks(page, live, game):
    dashboard_open(page, game.slug)
    page.wait_for_function(
        f"() => Object.values(({EMPTY_READ})()).every((text) => text === 'No events yet')", timeout=WAIT_MS
    )
    assert page.locator(".chart-box--empty .chart-empty:visible").count() == 3
    ticks = assert_ticks_unique(page)
    assert ticks["timeline.y"] == ["0", "1"] and ticks["leaders.x"] == ["0", "1"]
    assert ticks["rate.y"] == ["0", "1"]
    assert all(label != "00:00:00" for label in ticks["timeline.x"])
    assert page.locator("#leaderboard-table tbody tr.empty").text_content() == "No scores yet"


def test_one_event_draws_a_visible_point_and_the_charts_appear(page, live, game, api_key):
    dashboard_open(page, game.slug)
    api_post(live, game.slug, api_key, [{"id": "one", "player": "ada", "points": 7}])
    drawn_wait(page, 1)
    page.wait_for_function(f"() => ({EMPTY_READ})().timeline === null", timeout=WAIT_MS)
    empty = page.evaluate(EMPTY_READ)
    assert empty["timeline"] is None and empty["leaders"] is None
    (line,) = page.evaluate(POINTS_READ)
    assert line["label"] == "ada" and line["points"]
    assert all(p["radius"] > 0 and p["inside"] for p in line["points"]), line
    assert_ticks_unique(page)
    # After a reload the snapshot's series holds the one point alone: a line of one point.
    dashboard_open(page, game.slug)
    page.wait_for_function(
        "() => window.webgame.charts.timeline.data.datasets.length === 1"
        " && window.webgame.charts.timeline.getDatasetMeta(0).data.length === 1",
        timeout=WAIT_MS,
    )
    (line,) = page.evaluate(POINTS_READ)
    assert len(line["points"]) == 1 and line["points"][0]["radius"] > 0 and line["points"][0]["inside"]
    low, high = page.evaluate(Y_READ)
    assert 5 <= low < 7 < high <= 9
    assert_ticks_unique(page)


def test_a_negative_event_keeps_the_y_axis_near_the_data(page, live, game, api_key):
    dashboard_open(page, game.slug)
    api_post(live, game.slug, api_key, [{"id": "neg", "player": "ada", "points": -15}])
    drawn_wait(page, 1)
    low, high = page.evaluate(Y_READ)
    assert -18 <= low <= -15 and 0 <= high <= 3, (low, high)
    assert_ticks_unique(page)
    # Beside totals in the thousands: the margin grows with the range, never to a "nice" -500.
    api_post(live, game.slug, api_key, [{"id": f"big{i}", "player": "ken", "points": 700} for i in range(3)])
    drawn_wait(page, 4)
    page.wait_for_function("() => window.webgame.charts.timeline.scales.y.max >= 2100", timeout=WAIT_MS)
    low, high = page.evaluate(Y_READ)
    assert -15 - 0.1 * 2115 <= low <= -15 and 2100 <= high <= 2100 + 0.1 * 2115, (low, high)
    labels = assert_ticks_unique(page)["timeline.y"]
    assert "-500" not in labels


@pytest.mark.parametrize(
    ("count", "gap"),
    [(6, timedelta(milliseconds=300)), (11, timedelta(seconds=30))],
    ids=["within-2s", "over-5min"],
)
def test_time_tick_labels_never_repeat(page, live, game, api_key, count, gap):
    start = datetime.now(UTC) - gap * count
    events = [
        {"id": f"t{i}", "player": ["ada", "ken"][i % 2], "points": i + 1, "at": at_iso(start + gap * i)}
        for i in range(count)
    ]
    dashboard_open(page, game.slug)
    api_post(live, game.slug, api_key, events)
    drawn_wait(page, count)
    # The rate chart is redrawn by the page's 1 s tick: wait for the events to reach it.
    page.wait_for_function(
        "(n) => window.webgame.charts.rate.data.datasets[0].data.reduce((a, b) => a + b, 0) === n",
        arg=count,
        timeout=WAIT_MS,
    )
    ticks = assert_ticks_unique(page)
    assert len(ticks["timeline.x"]) >= 2 and len(ticks["rate.x"]) >= 2
    if gap < timedelta(seconds=1):
        assert all("." in label for label in ticks["timeline.x"]), ticks["timeline.x"]
    rate_labels = page.evaluate("() => window.webgame.charts.rate.data.labels")
    assert len(rate_labels) == 60 and not repeated(rate_labels)
    # The same after a reload (the snapshot's series and rate).
    dashboard_open(page, game.slug)
    page.wait_for_function("() => window.webgame.charts.timeline.data.datasets.length === 2", timeout=WAIT_MS)
    assert_ticks_unique(page)


# 64 characters (code points) with an emoji of two code points (thumbs up, skin tone) where
# the name is cut: cut by code points, it would lose its skin tone.
LONG_NAME = "a" * 34 + "\U0001f44d\U0001f3fd" + "b" * 28

NAMES_SHOWN = """(name) => {
  const w = window.webgame;
  const bar = w.charts.leaders.scales.y.ticks.map((t) => t.label);
  const legend = w.charts.timeline.legend.legendItems.map((item) => item.text);
  const row = document.querySelector("#leaderboard-table tbody tr:not(.empty)");
  const recent = document.querySelector("#recent-list .who");
  return import("/static/stats/lib/format.js").then((m) => ({
    short: m.nameShort(name),
    bar, legend,
    barLabels: w.charts.leaders.data.labels,
    datasetLabels: w.charts.timeline.data.datasets.map((d) => d.label),
    cell: row.cells[1].textContent,
    cellTitle: row.cells[1].title,
    recent: recent.textContent,
    recentTitle: recent.title,
  }));
}"""


def test_a_long_name_is_cut_the_same_in_bars_legend_and_tables(page, live, game, api_key):
    assert len(LONG_NAME) == 64
    dashboard_open(page, game.slug)
    api_post(live, game.slug, api_key, [{"id": "long", "player": LONG_NAME, "points": 5}])
    drawn_wait(page, 1)
    page.wait_for_function("() => document.querySelector('#recent-list .who') !== null", timeout=WAIT_MS)
    shown = page.evaluate(NAMES_SHOWN, LONG_NAME)
    short = shown["short"]
    assert short == "a" * 34 + "\U0001f44d\U0001f3fd…"
    assert shown["bar"] == [short] and shown["legend"] == [short]
    assert shown["cell"] == short and shown["recent"] == short
    # The whole name stays at hand: the table's title, the tooltips (chart labels), the recent list.
    assert shown["cellTitle"] == LONG_NAME
    assert LONG_NAME in shown["recentTitle"]
    assert shown["barLabels"] == [LONG_NAME] and shown["datasetLabels"] == [LONG_NAME]


NAME_SHORT_CASES = """() => import("/static/stats/lib/format.js").then(({ nameShort, NAME_MAX }) => {
  const segments = (s) => Array.from(new Intl.Segmenter(undefined, { granularity: "grapheme" }).segment(s)).length;
  const family = "\\u{1F469}\\u200D\\u{1F469}\\u200D\\u{1F467}";  // one grapheme of 5 code points
  const flag = "\\u{1F1EB}\\u{1F1F7}";
  const accented = "e\\u0301";  // e + combining acute
  return {
    max: NAME_MAX,
    short: nameShort("ada"),
    exact: nameShort("x".repeat(NAME_MAX)) === "x".repeat(NAME_MAX),
    over: nameShort("x".repeat(NAME_MAX + 1)),
    custom: nameShort("abcdefgh", 5),
    family: nameShort("ab" + family + "cdef", 4),
    familyAtEnd: nameShort("abc" + family, 4) === "abc" + family,
    flags: nameShort(flag.repeat(6), 3),
    accents: nameShort(accented.repeat(5), 3),
    emptyish: [nameShort(""), nameShort(null), nameShort(undefined)],
    lengths: [NAME_MAX, 10, 3].map((n) => segments(nameShort("\\u{1F600}".repeat(64), n))),
    trailingSpace: nameShort("abc   defghij", 5),
    flagExpected: flag + flag + "…",
    accentExpected: accented + accented + "…",
    familyExpected: "ab" + family + "…",
  };
})"""


def test_name_short_counts_what_a_reader_sees(page, live, db):
    page.goto("/")
    cases = page.evaluate(NAME_SHORT_CASES)
    assert cases["short"] == "ada" and cases["exact"] is True
    assert cases["over"] == "x" * (cases["max"] - 1) + "…"
    assert cases["custom"] == "abcd…"
    assert cases["family"] == cases["familyExpected"] and cases["familyAtEnd"] is True
    assert cases["flags"] == cases["flagExpected"]
    assert cases["accents"] == cases["accentExpected"]
    assert cases["emptyish"] == ["", "", ""]
    assert cases["lengths"] == [cases["max"], 10, 3]
    assert cases["trailingSpace"] == "abc…"


def test_history_labels_never_repeat(page, live, game, api_key):
    now = datetime.now(UTC)
    events = [{"id": f"h{i}", "player": "ada", "points": 2, "at": at_iso(now - timedelta(minutes=i))} for i in range(4)]
    api_post(live, game.slug, api_key, events)
    services.rollups_compute(game_id=game.pk)
    dashboard_open(page, game.slug)
    page.click("label[for=range-5m]")
    page.wait_for_function(
        "() => window.webgame.history && window.webgame.charts.rate.data.datasets[1].hidden === false",
        timeout=WAIT_MS,
    )
    assert page.evaluate(EMPTY_READ)["rate"] is None
    labels = page.evaluate("() => window.webgame.charts.rate.data.labels")
    assert len(labels) >= 2 and not repeated(labels)
    assert_ticks_unique(page)

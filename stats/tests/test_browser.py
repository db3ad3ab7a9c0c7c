"""The pages in a real browser: Debian's Chromium driven by Playwright, against daphne, Valkey
and the test database. Each test is one behaviour a user sees."""

import contextlib
import json
import os
import re
import signal
import time
import urllib.request

import pytest
from django.contrib.auth import get_user_model
from django.db import connection

from stats import services
from stats.models import ScoreEvent
from stats.schemas import EventIn
from stats.tests.browser_support import (
    UI_READ,
    WAIT_MS,
    XSS_NAMES,
    FirstEventsFrameDropper,
    api_post,
    dashboard_open,
    record_off_loop,
    ui_wait_for_totals,
)
from stats.tests.games import game_make
from stats.tests.support import DaphneProc, ValkeyProc, database_url

pytestmark = pytest.mark.browser


def api_snapshot(live, slug: str) -> dict:
    with urllib.request.urlopen(f"{live.url}/api/games/{slug}/snapshot", timeout=10) as response:
        return json.load(response)


def totals(snapshot: dict) -> dict[str, int]:
    return {p["player"]: p["total"] for p in snapshot["leaderboard"]}


def table_totals(ui: dict) -> dict[str, int]:
    return {row[1]: int(row[2].replace(",", "")) for row in ui["table"]}


def staff_login(page, live) -> None:
    user_model = get_user_model()
    user_model.objects.create_user("referee", password="referee-pass-123", is_staff=True, is_superuser=True)
    page.goto("/admin/login/?next=/admin/")
    page.fill("#id_username", "referee")
    page.fill("#id_password", "referee-pass-123")
    page.click("input[type=submit]")
    page.wait_for_url("**/admin/")


@pytest.fixture
def staff_and_viewer(browser, live, game):
    """Two separate browser sessions: a logged-in staff user, and a viewer on the dashboard."""
    staff = browser.new_context(base_url=live.url).new_page()
    viewer = browser.new_context(base_url=live.url).new_page()
    try:
        staff_login(staff, live)
        dashboard_open(viewer, game.slug)
        yield staff, viewer
    finally:
        staff.context.close()
        viewer.context.close()


def test_api_post_updates_chart_data_and_leaderboard_table(page, live, game, api_key):
    dashboard_open(page, game.slug)
    assert page.evaluate(UI_READ)["table"] == []
    api_post(
        live,
        game.slug,
        api_key,
        [
            {"id": "e1", "player": "ada", "points": 30},
            {"id": "e2", "player": "linus", "points": 12},
            {"id": "e3", "player": "ada", "points": 5},
        ],
    )
    ui = ui_wait_for_totals(page, {"ada": 35, "linus": 12}, seq=3)
    assert ui["bars"] == {"ada": 35, "linus": 12}
    assert ui["lines"] == {"ada": 35, "linus": 12}
    assert ui["table"] == [["1", "ada", "35", "2"], ["2", "linus", "12", "1"]]
    assert page.locator("#kpi-points").text_content() == "47"


def test_admin_save_shows_up_live_on_dashboard(staff_and_viewer, game):
    admin, viewer = staff_and_viewer
    admin.goto("/admin/stats/scoreevent/add/")
    admin.select_option("#id_game", label=str(game))
    admin.fill("#id_player_name", "grace")
    admin.fill("#id_points", "42")
    admin.click("input[name=_save]")
    admin.wait_for_url("**/admin/stats/scoreevent/")
    ui = ui_wait_for_totals(viewer, {"grace": 42}, seq=1)
    assert ui["bars"] == {"grace": 42}


def test_reconnects_after_web_process_restart_and_shows_snapshot_totals(page, live, game, api_key):
    dashboard_open(page, game.slug)
    api_post(live, game.slug, api_key, [{"id": "before", "player": "ada", "points": 10}])
    ui_wait_for_totals(page, {"ada": 10}, seq=1)
    live.kill()
    page.wait_for_function("() => window.webgame.socket.status !== 'live'", timeout=WAIT_MS)
    # Written while the web process is down: no live push can reach the page.
    missed = [EventIn(id=f"down-{i}", player=name, points=i + 1) for i, name in enumerate(["ada", "ken", "ken"])]
    record_off_loop(game.pk, missed)
    live.start()
    snapshot = api_snapshot(live, game.slug)
    ui = ui_wait_for_totals(page, totals(snapshot), seq=snapshot["seq"])
    assert table_totals(ui) == totals(snapshot) == {"ada": 11, "ken": 5}
    assert ui["status"] == "live"


def test_hidden_tab_pauses_drawing_then_catches_up(page, live, game, api_key):
    dashboard_open(page, game.slug)
    api_post(live, game.slug, api_key, [{"id": "a", "player": "ada", "points": 1}])
    ui_wait_for_totals(page, {"ada": 1}, seq=1)
    page.evaluate("""() => {
      window.webgame.config.hiddenCloseMs = 0;
      Object.defineProperty(document, "hidden", { configurable: true, get: () => true });
      Object.defineProperty(document, "visibilityState", { configurable: true, get: () => "hidden" });
      document.dispatchEvent(new Event("visibilitychange"));
    }""")
    page.wait_for_function("() => window.webgame.socket.status === 'paused'", timeout=WAIT_MS)
    before = page.evaluate(UI_READ)
    api_post(
        live, game.slug, api_key, [{"id": "b", "player": "ada", "points": 5}, {"id": "c", "player": "ken", "points": 7}]
    )
    time.sleep(1.5)
    paused = page.evaluate(UI_READ)
    assert paused["redraws"] == before["redraws"]
    assert paused["table"] == before["table"] and paused["lastSeq"] == 1
    page.evaluate("""() => {
      Object.defineProperty(document, "hidden", { configurable: true, get: () => false });
      Object.defineProperty(document, "visibilityState", { configurable: true, get: () => "visible" });
      document.dispatchEvent(new Event("visibilitychange"));
    }""")
    snapshot = api_snapshot(live, game.slug)
    ui = ui_wait_for_totals(page, totals(snapshot), seq=snapshot["seq"])
    assert table_totals(ui) == {"ada": 6, "ken": 7}


def test_xss_player_names_render_as_text_and_never_run(page, live, game, api_key):
    page.add_init_script("""
      window.__csp = [];
      document.addEventListener("securitypolicyviolation", (e) => window.__csp.push(e.violatedDirective));
    """)
    dashboard_open(page, game.slug)
    api_post(
        live, game.slug, api_key, [{"id": f"x{i}", "player": n, "points": 10 - i} for i, n in enumerate(XSS_NAMES)]
    )
    ui = ui_wait_for_totals(page, {n: 10 - i for i, n in enumerate(XSS_NAMES)}, seq=len(XSS_NAMES))
    assert [row[1] for row in ui["table"]] == XSS_NAMES
    recent = page.locator("#recent-list .who").all_text_contents()
    assert sorted(recent) == sorted(XSS_NAMES)
    injected = page.evaluate(
        "() => document.querySelectorAll('#dashboard img, #dashboard svg, #dashboard script, #dashboard b').length"
    )
    assert injected == 0
    assert page.evaluate("() => [window.__xss, window.__csp]") == [None, []]


def test_xss_game_name_in_lobby_renders_as_text(page, live, db):
    name = "<img src=x onerror=window.__xss=1>"
    evil = game_make(prefix="evil", name=name)
    page.goto("/")
    page.wait_for_function("() => window.webgame && window.webgame.frames >= 2", timeout=WAIT_MS)
    assert page.locator(f'[data-slug="{evil.slug}"] [data-field="name"]').text_content() == name
    assert page.evaluate("() => [document.querySelectorAll('#game-list img').length, window.__xss]") == [0, None]


def test_presence_count_follows_tabs_opening_and_closing(page, live, db):
    room = game_make(prefix="presence-room", name="Presence room")
    dashboard_open(page, room.slug)
    watching = page.locator("#viewers")
    watching.filter(has_text="1 watching").wait_for(timeout=WAIT_MS)
    second = page.context.new_page()
    dashboard_open(second, room.slug)
    watching.filter(has_text="2 watching").wait_for(timeout=WAIT_MS)
    second.close()
    watching.filter(has_text="1 watching").wait_for(timeout=WAIT_MS)


def test_lobby_totals_move_with_new_events(page, live, game, api_key):
    page.goto("/")
    page.wait_for_function("() => window.webgame && window.webgame.frames >= 2", timeout=WAIT_MS)
    events = page.locator(f'[data-slug="{game.slug}"] [data-field="events"]')
    assert events.text_content() == "0"
    api_post(live, game.slug, api_key, [{"id": f"l{i}", "player": "ada", "points": 2} for i in range(7)])
    page.wait_for_function(
        f"""() => document.querySelector('[data-slug="{game.slug}"] [data-field="events"]').textContent === "7" """,
        timeout=WAIT_MS,
    )
    assert page.locator(f'[data-slug="{game.slug}"] [data-field="points"]').text_content() == "14"
    assert float(page.locator(f'[data-slug="{game.slug}"] [data-field="rate"]').text_content()) > 0


def test_staff_score_page_post_updates_open_dashboard(staff_and_viewer, game):
    staff, viewer = staff_and_viewer
    staff.goto(f"/staff/score/?game={game.slug}")
    staff.fill("#id_player", "margaret")
    staff.fill("#id_points", "17")
    staff.click("form.form-card button[type=submit]")  # not the header's log-out button
    assert "Recorded 17 for margaret" in staff.locator(".messages").text_content()
    ui_wait_for_totals(viewer, {"margaret": 17}, seq=1)


def test_staff_score_page_records_stats_team_and_match(staff_and_viewer, live, game):
    """Issue #22: the page had no fields for stats, team or match."""
    from stats.scoring import services as scoring
    from stats.tests.browser_support import off_loop

    scoring.stat_declare(game=game, name="kills")
    off_loop(lambda: scoring.match_start(game_id=game.pk, match_id="old", name="Old"))
    off_loop(lambda: scoring.match_start(game_id=game.pk, match_id="final", name="Final"))
    staff, _ = staff_and_viewer
    staff.goto(f"/staff/score/?game={game.slug}")
    assert staff.input_value("#id_stats") == ""  # an empty box, not "null"
    staff.fill("#id_player", "margaret")
    staff.fill("#id_points", "17")
    staff.fill("#id_stats", '{"kills": 2}')
    staff.fill("#id_team", "Blue")
    staff.fill("#id_match", "old")  # not the open match: the one named
    staff.click("form.form-card button[type=submit]")
    assert "Recorded 17 for margaret" in staff.locator(".messages").text_content()
    event = ScoreEvent.objects.select_related("match").get(game=game)
    assert (event.points, event.stats, event.team, event.match.match_id) == (17, {"kills": 2}, "Blue", "old")
    # A stat the game does not declare is refused in the form, saying which it has.
    staff.fill("#id_player", "margaret")
    staff.fill("#id_points", "1")
    staff.fill("#id_stats", '{"deaths": 1}')
    staff.click("form.form-card button[type=submit]")
    assert "Not a stat of this game: deaths (declared: kills)." in staff.locator("[role=alert]").text_content()
    assert ScoreEvent.objects.filter(game=game).count() == 1


def test_replay_plays_log_to_snapshot_totals_then_back_to_live(page, live, game, api_key):
    api_post(
        live, game.slug, api_key, [{"id": f"r{i}", "player": ["ada", "ken"][i % 2], "points": i} for i in range(20)]
    )
    dashboard_open(page, game.slug)
    page.select_option("#replay-speed", "10")
    page.click("#replay-start")
    page.wait_for_function("() => window.webgame.state.mode === 'replay'", timeout=WAIT_MS)
    page.locator("#replay-status").filter(has_text="replay finished").wait_for(timeout=WAIT_MS)
    # The table is redrawn on the next animation frame after the last replayed event.
    page.wait_for_function(
        """() => Array.from(document.querySelectorAll("#leaderboard-table tbody tr:not(.empty)"))
                 .map((r) => r.cells[1].textContent + "=" + r.cells[3].textContent)
                 .sort().join() === "ada=90,ken=100" """,
        timeout=WAIT_MS,
    )
    replayed = page.evaluate(UI_READ)
    assert table_totals(replayed) == totals(api_snapshot(live, game.slug)) == {"ada": 90, "ken": 100}
    api_post(live, game.slug, api_key, [{"id": "late", "player": "ada", "points": 1}])
    time.sleep(1)
    assert table_totals(page.evaluate(UI_READ))["ada"] == 90  # the replay view is not disturbed
    page.click("#back-live")
    ui_wait_for_totals(page, {"ada": 91, "ken": 100}, seq=21)


def test_history_range_draws_per_minute_rollups(page, live, game, api_key):
    api_post(live, game.slug, api_key, [{"id": f"h{i}", "player": "ada", "points": 3} for i in range(9)])
    services.rollups_compute(game_id=game.pk)
    dashboard_open(page, game.slug)
    page.click("label[for=range-5m]")
    page.wait_for_function(
        "() => window.webgame.history && window.webgame.charts.rate.data.datasets[1].hidden === false",
        timeout=WAIT_MS,
    )
    sums = page.evaluate("""() => window.webgame.charts.rate.data.datasets.map(
      (d) => d.data.reduce((a, b) => a + b, 0))""")
    assert sums == [9, 27]
    page.click("label[for=range-live]")
    page.wait_for_function("() => window.webgame.charts.rate.data.datasets[1].hidden === true", timeout=WAIT_MS)


def test_dropped_events_frame_is_detected_as_a_gap_and_resumed(page, live, game, api_key):
    dropper = FirstEventsFrameDropper()
    page.route_web_socket(re.compile(r"/ws/games/"), dropper)
    dashboard_open(page, game.slug)
    dropper.posted_then_dropped(page, live, game, api_key)
    api_post(live, game.slug, api_key, [{"id": "g2", "player": "ada", "points": 7}])
    ui_wait_for_totals(page, {"ada": 12}, seq=2)
    assert len(dropper.dropped) == 1
    assert page.evaluate("() => window.webgame.stats.gaps") == 1


# ---- a connection that dies without a close -----------------------------------------------
# The socket pings every 5 s and gives up 4 s later without an answer: about 9 s at most.
DEAD_DETECTED_S = 13
BADGE_LIVE = "() => document.getElementById('conn-badge').className === 'badge badge--live'"


@contextlib.contextmanager
def own_daphne(redis_url: str):
    """A daphne for one test, which it may freeze or cut from Valkey (never the shared one)."""
    server = DaphneProc(database_url=database_url(connection.settings_dict), redis_url=redis_url).start()
    try:
        yield server
    finally:
        if server.popen and server.popen.poll() is None:
            server.popen.send_signal(signal.SIGCONT)  # a stopped process cannot act on SIGTERM
        server.stop()


@contextlib.contextmanager
def own_page(browser, server):
    context = browser.new_context(base_url=server.url, viewport={"width": 1280, "height": 900})
    try:
        yield context.new_page()
    finally:
        context.close()


def frames_record(page) -> None:
    """Keep every frame the dashboard's socket hands over, in window.__frames."""
    page.evaluate("""() => {
      const socket = window.webgame.socket;
      const handle = socket.onFrame;
      window.__frames = [];
      socket.onFrame = (frame) => { window.__frames.push(frame); handle(frame); };
    }""")


def test_browser_offline_leaves_live_at_once_then_converges_on_snapshot(page, live, game, api_key):
    dashboard_open(page, game.slug)
    api_post(live, game.slug, api_key, [{"id": "on-1", "player": "ada", "points": 1}])
    ui_wait_for_totals(page, {"ada": 1}, seq=1)
    page.wait_for_function(BADGE_LIVE, timeout=WAIT_MS)
    page.context.set_offline(True)
    started = time.monotonic()
    # "offline" comes from the browser's event; a missed pong would say "reconnecting" first.
    page.locator("#conn-badge.badge--offline").wait_for(timeout=WAIT_MS)
    assert time.monotonic() - started < 5
    assert page.evaluate("() => [window.webgame.socket.ws, navigator.onLine]") == [None, False]
    assert page.locator("#conn-badge").text_content() == "offline, retrying"
    api_post(
        live,
        game.slug,
        api_key,
        [{"id": "off-1", "player": "ada", "points": 2}, {"id": "off-2", "player": "ken", "points": 3}],
    )
    page.context.set_offline(False)
    snapshot = api_snapshot(live, game.slug)
    ui = ui_wait_for_totals(page, totals(snapshot), seq=snapshot["seq"])
    page.wait_for_function(BADGE_LIVE, timeout=WAIT_MS)
    assert table_totals(ui) == totals(snapshot) == {"ada": 3, "ken": 3}
    assert page.locator("#kpi-events").text_content() == "3"
    assert page.locator("#kpi-points").text_content() == "6"
    shown = page.evaluate("() => Array.from(document.querySelectorAll('#recent-list li')).map((li) => li.dataset.seq)")
    assert sorted(shown) == ["1", "2", "3"]


def test_lobby_goes_offline_with_the_browser_and_back(page, live, db):
    page.goto("/")
    page.wait_for_function("() => window.webgame && window.webgame.frames >= 2", timeout=WAIT_MS)
    page.locator("#conn-badge.badge--live").wait_for(timeout=WAIT_MS)
    page.context.set_offline(True)
    page.locator("#conn-badge.badge--offline").wait_for(timeout=WAIT_MS)
    assert page.evaluate("() => window.webgame.socket.ws") is None
    page.context.set_offline(False)
    page.locator("#conn-badge.badge--live").wait_for(timeout=WAIT_MS)


def test_frozen_server_is_noticed_without_any_close_or_offline_event(browser, transactional_db, game, valkey):
    with own_daphne(valkey.url) as server, own_page(browser, server) as page:
        dashboard_open(page, game.slug)
        page.wait_for_function(BADGE_LIVE, timeout=WAIT_MS)
        os.kill(server.popen.pid, signal.SIGSTOP)  # the TCP connection stays up, nothing answers
        try:
            started = time.monotonic()
            page.wait_for_function(
                "() => window.webgame.socket.status !== 'live'", timeout=(DEAD_DETECTED_S + 10) * 1000
            )
            took = time.monotonic() - started
            assert took < DEAD_DETECTED_S, f"the dead socket was noticed after {took:.1f}s"
            assert page.locator("#conn-badge").get_attribute("class") != "badge badge--live"
        finally:
            os.kill(server.popen.pid, signal.SIGCONT)
        page.wait_for_function(BADGE_LIVE, timeout=WAIT_MS * 2)  # back without a reload


def test_degraded_badge_while_the_channel_layer_is_down(browser, transactional_db, game, api_key):
    """Redis down: the page is fed from the database at each ping and says so; Redis back:
    "live" again on the same socket, and events pushed live."""
    redis = ValkeyProc().start()
    try:
        with own_daphne(redis.url) as server, own_page(browser, server) as page:
            dashboard_open(page, game.slug)
            page.wait_for_function(BADGE_LIVE, timeout=WAIT_MS)
            redis.kill()
            dashboard_open(page, game.slug)  # a new page load, with Redis already down
            badge = page.locator("#conn-badge.badge--degraded")
            badge.wait_for(timeout=WAIT_MS)
            assert badge.text_content() == "degraded — updating every few seconds"
            frames_record(page)
            api_post(server, game.slug, api_key, [{"id": "d-1", "player": "ada", "points": 4}])
            ui_wait_for_totals(page, {"ada": 4}, seq=1)  # from the database, at a ping
            assert page.evaluate("() => window.webgame.degraded") is True
            redis.start()  # same port
            page.wait_for_function(BADGE_LIVE, timeout=WAIT_MS * 2)
            assert page.evaluate("() => window.__frames.filter((f) => f.type === 'snapshot').length") == 0
            # Post just after a pong, so that the next ping (5 s away) cannot deliver it first.
            pongs = page.evaluate("() => window.__frames.filter((f) => f.type === 'pong').length")
            page.wait_for_function(
                "(n) => window.__frames.filter((f) => f.type === 'pong').length > n", arg=pongs, timeout=WAIT_MS
            )
            api_post(server, game.slug, api_key, [{"id": "d-2", "player": "ada", "points": 5}])
            ui_wait_for_totals(page, {"ada": 9}, seq=2)
            pushed = page.evaluate(
                "() => window.__frames.some((f) => f.type === 'events' && !f.resumed"
                " && f.events.some((e) => e.id === 'd-2'))"
            )
            assert pushed, "the event after the recovery came from a ping catch-up, not a live push"
    finally:
        redis.stop()


# The rows of the "Recent events" list cut by its bottom edge (at the top of the list, and
# after a scroll by a little under two rows, which snaps to a row).
RECENT_CUT = """() => {
  const list = document.getElementById("recent-list");
  const cut = () => {
    const box = list.getBoundingClientRect();
    return Array.from(list.children).filter((li) => {
      const r = li.getBoundingClientRect();
      return r.top < box.bottom - 0.5 && r.bottom > box.bottom + 0.5;
    }).length;
  };
  return new Promise((resolve) => {
    const atTop = cut();
    list.scrollBy(0, 1.7 * list.firstElementChild.getBoundingClientRect().height);
    setTimeout(() => resolve({ atTop, scrolled: cut(), scrollable: list.scrollHeight > list.clientHeight }), 300);
  });
}"""


@pytest.mark.parametrize("viewport", [{"width": 1280, "height": 900}, {"width": 1920, "height": 1080}], ids=str)
def test_recent_events_never_cut_a_row_in_half(browser, live, game, api_key, viewport):
    """Issue #22: the card cut its last row in half."""
    api_post(live, game.slug, api_key, [{"id": f"r{i}", "player": f"p{i % 7}", "points": i + 1} for i in range(50)])
    context = browser.new_context(base_url=live.url, viewport=viewport)
    try:
        page = dashboard_open(context.new_page(), game.slug)
        page.wait_for_function("() => document.querySelectorAll('#recent-list li').length === 50", timeout=WAIT_MS)
        assert page.evaluate(RECENT_CUT) == {"atTop": 0, "scrolled": 0, "scrollable": True}
    finally:
        context.close()


TABLE_READ = """() => {
  const shown = (cells) => Array.from(cells).filter((c) => c.offsetParent !== null).map((c) => c.textContent);
  return {
    head: shown(document.querySelectorAll("#leaderboard-table thead th")),
    rows: Array.from(document.querySelectorAll("#leaderboard-table tbody tr:not(.empty)")).map((r) => shown(r.cells)),
  };
}"""
ROWS = "() => document.querySelectorAll('#leaderboard-table tbody tr:not(.empty)').length"
NONE = "\u2013"  # an en dash: no team


def test_leaderboard_table_has_a_team_column_once_players_have_teams(page, live, game, api_key):
    """Issue #22: the table had no team column."""
    from stats.scoring import services as scoring
    from stats.tests.browser_support import off_loop

    api_post(live, game.slug, api_key, [{"id": "s1", "player": "solo", "points": 1}])
    dashboard_open(page, game.slug)
    page.wait_for_function(f"() => ({ROWS})() === 1", timeout=WAIT_MS)
    assert page.evaluate(TABLE_READ) == {"head": ["#", "Player", "Points", "Events"], "rows": [["1", "solo", "1", "1"]]}
    off_loop(lambda: scoring.match_start(game_id=game.pk, match_id="m1", name="One"))
    api_post(
        live,
        game.slug,
        api_key,
        [
            {"id": "t1", "player": "ada", "team": "Blue", "points": 30},
            {"id": "t2", "player": "ken", "team": "Red", "points": 20},
        ],
    )
    page.wait_for_function(f"() => ({ROWS})() === 3", timeout=WAIT_MS)
    assert page.evaluate(TABLE_READ) == {
        "head": ["#", "Player", "Team", "Points", "Events"],
        "rows": [["1", "ada", "Blue", "30", "1"], ["2", "ken", "Red", "20", "1"], ["3", "solo", NONE, "1", "1"]],
    }


LOBBY_CUT = """() => Array.from(document.querySelectorAll('.game-card')).flatMap((card) => {
  const box = card.getBoundingClientRect();
  return Array.from(card.querySelectorAll('dd, dt')).filter((el) => {
    const r = el.getBoundingClientRect();
    return el.scrollWidth > el.clientWidth || r.right > box.right + 0.5 || r.left < box.left - 0.5;
  }).map((el) => el.textContent);
})"""


def test_lobby_shows_big_numbers_whole_at_1280(browser, live, game, api_key):
    """Issue #22: points read "315,…" at 1280 px."""
    for slug in ("b", "c", "d"):
        services.game_create(slug=slug, name=slug.upper())
    api_post(live, game.slug, api_key, [{"id": f"n{i}", "player": f"p{i}", "points": 105_216_667} for i in range(3)])
    context = browser.new_context(base_url=live.url, viewport={"width": 1280, "height": 800})
    try:
        page = context.new_page()
        page.goto("/")
        page.wait_for_function("() => window.webgame && window.webgame.frames >= 2", timeout=WAIT_MS)
        assert page.locator(f'[data-slug="{game.slug}"] [data-field="points"]').text_content() == "315,650,001"
        assert page.evaluate("() => document.querySelectorAll('.game-card').length") == 4
        assert page.evaluate(LOBBY_CUT) == []
    finally:
        context.close()


def test_lobby_shows_a_game_created_by_the_command_live(page, live, game):
    """Issue #22: a game made with `manage.py create_game` showed only after a reload."""
    from django.core.management import call_command

    from stats.tests.browser_support import off_loop

    page.goto("/")
    page.wait_for_function("() => window.webgame && window.webgame.frames >= 2", timeout=WAIT_MS)
    assert page.evaluate("() => Array.from(document.querySelectorAll('.game-card')).map((c) => c.dataset.slug)") == [
        game.slug
    ]
    off_loop(lambda: call_command("create_game", "fresh", "--name", "Fresh <b>Cup</b>"))
    page.locator('[data-slug="fresh"]').wait_for(timeout=WAIT_MS)
    assert page.locator('[data-slug="fresh"] [data-field="name"]').text_content() == "Fresh <b>Cup</b>"
    assert page.locator('[data-slug="fresh"] [data-field="events"]').text_content() == "0"
    assert page.evaluate("() => document.getElementById('lobby-empty').hidden") is True
    # A private one is not shown to this anonymous viewer.
    off_loop(lambda: call_command("create_game", "hidden", "--name", "Hidden", "--private"))
    off_loop(lambda: call_command("create_game", "later", "--name", "Later"))
    page.locator('[data-slug="later"]').wait_for(timeout=WAIT_MS)
    assert page.locator('[data-slug="hidden"]').count() == 0

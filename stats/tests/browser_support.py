"""Helpers shared by the browser test modules (Playwright on Chromium)."""

import json
import re
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote, urlsplit

from django.contrib.auth import get_user_model
from django.db import connections

from stats import services
from stats.schemas import EventIn

WAIT_MS = 20_000


XSS_NAMES = [
    "<img src=x onerror=window.__xss=1>",
    "<svg onload=window.__xss=2>",
    '"><script>window.__xss=3</script>',
    "<b>bold</b>&amp;",
]


UI_READ = """() => {
  const w = window.webgame;
  const bars = w.charts.leaders.data;
  return {
    lastSeq: w.live.lastSeq,
    status: w.socket.status,
    redraws: w.stats.redraws,
    bars: Object.fromEntries(bars.labels.map((name, i) => [name, bars.datasets[0].data[i]])),
    lines: Object.fromEntries(w.charts.timeline.data.datasets.map((d) => [d.label, d.data.at(-1).y])),
    table: Array.from(document.querySelectorAll("#leaderboard-table tbody tr:not(.empty)")).map(
      (row) => Array.from(row.cells).filter((cell) => cell.offsetParent !== null).map((cell) => cell.textContent)),
  };
}"""


def api_post(live, slug: str, key: str, events: list[dict]) -> dict:
    request = urllib.request.Request(
        f"{live.url}/api/games/{slug}/events",
        data=json.dumps({"events": events}).encode(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def record_off_loop(game_id: int, events: list[EventIn]) -> None:
    """Record through the service from a thread without an event loop: the after-commit
    broadcast uses async_to_sync, which refuses to run beside Playwright's loop."""

    def record() -> None:
        try:
            services.score_events_record(game_id=game_id, events=events)
        finally:
            connections.close_all()  # the thread ends; PostgreSQL must be able to drop the test DB

    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(record).result()


def dashboard_open(page, slug: str):
    page.goto(f"/games/{slug}/")
    page.wait_for_function("() => window.webgame && window.webgame.stats.snapshots > 0", timeout=WAIT_MS)
    return page


def ui_wait_for_totals(page, expected: dict[str, int], seq: int) -> dict:
    """Wait until the table, the bar chart and the state all show `expected` at `seq`."""
    page.wait_for_function(
        """([expected, seq]) => {
          const w = window.webgame;
          if (w.live.lastSeq !== seq || w.state !== w.live) return false;
          const rows = Array.from(document.querySelectorAll("#leaderboard-table tbody tr:not(.empty)"));
          const shown = Object.fromEntries(
            rows.map((r) => [r.cells[1].textContent, r.cells[3].textContent.replace(/,/g, "")]));
          return Object.entries(expected).every(([name, total]) => shown[name] === String(total));
        }""",
        arg=[expected, seq],
        timeout=WAIT_MS,
    )
    return page.evaluate(UI_READ)


class FirstEventsFrameDropper:
    """A WebSocket route that loses the first live `events` frame in transit, as a flaky
    network would; `posted_then_dropped` posts an event and waits until it was dropped."""

    def __init__(self) -> None:
        self.dropped: list[str] = []

    def __call__(self, ws_route) -> None:
        server = ws_route.connect_to_server()

        def forward(message):
            if not self.dropped and '"type":"events"' in message and '"resumed"' not in message:
                self.dropped.append(message)
                return
            ws_route.send(message)

        server.on_message(forward)

    def posted_then_dropped(self, page, live, game, api_key) -> None:
        api_post(live, game.slug, api_key, [{"id": "g1", "player": "ada", "points": 5}])
        for _ in range(100):  # wait_for_timeout lets Playwright run the route handler meanwhile
            if self.dropped:
                return
            page.wait_for_timeout(50)


def csrf_masked(page: bytes | str) -> str:
    text = page.decode() if isinstance(page, bytes) else page
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', 'name="csrfmiddlewaretoken" value=""', text)


PASSWORD = "viewer-pass-123"


def user_create(username: str, *, staff: bool = False):
    return get_user_model().objects.create_user(username, password=PASSWORD, is_staff=staff)


def account_login(page, username: str, next_path: str = "/") -> None:
    """Log in through the login page, as a person would, and wait to land on `next_path`."""
    page.goto(f"/accounts/login/?next={quote(next_path)}")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("form.account-form button[type=submit]")

    def landed(url: str) -> bool:
        parts = urlsplit(url)
        return parts.path != "/accounts/login/" and parts.path + (f"?{parts.query}" if parts.query else "") == next_path

    page.wait_for_url(landed, timeout=WAIT_MS)


CSP_WATCH = """
  window.__csp = [];
  document.addEventListener("securitypolicyviolation", (e) => window.__csp.push(e.violatedDirective));
"""


def off_loop(call):
    """Run a service from a thread without an event loop (its after-commit publish uses
    async_to_sync, which refuses to run beside Playwright's loop); returns its result."""
    import threading

    from django.db import connection

    out = {}

    def run() -> None:
        try:
            out["value"] = call()
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(30)
    return out["value"]

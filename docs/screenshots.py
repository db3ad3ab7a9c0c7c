"""The README's screenshots, made from the real pages:

    .venv/bin/python docs/screenshots.py            # writes the five PNGs below into docs/
    .venv/bin/python docs/screenshots.py --out /tmp # somewhere else

- docs/dashboard.png       the dashboard (/games/<slug>/) of a game with a live match, 1440 wide
- docs/tv-1920x1080.png    the wall screen (/games/<slug>/tv/) of a game in progress
- docs/overlay-dark.png    the leaderboard overlay over dark video
- docs/overlay-light.png   the same overlay over light video
- docs/chat.png            the dashboard's chat panel, two logged-in users talking

It needs nothing running and touches nothing of yours (not db.sqlite3, not a `make run`): as
the test suite does (stats/tests/support.py), it starts its own Valkey and daphne on free
ports, against a throwaway SQLite database in a temporary directory (migrated, then filled
with a game, its events and two users through stats.services), drives Debian's
/usr/bin/chromium with Playwright (never Playwright's own download), and removes it all.

The overlay pictures: the overlay page is screenshotted with omit_background=True (a PNG with
transparent pixels, what a streaming tool's browser source composites), and that PNG is then
shown as an <img> over a dark and over a light "video" (CSS gradients) in a blank page of the
script's own, which is screenshotted. The overlay page itself is not altered: no style is
injected into it (its CSP would refuse that anyway, and framing it is forbidden).
"""

import argparse
import base64
import json
import os
import random
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from stats.tests.support import DaphneProc, ValkeyProc  # noqa: E402  (needs ROOT on the path)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
SLUG = "grand-final"
GAME_NAME = "Grand Final"
MATCH_NAME = "Map 3"
PASSWORD = "screenshot-pass-123"
WAIT_MS = 30_000
PLAYERS = [
    "Nightfall",
    "ada_lovelace",
    "kenji",
    "Grace H.",
    "TheUnstoppableQuantumSniperFromTheNorthernServers",
    "linus",
    "Margaret",
    "zed",
    "vera_v",
    "ocelot",
    "Brun",
    "Ptolemy",
]
CHAT = [
    ("ada", "gg so far, that last round was close"),
    ("linus", "Nightfall is on fire tonight"),
    ("ada", "the sniper's name doesn't fit anywhere 😄"),
    ("linus", "wall screen cuts it with an ellipsis, hover for the rest"),
    ("ada", "map 4 in five minutes?"),
    ("linus", "yes: grabbing a coffee first"),
]

# The "video" behind the overlay: a night scene, and a bright snowy one.
VIDEO = {
    "dark": "radial-gradient(40% 50% at 75% 30%, #3b3f8f 0%, rgba(59,63,143,0) 70%),"
    " radial-gradient(30% 40% at 20% 80%, #14532d 0%, rgba(20,83,45,0) 70%),"
    " linear-gradient(160deg, #0f172a 0%, #020617 60%, #111827 100%)",
    "light": "radial-gradient(45% 55% at 70% 25%, #ffffff 0%, rgba(255,255,255,0) 70%),"
    " radial-gradient(35% 40% at 25% 85%, #fde68a 0%, rgba(253,230,138,0) 70%),"
    " linear-gradient(160deg, #e0f2fe 0%, #f8fafc 55%, #cbd5e1 100%)",
}


def database_prepare(db_path: Path, redis_url: str) -> str:
    """Point Django at a new SQLite file and migrate it; return its URL for the server."""
    url = f"sqlite:///{db_path}"
    os.environ.update(
        DJANGO_SETTINGS_MODULE="webgame.test_settings",  # quick password hashing, no demo games
        DATABASE_URL=url,
        REDIS_URL=redis_url,
        DJANGO_ALLOW_ASYNC_UNSAFE="true",  # ORM calls beside Playwright's event loop
    )
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    return url


def game_fill() -> str:
    """A game some minutes in: its events spread over the last 12 minutes. Returns an API key."""
    from django.contrib.auth import get_user_model

    from stats import services
    from stats.schemas import EventIn
    from stats.scoring import services as scoring

    game = services.game_create(slug=SLUG, name=GAME_NAME)
    scoring.match_start(game_id=game.pk, match_id="map-3", name=MATCH_NAME)
    rng = random.Random(12)
    weights = [10, 9, 8, 7, 7, 6, 5, 4, 4, 3, 2, 2]
    start = datetime.now(UTC) - timedelta(minutes=12)
    events = []
    for i in range(240):
        player = rng.choices(PLAYERS, weights)[0]
        kind = "bonus" if rng.random() < 0.08 else "score"
        points = rng.choice([25, 50, 75]) if kind == "bonus" else rng.choice([5, 10, 10, 15, 20])
        at = start + timedelta(seconds=i * 3 + rng.random() * 2)
        events.append(EventIn(id=f"e{i}", player=player, points=points, kind=kind, at=at, team=team_of(player)))
    for i in range(0, len(events), 100):
        services.score_events_record(game_id=game.pk, events=events[i : i + 100])
    for name in ("ada", "linus"):
        get_user_model().objects.create_user(name, password=PASSWORD)
    return services.api_key_create(game=game, name="screenshots")[1]


def team_of(player: str) -> str:
    return "Blue" if PLAYERS.index(player) % 2 == 0 else "Red"


def api_post(base: str, key: str, events: list[dict]) -> None:
    request = urllib.request.Request(
        f"{base}/api/games/{SLUG}/events",
        data=json.dumps({"events": events}).encode(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()


def wall_wait(page, redraws: int = 1) -> None:
    page.wait_for_function(
        "(n) => window.webgame && window.webgame.stats.snapshots > 0 && window.webgame.stats.redraws >= n",
        arg=redraws,
        timeout=WAIT_MS,
    )


def tv_shoot(browser, base: str, key: str, out: Path) -> None:
    context = browser.new_context(base_url=base, viewport={"width": 1920, "height": 1080})
    page = context.new_page()
    page.goto(f"/games/{SLUG}/tv/")
    wall_wait(page)
    page.locator('.wall-status[data-status="live"]').wait_for(state="attached", timeout=WAIT_MS)
    # A few events arriving live, so the ticker has fresh ones.
    for i, (player, points) in enumerate([("kenji", 20), ("Nightfall", 15), ("Grace H.", 10)]):
        api_post(base, key, [{"id": f"live-{i}", "player": player, "points": points, "team": team_of(player)}])
        page.wait_for_function(
            "(seq) => document.querySelector('.tk-item')?.dataset.seq === String(seq)", arg=241 + i, timeout=WAIT_MS
        )
    page.screenshot(path=out / "tv-1920x1080.png", animations="disabled")
    context.close()


def dashboard_shoot(browser, base: str, out: Path) -> None:
    """The whole dashboard page at a laptop's width: match header, KPIs, charts, the table."""
    context = browser.new_context(base_url=base, viewport={"width": 1440, "height": 900})
    page = context.new_page()
    page.goto(f"/games/{SLUG}/")
    page.wait_for_function(
        "() => window.webgame && window.webgame.stats.snapshots > 0 && !document.getElementById('scoreboard').hidden",
        timeout=WAIT_MS,
    )
    page.wait_for_function("() => document.querySelectorAll('#match-picker option').length > 1", timeout=WAIT_MS)
    page.wait_for_timeout(1500)  # the per-second chart's first ticks
    page.screenshot(path=out / "dashboard.png", full_page=True, animations="disabled")
    context.close()


def overlay_shoot(browser, base: str, out: Path) -> None:
    size = {"width": 1280, "height": 720}
    context = browser.new_context(base_url=base, viewport=size)
    page = context.new_page()
    page.goto(f"/games/{SLUG}/overlay/?view=leaderboard&limit=8")
    wall_wait(page)
    page.locator('.wall-status[data-status="live"]').wait_for(state="attached", timeout=WAIT_MS)
    overlay_png = page.screenshot(omit_background=True, animations="disabled")
    picture = base64.b64encode(overlay_png).decode()
    page.goto("about:blank")  # not the site: its CSP does not apply to this compositing page
    for name, video in VIDEO.items():
        page.set_content(
            "<!doctype html><html><body style='margin:0;background:" + video + "'>"
            f"<img alt='' style='display:block' src='data:image/png;base64,{picture}'></body></html>"
        )
        # The corner where the overlay is, big enough to see the video around it.
        page.screenshot(path=out / f"overlay-{name}.png", clip={"x": 0, "y": 0, "width": 800, "height": 450})
    context.close()


def chat_shoot(browser, base: str, out: Path) -> None:
    pages = {}
    contexts = []
    for name in ("ada", "linus"):
        # A wall-screen width: the chat column is wider and taller there (dashboard.css).
        context = browser.new_context(base_url=base, viewport={"width": 1920, "height": 1200})
        contexts.append(context)
        page = context.new_page()
        page.goto(f"/accounts/login/?next=/games/{SLUG}/")
        page.fill("#id_username", name)
        page.fill("#id_password", PASSWORD)
        page.click("form.account-form button[type=submit]")
        page.wait_for_url(f"**/games/{SLUG}/", timeout=WAIT_MS)
        page.wait_for_function("() => window.webgame && window.webgame.stats.snapshots > 0", timeout=WAIT_MS)
        pages[name] = page
    shown = "(text) => [...document.querySelectorAll('#chat-list .chat-text')].some((p) => p.textContent === text)"
    for name, text in CHAT:
        pages[name].fill("#chat-input", text)
        pages[name].click("#chat-send")
        for page in pages.values():
            page.wait_for_function(shown, arg=text, timeout=WAIT_MS)
    ada = pages["ada"]
    ada.fill("#chat-input", "see you there")  # half-typed, as in a real conversation
    ada.locator("#chat-input").blur()
    ada.locator("#chat").screenshot(path=out / "chat.png", animations="disabled")
    for context in contexts:
        context.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs", help="where the PNGs go (default: docs/)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if not os.path.exists(CHROMIUM):
        sys.exit(f"{CHROMIUM} is missing: apt-get install chromium")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="webgame-shots-") as tmp:
        valkey = ValkeyProc().start()
        server = None
        try:
            db_url = database_prepare(Path(tmp) / "shots.sqlite3", valkey.url)
            key = game_fill()
            server = DaphneProc(database_url=db_url, redis_url=valkey.url).start()
            from playwright.sync_api import sync_playwright

            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                try:
                    tv_shoot(browser, server.url, key, args.out)
                    dashboard_shoot(browser, server.url, args.out)
                    overlay_shoot(browser, server.url, args.out)
                    chat_shoot(browser, server.url, args.out)
                finally:
                    browser.close()
        finally:
            if server:
                server.stop()
                server.log_path.unlink(missing_ok=True)
            valkey.stop()
            valkey.log_path.unlink(missing_ok=True)
    for name in ("dashboard", "tv-1920x1080", "overlay-dark", "overlay-light", "chat"):
        path = args.out / f"{name}.png"
        print(f"{path}  {path.stat().st_size // 1024} KiB")
    print(f"done in {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()

"""A hung Redis, as a viewer sees it (issue #18): every page (dashboard, TV, overlay, lobby)
says "degraded" within 5 s of Redis freezing (SIGSTOP), a page opened during the outage too,
and each says "live" again soon after Redis answers, on the same socket. Before
stats.live.health every page said "live" through the whole outage."""

import time

import pytest
from django.db import connection

from stats.tests.support import DaphneProc, ValkeyProc, database_url

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
WAIT_MS = 15_000
# What each page shows as its connection's state.
SHOWN = {
    "dashboard": "() => document.getElementById('conn-badge').className.replace('badge badge--', '')",
    "lobby": "() => document.getElementById('conn-badge').className.replace('badge badge--', '')",
    "tv": "() => document.getElementById('wall').dataset.status",
    "overlay": "() => document.getElementById('wall').dataset.status",
}


@pytest.fixture
def stack(game):
    valkey = ValkeyProc().start()
    web = DaphneProc(database_url=database_url(connection.settings_dict), redis_url=valkey.url).start()
    web.contexts = []
    yield web, valkey
    for context in web.contexts:
        context.close()
    valkey.thaw()
    web.stop()
    valkey.stop()


def pages_open(browser, web, slug: str) -> dict:
    """The four pages in a browser context of their own (closed with the test's stack)."""
    context = browser.new_context(base_url=web.url, viewport={"width": 1280, "height": 800})
    web.contexts.append(context)
    paths = {
        "dashboard": f"/games/{slug}/",
        "lobby": "/",
        "tv": f"/games/{slug}/tv/",
        "overlay": f"/games/{slug}/overlay/",
    }
    pages = {}
    for name, path in paths.items():
        page = context.new_page()
        page.goto(path)
        pages[name] = page
    return pages


def shown_wait(pages: dict, status: str) -> float:
    """Wait until every page shows `status`; the seconds that took."""
    started = time.monotonic()
    for name, page in pages.items():
        page.wait_for_function(f"() => ({SHOWN[name]})() === {status!r}", timeout=WAIT_MS)
    return time.monotonic() - started


def test_every_page_says_degraded_while_redis_hangs_and_live_after(browser, stack, game):
    web, valkey = stack
    pages = pages_open(browser, web, game.slug)
    shown_wait(pages, "live")
    for page in pages.values():  # to tell afterwards that no page needed a new socket
        page.evaluate("() => { window.__ws0 = window.webgame.socket.ws; }")
    valkey.freeze()
    try:
        took = shown_wait(pages, "degraded")
        assert took < 5, f"the pages said degraded after {took:.1f} s"
        late = pages_open(browser, web, game.slug)  # opened during the outage: told too
        took = shown_wait(late, "degraded")
        assert took < 5, f"pages opened in the outage said degraded after {took:.1f} s"
    finally:
        valkey.thaw()
    took = shown_wait(pages, "live")
    assert took < 3, f"the pages said live {took:.1f} s after Redis answered"  # 2 s, plus the browser's hop
    shown_wait(late, "live")
    for name, page in pages.items():
        assert page.evaluate("() => window.webgame.socket.ws === window.__ws0"), f"{name} reconnected"

"""Error pages look like the site: 403, 404 and 500 (templates/403.html, 404.html, 500.html,
through django.views.defaults) with DEBUG off, while /api/ keeps its JSON errors. With DEBUG on,
Django's technical pages are readable (no CSP on them, and only on them). And no request of an
admin page answers 404: /favicon.ico is served, and the admin names the site's icon.

This module is also the URLconf of the tests that need a view that fails (ROOT_URLCONF)."""

import contextlib
import re

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.http import HttpResponse
from django.template import engines, loader
from django.test import RequestFactory
from django.urls import include, path

from stats import api, middleware
from stats.tests.browser_support import WAIT_MS
from stats.tests.games import game_make
from stats.tests.support import DaphneProc, database_url

SITE_CSS = '<link rel="stylesheet" href="/static/stats/site.css">'
ICON = '<link rel="icon" href="/static/stats/favicon.svg" type="image/svg+xml">'


def boom(request):
    raise RuntimeError("a bug in a view")


def forbidden(request):
    raise PermissionDenied("not for you")


def technical_mark_echo(request):
    """An ordinary page that shows (escaped) what the client sent: the technical pages' mark."""
    template = engines["django"].from_string("<!doctype html><p>{{ text }}</p>")
    return HttpResponse(template.render({"text": middleware.TECHNICAL_PAGE_MARK.decode()}), status=404)


urlpatterns = [
    path("boom/", boom),
    path("api/boom", boom),
    path("forbidden/", forbidden),
    path("api/forbidden", forbidden),
    path("echo/", technical_mark_echo),
    path("", include("webgame.urls")),
]
handler400 = "stats.api.handler_bad_request"
handler403 = "stats.api.handler_forbidden"
handler404 = "stats.api.handler_not_found"
handler500 = "stats.api.handler_server_error"


@pytest.fixture
def failing_urls(settings):
    settings.ROOT_URLCONF = __name__


def html_of(response, status: int, template: str) -> str:
    assert response.status_code == status
    assert response["Content-Type"].startswith("text/html")
    assert template in [t.name for t in response.templates]
    page = response.content.decode()
    assert SITE_CSS in page and ICON in page
    assert "<style" not in page and "<script" not in page and " style=" not in page
    assert f'<p class="error-code">{status}</p>' in page
    return page


def json_error(response, status: int, code: str) -> None:
    assert (response.status_code, response["Content-Type"]) == (status, "application/json")
    assert response.json()["error"]["code"] == code


def strict_csp(response) -> None:
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp and "unsafe-inline" not in csp


# ---- DEBUG off: the site's pages ---------------------------------------------------------------


def test_debug_is_off(settings):
    assert settings.DEBUG is False


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/no/such/page/", "/games/nosuch/", "/games/Not_A_Slug!/"])
def test_404_is_the_sites_page_with_a_way_back_to_the_games(client, url):
    response = client.get(url)
    page = html_of(response, 404, "404.html")
    assert re.search(r'<a class="button primary" href="/">Back to the games</a>', page)
    assert 'class="site-header"' in page  # the site's header, as on every page
    strict_csp(response)


def test_404_for_a_private_game_is_the_same_page(client, db):
    secret = game_make(prefix="secret", name="Hidden Vault", is_public=False)
    page = html_of(client.get(f"/games/{secret.slug}/"), 404, "404.html")
    assert "Hidden Vault" not in page


@pytest.mark.parametrize("url", ["/api/nothing", "/api/games/nosuch/snapshot", "/api/games/nosuch/history"])
def test_404_under_api_is_still_json(client, db, url):
    json_error(client.get(url), 404, "not_found")


def test_403_from_a_view_is_the_sites_page(client, db):
    """The admin refuses a staff user without the permission with PermissionDenied."""
    user = get_user_model().objects.create_user("sam", is_staff=True)
    client.force_login(user)
    response = client.get("/admin/stats/game/add/")
    page = html_of(response, 403, "403.html")
    assert "Not allowed" in page and "sam" in page  # the header says who is logged in


def test_403_and_500_through_a_urlconf_with_failing_views(client, db, failing_urls):
    client.raise_request_exception = False
    response = client.get("/forbidden/")
    page = html_of(response, 403, "403.html")
    assert 'href="/accounts/login/?next=/forbidden/"' in page  # anonymous: logging in may help
    strict_csp(response)
    response = client.get("/boom/")
    page = html_of(response, 500, "500.html")
    assert "a bug in a view" not in page and "Traceback" not in page
    strict_csp(response)
    json_error(client.get("/api/forbidden"), 403, "forbidden")
    json_error(client.get("/api/boom"), 500, "server_error")


def test_the_handlers_called_directly(db):
    request = RequestFactory().get("/somewhere/")
    response = api.handler_forbidden(request, PermissionDenied("no"))
    assert response.status_code == 403 and SITE_CSS in response.content.decode()
    response = api.handler_not_found(request, Exception("none"))
    assert response.status_code == 404 and SITE_CSS in response.content.decode()
    response = api.handler_server_error(request)
    page = response.content.decode()
    assert response.status_code == 500 and SITE_CSS in page and ICON in page and 'href="/"' in page
    api_request = RequestFactory().get("/api/games")
    assert api.handler_server_error(api_request)["Content-Type"] == "application/json"


def test_the_500_page_renders_without_any_context():
    page = loader.get_template("500.html").render()
    assert SITE_CSS in page and "Something went wrong" in page


# ---- DEBUG on: Django's technical pages, readable -----------------------------------------------


def test_debug_technical_404_and_500_are_sent_without_csp(client, db, settings, failing_urls):
    settings.DEBUG = True
    response = client.get("/no/such/page/")
    assert response.status_code == 404 and "Content-Security-Policy" not in response
    assert "<style" in response.content.decode()  # Django's page, with its inline style
    client.raise_request_exception = False
    response = client.get("/boom/", headers={"Accept": "text/html"})
    assert response.status_code == 500 and "Content-Security-Policy" not in response
    assert "a bug in a view" in response.content.decode()


def test_debug_keeps_csp_on_our_own_pages(client, db, settings, failing_urls):
    settings.DEBUG = True
    arena = game_make(prefix="arena", name="Arena")
    for url in ("/", f"/games/{arena.slug}/", "/api/games", "/api/nothing", "/favicon.ico"):
        strict_csp(client.get(url))
    # A page of ours showing the technical pages' mark as data: escaped, so not taken for one.
    response = client.get("/echo/")
    assert response.status_code == 404 and "&lt;meta name=&quot;robots&quot;" in response.content.decode()
    strict_csp(response)


def test_without_debug_the_mark_changes_nothing(settings):
    response = HttpResponse(middleware.TECHNICAL_PAGE_MARK, status=404)
    assert middleware.debug_technical_page(response) is False
    settings.DEBUG = True
    assert middleware.debug_technical_page(response) is True
    assert middleware.debug_technical_page(HttpResponse(middleware.TECHNICAL_PAGE_MARK)) is False  # 200


# ---- the icon ---------------------------------------------------------------------------------


def test_favicon_ico_redirects_to_the_static_icon(client, db):
    response = client.get("/favicon.ico")
    assert (response.status_code, response["Location"]) == (301, "/static/stats/favicon.svg")
    icon = client.get(response["Location"])
    body = b"".join(icon.streaming_content) if icon.streaming else icon.content
    assert icon.status_code == 200 and b"<svg" in body


def test_admin_pages_name_the_icon(client, db):
    page = client.get("/admin/login/").content.decode()
    assert ICON in page and "admin/css/base.css" in page  # Django's admin page, plus the icon
    client.force_login(get_user_model().objects.create_user("root", is_staff=True, is_superuser=True))
    for url in ("/admin/", "/admin/stats/game/", "/admin/stats/game/add/"):
        assert ICON in client.get(url).content.decode(), url


# ---- in Chromium ----------------------------------------------------------------------------
# (last in the module: the browser fixture holds Playwright's loop for the rest of the module)

CSP_WATCH = """
  window.__csp = [];
  document.addEventListener("securitypolicyviolation", (e) => window.__csp.push(e.violatedDirective));
"""

STYLE_READ = """() => {
  const css = (selector, prop) => {
    const el = document.querySelector(selector);
    return el && getComputedStyle(el)[prop];
  };
  return {
    bodyBackground: css("body", "backgroundColor"),
    codeColor: css(".error-code", "color"),
    sheets: Array.from(document.styleSheets).map((s) => s.href),
    csp: window.__csp,
  };
}"""


@pytest.mark.browser
def test_browser_404_page_is_styled_without_csp_violations(page, live):
    page.add_init_script(CSP_WATCH)
    response = page.goto("/no/such/page/")
    assert response.status == 404 and "content-security-policy" in response.headers
    page.wait_for_load_state("load")
    style = page.evaluate(STYLE_READ)
    assert style["bodyBackground"] == "rgb(11, 16, 32)"  # site.css's --bg
    assert style["codeColor"] == "rgb(96, 165, 250)"  # site.css's --accent
    assert any(href.endswith("/static/stats/site.css") for href in style["sheets"])
    assert style["csp"] == []
    page.click("text=Back to the games")
    page.wait_for_url(f"{live.url}/")


class DebugDaphne(DaphneProc):
    """The ASGI app as in development: DEBUG on."""

    def env(self) -> dict[str, str]:
        return {**super().env(), "DEBUG": "true"}


@contextlib.contextmanager
def debug_server(valkey):
    server = DebugDaphne(database_url=database_url(connection.settings_dict), redis_url=valkey.url).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.browser
def test_browser_debug_technical_404_is_styled(browser, transactional_db, valkey):
    with debug_server(valkey) as server:
        context = browser.new_context(base_url=server.url)
        try:
            page = context.new_page()
            page.add_init_script(CSP_WATCH)
            response = page.goto("/no/such/page/")
            assert response.status == 404
            assert "content-security-policy" not in response.headers
            style = page.evaluate(STYLE_READ)
            assert style["bodyBackground"] == "rgb(238, 238, 238)"  # Django's inline style: #eee
            assert style["csp"] == []
            # Our own pages keep the policy under DEBUG too.
            assert "content-security-policy" in page.goto("/").headers
        finally:
            context.close()


@pytest.mark.browser
def test_browser_admin_login_requests_nothing_that_answers_404(page, live):
    answers = []
    page.on("response", lambda response: answers.append((response.status, response.url)))
    page.goto("/admin/login/")
    page.wait_for_load_state("networkidle", timeout=WAIT_MS)
    assert answers and answers[0][0] == 200
    assert [a for a in answers if a[0] >= 400] == []
    assert page.locator('link[rel="icon"]').get_attribute("href") == "/static/stats/favicon.svg"
    # And /favicon.ico itself, which a browser asks for where a page names no icon.
    response = page.goto("/favicon.ico")
    assert response.status == 200 and response.url.endswith("/static/stats/favicon.svg")
    assert response.request.redirected_from.response().status == 301

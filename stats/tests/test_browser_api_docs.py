"""/api/docs (issue #20): Swagger UI from django-ninja's own static files, under the site's
CSP, in a real Chromium: it lists every operation of the served document, breaks no rule of
the policy, and asks nothing of any other host."""

import json
import urllib.parse
import urllib.request

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
WAIT_MS = 20_000
CSP_WATCH = """
  window.__csp = [];
  document.addEventListener("securitypolicyviolation",
    (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
"""


def test_the_api_page_lists_every_operation_under_the_csp_and_stays_on_this_host(page, live):
    with urllib.request.urlopen(f"{live.url}/api/openapi.json", timeout=30) as response:
        document = json.load(response)
    expected = sorted(f"{method.upper()} {path}" for path, item in document["paths"].items() for method in item)
    requested = []
    page.on("request", lambda request: requested.append(request.url))
    page.add_init_script(CSP_WATCH)

    response = page.goto("/api/docs")
    assert response.status == 200 and "Content-Security-Policy" in {k.title(): v for k, v in response.headers.items()}
    page.wait_for_function(f"document.querySelectorAll('.opblock').length >= {len(expected)}", timeout=WAIT_MS)
    shown = page.evaluate("""() => [...document.querySelectorAll('.opblock-summary')].map((s) =>
        `${s.querySelector('.opblock-summary-method').textContent.trim()} ${
           s.querySelector('.opblock-summary-path').getAttribute('data-path')}`)""")
    assert sorted(shown) == expected
    assert page.evaluate("() => window.__csp") == []
    host = urllib.parse.urlsplit(live.url).netloc
    elsewhere = [url for url in requested if not url.startswith("data:") and urllib.parse.urlsplit(url).netloc != host]
    assert elsewhere == []
    assert f"{live.url}/api/openapi.json" in requested  # the page read the served document

"""Our HTTP middleware.

Content-Security-Policy: scripts and styles only from our own static files, no inline
script, sockets only to our own origin. (Django 5.2 has no built-in CSP; the header is fixed,
so a few lines beat a dependency.) And the API's JSON answer to a bad Host."""

import logging

from django.conf import settings
from django.core.exceptions import DisallowedHost, TooManyFieldsSent
from django.views import defaults

from stats import apikit as api
from webgame.middleware import HookMiddleware

# The logger Django reports a bad Host to, so that its configuration still applies.
host_logger = logging.getLogger("django.security.DisallowedHost")
fields_logger = logging.getLogger("django.security.TooManyFieldsSent")

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    ]
)


# Django's technical error pages (DEBUG only: the 404 page with the URL patterns, the 500 page
# with the traceback) style themselves with an inline <style> and the 500 page toggles its
# frames with an inline <script>: under our policy they came out unstyled and half usable.
# They carry this tag in their <head>. Autoescaping turns the quotes and angle brackets of any
# data a page shows into entities, so only a template's own markup can hold it as is.
TECHNICAL_PAGE_MARK = b'<meta name="robots" content="NONE,NOARCHIVE">'


def debug_technical_page(response) -> bool:
    """Whether this is one of Django's technical error pages, which exist only with DEBUG."""
    if not settings.DEBUG or response.status_code < 400 or response.streaming:
        return False
    if not response.get("Content-Type", "").startswith("text/html"):
        return False
    return TECHNICAL_PAGE_MARK in response.content[:1024]


class ContentSecurityPolicyMiddleware(HookMiddleware):
    def after(self, request, response):
        # The admin ships inline scripts of its own; everything else gets the strict policy,
        # except a technical error page in development (DEBUG on, read per request): it is
        # sent without a policy so that it is readable. Never in production (DEBUG off: these
        # pages do not exist, and 403/404/500 are our own templates, which need no inline
        # code), and never for our own pages, whatever their status.
        if request.path.startswith("/admin/") or debug_technical_page(response):
            return response
        response.headers.setdefault("Content-Security-Policy", CSP)
        return response


class ApiHostCheckMiddleware(HookMiddleware):
    """A request whose Host is not in ALLOWED_HOSTS, or whose query string holds more than
    DATA_UPLOAD_MAX_NUMBER_FIELDS parameters, is answered 400 with one WARNING line: the API's
    JSON under /api/, Django's 400 page elsewhere. Left to Django, the Host is checked in a
    middleware further in (the query when a view reads it), and the refusal is logged at ERROR
    with a traceback, as for a bug: anyone could fill the logs with them (issue #19)."""

    def before(self, request):
        try:
            request.get_host()
            if request.method == "GET":
                request.GET  # noqa: B018 - parsed here, so a refusal is ours to log
        except DisallowedHost as exc:
            host_logger.warning("%s", exc)
            return self._refused(request, exc)
        except TooManyFieldsSent as exc:
            fields_logger.warning("%s (%s)", exc, request.path)
            return self._refused(request, exc)
        return None

    @staticmethod
    def _refused(request, exc):
        if request.path_info.startswith("/api/"):
            response = api.suspicious_response(exc)
        else:
            response = defaults.bad_request(request, exc)
        response._has_been_logged = True  # the line above says it: no second "Bad Request" line
        return response

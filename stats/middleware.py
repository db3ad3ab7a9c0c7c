"""Our HTTP middleware.

Content-Security-Policy: scripts and styles only from our own static files, no inline
script, sockets only to our own origin. (Django 5.2 has no built-in CSP; the header is fixed,
so a few lines beat a dependency.) And the API's JSON answer to a bad Host."""

import logging

from django.core.exceptions import DisallowedHost

from stats import api

# The logger Django reports a bad Host to, so that its configuration still applies.
host_logger = logging.getLogger("django.security.DisallowedHost")

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


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        # The admin ships inline scripts of its own; everything else gets the strict policy.
        if not request.path.startswith("/admin/"):
            response.headers.setdefault("Content-Security-Policy", CSP)
        return response


class ApiHostCheckMiddleware:
    """A request under /api/ whose Host is not in ALLOWED_HOSTS gets the API's JSON 400 and
    one log line. Django checks the Host in a middleware further in, before any view, and
    answers with its HTML 400 page and a logged traceback, as for a bug."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path_info.startswith("/api/"):
            try:
                request.get_host()
            except DisallowedHost as exc:
                host_logger.warning("%s", exc)
                return api.suspicious_response(exc)
        return self.get_response(request)

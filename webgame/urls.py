from django.contrib import admin
from django.http import HttpResponsePermanentRedirect
from django.templatetags.static import static
from django.urls import include, path

from stats.ops import views as ops


def favicon(request):
    """Browsers ask for /favicon.ico wherever a page names no icon (the admin's, the API's JSON,
    files): a permanent redirect to the static icon, which the browser then keeps."""
    return HttpResponsePermanentRedirect(static("stats/favicon.svg"))


urlpatterns = [
    path("favicon.ico", favicon),
    # Monitoring (docs/deploy.md): Prometheus metrics, liveness and readiness probes.
    path("metrics", ops.metrics_view, name="metrics"),
    path("healthz", ops.healthz, name="healthz"),
    path("readyz", ops.readyz, name="readyz"),
    path("admin/", admin.site.urls),
    path("accounts/", include("stats.accounts.urls")),
    path("", include("stats.urls")),
]

# Errors under /api/ are JSON like the API's own, also those raised before any view (a bad
# Host, too many parameters) and unhandled ones; other paths get the site's pages
# (templates/403.html, 404.html, 500.html, through django.views.defaults; with DEBUG on,
# Django's technical pages instead).
handler400 = "stats.api.handler_bad_request"
handler403 = "stats.api.handler_forbidden"
handler404 = "stats.api.handler_not_found"
handler500 = "stats.api.handler_server_error"

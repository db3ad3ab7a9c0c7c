from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("stats.accounts.urls")),
    path("", include("stats.urls")),
]

# Errors under /api/ are JSON like the API's own, also those raised before any view (a bad
# Host, too many parameters) and unhandled ones; other paths keep Django's pages.
handler400 = "stats.api.handler_bad_request"
handler403 = "stats.api.handler_forbidden"
handler404 = "stats.api.handler_not_found"
handler500 = "stats.api.handler_server_error"

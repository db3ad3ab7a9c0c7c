from django.urls import path, re_path
from django.views.decorators.csrf import csrf_exempt

from stats import api, views
from webgame.api import api as http_api

urlpatterns = [
    path("", views.lobby, name="lobby"),
    path("games/<slug:slug>/", views.dashboard, name="dashboard"),
    path("games/<slug:slug>/tv/", views.tv, name="tv"),
    path("games/<slug:slug>/overlay/", views.overlay, name="overlay"),
    path("staff/score/", views.staff_score, name="staff_score"),
    # The HTTP API (django-ninja, webgame.api): its routes, /api/openapi.json and /api/docs.
    path("api/", http_api.urls),
    # Anything else under /api/ is a JSON 404, not an HTML page.
    re_path(r"^api/", csrf_exempt(api.not_found)),
]

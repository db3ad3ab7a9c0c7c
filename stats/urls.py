from django.urls import include, path, re_path
from django.views.decorators.csrf import csrf_exempt

from stats import api, views

urlpatterns = [
    path("", views.lobby, name="lobby"),
    path("games/<slug:slug>/", views.dashboard, name="dashboard"),
    path("games/<slug:slug>/tv/", views.tv, name="tv"),
    path("games/<slug:slug>/overlay/", views.overlay, name="overlay"),
    path("staff/score/", views.staff_score, name="staff_score"),
    # As the API's views: GET only (another method: a JSON 405 with Allow), no CSRF check.
    path("api/openapi.json", api.api_view("GET")(views.openapi), name="openapi"),
    path("api/games", api.games_get, name="api_games"),
    path("api/games/<slug:slug>/events", api.events_post_or_get, name="api_events"),
    path("api/games/<slug:slug>/snapshot", api.snapshot_get, name="api_snapshot"),
    path("api/games/<slug:slug>/history", api.history_get, name="api_history"),
    path("api/games/<slug:slug>/chat", api.chat_get, name="api_chat"),
    path("api/games/<slug:slug>/", include("stats.scoring.urls")),
    # Anything else under /api/ is a JSON 404, not an HTML page.
    re_path(r"^api/", csrf_exempt(api.not_found)),
]

"""Under /api/games/<slug>/ (included by stats.urls)."""

from django.urls import path

from stats.scoring import api

urlpatterns = [
    path("stats", api.stats_view, name="api_stats"),
    path("matches", api.matches_view, name="api_matches"),
    path("matches/<str:match_id>/end", api.match_end_view, name="api_match_end"),
    path("leaderboard", api.leaderboard_view, name="api_leaderboard"),
]

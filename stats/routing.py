from django.urls import path, re_path

from stats.ingest.consumer import IngestConsumer
from stats.live import consumers

websocket_urlpatterns = [
    # One channel-layer group per game, named from the slug in the URL.
    re_path(r"^ws/games/(?P<slug>[a-z0-9][a-z0-9_-]{0,49})/$", consumers.GameConsumer.as_asgi()),
    path("ws/lobby/", consumers.LobbyConsumer.as_asgi()),
    # Game servers stream events in (stats.ingest); authenticated by the game's API key.
    re_path(r"^ws/ingest/(?P<slug>[a-z0-9][a-z0-9_-]{0,49})/$", IngestConsumer.as_asgi()),
]

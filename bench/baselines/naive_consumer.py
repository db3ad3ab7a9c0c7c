"""Baseline (b): the tutorial pattern. The same Django app and API, but each recorded event
is its own group_send on the list-based RedisChannelLayer (one queue per viewer), and each
consumer json.dumps the event dict for its own client. Served by daphne:

`daphne bench.baselines.naive_consumer:application` (with CHANNEL_LAYER=core)
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webgame.settings")
django_asgi_app = get_asgi_application()

import json  # noqa: E402
from functools import partial  # noqa: E402

from asgiref.sync import async_to_sync  # noqa: E402
from channels.db import database_sync_to_async  # noqa: E402
from channels.generic.websocket import AsyncWebsocketConsumer  # noqa: E402
from channels.layers import get_channel_layer  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.db import transaction  # noqa: E402
from django.urls import re_path  # noqa: E402

from stats.models import Game  # noqa: E402
from stats.signals import score_events_recorded  # noqa: E402
from stats.wire import event_wire, game_wire, player_wire  # noqa: E402


def group_name(slug: str) -> str:
    return f"naive.{slug}"


def naive_send(slug: str, frames: list[dict]) -> None:
    for frame in frames:
        async_to_sync(get_channel_layer().group_send)(group_name(slug), {"type": "game.event", "frame": frame})


def naive_after_commit(sender, *, game, events, players, **kwargs) -> None:
    totals = {p.pk: player_wire(p) for p in players}
    frames = [
        {"type": "events", "events": [event_wire(e, totals[e.player_id]["player"])], "players": [totals[e.player_id]],
         "game": game_wire(game)}
        for e in events
    ]  # fmt: skip
    transaction.on_commit(partial(naive_send, game.slug, frames))


# Replace the app's broadcast with the naive one, for this process only.
score_events_recorded.receivers.clear()
score_events_recorded.connect(naive_after_commit, dispatch_uid="bench.naive")


class NaiveGameConsumer(AsyncWebsocketConsumer):
    async def connect(self):
        slug = self.scope["url_route"]["kwargs"]["slug"]
        await self.channel_layer.group_add(group_name(slug), self.channel_name)
        await self.accept()
        game = await database_sync_to_async(Game.objects.get)(slug=slug)
        await self.send(text_data=json.dumps({"type": "snapshot", "seq": game.last_seq}))

    async def game_event(self, event):
        await self.send(text_data=json.dumps(event["frame"]))


application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": URLRouter([re_path(r"^ws/games/(?P<slug>[a-z0-9_-]+)/$", NaiveGameConsumer.as_asgi())]),
    }
)

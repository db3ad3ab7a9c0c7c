"""Helpers shared by the ingest socket test modules."""

import asyncio
import json

import websockets
from asgiref.sync import sync_to_async

from stats.models import ScoreEvent

WAIT = 20


def ingest_url(server, slug: str) -> str:
    return f"ws://127.0.0.1:{server.port}/ws/ingest/{slug}/"


def connect(server, key, slug: str, **kwargs):
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return websockets.connect(ingest_url(server, slug), additional_headers=headers, **kwargs)


async def answer(ws) -> dict:
    async with asyncio.timeout(WAIT):
        return json.loads(await ws.recv())


def events_frame(ref: int, *ids: str, player="ada", points=1, **fields) -> str:
    return json.dumps({"type": "events", "ref": ref, "events": [
        {"id": i, "player": player, "points": points, **fields} for i in ids]})  # fmt: skip


@sync_to_async
def stored_ids(game) -> list[str]:
    return list(ScoreEvent.objects.filter(game=game).order_by("seq").values_list("event_id", flat=True))

"""Helpers shared by the live socket test modules (viewers, chat, failures, rights)."""

import json
import uuid

import pytest
import redis
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client

from stats import receivers, services, signals
from stats.tests.support import DaphneProc
from webgame.asgi import application

ORIGIN = (b"origin", b"http://localhost")


@pytest.fixture(autouse=True)
def _no_presence_left_over():
    client = redis.Redis.from_url(settings.REDIS_URL)
    for key in client.scan_iter("webgame:presence:*"):
        client.delete(key)
    client.close()


def record(game, *events):
    return database_sync_to_async(services.score_events_record)(game_id=game.pk, events=list(events))


async def record_unannounced(game, *events):
    """Commit events whose broadcast is lost (as while Redis is down)."""
    signals.score_events_recorded.disconnect(dispatch_uid="stats.broadcast_after_commit")
    try:
        await record(game, *events)
    finally:
        signals.score_events_recorded.connect(
            receivers.broadcast_after_commit, dispatch_uid="stats.broadcast_after_commit"
        )


def session_cookie(user) -> bytes:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


async def connect(path: str, cookie: bytes | None = None, origin=ORIGIN) -> WebsocketCommunicator:
    headers = [origin] + ([(b"cookie", cookie)] if cookie else [])
    comm = WebsocketCommunicator(application, path, headers=headers)
    connected, _ = await comm.connect()
    assert connected
    return comm


async def watch(game, cookie: bytes | None = None) -> tuple[WebsocketCommunicator, dict]:
    """Connect to a game and read past the opening frames; returns the snapshot."""
    comm = await connect(f"/ws/games/{game.slug}/", cookie)
    snapshot = await comm.receive_json_from()
    assert (await comm.receive_json_from())["type"] == "connection_established"
    return comm, snapshot


async def next_of_type(comm, kind: str) -> dict:
    while True:
        frame = await comm.receive_json_from(timeout=5)
        if frame["type"] == kind:
            return frame


async def viewers_announced(comm, viewers: int) -> bool:
    """Read presence frames until one announces `viewers` (earlier joins announce fewer)."""
    while (await next_of_type(comm, "presence"))["viewers"] != viewers:
        pass
    return True


async def assert_still_open(comm) -> None:
    await comm.send_json_to({"type": "ping"})
    assert (await next_of_type(comm, "pong"))["type"] == "pong"


@database_sync_to_async
def user_cookie(*, staff: bool = False) -> tuple[User, bytes]:
    user = User.objects.create_user(f"u{uuid.uuid4().hex[:8]}", is_staff=staff)
    return user, session_cookie(user)


def origin(port: int) -> str:
    return f"http://127.0.0.1:{port}"  # the page's own origin, port included


def post_event(web: DaphneProc, slug: str, key: str, event_id: str) -> None:
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", web.port, timeout=10)
    body = json.dumps({"id": event_id, "player": "ada", "points": 3})
    conn.request("POST", f"/api/games/{slug}/events", body, {"Authorization": f"Bearer {key}"})
    assert conn.getresponse().status in (200, 201, 202)
    conn.close()

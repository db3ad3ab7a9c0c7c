"""webgame.wsstack: the flattened WebSocket stack hands the consumers the same scope, and
refuses the same handshakes, as channels' AllowedHostsOriginValidator(AuthMiddlewareStack(
URLRouter(...))) that it replaces."""

import pytest
from asgiref.sync import sync_to_async
from channels.auth import AuthMiddlewareStack
from channels.routing import URLRouter
from channels.security.websocket import AllowedHostsOriginValidator
from django.contrib.auth.models import User
from django.test import Client
from django.urls import path, re_path

from webgame.wsstack import TailURLRouter, WebsocketAuthMiddleware

ORIGIN = (b"origin", b"http://localhost")


def ws_scope(url: str, *headers: tuple[bytes, bytes], root_path: str = "") -> dict:
    return {"type": "websocket", "path": url, "root_path": root_path, "headers": list(headers)}


class Recorder:
    """An ASGI app that keeps the scopes it is called with."""

    def __init__(self) -> None:
        self.scopes: list[dict] = []

    async def __call__(self, scope, receive, send):
        self.scopes.append(scope)


async def run(app, scope: dict) -> list[dict]:
    """Call an app as a server would; returns what it sent (a refusal is a websocket.close)."""
    sent: list[dict] = []
    incoming = [{"type": "websocket.connect"}, {"type": "websocket.disconnect", "code": 1000}]

    async def receive():
        return incoming.pop(0)

    async def send(message):
        sent.append(message)

    await app(scope, receive, send)
    return sent


def routes(app) -> list:
    return [re_path(r"^ws/games/(?P<slug>[a-z0-9_-]+)/$", app), path("ws/lobby/", app, {"extra": 1})]


@pytest.mark.parametrize("url,root_path", [("/ws/games/abc/", ""), ("/ws/lobby/", ""), ("/app/ws/games/x-1/", "/app")])
async def test_tail_router_routes_as_url_router(url, root_path):
    ours, theirs = Recorder(), Recorder()
    await TailURLRouter(routes(ours))(ws_scope(url, root_path=root_path), None, None)
    await URLRouter(routes(theirs))(ws_scope(url, root_path=root_path), None, None)
    assert ours.scopes == theirs.scopes and len(ours.scopes) == 1


@pytest.mark.parametrize("url,root_path", [("/ws/nothing/", ""), ("/ws/lobby/", "/app")])
async def test_tail_router_refuses_as_url_router(url, root_path):
    with pytest.raises(ValueError) as ours:
        TailURLRouter(routes(Recorder()))(ws_scope(url, root_path=root_path), None, None)
    with pytest.raises(ValueError) as theirs:
        await URLRouter(routes(Recorder()))(ws_scope(url, root_path=root_path), None, None)
    assert str(ours.value) == str(theirs.value)


def user_cookie(staff: bool) -> tuple[bytes, bytes]:
    client = Client()
    client.force_login(User.objects.create_user("vera", is_staff=staff))
    return (b"cookie", f"theme=dark; sessionid={client.cookies['sessionid'].value}".encode())


def seen(scope: dict) -> tuple:
    user, session = scope["user"], scope["session"]
    return scope["cookies"], session.session_key, user.pk, user.is_authenticated, user.is_staff, type(user._wrapped)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("logged_in", [False, True])
async def test_auth_middleware_fills_the_scope_as_channels_stack(logged_in):
    headers = [ORIGIN] + ([await sync_to_async(user_cookie)(staff=True)] if logged_in else [])
    ours, theirs = Recorder(), Recorder()
    assert await run(WebsocketAuthMiddleware(ours), ws_scope("/ws/lobby/", *headers)) == []
    await run(AllowedHostsOriginValidator(AuthMiddlewareStack(theirs)), ws_scope("/ws/lobby/", *headers))
    assert seen(ours.scopes[0]) == seen(theirs.scopes[0])
    assert ours.scopes[0]["user"].is_authenticated is logged_in


@pytest.mark.parametrize(
    "headers", [[], [(b"origin", b"http://evil.test")], [(b"origin", b"null")], [ORIGIN, (b"origin", b"http://e.test")]]
)
async def test_auth_middleware_refuses_the_origins_channels_refuses(headers):
    ours, theirs = Recorder(), Recorder()
    sent = await run(WebsocketAuthMiddleware(ours), ws_scope("/ws/lobby/", *headers))
    assert sent == await run(AllowedHostsOriginValidator(AuthMiddlewareStack(theirs)), ws_scope("/ws/lobby/", *headers))
    assert sent == [{"type": "websocket.close"}] and ours.scopes == theirs.scopes == []

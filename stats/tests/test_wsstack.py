"""webgame.wsstack: the flattened WebSocket stack hands the consumers the same scope, and
refuses the same handshakes, as channels' AllowedHostsOriginValidator(AuthMiddlewareStack(
URLRouter(...))) that it replaces."""

import asyncio
import json
import time

import pytest
import websockets
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


@pytest.mark.parametrize(
    "url,root_path", [("/ws/nothing/", ""), ("/ws/lobby/", "/app"), ("/ws/games/a/b/", ""), ("/ws/games//", "")]
)
async def test_tail_router_refuses_a_path_with_no_route_at_the_handshake(url, root_path):
    with pytest.raises(ValueError):  # channels' router raises: the server's 500 and traceback
        await URLRouter(routes(Recorder()))(ws_scope(url, root_path=root_path), None, None)
    ours = Recorder()
    assert await run(TailURLRouter(routes(ours)), ws_scope(url, root_path=root_path)) == [{"type": "websocket.close"}]
    assert ours.scopes == []


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


@pytest.mark.django_db  # channels' WebsocketDenier closes old database connections
@pytest.mark.parametrize(
    "headers", [[(b"origin", b"http://evil.test")], [(b"origin", b"null")], [ORIGIN, (b"origin", b"http://e.test")]]
)
async def test_auth_middleware_refuses_the_origins_channels_refuses(headers):
    ours, theirs = Recorder(), Recorder()
    sent = await run(WebsocketAuthMiddleware(ours), ws_scope("/ws/lobby/", *headers))
    assert sent == await run(AllowedHostsOriginValidator(AuthMiddlewareStack(theirs)), ws_scope("/ws/lobby/", *headers))
    assert sent == [{"type": "websocket.close"}] and ours.scopes == theirs.scopes == []


@pytest.mark.django_db(transaction=True)
async def test_a_client_without_origin_is_let_through_as_the_user_its_cookie_names():
    """Issue #22: channels refuses a handshake with no Origin; browsers always send one, so
    such a client is no other site's page: it gets a scope like a browser's, its cookie's user
    included (the consumers then apply that user's rights: private games need a login)."""
    cookie = await sync_to_async(user_cookie)(staff=False)
    for headers in ([], [cookie], [(b"host", b"127.0.0.1:8000")]):
        app = Recorder()
        assert await run(WebsocketAuthMiddleware(app), ws_scope("/ws/lobby/", *headers)) == []
        assert app.scopes[0]["user"].is_authenticated is (cookie in headers)


@pytest.mark.django_db
async def test_a_client_without_origin_still_needs_an_allowed_host():
    app = Recorder()
    sent = await run(WebsocketAuthMiddleware(app), ws_scope("/ws/lobby/", (b"host", b"evil.test")))
    assert sent == [{"type": "websocket.close"}] and app.scopes == []


def with_denial(scope: dict) -> dict:
    return {**scope, "extensions": {"websocket.http.response": {}}}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("app", "url", "headers", "status", "code"),
    [
        (WebsocketAuthMiddleware, "/ws/lobby/", [(b"origin", b"http://evil.test")], 403, "origin_refused"),
        (WebsocketAuthMiddleware, "/ws/ingest/g/", [ORIGIN], 403, "origin_refused"),
        (WebsocketAuthMiddleware, "/ws/lobby/", [(b"host", b"evil.test")], 400, "bad_host"),
        (TailURLRouter, "/ws/nothing/", [], 404, "not_found"),
    ],
)
async def test_where_the_server_allows_a_refusal_body_it_says_why(app, url, headers, status, code):
    """A server with the ASGI denial-response extension (uvicorn) gets a status and a JSON
    error body; one without it (daphne) the close before accept that it answers with 403."""
    inner = Recorder()
    built = app(inner) if app is WebsocketAuthMiddleware else app(routes(inner))
    start, body = await run(built, with_denial(ws_scope(url, *headers)))
    assert start["type"] == "websocket.http.response.start" and start["status"] == status
    assert (b"content-type", b"application/json") in start["headers"]
    error = json.loads(body["body"])["error"]
    assert error["code"] == code and error["message"] and error["details"] == []
    assert await run(built, ws_scope(url, *headers)) == [{"type": "websocket.close"}] and inner.scopes == []


# --- the Origin must be the request's own (scheme, host and port), or a trusted one ----------

HOSTS = ["localhost", "127.0.0.1", "[::1]", "example.com"]


def handshake(origin: str | None, host: str | None = "127.0.0.1:8000", scheme: str = "ws", *extra) -> dict:
    headers = [(b"origin", origin.encode())] if origin is not None else []
    headers += [(b"host", host.encode())] if host is not None else []
    return {**ws_scope("/ws/lobby/", *headers, *extra), "scheme": scheme}


@pytest.mark.parametrize(
    "scope",
    [
        handshake("http://127.0.0.1:8000"),
        handshake("http://LOCALHOST:8000", "localhost:8000"),
        handshake("http://127.0.0.1:80", "127.0.0.1"),
        handshake("http://127.0.0.1", "127.0.0.1:80"),
        handshake("https://127.0.0.1:8443", "127.0.0.1:8443", "wss"),
        handshake("https://example.com", "example.com", "wss"),
        handshake("http://[::1]:8000", "[::1]:8000"),
        handshake("http://localhost", None),  # channels' WebsocketCommunicator sends no Host
    ],
)
@pytest.mark.django_db  # an accepted socket's user is looked up (channels closes old connections)
async def test_the_requests_own_origin_is_accepted(settings, scope):
    settings.ALLOWED_HOSTS = HOSTS
    assert await run(WebsocketAuthMiddleware(Recorder()), scope) == []


@pytest.mark.parametrize(
    "scope",
    [
        handshake("http://localhost:9999"),  # another port of the same machine
        handshake("https://127.0.0.1"),  # another scheme and port
        handshake("https://127.0.0.1:8000"),  # another scheme
        handshake("http://127.0.0.1"),  # port 80, not 8000
        handshake("http://localhost:8000"),  # another host name
        handshake("http://127.0.0.1:8000", "127.0.0.1:8000", "wss"),  # an http page, a wss socket
        handshake("http://evil.test:8000", "evil.test:8000"),  # DNS rebinding: a Host not allowed
        handshake("http://127.0.0.1:8000/", "127.0.0.1:8000"),
        handshake("http://u@127.0.0.1:8000", "127.0.0.1:8000"),
        handshake("http://127.0.0.1:8000:1"),
        handshake("ws://127.0.0.1:8000"),
        handshake("http://127.0.0.1:\uff18\uff10\uff10\uff10"),
        handshake("null"),
        handshake("http://localhost:9999", None),
        handshake("https://localhost", None),
    ],
)
async def test_another_origin_is_refused_at_the_handshake(settings, scope):
    settings.ALLOWED_HOSTS = HOSTS
    ours = Recorder()
    assert await run(WebsocketAuthMiddleware(ours), scope) == [{"type": "websocket.close"}]
    assert ours.scopes == []


@pytest.mark.django_db  # an accepted socket's user is looked up (channels closes old connections)
@pytest.mark.parametrize("forwarded,accepted", [("https", True), ("http", False), ("https, http", True), (None, False)])
async def test_behind_a_tls_proxy_the_forwarded_scheme_counts(settings, forwarded, accepted):
    origin = "https://example.com"
    settings.ALLOWED_HOSTS = HOSTS
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    extra = [(b"x-forwarded-proto", forwarded.encode())] if forwarded else []
    sent = await run(WebsocketAuthMiddleware(Recorder()), handshake(origin, "example.com", "ws", *extra))
    assert (sent == []) is accepted


@pytest.mark.parametrize(
    "origin,accepted",
    [("https://dash.example.com", True), ("https://a.b.example.com", True), ("http://dash.example.com", False)],
)
@pytest.mark.django_db
async def test_csrf_trusted_origins_are_accepted_too(settings, origin, accepted):
    settings.ALLOWED_HOSTS = HOSTS
    settings.CSRF_TRUSTED_ORIGINS = ["https://dash.example.com", "https://*.b.example.com"]
    sent = await run(WebsocketAuthMiddleware(Recorder()), handshake(origin))
    assert (sent == []) is accepted


# --- against the real server -----------------------------------------------------------------


async def handshake_status(url: str, origin: str) -> int:
    try:
        async with websockets.connect(url, origin=origin, open_timeout=5):
            return 101
    except websockets.InvalidStatus as refused:
        return refused.response.status_code


@pytest.mark.parametrize("path", ["/ws/nope/", "/ws/games/PUB/", f"/ws/games/{'a' * 60}/", "/ws/games/a/b/", "/x"])
def test_real_server_refuses_a_path_with_no_route_at_once_without_traceback(live, path):
    log_start = len(live.log())
    started = time.monotonic()
    assert asyncio.run(handshake_status(f"ws://127.0.0.1:{live.port}{path}", live.url)) == 403
    assert time.monotonic() - started < 0.9  # a crash is answered by the server's 1 s checker
    assert "Traceback" not in live.log()[log_start:]


@pytest.mark.parametrize("origin", ["http://localhost:9999", "https://127.0.0.1", "http://127.0.0.1", "https://{h}"])
def test_real_server_refuses_an_origin_of_another_port_or_scheme(live, game, origin):
    url = f"ws://127.0.0.1:{live.port}/ws/games/{game.slug}/"
    assert asyncio.run(handshake_status(url, origin.format(h=f"127.0.0.1:{live.port}"))) == 403


def test_real_server_accepts_the_dashboards_own_origin(live, game):
    async def snapshot_type():
        url = f"ws://127.0.0.1:{live.port}/ws/games/{game.slug}/"
        async with websockets.connect(url, origin=live.url, open_timeout=5) as ws:
            return json.loads(await asyncio.wait_for(ws.recv(), 10))["type"]

    assert live.url == f"http://127.0.0.1:{live.port}"
    assert asyncio.run(snapshot_type()) == "snapshot"

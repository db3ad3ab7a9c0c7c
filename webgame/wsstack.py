"""The WebSocket middleware stack, flattened: every layer of it lives as long as the socket.

An ASGI middleware that awaits the next one keeps its coroutine frame, and the copy of the
scope it made, until the connection ends. channels' `AllowedHostsOriginValidator(
AuthMiddlewareStack(URLRouter(...)))` is seven such layers (origin check, cookies, session,
auth and its base class, the router): about 5 KB of each idle viewer's memory.

WebsocketAuthMiddleware makes the same checks and fills the same scope keys (`cookies`,
`session`, `user`) with channels' and Django's own pieces, into one copy of the scope, under
one frame. Left out, as they do nothing for a WebSocket: channels' session `send` wrapper,
which only saves the session on `http.response.start` (a consumer that changes the session
saves it itself, as with channels' `login()`), and support for a session middleware further
out. TailURLRouter is channels' URLRouter returning the consumer's awaitable instead of
awaiting it, so it keeps no frame at all.
"""

from importlib import import_module
from urllib.parse import ParseResult, urlparse

from channels.auth import UserLazyObject, get_user
from channels.routing import URLRouter
from channels.security.websocket import AllowedHostsOriginValidator, WebsocketDenier
from django.conf import settings
from django.http import parse_cookie
from django.urls import Resolver404
from django.utils.functional import LazyObject


def origin_parse(scope: dict) -> ParseResult | None:
    """The Origin header as channels' OriginValidator reads it: the last one that decodes."""
    parsed = None
    for name, value in scope.get("headers", []):
        if name == b"origin":
            try:
                parsed = urlparse(value.decode("latin1"))
            except UnicodeDecodeError:
                pass
    return parsed


def cookies_parse(scope: dict) -> dict[str, str]:
    """The first Cookie header, as channels' CookieMiddleware reads it."""
    if "headers" not in scope:
        raise ValueError("WebSocket scope without a headers key")
    for name, value in scope["headers"]:
        if name == b"cookie":
            return parse_cookie(value.decode("latin1"))
    return {}


class WebsocketAuthMiddleware:
    """Refuses foreign origins at the handshake, then adds `cookies`, `session` and a
    resolved `user` to the scope, as AllowedHostsOriginValidator(AuthMiddlewareStack()) does."""

    def __init__(self, inner) -> None:
        self.inner = inner
        # Its valid_origin() decides, so ALLOWED_HOSTS (and DEBUG's defaults) mean the same.
        self.origins = AllowedHostsOriginValidator(inner)
        self.session_store = import_module(settings.SESSION_ENGINE).SessionStore

    async def __call__(self, scope, receive, send):
        if scope["type"] != "websocket":
            raise ValueError(f"WebsocketAuthMiddleware got a {scope['type']!r} connection")
        if not self.origins.valid_origin(origin_parse(scope)):
            return await WebsocketDenier()(scope, receive, send)
        # Rebinding `scope` lets the outer copy go: only this copy stays for the socket's life.
        scope = await self.scope_authenticate(scope)
        return await self.inner(scope, receive, send)

    async def scope_authenticate(self, scope: dict) -> dict:
        cookies = cookies_parse(scope)
        session = LazyObject()
        session._wrapped = self.session_store(cookies.get(settings.SESSION_COOKIE_NAME))
        scope = dict(scope, cookies=cookies, session=session)
        scope.setdefault("user", UserLazyObject())
        scope["user"]._wrapped = await get_user(scope)
        return scope


class TailURLRouter(URLRouter):
    """channels' URLRouter (same routes, same scope keys, same errors) as a plain function
    that returns the matched application's awaitable for the caller to await."""

    def __call__(self, scope, receive, send):
        path = scope.get("path_remaining", scope.get("path", None))
        if path is None:
            raise ValueError("No 'path' key in connection scope, cannot route URLs")
        if "path_remaining" not in scope:
            # The outermost router: the path must sit under root_path.
            root_path = scope.get("root_path", "")
            if root_path and not path.startswith(root_path):
                raise ValueError(f"No route found for path {path!r}.")
            path = path[len(root_path) :]
        path = path.lstrip("/")  # as Django resolves paths
        for route in self.routes:
            try:
                match = route.pattern.match(path)
                if match:
                    return route.callback(self.scope_routed(scope, match, route), receive, send)
            except Resolver404:  # raised by a nested router: try the next route
                pass
        if "path_remaining" in scope:
            raise Resolver404(f"No route found for path {path!r}.")
        raise ValueError(f"No route found for path {path!r}.")

    @staticmethod
    def scope_routed(scope: dict, match: tuple, route) -> dict:
        new_path, args, kwargs = match
        outer = scope.get("url_route", {})
        url_route = {
            "args": outer.get("args", ()) + args,
            "kwargs": {**outer.get("kwargs", {}), **kwargs, **route.default_args},
        }
        return dict(scope, path_remaining=new_path, url_route=url_route)

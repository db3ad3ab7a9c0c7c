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

Three differences from channels. A browser's Origin must be the request's own origin
(scheme, host and port, as Django's CSRF check reads them) or one of CSRF_TRUSTED_ORIGINS,
where channels compares its host alone with ALLOWED_HOSTS. A handshake with no Origin at all
is let through, where channels refuses it: browsers always send one, so its absence cannot be
a page of another site using the visitor's cookies; such a client (a script, a bot, an OBS
plugin) may watch what an anonymous visitor may, and private games still need a login (issue
#22). And a path with no route is refused, where channels raises (an HTTP 500 and a logged
traceback from the server).

Every refusal says why (handshake_deny): as a JSON error body where the server lets the app
answer the handshake (the ASGI `websocket.http.response` extension: uvicorn), else as the
bare 403 that closing before accept makes (daphne has no such extension).
"""

import json
from importlib import import_module

from channels.auth import UserLazyObject, get_user
from channels.routing import URLRouter
from django.conf import settings
from django.http import parse_cookie
from django.http.request import split_domain_port, validate_host
from django.urls import Resolver404
from django.utils.functional import LazyObject
from django.utils.http import is_same_domain

DEFAULT_PORTS = {"http": 80, "https": 443}
INGEST_PREFIX = "/ws/ingest/"
Origin = tuple[str, str, int]  # scheme, host, port


DENIAL_EXTENSION = "websocket.http.response"


def denial_body(*, code: str, message: str) -> bytes:
    """The HTTP API's error shape, for a refused handshake."""
    return json.dumps({"error": {"code": code, "message": message, "details": []}}).encode()


async def handshake_deny(scope: dict, send, *, status: int, code: str, message: str) -> None:
    """Answer a WebSocket handshake with a refusal that says why: `status` and a JSON body
    where the server supports the ASGI denial response (uvicorn), else a close before accept,
    which the server answers with a bare 403 (daphne: no body can be given there)."""
    if DENIAL_EXTENSION not in (scope.get("extensions") or {}):
        return await send({"type": "websocket.close"})
    body = denial_body(code=code, message=message)
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "websocket.http.response.start", "status": status, "headers": headers})
    await send({"type": "websocket.http.response.body", "body": body})


async def handshake_refuse(scope, receive, send, *, status: int = 403, code: str, message: str) -> None:
    """Refuses a WebSocket at its handshake, as channels' WebsocketDenier does, without a
    consumer for a socket that will never open; the answer says why (handshake_deny)."""
    received = await receive()
    if received["type"] == "websocket.connect":
        await handshake_deny(scope, send, status=status, code=code, message=message)


ORIGIN_REFUSED = (
    "this page's Origin ({origin}) is not this site's own scheme, host and port, nor in CSRF_TRUSTED_ORIGINS "
    "(or the Host is not in ALLOWED_HOSTS): another site's page may not open a socket with the visitor's cookies"
)
INGEST_ORIGIN_REFUSED = "the ingest socket is for game servers, which send no Origin: a browser page may not open it"
BAD_HOST = "the Host header is not one of ALLOWED_HOSTS"
NO_ROUTE = "no WebSocket at this path: /ws/games/<slug>/, /ws/lobby/ or /ws/ingest/<slug>/"


def origin_header(scope: dict) -> str | None:
    """The Origin header as channels' OriginValidator reads it: the last one that decodes."""
    found = None
    for name, value in scope.get("headers", []):
        if name == b"origin":
            try:
                found = value.decode("latin1")
            except UnicodeDecodeError:
                pass
    return found


def origin_split(scheme: str, netloc: str) -> Origin | None:
    """(scheme, host, port) of an http(s) origin, the scheme's default port filled in; None
    when it is not one (`null`, a path, user info, a malformed host or port)."""
    domain, port = split_domain_port(netloc)
    if scheme not in DEFAULT_PORTS or not domain:
        return None
    return scheme, domain, int(port) if port else DEFAULT_PORTS[scheme]


def _allowed_hosts() -> list[str]:
    if settings.DEBUG and not settings.ALLOWED_HOSTS:
        return [".localhost", "127.0.0.1", "[::1]"]  # Django's own default under DEBUG
    return settings.ALLOWED_HOSTS


def _request_scheme(scope: dict, headers: dict[bytes, bytes]) -> str:
    """http or https, as Django's request.is_secure() decides it (proxy header included)."""
    if settings.SECURE_PROXY_SSL_HEADER:
        name, secure = settings.SECURE_PROXY_SSL_HEADER
        forwarded = headers.get(name.removeprefix("HTTP_").lower().replace("_", "-").encode())
        if forwarded is not None:
            return "https" if forwarded.decode("latin1").split(",")[0].strip() == secure else "http"
    return "https" if scope.get("scheme") == "wss" else "http"


def _trusted(origin: str, key: Origin) -> bool:
    """Whether CSRF_TRUSTED_ORIGINS lists the origin (`https://*.example.com` for subdomains)."""
    for trusted in settings.CSRF_TRUSTED_ORIGINS:
        scheme, _, netloc = trusted.lower().partition("://")
        if netloc.startswith("*"):
            if scheme == key[0] and is_same_domain(origin.lower().partition("://")[2], netloc[1:]):
                return True
        elif origin_split(scheme, netloc) == key:
            return True
    return False


def origin_allowed(scope: dict) -> bool:
    """The browser's Origin is this request's own (scheme, host, port), for a Host in
    ALLOWED_HOSTS, or a trusted one: a page elsewhere (another port of the same machine
    included) may not open a socket with the visitor's cookies."""
    origin = origin_header(scope)
    scheme, sep, netloc = (origin or "").partition("://")
    key = origin_split(scheme.lower(), netloc) if sep else None
    if key is None:
        return False
    headers = dict(scope["headers"])
    if _trusted(origin, key):
        return True
    own_scheme = _request_scheme(scope, headers)
    host = headers.get(b"host")
    if host is None:
        # Only in-process harnesses (channels' WebsocketCommunicator) send no Host, which
        # HTTP/1.1 and RFC 6455 require: then the request is taken to be for an allowed host
        # on the default port, so the Origin's scheme and port are still checked.
        own = (own_scheme, key[1], DEFAULT_PORTS[own_scheme])
    else:
        own = origin_split(own_scheme, host.decode("latin1"))
    return own == key and validate_host(key[1], _allowed_hosts())


def host_allowed(scope: dict) -> bool:
    """The Host is one of ALLOWED_HOSTS (no Host: an in-process harness, see origin_allowed)."""
    host = dict(scope["headers"]).get(b"host")
    if host is None:
        return True
    domain, _ = split_domain_port(host.decode("latin1"))
    return bool(domain) and validate_host(domain, _allowed_hosts())


def cookies_parse(scope: dict) -> dict[str, str]:
    """The first Cookie header, as channels' CookieMiddleware reads it."""
    if "headers" not in scope:
        raise ValueError("WebSocket scope without a headers key")
    for name, value in scope["headers"]:
        if name == b"cookie":
            return parse_cookie(value.decode("latin1"))
    return {}


class WebsocketAuthMiddleware:
    """Refuses foreign browser origins at the handshake, then adds `cookies`, `session` and a
    resolved `user` to the scope, as AllowedHostsOriginValidator(AuthMiddlewareStack()) does."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.session_store = import_module(settings.SESSION_ENGINE).SessionStore

    async def __call__(self, scope, receive, send):
        if scope["type"] != "websocket":
            raise ValueError(f"WebsocketAuthMiddleware got a {scope['type']!r} connection")
        origin = origin_header(scope)
        if scope.get("path", "").startswith(INGEST_PREFIX):
            # Game servers send no Origin, and authenticate with their key (stats.ingest): a
            # browser's socket (it always sends an Origin) has no business here.
            if origin is not None:
                return await handshake_refuse(
                    scope, receive, send, code="origin_refused", message=INGEST_ORIGIN_REFUSED
                )
            return await self.inner(scope, receive, send)
        if origin is None:  # not a browser, so not another site's page riding on a visitor's cookies
            if not host_allowed(scope):  # as Django answers an HTTP request for a foreign Host
                return await handshake_refuse(scope, receive, send, status=400, code="bad_host", message=BAD_HOST)
        elif not origin_allowed(scope):
            message = ORIGIN_REFUSED.format(origin=origin[:200])
            return await handshake_refuse(scope, receive, send, code="origin_refused", message=message)
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
    """channels' URLRouter (same routes, same scope keys) as a plain function that returns
    the matched application's awaitable for the caller to await. A path with no route is
    refused at the handshake: channels raises, which the server turns into an HTTP 500 and
    a logged traceback, for what is only a client's wrong URL."""

    def __call__(self, scope, receive, send):
        path = scope.get("path_remaining", scope.get("path", None))
        if path is None:
            raise ValueError("No 'path' key in connection scope, cannot route URLs")
        if "path_remaining" not in scope:
            # The outermost router: the path must sit under root_path.
            root_path = scope.get("root_path", "")
            if root_path and not path.startswith(root_path):
                return handshake_refuse(scope, receive, send, status=404, code="not_found", message=NO_ROUTE)
            path = path[len(root_path) :]
        path = path.lstrip("/")  # as Django resolves paths
        for route in self.routes:
            try:
                match = route.pattern.match(path)
                if match:
                    return route.callback(self.scope_routed(scope, match, route), receive, send)
            except Resolver404:  # raised by a nested router: try the next route
                pass
        if "path_remaining" in scope:  # nested: the outer router tries its next route
            raise Resolver404(f"No route found for path {path!r}.")
        return handshake_refuse(scope, receive, send, status=404, code="not_found", message=NO_ROUTE)

    @staticmethod
    def scope_routed(scope: dict, match: tuple, route) -> dict:
        new_path, args, kwargs = match
        outer = scope.get("url_route", {})
        url_route = {
            "args": outer.get("args", ()) + args,
            "kwargs": {**outer.get("kwargs", {}), **kwargs, **route.default_args},
        }
        return dict(scope, path_remaining=new_path, url_route=url_route)

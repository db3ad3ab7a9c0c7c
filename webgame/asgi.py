"""ASGI entry point: HTTP goes to Django, WebSockets to the stats consumers."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webgame.settings")

from webgame.handler import get_pooled_asgi_application

# Django must be set up before anything imports models (the consumers do). Django's own ASGI
# handler, on long-lived sync threads that keep their database connections: webgame.handler.
django_asgi_app = get_pooled_asgi_application()

from channels.routing import ProtocolTypeRouter  # noqa: E402

import stats.routing  # noqa: E402
from stats.accounts.gate import LoginGate  # noqa: E402
from stats.live.sinks import SinkMiddleware  # noqa: E402
from webgame.edge import BodyLimitMiddleware  # noqa: E402
from webgame.serving import ServingLoop  # noqa: E402
from webgame.wsstack import TailURLRouter, WebsocketAuthMiddleware  # noqa: E402

application = ProtocolTypeRouter(
    {
        # Bodies over the cap are refused, and stalled ones dropped, before Django buffers them.
        # Login and sign-up POSTs wait for a password-check slot on the loop (stats.accounts.gate).
        # ServingLoop tells the live path (and the POSTs' group commit) which loop serves.
        "http": ServingLoop(BodyLimitMiddleware(LoginGate(django_asgi_app))),
        # SinkMiddleware sits outermost: it needs the server's own `send`.
        # channels' AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter())), flattened:
        # every layer here lives as long as the socket (see webgame.wsstack).
        "websocket": SinkMiddleware(WebsocketAuthMiddleware(TailURLRouter(stats.routing.websocket_urlpatterns))),
    }
)

"""Request latency for /metrics: every HTTP request through Django's middleware, timed from
the outermost middleware, labelled by the route pattern Django matched (`api/games/<slug:slug>/events`,
not the raw path: the label set stays bounded whatever clients ask for), the method and the
status class. A request no route matched counts as `(unmatched)`.

Not seen here: what never reaches Django's middleware (a body refused by webgame.edge, a
WebSockets). A heavy read refused for lack of a slot (stats.admission) is counted here, as
`(unmatched)`: it is refused before Django resolves its route."""

import time

from stats.ops import metrics
from webgame.middleware import HookMiddleware

UNMATCHED = "(unmatched)"
# Methods outside this set are one label, so a client inventing methods adds no series.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class RequestMetricsMiddleware(HookMiddleware):
    def before(self, request):
        request.metrics_started = time.perf_counter()

    def after(self, request, response):
        match = getattr(request, "resolver_match", None)
        route = (match.route or match.view_name or UNMATCHED) if match is not None else UNMATCHED
        method = request.method if request.method in METHODS else "other"
        metrics.request_observe(route, method, response.status_code, time.perf_counter() - request.metrics_started)
        return response

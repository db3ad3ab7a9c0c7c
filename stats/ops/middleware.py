"""Request latency for /metrics: every HTTP request through Django's middleware, timed from
the outermost middleware, labelled by the route pattern Django matched (`api/games/<slug:slug>/events`,
not the raw path: the label set stays bounded whatever clients ask for), the method and the
status class. A request no route matched counts as `(unmatched)`.

Not seen here: what never reaches Django's middleware (a body refused by webgame.edge, a
read turned away by webgame.handler for lack of a slot, WebSockets)."""

import time

from stats.ops import metrics

UNMATCHED = "(unmatched)"
# Methods outside this set are one label, so a client inventing methods adds no series.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class RequestMetricsMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        start = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        route = (match.route or match.view_name or UNMATCHED) if match is not None else UNMATCHED
        method = request.method if request.method in METHODS else "other"
        metrics.request_observe(route, method, response.status_code, time.perf_counter() - start)
        return response

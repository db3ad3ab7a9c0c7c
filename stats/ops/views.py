"""/metrics (Prometheus text format), /healthz (the process is up) and /readyz (the database
and Redis answer). docs/deploy.md, "Monitoring".

/metrics is for the monitoring system only: a request with `Authorization: Bearer
<METRICS_TOKEN>`, or from an address in METRICS_ALLOWED_NETWORKS (by default the machine
itself), is answered; anything else gets a 403 JSON error. The client address is the TCP
peer, or with BEHIND_PROXY the last X-Forwarded-For entry (as the rate limits take it).

All three keep Django's Host check: a probe must send a Host that ALLOWED_HOSTS lists.
"""

import functools
import hmac
import ipaddress
import logging
import threading

import redis
from django.conf import settings
from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from redis.backoff import NoBackoff
from redis.retry import Retry

from stats.ops import metrics
from webgame import httpkit, redis_conf, redis_retry

logger = logging.getLogger(__name__)
# A probe must answer within the load balancer's timeout even when Redis hangs.
REDIS_PROBE_TIMEOUT = 0.5
_redis_clients: dict[redis_conf.Target, redis.Redis] = {}
_redis_lock = threading.Lock()


def _forbidden(message: str) -> JsonResponse:
    return httpkit.error_response(403, "forbidden", message)


@functools.lru_cache(maxsize=8)
def _networks(entries: tuple[str, ...]) -> tuple:
    # strict=False: 10.0.0.1/8 means 10.0.0.0/8, as a firewall rule would read it.
    return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries if entry.strip())


def _address_allowed(raw: str) -> bool:
    try:
        address = ipaddress.ip_address(raw.strip("[]"))
    except ValueError:
        return False  # a unix socket or garbage: only the token lets it in
    if address.version == 6 and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in network for network in _networks(tuple(settings.METRICS_ALLOWED_NETWORKS)))


def _token_ok(request) -> bool:
    token = settings.METRICS_TOKEN
    if not token:
        return False
    given = httpkit.bearer_token(request.META.get("HTTP_AUTHORIZATION"))
    return given is not None and hmac.compare_digest(given.encode(), token.encode())


def metrics_allowed(request) -> bool:
    return _token_ok(request) or _address_allowed(httpkit.request_client_address(request))


@never_cache
@require_safe
def metrics_view(request):
    if not metrics_allowed(request):
        return _forbidden("send 'Authorization: Bearer <METRICS_TOKEN>', or scrape from METRICS_ALLOWED_NETWORKS")
    return HttpResponse(metrics.exposition(), content_type=metrics.CONTENT_TYPE)


@never_cache
@require_safe
def healthz(request):
    """The process is up and serving: no I/O, so a database or Redis outage never restarts it."""
    return JsonResponse({"status": "ok"})


def _redis_client(where: redis_conf.Target) -> redis.Redis:
    with _redis_lock:
        client = _redis_clients.get(where)
        if client is None:
            # No retries: one short try, so a dead Redis answers within REDIS_PROBE_TIMEOUT
            # (with sentinels: each sentinel asked once, then the primary they name).
            client = _redis_clients[where] = redis_conf.sync_client(
                where,
                socket_connect_timeout=REDIS_PROBE_TIMEOUT,
                socket_timeout=REDIS_PROBE_TIMEOUT,
                retry=Retry(NoBackoff(), 0),
            )
        return client


def _failure_detail(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"[:200]


def database_check() -> Exception | None:
    """None if the database answers a SELECT 1, else what it raised."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # noqa: BLE001 - any failure is the answer
        return exc
    return None


def redis_check() -> Exception | None:
    """None if Redis answers a PING, else what it raised. A dead pooled connection (after a
    restart or a failover) gets one more try on a fresh one: a Redis that is there is not
    reported as failed."""
    try:
        client = _redis_client(redis_conf.target())
        redis_retry.call_retry_once(client, client.ping)
    except Exception as exc:  # noqa: BLE001 - any failure is the answer
        return exc
    return None


@never_cache
@require_safe
def readyz(request):
    """200 {"database": "ok", "redis": "ok"} when both answer; else 503 naming what failed and
    the kind of error (the message, with its addresses, goes to the log)."""
    failures = {"database": database_check(), "redis": redis_check()}
    body: dict = {name: "ok" if why is None else "failed" for name, why in failures.items()}
    failed = [name for name, why in failures.items() if why is not None]
    if not failed:
        _readiness_log(None)
        return JsonResponse(body)
    # The body names the kind of error only: its message names hosts, ports and users, which
    # anyone who can reach /readyz must not learn (issue #19). The log has it all.
    body["reason"] = "; ".join(f"{name}: {type(failures[name]).__name__}" for name in failed)
    response = JsonResponse(body, status=503)
    # Not Django's "ERROR Service Unavailable" line for every probe (every few seconds, from
    # every load balancer): a warning when readiness is lost, and a line when it is back.
    response._has_been_logged = True
    _readiness_log("; ".join(f"{name}: {_failure_detail(failures[name])}" for name in failed))
    return response


class _Readiness:
    def __init__(self) -> None:
        self.failing = False
        self.lock = threading.Lock()


_readiness = _Readiness()


def _readiness_log(reason: str | None) -> None:
    with _readiness.lock:
        changed, _readiness.failing = _readiness.failing != (reason is not None), reason is not None
    if changed and reason is not None:
        logger.warning("not ready: %s", reason)
    elif changed:
        logger.warning("ready again: the database and Redis answer")

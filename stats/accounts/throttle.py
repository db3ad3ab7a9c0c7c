"""Login throttling (issue #19), on django-axes.

Axes does the flow: its backend, first in AUTHENTICATION_BACKENDS, refuses a locked-out
attempt before ModelBackend hashes anything (a refused attempt costs no password hash), its
signal receivers count failures and successes, and its middleware turns a lockout into the
response made here. That covers every login that goes through `authenticate()`: /accounts/login/
and /admin/login/ alike.

The counts are this handler's, in the project's Redis: axes' own cache handler needs a Django
cache shared by every web process, and Django's Redis cache neither follows a Sentinel
failover nor fails open. Two counters per attempt, one for the username and one for the
client address (`ratelimit.request_address`, which honours BEHIND_PROXY): LOGIN_MAX_FAILURES
wrong passwords on either locks it; a counter is forgotten LOGIN_LOCKOUT_SECONDS after its last
failure. A refused attempt is not counted, so hammering does not push the end of a lock further.
A successful login clears the username's counter, not the address's: one account known to the
attacker must not buy more guesses at the others. Like the other limits, it fails open (logged)
while Redis is unreachable: locking everyone out is worse.
"""

import hashlib
import logging
import math
import threading
from datetime import UTC, datetime, timedelta

import redis
from axes.handlers.base import AbstractAxesHandler, AxesBaseHandler
from axes.helpers import get_client_username
from axes.signals import user_locked_out
from django.conf import settings
from django.shortcuts import render

from stats import ratelimit
from webgame import redis_conf

logger = logging.getLogger(__name__)
_clients: dict[redis_conf.Target, redis.Redis] = {}
_clients_lock = threading.Lock()


def failure_limit(request=None, credentials=None) -> int:
    """AXES_FAILURE_LIMIT: read at each attempt, so a test (or a settings override) may change it."""
    return settings.LOGIN_MAX_FAILURES


def cool_off(request=None) -> timedelta:
    """AXES_COOLOFF_TIME."""
    return timedelta(seconds=settings.LOGIN_LOCKOUT_SECONDS)


def client_address(request) -> str:
    """AXES_CLIENT_IP_CALLABLE: the address every per-address limit of the project counts by."""
    return ratelimit.request_address(request)


def _client() -> redis.Redis:
    where = redis_conf.target()
    with _clients_lock:
        if where not in _clients:
            _clients[where] = redis_conf.sync_client(
                where,
                socket_connect_timeout=settings.REDIS_CONNECT_TIMEOUT,
                socket_timeout=settings.REDIS_SOCKET_TIMEOUT,
            )
        return _clients[where]


def user_key(username: str) -> str:
    # Hashed: a username is up to 150 characters of anything the form took.
    return "webgame:login:user:" + hashlib.sha256(username.encode()).hexdigest()


def address_key(address: str) -> str:
    return f"webgame:login:addr:{address}"


def _keys(request, credentials) -> list[str]:
    keys = [address_key(request.axes_ip_address)]
    username = get_client_username(request, credentials)
    if username:
        keys.append(user_key(username))
    return keys


class RedisLoginHandler(AbstractAxesHandler, AxesBaseHandler):
    """AXES_HANDLER: failures per username and per address, counted in Redis."""

    def get_failures(self, request, credentials=None) -> int:
        try:
            counts = _client().mget(_keys(request, credentials))
        except redis.RedisError as exc:
            ratelimit.fail_open.failed(exc)
            return 0
        ratelimit.fail_open.ok()
        return max(int(count or 0) for count in counts)

    def user_login_failed(self, sender, credentials: dict, request=None, **kwargs) -> None:
        if request is None or request.axes_locked_out:
            return  # refused by the lock (AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT off): not counted
        keys, window = _keys(request, credentials), settings.LOGIN_LOCKOUT_SECONDS
        try:
            pipe = _client().pipeline(transaction=False)
            for key in keys:
                pipe.incr(key)
                pipe.expire(key, window)
            failures = max(pipe.execute()[::2])
        except redis.RedisError as exc:
            ratelimit.fail_open.failed(exc)
            return
        if failures >= failure_limit():
            request.axes_locked_out = True
            request.axes_credentials = credentials
            username = get_client_username(request, credentials)
            logger.warning("login locked for %ss: %s failures (address %s)", window, failures, request.axes_ip_address)
            user_locked_out.send("axes", request=request, username=username, ip_address=request.axes_ip_address)

    def user_logged_in(self, sender, request, user, **kwargs) -> None:
        try:
            _client().delete(user_key(user.get_username()))
        except redis.RedisError as exc:
            ratelimit.fail_open.failed(exc)

    def user_logged_out(self, sender, request, user, **kwargs) -> None:
        pass

    def reset_attempts(self, *, ip_address=None, username=None, ip_or_username=False) -> int:
        """For axes' management commands (axes_reset_ip, axes_reset_username)."""
        keys = [address_key(ip_address)] if ip_address else []
        keys += [user_key(username)] if username else []
        return _client().delete(*keys) if keys else 0

    def retry_after(self, request, credentials) -> int:
        """Seconds until no counter of this attempt is at the limit any more."""
        keys = _keys(request, credentials)
        try:
            pipe = _client().pipeline(transaction=False)
            for key in keys:
                pipe.get(key)
                pipe.pttl(key)
            answers = pipe.execute()
        except redis.RedisError:
            return settings.LOGIN_LOCKOUT_SECONDS
        pairs = zip(answers[::2], answers[1::2], strict=True)
        locked = [ms for count, ms in pairs if int(count or 0) >= failure_limit() and ms > 0]
        return max(1, math.ceil(max(locked, default=1000) / 1000))


def lockout_response(request, original_response=None, credentials=None):
    """AXES_LOCKOUT_CALLABLE: the site's 429 page, saying when to come back, and Retry-After."""
    from axes.handlers.proxy import AxesProxyHandler

    seconds = AxesProxyHandler.get_implementation().retry_after(request, credentials)
    context = {
        "retry_seconds": seconds,
        "retry_minutes": math.ceil(seconds / 60),
        "retry_at": datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=seconds),
    }
    response = render(request, "429.html", context, status=429)
    response["Retry-After"] = str(seconds)
    return response

"""Rate limits: per API key and per anonymous address over HTTP, per connection over
WebSocket, and caps on the WebSockets one address or one user may hold open.

The per-key and per-address limits are sliding windows, estimated from two fixed windows
counted in Redis, so they hold across all web processes. When Redis is unreachable they fail
open (events still get stored: losing scores is worse than a burst) and log once per outage.
The per-connection limit is a token bucket in the consumer's own memory: a socket lives in
exactly one process. So do the socket caps (ConnectionCaps): they count in this process.
"""

import ipaddress
import json
import logging
import math
import threading
import time

import redis
from django.conf import settings

from stats.ops import metrics
from webgame import httpkit, redis_conf, redis_retry

logger = logging.getLogger(__name__)
RATE_LIMIT_TIMEOUT = 0.5  # seconds: connect and read deadline of each rate-limit call
_clients: dict[redis_conf.Target, redis.Redis] = {}
_clients_lock = threading.Lock()


class _FailOpen:
    """One log line when the limiter loses Redis, one when it is back."""

    def __init__(self) -> None:
        self.down = False

    def failed(self, exc: BaseException) -> None:
        metrics.backend_error("ratelimit")
        if not self.down:
            self.down = True
            logger.error("rate limiter cannot reach Redis (%s: %s); allowing requests", type(exc).__name__, exc)

    def ok(self) -> None:
        if self.down:
            self.down = False
            logger.warning("rate limiter reached Redis again; limits enforced")


fail_open = _FailOpen()


def _client() -> redis.Redis:
    where = redis_conf.target()
    with _clients_lock:
        if where not in _clients:
            # Shorter than the settings' REDIS_*_TIMEOUT: a hung Redis must not hold up storing
            # events (a POST counts here before it is stored). The deadline is the same for a
            # frozen Redis with the retry: that is a timeout, which is not tried again.
            _clients[where] = redis_conf.sync_client(
                where, socket_connect_timeout=RATE_LIMIT_TIMEOUT, socket_timeout=RATE_LIMIT_TIMEOUT
            )
        return _clients[where]


def api_key_retry_after(*, key_prefix: str, cost: int = 1) -> int | None:
    """Count `cost` requests for this key. None if allowed, else seconds until it may retry."""
    return _window_retry_after(
        name=f"webgame:ratelimit:key:{key_prefix}:",
        limit=settings.API_RATE_LIMIT,
        window=settings.API_RATE_WINDOW,
        cost=cost,
    )


def chat_retry_after(*, user_id: int) -> int | None:
    """Count one chat message by this user, across processes. None if allowed, else seconds
    until the user may send again."""
    return _window_retry_after(
        name=f"webgame:ratelimit:chat:{user_id}:",
        limit=settings.CHAT_RATE_LIMIT,
        window=settings.CHAT_RATE_WINDOW,
    )


def anon_read_retry_after(*, address: str) -> int | None:
    """Count one read by a caller with no key and no session, by its address (see
    address_pick). None if allowed, else seconds until it may retry."""
    return _window_retry_after(
        name=f"webgame:ratelimit:anon:{address}:",
        limit=settings.API_ANON_READ_RATE,
        window=settings.API_ANON_READ_WINDOW,
    )


def signup_retry_after(*, address: str) -> int | None:
    """Count one account about to be made from this address (stats.accounts; issue #19). None
    if allowed, else seconds until it may make another."""
    return _window_retry_after(
        name=f"webgame:ratelimit:signup:{address}:", limit=settings.SIGNUP_RATE, window=settings.SIGNUP_WINDOW
    )


def _window_retry_after(*, name: str, limit: int, window: int, cost: int = 1) -> int | None:
    """A sliding-window estimate: this window's count plus the previous window's, weighted by
    how much of it the sliding window still covers. A plain fixed window would let a caller
    send twice its limit across a window boundary."""
    now = time.time()
    slot = int(now // window)
    client = _client()

    def count_send():
        # No MULTI/EXEC: INCR is atomic by itself, and EXPIRE only has to land eventually.
        pipe = client.pipeline(transaction=False)
        pipe.incrby(f"{name}{slot}", cost)
        pipe.expire(f"{name}{slot}", window * 2)
        pipe.get(f"{name}{slot - 1}")
        return pipe.execute()

    try:
        # A dead pooled connection (a failover, a restart) gets one more try on a fresh one:
        # failing open on it would lose this count though Redis is there. (If the first INCRBY
        # landed and only its answer was lost, it counts twice: the limit errs on the safe side.)
        count, _, previous = redis_retry.call_retry_once(client, count_send)
    except redis.RedisError as exc:
        fail_open.failed(exc)
        return None
    fail_open.ok()
    return _retry_after(count=count, previous=int(previous or 0), into=now / window - slot, limit=limit, window=window)


def _retry_after(*, count: int, previous: int, into: float, limit: int, window: int) -> int | None:
    """`into`: how far into its window this request is (0..1). A refused request counts too
    (hammering does not pay), so the wait is for the next request, the count's next one."""
    if count + previous * (1 - into) <= limit:
        return None
    following = count + 1
    if following > limit or previous == 0:
        wait = 1 - into  # not before the next window (where this one becomes the "previous")
    else:
        wait = (1 - (limit - following) / previous) - into  # until enough of the previous slides out
    return max(1, math.ceil(round(wait * window, 6)))


class ConnectionRate:
    """Token bucket for one socket's incoming frames.

    Over the rate, a frame is refused; the first refusal of a run gets an error frame, and a
    run longer than the burst means the client ignores the errors: the socket is closed."""

    __slots__ = ("burst", "rate", "refused_run", "stamp", "tokens")  # one per socket

    def __init__(self) -> None:
        self.rate = settings.WS_RATE
        self.burst = settings.WS_BURST
        self.tokens = float(self.burst)
        self.stamp = time.monotonic()
        self.refused_run = 0

    def take(self) -> str:
        """'ok', 'refuse' (answer with an error frame), 'drop' (already told) or 'close'."""
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            self.refused_run = 0
            return "ok"
        self.refused_run += 1
        if self.refused_run > self.burst:
            return "close"
        return "refuse" if self.refused_run == 1 else "drop"


def address_pick(*, peer: str | None, forwarded: str | None) -> str:
    """The client address every per-address limit counts by: httpkit.client_address (the TCP
    peer, or behind our proxy the entry it appended), with IPv6 counted per /64, the block one
    subscriber gets: a single host can use all of it."""
    return _address_bucket(httpkit.client_address(peer=peer, forwarded=forwarded))


def _address_bucket(raw: str) -> str:
    try:
        ip = ipaddress.ip_address(raw.strip("[]"))
    except ValueError:
        return raw[:64] or "unknown"  # a unix socket, or a proxy writing host:port: still one bucket each
    if ip.version == 6:
        if ip.ipv4_mapped is not None:  # ::ffff:192.0.2.1 is that IPv4 client
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def request_address(request) -> str:
    """address_pick for a Django request."""
    return _address_bucket(httpkit.request_client_address(request))


def scope_address(scope: dict) -> str:
    """address_pick for an ASGI scope (a WebSocket's)."""
    return _address_bucket(httpkit.scope_client_address(scope))


def scope_user_id(scope: dict) -> int | None:
    user = scope.get("user")
    return user.pk if user is not None and user.is_authenticated else None


WS_CLOSE_OVER_CAP = 4430  # docs/protocol.md: too many open sockets for this address or user
_REFUSAL_LOG_SECONDS = 10.0


class ConnectionCaps:
    """Open WebSockets per client address and per logged-in user, in this process.

    Per process on purpose: a socket lives in one process, and a count kept in Redis would
    outlive a process that died with its sockets. With N web processes behind a balancer
    that sticks by address, each process holds the caps (N x the cap overall)."""

    def __init__(self, address_setting: str = "WS_MAX_PER_ADDRESS") -> None:
        self.address_setting = address_setting  # the ingest sockets' own count reads its own cap
        self.lock = threading.Lock()  # sockets come and go on the loop; tests and finalizers elsewhere
        self.by_address: dict[str, int] = {}
        self.by_user: dict[int, int] = {}
        self.refusals_logged: dict[str, float] = {}

    def take(self, *, address: str, user_id: int | None) -> str | None:
        """Count one more open socket; or, over a cap, count nothing and say which cap
        ("user" or "address"). A cap of 0 is no cap."""
        per_address, per_user = getattr(settings, self.address_setting), settings.WS_MAX_PER_USER
        with self.lock:
            if user_id is not None and per_user and self.by_user.get(user_id, 0) >= per_user:
                refused = "user"
            elif per_address and self.by_address.get(address, 0) >= per_address:
                refused = "address"
            else:
                self.by_address[address] = self.by_address.get(address, 0) + 1
                if user_id is not None:
                    self.by_user[user_id] = self.by_user.get(user_id, 0) + 1
                return None
        self._refusal_log(refused, address, user_id)
        return refused

    def release(self, *, address: str, user_id: int | None) -> None:
        """One socket counted by take() has gone. Counts at zero are dropped (memory stays
        bounded by the sockets open now)."""
        with self.lock:
            _count_drop(self.by_address, address)
            if user_id is not None:
                _count_drop(self.by_user, user_id)

    def _refusal_log(self, refused: str, address: str, user_id: int | None) -> None:
        """A warning, not a traceback; one per address per 10 s, so a flood of refused
        handshakes cannot flood the log too."""
        now = time.monotonic()
        if self.refusals_logged.get(address, 0.0) > now:
            return
        if len(self.refusals_logged) >= 1024:
            self.refusals_logged.clear()
        self.refusals_logged[address] = now + _REFUSAL_LOG_SECONDS
        setting = "WS_MAX_PER_USER" if refused == "user" else self.address_setting.removeprefix("WEBGAME_")
        who = f"user {user_id}" if refused == "user" else f"address {address}"
        logger.warning(
            "websocket refused (close %d): %s is at %s; further refusals for 10 s not logged",
            WS_CLOSE_OVER_CAP,
            who,
            setting,
        )


def _count_drop(counts: dict, key) -> None:
    left = counts.get(key, 0) - 1
    if left > 0:
        counts[key] = left
    else:
        counts.pop(key, None)


ws_caps = ConnectionCaps()  # the process's one count, shared by every viewer's consumer
# Game servers' ingest sockets, counted apart: 50 of them must not lock out their address's viewers.
ingest_caps = ConnectionCaps("WS_MAX_INGEST_PER_ADDRESS")


class SocketAdmission:
    """What a consumer keeps for its socket's cap: `refused` says why it was turned away
    (None when admitted); release() is idempotent, so every way a socket ends may call it."""

    __slots__ = ("address", "caps", "held", "refused", "user_id")

    def __init__(self, scope: dict, caps: ConnectionCaps | None = None) -> None:
        self.address, self.user_id = scope_address(scope), scope_user_id(scope)
        self.caps = caps or ws_caps
        self.refused = self.caps.take(address=self.address, user_id=self.user_id)
        self.held = self.refused is None

    @property
    def message(self) -> str:
        which = "this user" if self.refused == "user" else "this address"
        return f"too many open sockets for {which}; close one before opening another"

    def release(self) -> None:
        if self.held:
            self.held = False
            self.caps.release(address=self.address, user_id=self.user_id)


async def socket_refuse(admission: SocketAdmission, receive, send) -> None:
    """Answer a WebSocket over a cap at the ASGI level, before any consumer state exists: the
    handshake accepted, one error frame saying which cap, then close 4430. (A handshake
    refused outright shows a browser a bare HTTP 403, and the page could not tell why.)"""
    if (await receive())["type"] != "websocket.connect":
        return
    frame = {"type": "error", "code": "too_many_connections", "message": admission.message}
    try:
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.send", "text": json.dumps(frame)})
        await send({"type": "websocket.close", "code": WS_CLOSE_OVER_CAP})
    except (OSError, RuntimeError):  # the client left first (see consumers.SOCKET_GONE): nothing to tell
        pass

"""Every Prometheus instrument of the app, and the small functions the live code calls.

The live path, the ingest path and the error handlers call the functions below (one call
where something happens); nothing else touches prometheus_client. Each function is a counter
or gauge update on a label child bound at import, so a hot path pays one `inc`: 0.5-0.6 us
in one process, 1.5-3.5 us with the multiprocess files (bench/metrics_cost.py, on the shared
2-core machine under load), against ~20 ms for a frame handed to 1,000 sockets. A frame
handed to N sockets is counted once per frame with `inc(N)`, never once per socket.

Two modes, chosen by the environment before the first import of prometheus_client:

- `PROMETHEUS_MULTIPROC_DIR` unset: one registry in this process (the default REGISTRY, with
  the process and Python collectors). /metrics shows this process.
- `PROMETHEUS_MULTIPROC_DIR` set (the Procfile's web and worker lines): every process of the
  machine writes its values to files in that directory, and /metrics, in whichever web
  process answers, sums them. Counters and histograms of processes that exited still count
  (a total never goes backwards); the gauges below are "live" ones: a process that exits
  normally removes its gauge files (atexit -> mark_process_dead). The directory must be
  emptied before the processes start (`make run` does), or a dead run's files still count.
"""

import atexit
import contextvars
import functools
import inspect
import os

from django.conf import settings

# Read before prometheus_client is imported: the settings drop an empty variable (its mode is
# picked at that import, by whether the variable is set at all).
MULTIPROC_DIR = settings.PROMETHEUS_MULTIPROC_DIR or None
from prometheus_client import (  # noqa: E402
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)

# No `<name>_created` series beside every counter and histogram: twice the scrape for a
# timestamp nothing here reads.
disable_created_metrics()

if MULTIPROC_DIR is not None:
    os.makedirs(MULTIPROC_DIR, exist_ok=True)  # the values' files are opened as the metrics are made
CONTENT_TYPE = CONTENT_TYPE_LATEST

SOCKET_KINDS = ("game", "lobby", "ingest", "other")
# The consumer classes (stats.live.consumers, stats.ingest.consumer) by the kind they count as.
_SOCKET_KIND_OF = {"GameConsumer": "game", "LobbyConsumer": "lobby", "IngestConsumer": "ingest"}
INGEST_PATHS = ("http", "socket", "service")
ERROR_SITES = (
    ("redis", "channel_layer"),  # stats.live.publish's outage: a push, a subscribe, a receive failed
    ("redis", "ratelimit"),  # stats.ratelimit failed open
    ("database", "socket_connect"),  # a viewer refused with 4503 (snapshot or visibility read failed)
    ("database", "socket_frame"),  # a socket's ping/resume/chat answered `unavailable`
    ("database", "gap_fill"),  # a viewer's gap fill failed (closed 4500)
    ("database", "feed_gap_read"),  # a feed's shared gap read failed (its viewers fill themselves)
    ("database", "committer"),  # a group commit failed as a whole (stats.ingest.committer)
)

SOCKETS_OPEN = Gauge(
    "webgame_sockets_open",
    "WebSockets being served, by kind (game viewers, lobby, ingest)",
    ["kind"],
    multiprocess_mode="livesum",
)
FEEDS = Gauge(
    "webgame_feeds",
    "Live feeds: games with viewers, one channel-layer subscription each, per process (summed)",
    multiprocess_mode="livesum",
)
FRAMES_SENT = Counter(
    "webgame_frames_sent",
    "Live frames handed to sockets (one per socket per frame): events frames and other fan-out "
    "frames (chat, presence, match) from the feeds, and lobby frames",
    ["kind"],
)
FRAMES_COALESCED = Counter(
    "webgame_frames_coalesced",
    "Events frames built from several runs of events (a burst merged within a tick)",
)
RUNS_COALESCED = Counter(
    "webgame_runs_coalesced",
    "Runs of events (published messages) merged into coalesced frames",
)
FRAMES_DROPPED = Counter(
    "webgame_frames_dropped",
    "Live frames not sent to a socket whose unread backlog was over WS_MAX_BACKLOG (resynced later)",
)
SNAPSHOTS = Counter(
    "webgame_snapshots_sent",
    "Snapshots sent to game sockets: on connect, and as a resync after connect (too much missed to replay)",
    ["reason"],
)
GAP_FILLS = Counter(
    "webgame_gap_fills",
    "Gaps filled from the database: by a feed once for its viewers, or by one socket for itself",
    ["by"],
)
EVENTS_INGESTED = Counter(
    "webgame_events_ingested",
    "Events stored (duplicates not counted), by the way in: HTTP POST, ingest socket, or another "
    "caller of the write service (admin, staff form, the demo simulator, commands)",
    ["path"],
)
REQUEST_SECONDS = Histogram(
    "webgame_http_request_duration_seconds",
    "HTTP requests through Django's middleware, by route pattern (not the raw path), method and status class",
    ["route", "method", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
CHANNEL_LAYER_DOWN = Gauge(
    "webgame_channel_layer_down",
    "1 while a process sees the channel layer (Redis) unreachable (stats.live.publish's outage), else 0",
    multiprocess_mode="livemax",
)
BACKEND_ERRORS = Counter(
    "webgame_backend_errors",
    "Database and Redis failures caught and handled, by backend and the place that caught them",
    ["backend", "site"],
)

# Children bound once: a labelled `.labels()` lookup costs more than the increment itself.
_sockets = {kind: SOCKETS_OPEN.labels(kind) for kind in SOCKET_KINDS}
_frames_events = FRAMES_SENT.labels("events")
_frames_other = FRAMES_SENT.labels("other")
_frames_lobby = FRAMES_SENT.labels("lobby")
_snapshots_connect = SNAPSHOTS.labels("connect")
_snapshots_resync = SNAPSHOTS.labels("resync")
_gap_fills = {by: GAP_FILLS.labels(by) for by in ("feed", "socket")}
_ingested = {path: EVENTS_INGESTED.labels(path) for path in INGEST_PATHS}
_errors = {site: BACKEND_ERRORS.labels(backend, site) for backend, site in ERROR_SITES}
_channel_layer_down = CHANNEL_LAYER_DOWN  # unlabelled: the gauge itself
_channel_layer_down.set(0)  # present from the start, in every process


# --- sockets and feeds ---


def socket_opened(consumer_class: type) -> str:
    """A WebSocket of this consumer class is being served; returns its kind for socket_closed."""
    kind = _SOCKET_KIND_OF.get(consumer_class.__name__, "other")
    _sockets[kind].inc()
    return kind


def socket_closed(kind: str) -> None:
    _sockets[kind].dec()


def feed_started() -> None:
    FEEDS.inc()


def feed_stopped() -> None:
    FEEDS.dec()


# --- frames ---


def events_frame_out(runs: int, sockets: int) -> None:
    """One events frame, merged from `runs` messages, handed to `sockets` sockets."""
    _frames_events.inc(sockets)
    if runs > 1:
        FRAMES_COALESCED.inc()
        RUNS_COALESCED.inc(runs)


def other_frame_out(sockets: int) -> None:
    """A chat, presence or match frame handed to `sockets` sockets of a feed."""
    _frames_other.inc(sockets)


def lobby_frame_out() -> None:
    """A lobby frame handed to one lobby socket (the lobby's feed builds each frame once)."""
    _frames_lobby.inc()


def frame_dropped() -> None:
    """A live frame skipped for a socket that reads too slowly (the rare path)."""
    FRAMES_DROPPED.inc()


def snapshot_sent(reason: str) -> None:
    """`connect` or `resync`."""
    (_snapshots_resync if reason == "resync" else _snapshots_connect).inc()


def gap_filled(by: str) -> None:
    """`feed` (one read for every viewer) or `socket` (one viewer's own)."""
    _gap_fills[by].inc()


# --- ingest ---

# Set while a caller counts its own events (an HTTP POST, see counts_own_ingest), so the
# write service does not count them again as `service`. (Group commits, the ingest socket's
# and grouped POSTs', are written by stats.ingest.group, which does not go through
# services.score_events_record: the socket and the view count those.)
_ingest_counted = contextvars.ContextVar("webgame_ingest_counted", default=False)


def events_ingested(path: str, count: int) -> None:
    """`count` events stored by way of `path` (`http` or `socket`), counted by that caller."""
    if count:
        _ingested[path].inc(count)


def events_recorded(count: int) -> None:
    """Called by services.score_events_record for every batch it stores: counted as `service`
    unless the caller counts them itself (counts_own_ingest)."""
    if count and not _ingest_counted.get():
        _ingested["service"].inc(count)


def counts_own_ingest(view):
    """Decorator for a view (sync or async) that counts its events itself (events_ingested):
    the write service called within it does not count them again. The mark ends with the call
    (a sync_to_async call within an async view carries it: it copies the context)."""

    if inspect.iscoroutinefunction(view):

        @functools.wraps(view)
        async def async_wrapper(*args, **kwargs):
            token = _ingest_counted.set(True)
            try:
                return await view(*args, **kwargs)
            finally:
                _ingest_counted.reset(token)

        return async_wrapper

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        token = _ingest_counted.set(True)
        try:
            return view(*args, **kwargs)
        finally:
            _ingest_counted.reset(token)

    return wrapper


# --- errors and outages ---


def backend_error(site: str) -> None:
    """A database or Redis failure caught at `site` (one of ERROR_SITES)."""
    _errors[site].inc()


def channel_layer_failed() -> None:
    """A channel-layer operation failed: counted, and the outage gauge set."""
    _errors["channel_layer"].inc()
    _channel_layer_down.set(1)


def channel_layer_ok() -> None:
    _channel_layer_down.set(0)


# --- requests ---


def request_observe(route: str, method: str, status: int, seconds: float) -> None:
    REQUEST_SECONDS.labels(route, method, f"{status // 100}xx").observe(seconds)


# --- exposition ---


def exposition() -> bytes:
    """The text format of every metric: this process's, or (multiprocess mode) the machine's."""
    if MULTIPROC_DIR is None:
        return generate_latest(REGISTRY)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return generate_latest(registry)


def _mark_dead() -> None:
    # Live gauges of an exited process must not be summed any more. (A process killed with
    # SIGKILL leaves its files: they count until the directory is emptied.)
    try:
        multiprocess.mark_process_dead(os.getpid())
    except OSError:
        pass  # the directory went first (a test's temporary one)


if MULTIPROC_DIR is not None:
    atexit.register(_mark_dead)

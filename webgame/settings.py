"""Settings for webgame, read from the environment (and an optional `.env` file).

Every value has a default that works on a laptop with nothing installed: SQLite, and the
embedded Valkey server that `make run` starts on port 6390. See `.env.example`.
"""

import os
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from webgame import redis_conf

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
DEV_SECRET_KEY = "django-insecure-webgame-development-only"
SECRET_KEY = env("SECRET_KEY", default=DEV_SECRET_KEY if DEBUG else "")
if not SECRET_KEY or (not DEBUG and SECRET_KEY == DEV_SECRET_KEY):
    # Refuse to run a production-like process with a guessable key.
    raise ImproperlyConfigured("Set SECRET_KEY (or DEBUG=true for local development).")

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# The address the Procfile's web server binds (`--host ${WEB_HOST:-127.0.0.1}`): this machine
# only by default; 0.0.0.0 for a TV or a streaming PC on the LAN (docs/deploy.md, "On a LAN").
# Read here too so that a system check (stats.checks) can say when ALLOWED_HOSTS misses it.
WEB_HOST = env("WEB_HOST", default="127.0.0.1")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    # django-ninja: the HTTP API (webgame.api); an app for its static files (Swagger UI at /api/docs).
    "ninja",
    "stats",
]

# One list, in the order a request meets them.
MIDDLEWARE = [
    # Every one runs on Django's async chain without a hop to a thread (webgame.middleware):
    # Django's own and WhiteNoise's through async-native subclasses.
    # Request latency by route (outermost: it times the whole middleware chain; stats.ops).
    "stats.ops.middleware.RequestMetricsMiddleware",
    # A bad Host under /api/ gets the API's JSON error (stats.middleware), not Django's HTML page
    # and a logged traceback. Before SecurityMiddleware, which may read the Host already.
    "stats.middleware.ApiHostCheckMiddleware",
    # Heavy API reads wait on the loop for one of API_READ_CONCURRENCY slots, or get a 503.
    "stats.admission.HeavyReadMiddleware",
    "webgame.middleware.SecurityMiddleware",
    "webgame.middleware.WhiteNoiseMiddleware",
    "stats.middleware.ContentSecurityPolicyMiddleware",
    "webgame.middleware.SessionMiddleware",
    "webgame.middleware.CommonMiddleware",
    "webgame.middleware.CsrfViewMiddleware",
    "webgame.middleware.AuthenticationMiddleware",
    "webgame.middleware.MessageMiddleware",
    "webgame.middleware.XFrameOptionsMiddleware",
    # Login throttling (issue #19, below): a busy password check answers 503, then axes.
    "stats.accounts.gate.LoginBusyMiddleware",
    "axes.middleware.AxesMiddleware",
]

# Django finds its own middlewares by dotted path for these three; MIDDLEWARE names their
# async-native subclasses, and webgame.checks runs Django's middleware checks on them instead.
SILENCED_SYSTEM_CHECKS = ["security.W001", "security.W002", "security.W003"]

ROOT_URLCONF = "webgame.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]
ASGI_APPLICATION = "webgame.asgi.application"

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # web, worker and beat write concurrently: WAL lets readers run during a write, IMMEDIATE
    # takes the write lock at BEGIN (no deadlock on lock upgrade), and the timeout waits for it.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
# Persistent connections for both engines: reopening SQLite (and its PRAGMAs) or a
# PostgreSQL session per request costs more than the request's own queries.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# An empty REDIS_URL (as in `REDIS_URL= make run`) means the embedded default too.
REDIS_URL = env("REDIS_URL", default="") or "redis://127.0.0.1:6390/0"
# Sentinel (docs/deploy.md, "Redis failover (Sentinel)"): with REDIS_SENTINELS set
# (`host:port,host:port,host:port`), every Redis user (channel layer, presence, rate limits,
# /readyz, Celery) asks these sentinels for the primary of REDIS_SENTINEL_MASTER, and follows
# a failover. REDIS_URL then only gives the primary's username, password and database number.
REDIS_SENTINELS = env.list("REDIS_SENTINELS", default=[])
REDIS_SENTINEL_MASTER = env("REDIS_SENTINEL_MASTER", default="webgame")
REDIS_SENTINEL_PASSWORD = env("REDIS_SENTINEL_PASSWORD", default="")
try:
    _REDIS = redis_conf.target_from(REDIS_URL, tuple(REDIS_SENTINELS), REDIS_SENTINEL_MASTER, REDIS_SENTINEL_PASSWORD)
except ValueError as _exc:
    raise ImproperlyConfigured(str(_exc)) from None
# Redis pub/sub: a group_send is one PUBLISH, and each web process subscribes once per game
# (stats.live.feed), so nothing is queued per viewer. CHANNEL_LAYER=core selects the list-based
# RedisChannelLayer instead (per-member queues; kept for comparison in bench/).
_CHANNEL_LAYER_BACKENDS = {
    "pubsub": "channels_redis.pubsub.RedisPubSubChannelLayer",
    "core": "channels_redis.core.RedisChannelLayer",
}
# Every Redis call has a deadline: a Redis that hangs (a full disk, a swap storm, a partition)
# must fail a call within these many seconds, never block a request, a socket or the event
# loop. The database already has every event; clients resync by seq.
REDIS_CONNECT_TIMEOUT = env.float("REDIS_CONNECT_TIMEOUT", default=2.0)
REDIS_SOCKET_TIMEOUT = env.float("REDIS_SOCKET_TIMEOUT", default=2.0)
# How often each web process checks that Redis answers (stats.live.health); a check that
# misses REDIS_SOCKET_TIMEOUT marks the live path degraded, and viewers are told at once.
REDIS_HEALTH_INTERVAL = env.float("REDIS_HEALTH_INTERVAL", default=1.0)
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": _CHANNEL_LAYER_BACKENDS[env("CHANNEL_LAYER", default="pubsub")],
        "CONFIG": {
            "hosts": [
                redis_conf.channel_layer_host(
                    _REDIS, socket_connect_timeout=REDIS_CONNECT_TIMEOUT, socket_timeout=REDIS_SOCKET_TIMEOUT
                )
            ]
        },
    }
}
if env("CHANNEL_LAYER", default="pubsub") == "core":
    CHANNEL_LAYERS["default"]["CONFIG"].update(capacity=1000, expiry=30)
    # Its receive is a blocking pop of up to 5 s (RedisChannelLayer.brpop_timeout): the read
    # deadline must outlast it.
    CHANNEL_LAYERS["default"]["CONFIG"]["hosts"][0]["socket_timeout"] = REDIS_SOCKET_TIMEOUT + 5
# stats.live.fanout sends at most one events frame per game per tick and web process; an event
# that finds its game idle for a tick goes out at once. 0 sends every message as it comes.
FRAME_TICK_MS = env.int("FRAME_TICK_MS", default=25)
# A frame to N sockets costs ~20 us per socket here (the write syscall, mostly), so the tick
# grows with a game's viewers in the process (N x this), up to FRAME_TICK_MAX_MS: at 1,000
# viewers frames go out every 50 ms, which keeps the fan-out under half a core (docs/benchmarks.md).
FRAME_TICK_PER_VIEWER_US = env.int("FRAME_TICK_PER_VIEWER_US", default=50)
FRAME_TICK_MAX_MS = env.int("FRAME_TICK_MAX_MS", default=250)

_BROKER_URL, _BROKER_OPTIONS = redis_conf.celery_broker(_REDIS)
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=_BROKER_URL)
# The broker's calls have the same deadlines as every Redis call, and sending a task retries
# once, 0.2 s later: a .delay() on a frozen Redis fails within about 2 x REDIS_SOCKET_TIMEOUT
# instead of hanging its caller (kombu's default read timeout is none).
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "socket_connect_timeout": REDIS_CONNECT_TIMEOUT,
    "socket_timeout": REDIS_SOCKET_TIMEOUT,
}
if _BROKER_OPTIONS and CELERY_BROKER_URL == _BROKER_URL:  # {"master_name": ...} for kombu's sentinel://
    CELERY_BROKER_TRANSPORT_OPTIONS.update(_BROKER_OPTIONS)
CELERY_BROKER_CONNECTION_TIMEOUT = REDIS_CONNECT_TIMEOUT
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0.2, "interval_step": 0.2, "interval_max": 0.2}
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = "UTC"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# Chart.js comes from npm (`npm ci`), served as a static file: never from a CDN.
STATICFILES_DIRS = [
    BASE_DIR / "static",
    ("vendor/chartjs", BASE_DIR / "node_modules" / "chart.js" / "dist"),
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG

X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# Cookies only over HTTPS (behind a TLS-terminating proxy, or TLS in the server).
SECURE_COOKIES = env.bool("SECURE_COOKIES", default=False)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = SECURE_COOKIES
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
# Sending the preload directive enrolls nothing by itself (that takes a submission to
# hstspreload.org), so a year-long HSTS policy sends it unless told not to.
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=SECURE_HSTS_SECONDS >= 31536000)
# Whether a proxy of ours is in front: then the scheme comes from X-Forwarded-Proto, and the
# client address (webgame.httpkit.client_address) from the last entry of X-Forwarded-For
# instead of the TCP peer. Only behind a proxy that sets them: without one, any client could
# name any address. Behind a proxy with this off, every client shares the proxy's address, and
# so its caps.
BEHIND_PROXY = env.bool("BEHIND_PROXY", default=False)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if BEHIND_PROXY else None

# A batch POST holds at most MAX_BATCH events; the body cap keeps a request bounded.
WEBGAME_MAX_BATCH = 1000
# Group commit (stats.ingest.committer): frames of one game arriving within this tick share a
# transaction (a busy game batches itself while the previous group is written); a group holds
# at most this many events.
GROUP_COMMIT_TICK_MS = env.int("GROUP_COMMIT_TICK_MS", default=1)
GROUP_COMMIT_MAX_EVENTS = env.int("GROUP_COMMIT_MAX_EVENTS", default=5000)
# HTTP POSTs join the groups too (off: each POST commits alone, as before; the benchmark's baseline).
GROUP_COMMIT_HTTP = env.bool("GROUP_COMMIT_HTTP", default=True)
# Frames an ingest socket may have waiting for their answers before it is read no further.
INGEST_MAX_IN_FLIGHT = env.int("INGEST_MAX_IN_FLIGHT", default=256)
# Seconds an open ingest socket trusts its key before reading it again: a revoked key's socket
# is refused (key_revoked, close 4401) at its first frame after this.
INGEST_KEY_RECHECK_SECONDS = env.float("INGEST_KEY_RECHECK_SECONDS", default=1.0)
# The request body cap, in bytes: webgame.edge refuses a larger body before the view, counting
# a chunked one as it streams; Django's own cap is the same number.
MAX_BODY_BYTES = env.int("MAX_BODY_BYTES", default=1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_BODY_BYTES
DEMO_GAMES = env.list("DEMO_GAMES", default=["demo"])
# Seconds a demo match lasts: the simulator then ends it and starts the next.
DEMO_MATCH_SECONDS = env.int("DEMO_MATCH_SECONDS", default=90)
# Where the demo simulator (a game server run by the worker) sends its events: the web process.
DEMO_SERVER_URL = env.str("DEMO_SERVER_URL", default=f"http://127.0.0.1:{env.int('WEB_PORT', default=8000)}")
WEBGAME_RECENT_EVENTS = 50
WEBGAME_RESUME_MAX = 500
# Requests per API key per window, counted in Redis across processes (fails open without it).
API_RATE_LIMIT = env.int("API_RATE_LIMIT", default=1200)
API_RATE_WINDOW = env.int("API_RATE_WINDOW", default=60)
# Frames per second a WebSocket client may send (token bucket), and the burst it may save up.
# A run of refused frames longer than the burst closes the socket with 4429.
WS_RATE = env.float("WS_RATE", default=10.0)
WS_BURST = env.int("WS_BURST", default=30)
# Bytes a viewer may leave unread in its socket before live frames are skipped for a resync.
WS_MAX_BACKLOG = env.int("WS_MAX_BACKLOG", default=512 * 1024)
# The largest frame the server sends a WebSocket (bytes): longer `events` frames are cut into
# contiguous ones. Under every server's own limit (daphne refuses to send over 1 MiB).
WS_MAX_FRAME_BYTES = env.int("WS_MAX_FRAME_BYTES", default=256 * 1024)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
        # LOG_FORMAT=json: one JSON object per line (stats.ops.logformat); default: plain text.
        "json": {"()": "stats.ops.logformat.JsonFormatter"},
    },
    "filters": {"redis_outage": {"()": "stats.logfilters.RedisOutageFilter"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if env("LOG_FORMAT", default="text").strip().lower() == "json" else "plain",
            "filters": ["redis_outage"],
        }
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {"django.channels.server": {"level": "WARNING"}},
}

# --- Abuse limits (issue #10; docs/reliability.md, "Abuse limits") ---
# Open WebSockets per client address (IPv6: per /64) and per logged-in user, counted in each
# web process. 0 turns a cap off. Over the cap the socket is closed with 4430.
WS_MAX_PER_ADDRESS = env.int("WS_MAX_PER_ADDRESS", default=50)
WS_MAX_PER_USER = env.int("WS_MAX_PER_USER", default=20)
# Open ingest sockets (game servers) per client address, counted apart from the viewers' cap:
# a game server's sockets never lock its address's viewers out, nor the other way round.
WS_MAX_INGEST_PER_ADDRESS = env.int("WS_MAX_INGEST_PER_ADDRESS", default=50)
# GETs of the read API per client address per window by callers with no valid key and no
# session (sliding window in Redis, like API_RATE_LIMIT; fails open without Redis).
API_ANON_READ_RATE = env.int("API_ANON_READ_RATE", default=300)
API_ANON_READ_WINDOW = env.int("API_ANON_READ_WINDOW", default=60)
# Snapshot, events and history GETs that may hold one of the WEB_SYNC_THREADS at a time, so a
# POST always finds a thread; a read that waits longer than API_READ_WAIT_MS for a slot is
# answered 503 with Retry-After. 2, whatever the threads: a read is CPU on the event loop's
# core (JSON of up to 1,000 events), where the threads are mostly for POSTs waiting on commits.
API_READ_CONCURRENCY = env.int("API_READ_CONCURRENCY", default=2)
API_READ_WAIT_MS = env.int("API_READ_WAIT_MS", default=1000)
# Long-lived threads per web process for sync Django code (webgame.handler): sync views, and
# closing each response. The event POST is async and awaits its group commit on the loop, so
# it holds none while it waits (it once did: 16 rather than 4 threads took 16 concurrent
# one-event POSTs into PostgreSQL from ~270 to ~500/s, issue #13). Each thread that runs a
# query keeps one database connection. Heavy reads stay capped by API_READ_CONCURRENCY.
WEB_SYNC_THREADS = env.int("WEB_SYNC_THREADS", default=16)

# --- HTTP edge (issue #10; webgame.edge, docs/deploy.md, docs/reliability.md "HTTP edge limits") ---
# The body cap is MAX_BODY_BYTES above. A request body that
# sends nothing for this many seconds is answered 408 and its connection closed (0: no limit).
HTTP_BODY_TIMEOUT = env.float("HTTP_BODY_TIMEOUT", default=10.0)

# --- Accounts (issue #12; stats.accounts) ---
# Everyone logs in at /accounts/login/: the admin's login refuses non-staff users, so a listed
# viewer of a private game could never watch it. `next` is honoured only for this site's own
# URLs (Django's RedirectURLMixin checks the host and scheme).
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/"
# Whether anyone may make an account at /accounts/signup/ (404 when off). On by default in
# development only: a public deployment opens it on purpose, or staff create users in the admin.
ACCOUNTS_SIGNUP = env.bool("ACCOUNTS_SIGNUP", default=DEBUG)

# --- Login throttling and sign-up limits (issue #19; stats.accounts.throttle, .gate, django-axes) ---
# At most LOGIN_MAX_FAILURES wrong passwords per username and per client address (BEHIND_PROXY
# honoured); then /accounts/login/ and /admin/login/ answer 429 (templates/429.html, with
# Retry-After) without checking the password. A counter is forgotten LOGIN_LOCKOUT_SECONDS
# after its last failure; a successful login clears the username's. Counted in Redis; fails
# open without it.
LOGIN_MAX_FAILURES = env.int("LOGIN_MAX_FAILURES", default=10)
LOGIN_LOCKOUT_SECONDS = env.int("LOGIN_LOCKOUT_SECONDS", default=900)
# Password checks (~250 ms of a core each) running at once per web process; a login or
# sign-up POST waits for one on the event loop, holding no web thread, and after LOGIN_WAIT_MS
# is answered 503 with Retry-After, unchecked. 0: no bound.
LOGIN_CONCURRENCY = env.int("LOGIN_CONCURRENCY", default=1)
LOGIN_WAIT_MS = env.int("LOGIN_WAIT_MS", default=3000)
# The niceness of the threads that hash passwords (stats.accounts.hashing): they get the CPU the
# serving threads leave. Django's PBKDF2 hasher otherwise; the stored hashes are unchanged.
LOGIN_HASH_NICE = env.int("LOGIN_HASH_NICE", default=10)
PASSWORD_HASHERS = [
    "stats.accounts.hashing.LowPriorityPBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
# Accounts made per client address per window (seconds); over it, the 429 page.
SIGNUP_RATE = env.int("SIGNUP_RATE", default=5)
SIGNUP_WINDOW = env.int("SIGNUP_WINDOW", default=3600)
INSTALLED_APPS = [*INSTALLED_APPS, "axes"]
# Axes' backend first: it refuses a locked-out attempt before ModelBackend hashes anything.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_HANDLER = "stats.accounts.throttle.RedisLoginHandler"
AXES_FAILURE_LIMIT = "stats.accounts.throttle.failure_limit"
AXES_COOLOFF_TIME = "stats.accounts.throttle.cool_off"
AXES_CLIENT_IP_CALLABLE = "stats.accounts.throttle.client_address"
AXES_LOCKOUT_CALLABLE = "stats.accounts.throttle.lockout_response"
AXES_LOCKOUT_PARAMETERS = ["ip_address", "username"]  # what the handler counts, each on its own
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False  # a refused attempt does not extend the lock
AXES_ENABLE_ADMIN = False  # its admin pages show its database handler's rows: none here
AXES_VERBOSE = False

# --- Chat on the game socket (issue #12; stats.live.chat, docs/protocol.md) ---
# Messages one user may send per window, across processes (sliding window in Redis; fails
# open without Redis). Over it the sender gets a `chat_rate_limited` error frame.
CHAT_RATE_LIMIT = env.int("CHAT_RATE_LIMIT", default=5)
CHAT_RATE_WINDOW = env.int("CHAT_RATE_WINDOW", default=10)

# --- Live chat (issue #12; stats/chat) ---
# Characters a chat message may hold, counted after NFC normalisation. At most 500, the
# column's size: a larger value is read as 500.
CHAT_MAX_CHARS = env.int("CHAT_MAX_CHARS", default=500)

# --- Metrics and health (issue #14; stats.ops, docs/deploy.md "Monitoring") ---
# /metrics answers a request carrying `Authorization: Bearer <METRICS_TOKEN>` (unset: no token
# opens it), or one from an address in METRICS_ALLOWED_NETWORKS (CIDR list; empty: none).
# Anything else gets a 403. The metrics are this process's, or the machine's web and worker
# processes' when PROMETHEUS_MULTIPROC_DIR is set (read from the environment by
# prometheus_client itself: the Procfile sets it for `make run`).
METRICS_TOKEN = env("METRICS_TOKEN", default="")
# prometheus_client reads this variable itself, and picks its mode when first imported (after
# the settings), by whether it is set at all: set but empty (`PROMETHEUS_MULTIPROC_DIR= make
# run`) would write its files to the working directory. Empty means unset.
PROMETHEUS_MULTIPROC_DIR = env("PROMETHEUS_MULTIPROC_DIR", default="")
if not PROMETHEUS_MULTIPROC_DIR:
    os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
METRICS_ALLOWED_NETWORKS = [n for n in env.list("METRICS_ALLOWED_NETWORKS", default=["127.0.0.1/32", "::1/128"]) if n]
try:
    import ipaddress as _ipaddress

    [_ipaddress.ip_network(n, strict=False) for n in METRICS_ALLOWED_NETWORKS]
except ValueError as _exc:
    raise ImproperlyConfigured(f"METRICS_ALLOWED_NETWORKS: {_exc}") from None

# --- The cost of one write, and of a game's stats (issue #19; README "Game stats") ---
# Stats a game may declare (derived ones included): each is in every snapshot and frame, so
# 32,767 made a 4.87 MB snapshot. Past it a declaration is refused (409 too_many_stats).
GAME_MAX_STATS = env.int("GAME_MAX_STATS", default=64)
# Stats one event may carry, and stat values one POST or ingest frame may carry in all: each
# value is kept in up to 4 periods for its player and its team, so 1,000 events x 32 stats
# wrote ~131,000 rows in one transaction (4-6 s on PostgreSQL, other games' writes waiting).
EVENT_MAX_STATS = env.int("EVENT_MAX_STATS", default=32)
BATCH_MAX_STAT_VALUES = env.int("BATCH_MAX_STAT_VALUES", default=4000)

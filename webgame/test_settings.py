"""Settings for the test suite: the real stack, with test-only speedups."""

import os

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production")
# `make run` writes a .env with DEBUG=true, which settings read for whatever the environment
# leaves unset: the servers the suite starts would then show Django's debug pages, not ours.
# Set here, the environment wins over .env, and the server processes inherit it; a test that
# wants DEBUG sets it on its server's environment.
os.environ.setdefault("DEBUG", "false")

from webgame.settings import *  # noqa: F403
from webgame.settings import BASE_DIR, DATABASES, env

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not :memory:, so that daphne and Celery processes started by tests share it; one
    # per test run (pid), so two runs in one checkout never delete each other's database.
    (BASE_DIR / ".run").mkdir(exist_ok=True)
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / ".run" / f"test-db-{os.getpid()}.sqlite3")}
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
WHITENOISE_USE_FINDERS = True
DEMO_GAMES = []
# Threads the suite starts (sync_to_async executors, the in-thread Celery worker) must not
# keep connections open, or PostgreSQL cannot drop the test database at the end. The servers
# the suite starts as processes (stats.tests.support) keep theirs, as in production: they
# stop before the database is dropped, and a new PostgreSQL session per query made their
# WebSocket connects several times dearer than production's.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("WEBGAME_TEST_CONN_MAX_AGE", default=0)
# The suite's servers serve many viewers and anonymous reads from 127.0.0.1 alone: the caps
# and the anonymous read limit are off unless a test (or its server's env) sets them.
WS_MAX_PER_ADDRESS = env.int("WS_MAX_PER_ADDRESS", default=0)
WS_MAX_PER_USER = env.int("WS_MAX_PER_USER", default=0)
WS_MAX_INGEST_PER_ADDRESS = env.int("WS_MAX_INGEST_PER_ADDRESS", default=0)
API_ANON_READ_RATE = env.int("API_ANON_READ_RATE", default=100000000)
# Users' ids repeat from test to test while the Redis counters live on: chat's per-user
# limit is off unless a test sets it.
CHAT_RATE_LIMIT = env.int("CHAT_RATE_LIMIT", default=100000000)
# The suite logs in from 127.0.0.1 in many tests, and Redis counters outlive each test: the
# login lockout and the sign-up limit are off unless a test (stats/tests/test_login_throttle.py)
# or its server's env sets them.
LOGIN_MAX_FAILURES = env.int("LOGIN_MAX_FAILURES", default=100000000)
SIGNUP_RATE = env.int("SIGNUP_RATE", default=100000000)

"""Shared fixtures: the suite runs against real parts (Valkey, daphne, Celery, Chromium)."""

import asyncio
import gc
import logging
import os
import shutil

import pytest
from django.conf import settings

from stats import services
from stats.tests.games import game_make
from stats.tests.support import DaphneProc, UvicornProc, ValkeyProc, free_port, web_proc_running

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def redis_point_at(url: str) -> None:
    """Point every Redis user of this process (and its children) at `url`."""
    from channels.layers import channel_layers

    from worker import app

    os.environ["REDIS_URL"] = url
    settings.REDIS_URL = url
    settings.CELERY_BROKER_URL = url
    host = settings.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"][0]
    deadlines = {k: v for k, v in host.items() if k.startswith("socket_")}  # the settings' own
    settings.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"] = [{"address": url, **deadlines}]
    channel_layers.backends.clear()
    app.conf.broker_url = url


@pytest.fixture(scope="session", autouse=True)
def valkey():
    """One real Valkey server for the session (not the machine's Redis: a laptop has none)."""
    server = ValkeyProc().start()
    redis_point_at(server.url)
    yield server
    server.stop()


class AsyncioErrors(logging.Handler):
    """Keeps what asyncio reports through the loop's exception handler rather than raising it:
    "Task was destroyed but it is pending!", "Task exception was never retrieved", "Future
    exception was never retrieved", "Exception in callback ...", and the like."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def report(self) -> str:
        formatter = logging.Formatter("%(levelname)s %(name)s: %(message)s")
        return "\n\n".join(formatter.format(record) for record in self.records)


@pytest.fixture(scope="session")
def _gc_frozen():
    """Everything imported so far lives for the whole run: move it out of the collector's way,
    so that the gc.collect() after each test costs microseconds instead of ~0.15 s."""
    gc.collect()
    gc.freeze()
    yield
    gc.unfreeze()


@pytest.fixture(autouse=True)
def _asyncio_errors_fail(_gc_frozen):
    """Fail the test if asyncio logged an error while it ran (a pending task garbage-collected,
    an exception nobody retrieved, ...). Such records are often written when the task or future
    is finalized, which may be after the test's last line: collect garbage before looking (and
    so that pytest reports an unraisable exception of this test's garbage here, not in the next).
    Set up before the test's other fixtures, so it looks after their teardown (event loops,
    servers) too. The warning filters in pyproject.toml cover the other kinds (unraisable
    exceptions, crashed threads, coroutines never awaited)."""
    handler = AsyncioErrors()
    logger = logging.getLogger("asyncio")
    logger.addHandler(handler)
    try:
        yield
        for _ in range(3):  # a finalizer may leave garbage of its own (a coroutine it created)
            if not gc.collect():
                break
    finally:
        logger.removeHandler(handler)
    if handler.records:
        pytest.fail(f"asyncio logged {len(handler.records)} error(s) during this test:\n\n{handler.report()}")


@pytest.fixture(autouse=True)
def _fresh_key_counts():
    # The POSTs' per-key counts live for the process (stats.ingest.keyrate): a test that lowers
    # the limit must not inherit another's half-reported count.
    from stats.ingest import keyrate

    keyrate.shared_clear()


@pytest.fixture(autouse=True)
def _fresh_channel_layer():
    # channels_redis pools belong to an event loop; each async test has its own loop.
    from channels.layers import channel_layers

    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


@pytest.fixture
def game(db):
    """A game of this test's own (slug "arena-<random>"): see stats/tests/games.py."""
    return game_make(prefix="arena", name="Arena")


@pytest.fixture
def api_key(game):
    return services.api_key_create(game=game, name="test")[1]


@pytest.fixture(scope="session")
def asgi_server(django_db_setup, django_db_blocker, valkey):
    """daphne in a child process, serving the real ASGI app from the test database."""
    with web_proc_running(DaphneProc, django_db_blocker, valkey) as server:
        yield server


@pytest.fixture(scope="module")
def web(django_db_setup, django_db_blocker, valkey):
    """A uvicorn web process (as the Procfile runs it), one per test module that asks: the
    demo's game server sends its events to it (test_simulator, test_tasks)."""
    with web_proc_running(UvicornProc, django_db_blocker, valkey) as server:
        yield server


@pytest.fixture
def live(asgi_server, transactional_db):
    """The daphne server, for a test whose writes must be committed to be seen by it."""
    if asgi_server.popen is None or asgi_server.popen.poll() is not None:
        asgi_server.start()
    return asgi_server


@pytest.fixture
def celery_worker(transactional_db):
    """A real Celery worker (in a thread of this process) on the test Valkey broker."""
    from celery.contrib.testing.worker import start_worker

    from worker import app

    # Celery's worker set-up reconfigures logging (the root logger's level to ERROR, and it
    # may disable loggers it does not know): later tests would see no warnings. Put it back.
    root_level = logging.getLogger().level
    loggers = {name: logger.disabled for name, logger in logging.Logger.manager.loggerDict.items()
               if isinstance(logger, logging.Logger)}  # fmt: skip
    try:
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10) as worker:
            yield worker
    finally:
        logging.getLogger().setLevel(root_level)
        for name, disabled in loggers.items():
            logging.getLogger(name).disabled = disabled


@pytest.fixture(scope="module")
def browser():
    """Debian's headless Chromium driven by Playwright (never Playwright's own download).

    Module-scoped on purpose: while Playwright's sync API is open, its event loop counts as
    running in this thread, so Django refuses ORM calls (SynchronousOnlyOperation) in every
    later test; closing it with the module confines that to the browser tests, which are
    allowed blocking ORM calls between browser steps."""
    if not shutil.which(CHROMIUM) and not os.path.exists(CHROMIUM):
        if os.environ.get("WEBGAME_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium); browser tests skipped")
    from playwright.sync_api import sync_playwright

    with pytest.MonkeyPatch.context() as patch, sync_playwright() as pw:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, live):
    context = browser.new_context(base_url=live.url, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture(scope="session", autouse=True)
def _pg_test_sessions_ended(django_db_setup, django_db_blocker):
    """Worker threads of this process (asgiref executors) may still hold an idle session to
    the test database at the end, and PostgreSQL refuses to drop a database in use. End such
    leftovers before pytest-django drops it, and say how many there were."""
    yield
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid() AND state = 'idle'"
        )
        ended = cursor.fetchone()[0]
    if ended:
        print(f"\nended {ended} idle leftover session(s) on the test database before dropping it")


@pytest.fixture
async def uvicorn_app(transactional_db, request):
    """The real ASGI app under uvicorn in this process, with the production flags of
    docs/deploy.md (parametrize `deflate` to offer permessage-deflate instead)."""
    import uvicorn

    from webgame.asgi import application

    deflate = getattr(request, "param", False)
    config = uvicorn.Config(
        application,
        host="127.0.0.1",
        port=free_port(),
        http="httptools",
        ws="websockets-sansio",
        ws_per_message_deflate=deflate,
        ws_max_size=1048576,  # the Procfile's cap (uvicorn's default is 16 MiB)
        lifespan="off",
        log_level="warning",
    )
    server = uvicorn.Server(config)
    task = asyncio.ensure_future(server.serve())
    while not server.started:
        assert not task.done(), "uvicorn did not start"
        await asyncio.sleep(0.02)
    yield config.port
    server.should_exit = True
    await asyncio.wait_for(task, 10)

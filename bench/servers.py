"""Processes under test: the embedded Valkey, the app under daphne or uvicorn, the baselines.
Every server binds 127.0.0.1 on a free port of the range given, and is stopped by its pid."""

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


def port_free(base: int, span: int = 100) -> int:
    for port in range(base, base + span):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {base}..{base + span - 1}")


def port_wait(port: int, proc: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args[:3]} exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port} after {timeout}s")


def cpu_seconds(pids: list[int]) -> float:
    """utime + stime of the processes (all their threads), read from /proc."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / CLK_TCK


def rss_kb(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_KB
        except FileNotFoundError:
            continue
    return total


def pinned(cmd: list[str], cpus: str | None) -> list[str]:
    return ["taskset", "-c", cpus, *cmd] if cpus and shutil.which("taskset") else cmd


class Proc:
    """A child process in its own session, stopped by its pid on exit."""

    def __init__(self, name: str, cmd: list[str], env: dict, port: int | None, log: Path) -> None:
        self.name, self.port = name, port
        self.log = log.open("ab")
        self.popen = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=self.log, stderr=self.log, start_new_session=True)
        if port is not None:
            port_wait(port, self.popen)

    @property
    def pids(self) -> list[int]:
        return [self.popen.pid]

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self.log.close()


class Stack:
    """Valkey + a database + the servers of one benchmark run, all torn down together."""

    def __init__(self, args) -> None:
        self.args = args
        self.tmp = Path(tempfile.mkdtemp(prefix="webgame-bench-"))
        self.procs: list[Proc] = []
        self.redis_port = port_free(args.redis_port)
        self.redis_url = f"redis://127.0.0.1:{self.redis_port}/0"
        valkey = [PY, "scripts/embedded_valkey.py"]
        self.valkey = self.start("valkey", valkey, port=self.redis_port, cpus=args.client_cpus)

    def env(self, **extra) -> dict:
        env = dict(os.environ)
        env.update(
            DEBUG="false",
            SECRET_KEY="bench-only-not-secret",
            ALLOWED_HOSTS="127.0.0.1,localhost",
            REDIS_URL=self.redis_url,
            DATABASE_URL=extra.pop("DATABASE_URL", f"sqlite:///{self.tmp}/bench.sqlite3"),
            LOG_LEVEL="WARNING",
            DEMO_GAMES="",
            # The benchmarks measure throughput, not the per-key limiter (1,200/min by
            # default): a single-event ingest row alone posts more than that.
            API_RATE_LIMIT="100000000",
            # A thousand viewers come from 127.0.0.1: the per-address socket cap is off here.
            WS_MAX_PER_ADDRESS="0",
            WS_MAX_INGEST_PER_ADDRESS="0",  # and so is the game servers' own (issue #19)
            WS_MAX_PER_USER="0",
            PYTHONPATH=str(ROOT),
        )
        env.update(extra)
        return env

    def start(self, name: str, cmd: list[str], port: int | None = None, cpus: str | None = None, **env) -> Proc:
        proc = Proc(name, pinned(cmd, cpus), self.env(**env), port, self.tmp / f"{name}.log")
        self.procs.append(proc)
        return proc

    def django(self, *argv: str, **env) -> str:
        out = subprocess.run(
            [PY, "-m", "bench.djsetup", *argv], env=self.env(**env), cwd=ROOT, capture_output=True, text=True
        )
        if out.returncode:
            raise RuntimeError(f"bench.djsetup {argv} failed:\n{out.stderr[-2000:]}")
        return out.stdout

    def games_create(self, slugs: list[str], **env) -> dict[str, str]:
        """Migrates the database if needed; returns {slug: api key}."""
        return json.loads(self.django(*slugs, **env))

    def web(self, server: str, name: str = "web", cpus: str | None = None, **env) -> Proc:
        port = port_free(self.args.port)
        http_port = port_free(port + 1) if server == "raw" else port
        cmd = server_command(server, port, http_port)
        proc = self.start(name, cmd, port=port, cpus=cpus if cpus is not None else self.args.server_cpus, **env)
        proc.http_port = http_port
        return proc

    def stop(self, proc: Proc) -> None:
        proc.stop()
        self.procs.remove(proc)

    def close(self) -> None:
        for proc in reversed(self.procs):
            proc.stop()
        if os.environ.get("BENCH_KEEP_LOGS"):
            print(f"logs kept in {self.tmp}")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)


def server_command(server: str, port: int, http_port: int) -> list[str]:
    p = str(port)
    if server == "daphne":
        return [PY, "-m", "daphne", "-b", "127.0.0.1", "-p", p, "webgame.asgi:application"]
    if server == "uvicorn":
        return [
            *[PY, "-m", "uvicorn", "webgame.asgi:application", "--host", "127.0.0.1", "--port", p],
            *["--loop", "uvloop", "--http", "httptools", "--ws", "websockets-sansio"],
            *["--ws-per-message-deflate", "false"],  # as in docs/deploy.md
            *["--no-access-log", "--lifespan", "off", "--log-level", "warning"],
        ]
    if server == "naive":
        return [PY, "-m", "daphne", "-b", "127.0.0.1", "-p", p, "bench.baselines.naive_consumer:application"]
    if server == "raw":
        return [PY, "-m", "bench.baselines.raw_ws", "--port", p, "--http-port", str(http_port)]
    raise ValueError(server)


@contextmanager
def stack(args):
    s = Stack(args)
    try:
        yield s
    finally:
        s.close()

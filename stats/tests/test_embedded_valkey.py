"""scripts/embedded_valkey.py, the Procfile's `redis` process: a supervisor that starts the
server again when it dies (honcho would otherwise stop the whole stack), and stops cleanly."""

import os
import signal
import subprocess
import sys
import time

import pytest
import redis

from stats.tests.support import ROOT, free_port

pytestmark = pytest.mark.timeout(60)


def wait_until(check, *, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            found = check()
        except (redis.RedisError, OSError):
            found = None
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"{what}: not within {timeout}s")


def server_pid(client: redis.Redis) -> int:
    return int(client.info("server")["process_id"])


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped) counts as gone.
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()[0] != "Z"


@pytest.fixture
def supervised(tmp_path):
    port = free_port()
    log_path = tmp_path / "embedded-valkey.log"
    env = {**os.environ, "REDIS_URL": f"redis://127.0.0.1:{port}/0"}
    with open(log_path, "wb") as log:
        # Its own session, as honcho starts it, so that cleanup can end the group.
        proc = subprocess.Popen(
            [sys.executable, "scripts/embedded_valkey.py"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    client = redis.Redis(port=port, socket_connect_timeout=1, socket_timeout=1)
    try:
        yield proc, client, log_path
    finally:
        client.close()
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_a_killed_server_is_restarted_on_the_same_port_and_sigterm_stops_both(supervised):
    proc, client, log_path = supervised
    first = wait_until(lambda: client.ping() and server_pid(client), timeout=20, what="the first server's PING")

    os.kill(first, signal.SIGKILL)
    second = wait_until(
        lambda: (pid := server_pid(client)) != first and pid, timeout=20, what="a new server on the same port"
    )
    assert client.ping()
    assert proc.poll() is None, "the supervisor exited when its server was killed"
    log = log_path.read_text()
    assert "server killed by SIGKILL; restarting in 0.5s" in log, log

    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=15) == 0, log_path.read_text()
    wait_until(lambda: not pid_alive(second), timeout=5, what="the server gone after the supervisor's SIGTERM")
    assert "stopped" in log_path.read_text()


def test_a_server_that_keeps_dying_is_restarted_with_a_growing_delay():
    import importlib.util

    spec = importlib.util.spec_from_file_location("embedded_valkey", ROOT / "scripts" / "embedded_valkey.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    delays, delay = [], 0.0
    for _ in range(7):
        delay = module.delay_next(delay, ran_for=0.1)
        delays.append(delay)
    assert delays == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    assert module.delay_next(10.0, ran_for=module.STABLE_SECONDS) == 0.5  # a long run starts over
    assert module.exit_describe(-9) == "killed by SIGKILL" and module.exit_describe(1) == "exited with code 1"

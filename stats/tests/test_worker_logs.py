"""What `make run` prints from Celery (worker/logquiet.py, issue #18): the demo's per-burst
lines (beat's "Sending due task", the worker's "received" and "succeeded") at DEBUG, so they do
not show at the Procfile's --loglevel INFO, while INFO lines of substance and the task's own
warnings still do. A real worker (prefork, as the Procfile runs it) and a real beat, on a
Valkey of the test's own."""

import logging
import os
import re
import socket
import subprocess
import sys
import threading
import time
import uuid

import pytest
import redis
from django.db import connection

from stats import services
from stats.tests.support import ROOT, ValkeyProc, database_url, free_port
from worker.logquiet import RoutineTaskFilter

BURST_WARNING = re.compile(r"WARNING/\S+\] demo (\S+): events not acked within")


def celery_start(kind: str, args: list[str], env: dict[str, str], log_path) -> subprocess.Popen:
    with open(log_path, "wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "worker", kind, "--loglevel", "INFO", *args],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def warnings_wait(log_path, slug: str, count: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if BURST_WARNING.findall(log_path.read_text(errors="replace")).count(slug) >= count:
            return
        time.sleep(0.1)
    raise AssertionError(f"{count} burst warnings not logged within {timeout}s:\n{log_path.read_text()[-3000:]}")


@pytest.mark.timeout(120)
def test_make_run_shows_no_per_burst_line_but_still_info_and_warnings(transactional_db, tmp_path):
    slug = f"logs-{uuid.uuid4().hex[:8]}"
    services.game_create(slug=slug, name="Logs")
    broker = ValkeyProc().start()
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "CELERY_BROKER_URL")},
        # The Procfile's settings (test_settings turns the demo off), on the test database.
        "DJANGO_SETTINGS_MODULE": "webgame.settings",
        "SECRET_KEY": "test-only-secret-key-not-for-production",
        "DEBUG": "false",
        "DATABASE_URL": database_url(connection.settings_dict),
        "REDIS_URL": broker.url,
        "CONN_MAX_AGE": "0",
        "DEMO_GAMES": slug,
        # Nothing listens there: each burst ends with the simulator's warning (not acked).
        "DEMO_SERVER_URL": f"http://127.0.0.1:{free_port()}",
    }
    worker_log, beat_log = tmp_path / "worker.log", tmp_path / "beat.log"
    flags = ["--concurrency", "1", "--without-heartbeat", "--without-mingle", "--without-gossip"]
    worker = celery_start("worker", flags, env, worker_log)
    beat = celery_start("beat", ["--schedule", str(tmp_path / "beat-schedule")], env, beat_log)
    try:
        warnings_wait(worker_log, slug, count=2, timeout=60)  # two bursts played, each warned
    finally:
        for proc in (beat, worker):
            proc.terminate()
        for proc in (beat, worker):
            proc.wait(timeout=30)
        broker.stop()
    worker_text, beat_text = worker_log.read_text(), beat_log.read_text()
    assert "stats.tasks.demo_simulate[" not in worker_text, worker_text[-3000:]  # received, succeeded, discarded
    assert "Sending due task demo-simulate" not in beat_text, beat_text[-3000:]
    assert re.search(r"INFO/MainProcess\] celery@\S+ ready", worker_text), worker_text[-3000:]  # INFO still shows
    assert "INFO/MainProcess] beat: Starting..." in beat_text, beat_text[-3000:]


class ClosingListener:
    """A port where every connection is accepted and closed at once, counted: a broker that is
    not there, whose callers the test can count."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_server(("127.0.0.1", port))
        self.accepted = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            conn.close()
            self.accepted += 1

    def close(self) -> None:
        if self.sock.fileno() != -1:
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes accept()
            self.sock.close()


def until(check, *, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := check():
            return found
        time.sleep(0.05)
    raise AssertionError(f"{what}: not within {timeout}s")


@pytest.mark.timeout(120)
def test_beat_says_once_that_the_broker_is_unreachable_and_sends_again_when_it_is_back(tmp_path):
    broker = ValkeyProc().start()
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "CELERY_BROKER_URL")},
        "DJANGO_SETTINGS_MODULE": "webgame.settings",
        "SECRET_KEY": "test-only-secret-key-not-for-production",
        "DEBUG": "false",
        "REDIS_URL": broker.url,
    }
    beat_log = tmp_path / "beat.log"
    beat = celery_start("beat", ["--schedule", str(tmp_path / "beat-schedule")], env, beat_log)
    listener = None
    try:
        with redis.Redis.from_url(broker.url) as client:
            until(lambda: client.llen("celery"), timeout=60, what="beat's first send")
        broker.stop()  # lost while beat runs, as when the embedded Valkey dies under make run
        listener = ClosingListener(broker.port)
        # The demo's sends every 0.5 s, each tried twice (the publish retry): 8 connections
        # are at least three failed sends.
        until(lambda: listener.accepted >= 8, timeout=60, what="beat's sends to a missing broker")
        listener.close()
        broker.start()  # the same port, empty
        with redis.Redis.from_url(broker.url) as client:
            until(lambda: client.llen("celery"), timeout=60, what="a send once the broker is back")
    finally:
        beat.terminate()
        beat.wait(timeout=30)
        if listener is not None:
            listener.close()
        broker.stop()
    log = beat_log.read_text()
    assert log.count("broker unreachable, scheduled tasks not sent until it is back") == 1, log[-3000:]
    assert "Traceback" not in log and "Message Error" not in log, log[-3000:]


def record(msg: str, args, level: int = logging.INFO, name: str = "celery.app.trace") -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, msg, args, None)


def test_only_routine_tasks_received_succeeded_and_sending_lines_are_demoted():
    from celery.app.trace import LOG_RECEIVED, LOG_SUCCESS

    quiet = RoutineTaskFilter()
    demo = record(LOG_SUCCESS, ({"name": "stats.tasks.demo_simulate", "id": "x", "runtime": 0.1, "return_value": 3},))
    assert not quiet.filter(demo) and demo.levelname == "DEBUG"  # INFO loggers drop it
    other = record(LOG_RECEIVED, ({"name": "stats.tasks.something_else", "id": "x"},))
    assert quiet.filter(other) and other.levelname == "INFO"
    sending = record("Scheduler: Sending due task %s (%s)", ("demo-simulate", "stats.tasks.demo_simulate"))
    assert not quiet.filter(sending)
    expired = record("Discarding revoked task: %s[%s]", ("stats.tasks.demo_simulate", "x"), name="celery.worker")
    assert not quiet.filter(expired)
    warning = record("demo %s: events not acked", ("demo",), level=logging.WARNING, name="stats.simulator")
    assert quiet.filter(warning) and warning.levelname == "WARNING"


def test_a_send_that_fails_for_another_reason_keeps_its_traceback():
    from worker.logquiet import BEAT_SEND_FAILED, BeatOutageFilter

    try:
        raise ValueError("a bad argument")
    except ValueError as exc:
        failed = logging.LogRecord("celery.beat", logging.ERROR, "", 1, BEAT_SEND_FAILED, (exc, []), sys.exc_info())
    assert BeatOutageFilter().filter(failed) and failed.exc_info is not None and failed.msg == BEAT_SEND_FAILED

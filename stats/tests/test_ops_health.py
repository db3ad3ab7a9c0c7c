"""/healthz and /readyz (issue #14): liveness without I/O, readiness from a SELECT 1 and a
Redis PING with short timeouts; against a real server whose Redis is killed and started
again, and in this process for a failing database and a Redis that hangs."""

import json
import socket
import time
import urllib.error
import urllib.request
from types import SimpleNamespace

import pytest
from django.db import OperationalError, connection
from django.test import Client

from stats.ops import views
from stats.tests.support import UvicornProc, ValkeyProc, database_url

WAIT = 20


def get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def until(probe, condition, timeout: float = WAIT):
    """Probe until `condition(answer)` holds, at most `timeout` seconds; the last answer."""
    deadline = time.monotonic() + timeout
    while True:
        answer = probe()
        if condition(answer) or time.monotonic() > deadline:
            return answer
        time.sleep(0.1)


@pytest.fixture
def stack(transactional_db):
    """uvicorn on a Valkey of its own, which the test may kill and start again."""
    valkey = ValkeyProc().start()
    web = UvicornProc(database_url=database_url(connection.settings_dict), redis_url=valkey.url).start()
    yield web, valkey
    web.stop()
    valkey.stop()


def test_a_server_with_redis_killed_is_live_but_not_ready_and_ready_again_after_restart(stack):
    web, valkey = stack
    assert get(f"{web.url}/readyz") == (200, {"database": "ok", "redis": "ok"})
    valkey.kill()
    assert get(f"{web.url}/healthz") == (200, {"status": "ok"})  # the process is fine: no restart
    started = time.monotonic()
    status, body = get(f"{web.url}/readyz")
    assert time.monotonic() - started < 3  # short timeouts: a probe is answered in time
    assert status == 503
    assert body["database"] == "ok" and body["redis"] == "failed"
    assert body["reason"].startswith("redis: ") and "Connection" in body["reason"], body
    valkey.start()  # the same port
    assert until(lambda: get(f"{web.url}/readyz"), lambda a: a[0] == 200) == (200, {"database": "ok", "redis": "ok"})
    assert get(f"{web.url}/healthz") == (200, {"status": "ok"})
    log = web.log()
    assert "Traceback" not in log, log[-3000:]
    # One line when readiness was lost and one when it came back, not one per probe.
    assert log.count("not ready: redis") == 1 and log.count("ready again") == 1, log[-3000:]


@pytest.mark.django_db
def test_healthz_does_no_io(django_assert_num_queries, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # would fail if it were asked
    with django_assert_num_queries(0):
        response = Client().get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}
    assert response["Cache-Control"].startswith("max-age=0")


@pytest.mark.django_db
def test_readyz_answers_ok_when_both_answer():
    response = Client().get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"database": "ok", "redis": "ok"}


@pytest.mark.django_db
def test_readyz_names_the_database_when_it_fails(monkeypatch):
    def broken():
        raise OperationalError("could not connect to server")

    monkeypatch.setattr(views, "connection", SimpleNamespace(cursor=broken))  # not the test's own connection
    response = Client().get("/readyz")
    assert response.status_code == 503
    assert response.json() == {
        "database": "failed",
        "redis": "ok",
        "reason": "database: OperationalError",  # the message (hosts, ports) is logged, not shown
    }


@pytest.mark.django_db
def test_readyz_answers_in_time_when_redis_hangs(settings):
    """A Redis that accepts the connection and never answers: the PING times out."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # the kernel completes the handshake; nothing ever reads or answers
        settings.REDIS_URL = f"redis://127.0.0.1:{silent.getsockname()[1]}/0"
        started = time.monotonic()
        response = Client().get("/readyz")
        elapsed = time.monotonic() - started
    assert response.status_code == 503
    assert response.json()["redis"] == "failed" and response.json()["reason"] == "redis: TimeoutError"
    assert elapsed < 3 * views.REDIS_PROBE_TIMEOUT + 1


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics"])
def test_probes_keep_the_host_check(path, settings):
    """A load balancer probing by IP must send a Host that ALLOWED_HOSTS lists (docs/deploy.md)."""
    settings.ALLOWED_HOSTS = ["stats.example.com"]
    assert Client(HTTP_HOST="10.0.0.5").get(path).status_code == 400
    assert Client(HTTP_HOST="stats.example.com").get(path).status_code == 200


@pytest.mark.django_db
def test_probes_answer_only_reads():
    for path in ("/healthz", "/readyz"):
        assert Client().post(path).status_code == 405
        assert Client().head(path).status_code == 200

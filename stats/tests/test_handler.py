"""webgame.handler: Django's ASGI handler with pooled sync threads and a sync middleware chain."""

import threading
from asyncio import iscoroutinefunction

import pytest
from channels.testing import HttpCommunicator
from django.core.signals import request_finished, request_started
from django.http import HttpResponse, StreamingHttpResponse
from django.urls import path

from webgame.handler import PooledThreadASGIHandler

seen: list[tuple[str, int]] = []


def record_view(request):
    seen.append(("view", threading.get_ident()))
    return HttpResponse("ok")


urlpatterns = [path("t", record_view)]


class RecordingMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        seen.append(("middleware", threading.get_ident()))
        return self.get_response(request)


@pytest.fixture
def recording(settings):
    settings.ROOT_URLCONF = __name__
    settings.MIDDLEWARE = [
        f"{__name__}.RecordingMiddleware",
        "django.contrib.sessions.middleware.SessionMiddleware",
        f"{__name__}.RecordingMiddleware",
    ]
    seen.clear()
    return seen


def test_middleware_chain_is_built_sync_so_mixins_do_not_hop_threads(recording):
    assert not iscoroutinefunction(PooledThreadASGIHandler(threads=1)._middleware_chain)


@pytest.mark.django_db
async def test_requests_run_middleware_and_view_in_one_reused_pool_thread(recording):
    handler = PooledThreadASGIHandler(threads=1)
    for _ in range(3):
        comm = HttpCommunicator(handler, "GET", "/t")
        response = await comm.get_response()
        assert (response["status"], response["body"]) == (200, b"ok")
        await comm.wait()  # the handler's own tasks end with the request, not with the test's loop
    assert [kind for kind, _ in recording] == ["middleware", "middleware", "view"] * 3
    threads = {ident for _, ident in recording}
    assert len(threads) == 1 and threads != {threading.get_ident()}


def stream_view(request):
    async def body():
        for part in (b"a", b"b", b"c"):
            seen.append((f"chunk {part.decode()}", threading.get_ident()))
            yield part

    return StreamingHttpResponse(body())


urlpatterns.append(path("s", stream_view))


@pytest.fixture
def signals_recorded(recording):
    """request_started and request_finished, as their receivers (closing stale database
    connections among them) see them: in which thread, in what order."""

    def started(**kwargs):
        recording.append(("started", threading.get_ident()))

    def finished(**kwargs):
        recording.append(("finished", threading.get_ident()))

    request_started.connect(started)
    request_finished.connect(finished)
    yield recording
    request_started.disconnect(started)
    request_finished.disconnect(finished)


async def _get(handler, path: str) -> dict:
    comm = HttpCommunicator(handler, "GET", path)
    response = await comm.get_response()
    await comm.wait()
    return response


@pytest.mark.django_db
async def test_one_hop_runs_start_chain_view_and_finish_in_the_requests_thread(signals_recorded):
    """A canary for handle(), which stands in for Django's: each request still fires
    request_started before its chain and request_finished after its view, once each, all in
    the request's pool thread (where the database connections they close live)."""
    handler = PooledThreadASGIHandler(threads=1)
    for _ in range(2):
        assert (await _get(handler, "/t"))["body"] == b"ok"
    kinds = ["started", "middleware", "middleware", "view", "finished"]
    assert [kind for kind, _ in signals_recorded] == kinds * 2
    threads = {ident for _, ident in signals_recorded}
    assert len(threads) == 1 and threads != {threading.get_ident()}


@pytest.mark.django_db
async def test_a_streamed_response_is_closed_only_after_its_body_is_sent(signals_recorded):
    handler = PooledThreadASGIHandler(threads=1)
    sent: list[dict] = []
    received = iter([{"type": "http.request", "body": b""}])

    async def receive():
        return next(received)

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": "/s", "query_string": b"", "headers": [], "server": ("t", 80)}
    await handler(scope, receive, send)
    assert sent[0]["status"] == 200 and b"".join(m.get("body", b"") for m in sent[1:]) == b"abc"
    kinds = [kind for kind, _ in signals_recorded]
    assert kinds == ["started", "middleware", "middleware", "chunk a", "chunk b", "chunk c", "finished"]

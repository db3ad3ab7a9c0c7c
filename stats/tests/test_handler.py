"""webgame.handler: Django's ASGI handler with pooled sync threads and a sync middleware chain."""

import threading
from asyncio import iscoroutinefunction

import pytest
from channels.testing import HttpCommunicator
from django.http import HttpResponse
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

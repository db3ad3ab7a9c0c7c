"""webgame.handler: Django's own ASGIHandler, with only the executor of its sync code changed."""

import hashlib
import inspect
import threading

import django
import pytest
from channels.testing import HttpCommunicator
from django.core.handlers.asgi import ASGIHandler
from django.core.signals import request_finished, request_started
from django.http import HttpResponse
from django.urls import path
from django.utils.deprecation import MiddlewareMixin

from webgame.handler import PooledExecutorASGIHandler

# The Django code the shim and webgame.middleware rely on, as read for each version checked.
# A new version fails here until someone re-checks, in django/core/handlers/asgi.py and
# django/utils/deprecation.py: that __call__ still enters ThreadSensitiveContext() and calls
# handle(); that handle still runs its sync work (request_started's receivers, response.close)
# through thread-sensitive sync_to_async and awaits every task it starts before returning (the
# shim's context is left at that point); and that MiddlewareMixin.__acall__ still only calls
# process_request, get_response and process_response (webgame.middleware.Inline replaces it).
# Then add the version's hashes here.
CHECKED = {
    "5.2.19": {"__call__": "f756809e9c9308dc", "handle": "98faeb5bef800331", "__acall__": "adf8cbcaf9f11e45"},
}


def source_hash(function) -> str:
    return hashlib.sha256(inspect.getsource(function).encode()).hexdigest()[:16]


def test_djangos_handler_is_the_one_the_shim_was_checked_against():
    installed = {
        "__call__": source_hash(ASGIHandler.__call__),
        "handle": source_hash(ASGIHandler.handle),
        "__acall__": source_hash(MiddlewareMixin.__acall__),
    }
    assert CHECKED.get(django.__version__) == installed, (
        f"Django {django.__version__}: ASGIHandler.__call__/handle or MiddlewareMixin.__acall__ is not "
        f"the code webgame.handler and webgame.middleware were checked against; re-check them as "
        f"this module's CHECKED comment says, then add {installed}"
    )


seen: list[tuple[str, int]] = []


def sync_view(request):
    seen.append(("view", threading.get_ident()))
    return HttpResponse("ok")


async def async_view(request):
    seen.append(("async view", threading.get_ident()))
    return HttpResponse("async")


urlpatterns = [path("t", sync_view), path("a", async_view)]


@pytest.fixture
def recorded(settings):
    settings.ROOT_URLCONF = __name__
    settings.MIDDLEWARE = ["webgame.middleware.SessionMiddleware"]
    seen.clear()

    def started(**kwargs):
        seen.append(("started", threading.get_ident()))

    def finished(**kwargs):
        seen.append(("finished", threading.get_ident()))

    request_started.connect(started)
    request_finished.connect(finished)
    yield seen
    request_started.disconnect(started)
    request_finished.disconnect(finished)


async def _get(handler, path: str) -> dict:
    comm = HttpCommunicator(handler, "GET", path)
    response = await comm.get_response()
    await comm.wait()  # the handler's own tasks end with the request, not with the test's loop
    return response


@pytest.mark.django_db
async def test_sync_code_of_every_request_runs_in_one_long_lived_thread(recorded):
    """Signals and a sync view, request after request, in the pool's one thread (where the
    database connection lives on), never the loop's."""
    handler = PooledExecutorASGIHandler(threads=1)
    for _ in range(3):
        assert (await _get(handler, "/t"))["body"] == b"ok"
    assert [kind for kind, _ in recorded] == ["started", "view", "finished"] * 3
    threads = {ident for _, ident in recorded}
    assert len(threads) == 1 and threads != {threading.get_ident()}
    assert threading.current_thread().name != "django-sync-0"
    assert any(t.ident in threads and t.name.startswith("django-sync-") for t in threading.enumerate())


@pytest.mark.django_db
async def test_an_async_view_runs_on_the_loop(recorded):
    handler = PooledExecutorASGIHandler(threads=1)
    assert (await _get(handler, "/a"))["body"] == b"async"
    assert ("async view", threading.get_ident()) in recorded


release, entered = threading.Event(), threading.Event()


def held_view(request):
    entered.set()
    release.wait(30)
    seen.append(("held view", threading.get_ident()))
    return HttpResponse("held")


urlpatterns.append(path("held", held_view))


@pytest.mark.django_db
async def test_requests_beyond_the_threads_wait_for_a_free_one(recorded):
    import asyncio

    handler = PooledExecutorASGIHandler(threads=1)
    free, waiting = handler._pool(), asyncio.Event()
    real_get = free.get

    async def get():
        if free.empty():
            waiting.set()  # a request waits for the pool's one thread
        return await real_get()

    free.get = get
    release.clear(), entered.clear()
    held = asyncio.ensure_future(_get(handler, "/held"))
    assert await asyncio.to_thread(entered.wait, 30)
    second = asyncio.ensure_future(_get(handler, "/t"))
    await asyncio.wait_for(waiting.wait(), 10)
    release.set()
    assert (await held)["body"] == b"held" and (await second)["body"] == b"ok"
    views = [kind for kind, _ in recorded if "view" in kind]
    assert views == ["held view", "view"]  # the second ran only once the one thread was free

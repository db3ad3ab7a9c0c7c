"""webgame.middleware: the settings' middleware chain runs on Django's async chain with no hop
to a thread, and still goes to the request's thread where a hook may write."""

import pytest
from asgiref.sync import SyncToAsync
from channels.testing import HttpCommunicator
from django.contrib import messages
from django.core import signals
from django.db import close_old_connections, reset_queries
from django.http import HttpResponse
from django.test import AsyncRequestFactory
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from webgame.handler import PooledExecutorASGIHandler
from webgame.middleware import WhiteNoiseMiddleware


async def async_view(request):
    return HttpResponse("async")


@csrf_exempt
def session_view(request):
    request.session["visits"] = request.session.get("visits", 0) + 1
    messages.info(request, "stored")
    return HttpResponse(str(request.session["visits"]))


def guarded_view(request):
    return HttpResponse("accepted")


urlpatterns = [path("a", async_view), path("s", session_view), path("g", guarded_view)]


@pytest.fixture
def chain(settings, monkeypatch):
    """The settings' own MIDDLEWARE, this module's views, and thread hops counted."""
    settings.ROOT_URLCONF = __name__
    hops: list[str] = []
    original = SyncToAsync.__call__

    async def counted(this, *args, **kwargs):
        hops.append(getattr(this.func, "__qualname__", repr(this.func)))
        return await original(this, *args, **kwargs)

    monkeypatch.setattr(SyncToAsync, "__call__", counted)
    # As a serving process has it (webgame.serving): request_started with no sync receiver.
    signals.request_started.disconnect(close_old_connections)
    signals.request_started.disconnect(reset_queries)
    yield hops
    signals.request_started.connect(close_old_connections)
    signals.request_started.connect(reset_queries)


async def call(handler, method: str, path: str, headers=None) -> dict:
    comm = HttpCommunicator(handler, method, path, headers=[(b"host", b"localhost"), *(headers or [])])
    response = await comm.get_response()
    await comm.wait()
    return response


@pytest.mark.django_db
async def test_an_async_view_through_every_middleware_hops_once_to_close_its_response(chain):
    response = await call(PooledExecutorASGIHandler(threads=1), "GET", "/a")
    assert (response["status"], response["body"]) == (200, b"async")
    headers = {k.lower() for k, _ in response["headers"]}
    assert {b"content-security-policy", b"x-frame-options", b"x-content-type-options"} <= headers
    assert chain == ["HttpResponseBase.close"]  # Django's handler; nothing of the chain


@pytest.mark.django_db(transaction=True)
async def test_a_modified_session_and_a_message_are_saved_in_the_requests_thread(chain):
    handler = PooledExecutorASGIHandler(threads=1)
    first = await call(handler, "POST", "/s")
    cookies = [v.decode() for k, v in first["headers"] if k.lower() == b"set-cookie"]
    session = next(c.split(";")[0] for c in cookies if c.startswith("sessionid="))
    assert "SessionMiddleware.process_response" in chain
    second = await call(handler, "POST", "/s", [(b"cookie", session.encode())])
    assert second["body"] == b"2"  # the first request's session was stored, and read back


@pytest.mark.django_db
async def test_csrf_still_refuses_a_form_post_without_its_token(chain):
    response = await call(PooledExecutorASGIHandler(threads=1), "POST", "/g")
    assert response["status"] == 403 and "CsrfViewMiddleware.process_view" not in chain


async def test_whitenoise_serves_a_file_asynchronously_and_passes_the_rest_on(tmp_path, settings):
    (tmp_path / "app.css").write_text("body{}")
    settings.WHITENOISE_AUTOREFRESH = False

    async def inner(request):
        return HttpResponse("inner")

    middleware = WhiteNoiseMiddleware(inner)
    middleware.add_files(str(tmp_path), prefix="static/")
    factory = AsyncRequestFactory()
    served = await middleware(factory.get("/static/app.css"))
    assert served.status_code == 200 and b"".join(served.streaming_content) == b"body{}"
    assert (await middleware(factory.get("/other"))).content == b"inner"

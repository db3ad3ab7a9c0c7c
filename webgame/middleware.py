"""Middleware that runs on Django's async chain without a thread hop (settings.MIDDLEWARE).

Under ASGI, Django builds the middleware chain async. A MiddlewareMixin then runs its
process_request and process_response each through sync_to_async, and a sync-only middleware
(WhiteNoise's) forces a switch back: a dozen hand-offs to the request's thread and back per
request, each a round trip of futures on the event loop, the core every POST shares. The hooks
of the middlewares below are pure Python (headers, cookies, lazy objects: no database, no
I/O), so they run where they are called. Where one may write (a modified session, stored
messages), it still goes to the request's thread. Django documents both modes
("Asynchronous support" in its middleware docs); nothing of its handler is changed.
"""

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.conf import settings
from django.contrib.auth import middleware as auth
from django.contrib.messages import middleware as messages
from django.contrib.sessions import middleware as sessions
from django.middleware import clickjacking, common, csrf, security
from whitenoise import middleware as whitenoise


class HookMiddleware:
    """Our own middlewares: before(request) may answer, after(request, response) may change the
    answer; both pure Python, so the same code serves the sync and the async chain."""

    sync_capable = async_capable = True

    def __init__(self, get_response) -> None:
        self.get_response = get_response
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)  # so Django awaits this instance instead of wrapping it

    def __call__(self, request):
        if self.async_mode:
            return self.__acall__(request)
        response = self.before(request)
        return self.after(request, self.get_response(request) if response is None else response)

    async def __acall__(self, request):
        response = self.before(request)
        return self.after(request, await self.get_response(request) if response is None else response)

    def before(self, request):
        return None

    def after(self, request, response):
        return response


class Inline:
    """Mixed into a MiddlewareMixin whose hooks are pure Python: its async call without the two
    sync_to_async hops. A response hook that may write says so in needs_thread."""

    def needs_thread(self, request, response) -> bool:
        return False

    async def __acall__(self, request):
        response = self.process_request(request) if hasattr(self, "process_request") else None
        response = response or await self.get_response(request)
        if not hasattr(self, "process_response"):
            return response
        if self.needs_thread(request, response):
            return await sync_to_async(self.process_response, thread_sensitive=True)(request, response)
        return self.process_response(request, response)


class SecurityMiddleware(Inline, security.SecurityMiddleware):
    pass


class CommonMiddleware(Inline, common.CommonMiddleware):
    pass


class XFrameOptionsMiddleware(Inline, clickjacking.XFrameOptionsMiddleware):
    pass


class AuthenticationMiddleware(Inline, auth.AuthenticationMiddleware):
    pass  # request.user stays lazy: it is read (from the database) where a view asks


class SessionMiddleware(Inline, sessions.SessionMiddleware):
    def needs_thread(self, request, response) -> bool:
        session = getattr(request, "session", None)
        return session is not None and (session.modified or settings.SESSION_SAVE_EVERY_REQUEST)


class MessageMiddleware(Inline, messages.MessageMiddleware):
    def needs_thread(self, request, response) -> bool:
        storage = getattr(request, "_messages", None)  # stored in the session: may load it
        return storage is not None and (storage.used or storage.added_new)


class CsrfViewMiddleware(Inline, csrf.CsrfViewMiddleware):
    def __init__(self, get_response) -> None:
        super().__init__(get_response)
        if self.async_mode:  # Django wraps a sync process_view in sync_to_async: one more hop
            self.process_view = self._process_view_async

    async def _process_view_async(self, request, callback, callback_args, callback_kwargs):
        return csrf.CsrfViewMiddleware.process_view(self, request, callback, callback_args, callback_kwargs)


class WhiteNoiseMiddleware(whitenoise.WhiteNoiseMiddleware):
    """WhiteNoise 6 is sync only: async here, a file opened in a thread only when one is served."""

    async_capable = True

    def __init__(self, get_response=None, settings=settings) -> None:
        super().__init__(get_response, settings)
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    def __call__(self, request):
        return self.__acall__(request) if self.async_mode else super().__call__(request)

    async def __acall__(self, request):
        if self.autorefresh:  # development: looks on disk
            static_file = await sync_to_async(self.find_file, thread_sensitive=False)(request.path_info)
        else:
            static_file = self.files.get(request.path_info)
        if static_file is None:
            return await self.get_response(request)
        return await sync_to_async(self.serve, thread_sensitive=False)(static_file, request)

"""System checks of webgame's own setup (registered by stats.apps, which every command loads).

Django's deploy checks of its security, clickjacking, CSRF and session middlewares find them
by dotted path in MIDDLEWARE; it lists their async-native subclasses (webgame.middleware), so
those checks would pass without looking (HSTS, SSL redirect, secure cookies...) or warn that
the middleware is missing (security.W001-W003, silenced in settings for that reason). Here
they run as written, with each subclass under its base's path; one truly missing warns again,
as `stats.security.W00x`."""

import inspect

from django.conf import settings
from django.core.checks import CheckMessage, Tags, register
from django.utils.module_loading import import_string

DEPLOY_CHECKS_OF_MIDDLEWARE = "_middleware()"  # what Django's middleware-dependent checks call


def middleware_base_paths(paths: list[str]) -> list[str]:
    """MIDDLEWARE with each of webgame.middleware's subclasses named by its Django base."""
    mapped = []
    for dotted in paths:
        cls = import_string(dotted)
        if cls.__module__ == "webgame.middleware":
            base = next(c for c in cls.__mro__[1:] if c.__module__.startswith(("django.", "whitenoise.")))
            dotted = f"{base.__module__}.{base.__qualname__}"
        mapped.append(dotted)
    return mapped


@register(Tags.security, deploy=True)
def middleware_deploy_check(app_configs, **kwargs) -> list[CheckMessage]:
    from django.core.checks.security import base, csrf, sessions
    from django.test.utils import override_settings

    checks = [
        function
        for module in (base, csrf, sessions)
        for name, function in vars(module).items()
        if name.startswith("check_") and DEPLOY_CHECKS_OF_MIDDLEWARE in inspect.getsource(function)
    ]
    with override_settings(MIDDLEWARE=middleware_base_paths(settings.MIDDLEWARE)):
        messages = [message for check in checks for message in check(app_configs)]
    for message in messages:
        if message.id in settings.SILENCED_SYSTEM_CHECKS:  # silenced for the paths, not for this
            message.id = f"stats.{message.id}"
    return messages

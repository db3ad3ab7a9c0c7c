"""System checks: what the app needs of its environment, reported by `manage.py check`
(and at every start of runserver and migrate) rather than as a failed write later."""

import sqlite3

from django.conf import settings
from django.core.checks import Error, Tags, register

SQLITE_MIN = (3, 35)  # RETURNING, used by stats.eventlog's player upsert


@register(Tags.compatibility)
def sqlite_version_check(app_configs, **kwargs) -> list[Error]:
    engines = {db["ENGINE"] for db in settings.DATABASES.values()}
    return sqlite_version_errors(engines=engines, version=sqlite3.sqlite_version_info)


def sqlite_version_errors(*, engines: set[str], version: tuple[int, ...]) -> list[Error]:
    if "django.db.backends.sqlite3" not in engines or version >= SQLITE_MIN:
        return []
    have, need = ".".join(map(str, version)), ".".join(map(str, SQLITE_MIN))
    return [
        Error(
            f"SQLite {have} is too old: webgame needs {need} or newer.",
            hint="Use a newer Python build (its sqlite3 module), or PostgreSQL via DATABASE_URL.",
            id="stats.E001",
        )
    ]


# Django's deploy checks of its security, clickjacking, CSRF and session middlewares find them
# by dotted path in MIDDLEWARE; it lists their async-native subclasses (webgame.middleware), so
# those checks would pass without looking (HSTS, SSL redirect, secure cookies...) or warn that
# the middleware is missing (security.W001-W003, silenced in settings for that reason). Here
# they run as written, with each subclass under its base's path; one truly missing warns again.
DEPLOY_CHECKS_OF_MIDDLEWARE = "_middleware()"


def _base_paths(paths: list[str]) -> list[str]:
    from django.utils.module_loading import import_string

    mapped = []
    for dotted in paths:
        cls = import_string(dotted)
        if cls.__module__ == "webgame.middleware":
            base = next(c for c in cls.__mro__[1:] if c.__module__.startswith(("django.", "whitenoise.")))
            dotted = f"{base.__module__}.{base.__qualname__}"
        mapped.append(dotted)
    return mapped


@register(Tags.security, deploy=True)
def middleware_deploy_check(app_configs, **kwargs) -> list:
    import inspect

    from django.core.checks.security import base, csrf, sessions
    from django.test.utils import override_settings

    checks = [
        function
        for module in (base, csrf, sessions)
        for name, function in vars(module).items()
        if name.startswith("check_") and DEPLOY_CHECKS_OF_MIDDLEWARE in inspect.getsource(function)
    ]
    with override_settings(MIDDLEWARE=_base_paths(settings.MIDDLEWARE)):
        messages = [message for check in checks for message in check(app_configs)]
    for message in messages:
        if message.id in settings.SILENCED_SYSTEM_CHECKS:  # silenced for the paths, not for this
            message.id = f"stats.{message.id}"
    return messages

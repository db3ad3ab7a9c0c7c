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

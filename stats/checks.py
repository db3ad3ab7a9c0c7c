"""System checks: what the app needs of its environment, reported by `manage.py check`
(and at every start of runserver and migrate) rather than as a failed write later."""

import ipaddress
import sqlite3

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

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


# The names and addresses that reach this machine only. Django's own DEBUG default for an
# empty ALLOWED_HOSTS is these too.
LOOPBACK_HOSTS = {"localhost", ".localhost", "127.0.0.1", "[::1]", "::1"}


def _loopback(host: str) -> bool:
    host = host.strip().lower()
    if host in LOOPBACK_HOSTS or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@register(Tags.security, deploy=False)
def web_host_check(app_configs, **kwargs) -> list[Warning]:
    return web_host_warnings(web_host=settings.WEB_HOST, allowed_hosts=settings.ALLOWED_HOSTS)


def web_host_warnings(*, web_host: str, allowed_hosts: list[str]) -> list[Warning]:
    """WEB_HOST opens the web server to other devices while ALLOWED_HOSTS still names only
    this machine: every page they open would be a 400 (DisallowedHost), which is easy to
    take for a network problem."""
    if _loopback(web_host) or any(not _loopback(h) for h in allowed_hosts):
        return []
    return [
        Warning(
            f"WEB_HOST={web_host} lets other devices reach the web server, but ALLOWED_HOSTS "
            f"({', '.join(allowed_hosts) or 'empty'}) names only this machine: they would get 400 Bad Request.",
            hint="Add the address or name the devices use to ALLOWED_HOSTS (e.g. ALLOWED_HOSTS=localhost,"
            "127.0.0.1,192.168.1.20), and its origin to CSRF_TRUSTED_ORIGINS only if a proxy changes it "
            "(docs/deploy.md, 'On a LAN').",
            id="stats.W001",
        )
    ]

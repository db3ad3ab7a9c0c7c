from pathlib import Path

import pytest

from stats import checks

SQLITE = "django.db.backends.sqlite3"


def test_sqlite_older_than_3_35_is_an_error():
    errors = checks.sqlite_version_errors(engines={SQLITE}, version=(3, 34, 1))
    assert [e.id for e in errors] == ["stats.E001"]
    assert "3.34.1" in errors[0].msg


def test_sqlite_3_35_passes():
    assert checks.sqlite_version_errors(engines={SQLITE}, version=(3, 35, 0)) == []


def test_old_sqlite_library_does_not_matter_on_postgresql():
    assert checks.sqlite_version_errors(engines={"django.db.backends.postgresql"}, version=(3, 20, 0)) == []


def test_this_installation_passes_the_check():
    assert checks.sqlite_version_check(None) == []


LOCAL = ["localhost", "127.0.0.1", "[::1]"]


@pytest.mark.parametrize("web_host", ["0.0.0.0", "::", "192.168.1.20"])
def test_a_lan_web_host_with_only_local_allowed_hosts_is_warned_of(web_host):
    warnings = checks.web_host_warnings(web_host=web_host, allowed_hosts=LOCAL)
    assert [w.id for w in warnings] == ["stats.W001"]
    assert web_host in warnings[0].msg and "ALLOWED_HOSTS" in warnings[0].hint


@pytest.mark.parametrize(
    ("web_host", "allowed"),
    [
        ("127.0.0.1", LOCAL),
        ("::1", LOCAL),
        ("localhost", []),
        ("0.0.0.0", [*LOCAL, "192.168.1.20"]),
        ("0.0.0.0", ["*"]),
        ("0.0.0.0", [".example.lan"]),
    ],
)
def test_a_local_web_host_or_allowed_hosts_that_name_the_lan_pass(web_host, allowed):
    assert checks.web_host_warnings(web_host=web_host, allowed_hosts=allowed) == []


def test_the_check_reads_web_host_from_the_settings(settings):
    settings.WEB_HOST, settings.ALLOWED_HOSTS = "0.0.0.0", LOCAL
    assert [w.id for w in checks.web_host_check(None)] == ["stats.W001"]
    settings.WEB_HOST = "127.0.0.1"
    assert checks.web_host_check(None) == []


def test_the_procfile_binds_web_host_and_keeps_the_workers_flags():
    procfile = (Path(__file__).resolve().parents[2] / "Procfile").read_text()
    assert "--host ${WEB_HOST:-127.0.0.1} " in procfile
    assert "--without-gossip --without-mingle" in procfile

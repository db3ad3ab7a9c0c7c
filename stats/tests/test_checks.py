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

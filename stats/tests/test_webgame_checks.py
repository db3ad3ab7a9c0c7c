"""webgame.checks: Django's middleware deploy checks, run on webgame.middleware's subclasses."""

from webgame import checks


def test_the_subclasses_are_named_by_their_django_bases(settings):
    paths = checks.middleware_base_paths(settings.MIDDLEWARE)
    assert "django.middleware.security.SecurityMiddleware" in paths
    assert "whitenoise.middleware.WhiteNoiseMiddleware" in paths
    assert not [p for p in paths if p.startswith("webgame.middleware.")]


def test_djangos_middleware_deploy_checks_see_the_async_native_subclasses(settings):
    """MIDDLEWARE names webgame.middleware's subclasses: Django's HSTS check still runs on them."""
    settings.SECURE_HSTS_SECONDS = 0
    ids = {message.id for message in checks.middleware_deploy_check(None)}
    assert "security.W004" in ids and not {"stats.security.W001", "stats.security.W003"} & ids


def test_a_missing_security_middleware_still_warns(settings):
    settings.MIDDLEWARE = [p for p in settings.MIDDLEWARE if p != "webgame.middleware.SecurityMiddleware"]
    assert "stats.security.W001" in {message.id for message in checks.middleware_deploy_check(None)}

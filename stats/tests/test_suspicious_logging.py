"""Refused requests off the API (issue #19): a bad Host on a page or a probe, and too many
query parameters on the overlay, are a 400 and one WARNING line, never a logged traceback."""

import logging

import pytest
from django.test import Client


def refusals(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.WARNING and r.name.startswith("django")]


@pytest.mark.parametrize("path", ["/", "/readyz", "/metrics", "/games/arena/"])
def test_a_bad_host_off_the_api_is_a_400_and_one_line(db, caplog, path):
    with caplog.at_level(logging.WARNING):
        response = Client(HTTP_HOST="evil.example").get(path)
    assert response.status_code == 400
    logged = refusals(caplog)
    assert len(logged) == 1, [(r.name, r.getMessage()) for r in logged]
    assert logged[0].levelno == logging.WARNING and logged[0].exc_info is None
    assert "evil.example" in logged[0].getMessage()


def test_too_many_query_parameters_on_the_overlay_is_a_400_and_one_line(game, caplog):
    query = "&".join(f"p{i}=1" for i in range(1001))
    with caplog.at_level(logging.WARNING):
        response = Client().get(f"/games/{game.slug}/overlay/?{query}")
    assert response.status_code == 400
    logged = refusals(caplog)
    assert len(logged) == 1, [(r.name, r.getMessage()) for r in logged]
    assert logged[0].levelno == logging.WARNING and logged[0].exc_info is None

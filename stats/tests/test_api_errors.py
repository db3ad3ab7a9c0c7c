"""Errors under /api/ are JSON in the API's shape, also those Django raises before or around a
view (a bad Host, too many parameters, an unhandled exception), and without a logged
traceback for what is the client's fault. Django's test settings run with DEBUG off, as here."""

import http.client
import logging

import pytest
from django.conf import settings as django_settings

from stats import selectors

pytestmark = pytest.mark.django_db


def error_of(response) -> dict:
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"} and isinstance(body["error"]["message"], str)
    return body["error"]


def tracebacks(caplog) -> list[str]:
    return [f"{r.name}: {r.getMessage()}" for r in caplog.records if r.exc_info]


def test_debug_is_off():
    assert django_settings.DEBUG is False


@pytest.mark.parametrize("path", ["/api/games", "/api/games/<slug>/snapshot", "/api/openapi.json", "/api/nothing"])
def test_a_foreign_host_under_api_is_a_json_400_without_traceback(client, game, path, caplog):
    response = client.get(path.replace("<slug>", game.slug), HTTP_HOST="evil.test")
    assert (response.status_code, error_of(response)["code"]) == (400, "bad_host")
    assert tracebacks(caplog) == []
    assert any(r.name == "django.security.DisallowedHost" for r in caplog.records)  # still reported


def test_a_foreign_host_elsewhere_keeps_djangos_page(client, game):
    response = client.get(f"/games/{game.slug}/", HTTP_HOST="evil.test")
    assert response.status_code == 400 and "json" not in response["Content-Type"]


@pytest.mark.parametrize("path", ["/api/games/<slug>/events", "/api/games/<slug>/history"])
def test_too_many_query_parameters_is_a_json_400_without_traceback(client, game, path, caplog):
    query = "&".join(f"p{i}=1" for i in range(django_settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 1))
    response = client.get(f"{path.replace('<slug>', game.slug)}?{query}")
    assert (response.status_code, error_of(response)["code"]) == (400, "too_many_fields")
    assert tracebacks(caplog) == []


def test_an_unhandled_error_under_api_is_a_json_500_and_is_logged(client, game, monkeypatch, caplog):
    def broken(**kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(selectors, "game_snapshot", broken)
    client.raise_request_exception = False
    response = client.get(f"/api/games/{game.slug}/snapshot")
    assert (response.status_code, error_of(response)["code"]) == (500, "server_error")
    assert "a bug" not in response.content.decode()
    assert any(r.name == "django.request" and r.levelno == logging.ERROR for r in caplog.records)


def test_an_unhandled_error_elsewhere_keeps_djangos_page(client, game, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(selectors, "game_list_visible", broken)
    client.raise_request_exception = False
    response = client.get("/")
    assert response.status_code == 500 and "json" not in response["Content-Type"]


def test_real_server_answers_a_foreign_host_under_api_with_json_and_no_traceback(live, game):
    log_start = len(live.log())
    conn = http.client.HTTPConnection("127.0.0.1", live.port, timeout=10)
    conn.request("GET", f"/api/games/{game.slug}/snapshot", headers={"Host": "evil.test"})
    response = conn.getresponse()
    body = response.read()
    conn.close()
    assert (response.status, response.getheader("Content-Type")) == (400, "application/json")
    assert b'"bad_host"' in body
    assert "Traceback" not in live.log()[log_start:]

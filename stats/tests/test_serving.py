"""webgame.serving: a process that serves HTTP registers its loop and lightens request_started."""

import asyncio

import pytest
from django.core import signals
from django.db import close_old_connections, reset_queries

from stats.live import publish
from webgame.serving import ServingLoop


@pytest.fixture
def signals_restored():
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_started.connect(reset_queries)


async def test_the_first_request_registers_the_serving_loop(signals_restored, monkeypatch):
    monkeypatch.setattr(publish, "_server_loop", None)
    calls = []

    async def app(scope, receive, send):
        calls.append(scope["type"])

    await ServingLoop(app)({"type": "http"}, None, None)
    assert calls == ["http"] and publish.server_loop() is asyncio.get_running_loop()
    receivers = {ref() for _, ref, *rest in signals.request_started.receivers}
    assert not {close_old_connections, reset_queries} & receivers
    assert close_old_connections in {ref() for _, ref, *rest in signals.request_finished.receivers}

"""Fixtures: a fake ingest server under uvicorn, and clients that are closed after each test.

The package is imported from this checkout's src/ (installed or not), so that the tests
test the code beside them."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))  # the checkout's code, installed or not

from fakeserver import FakeIngest, ServerThread
from webgame_client import Client


@pytest.fixture
def fake() -> FakeIngest:
    return FakeIngest()


@pytest.fixture
def server(fake):
    running = ServerThread(fake).start()
    yield running
    running.stop()


@pytest.fixture
def client_make(server):
    """Clients on the fake server with quick timings (each closed after the test), and the
    errors their on_error received."""
    made: list[Client] = []
    errors: list[tuple[list[dict], str, str]] = []

    def make(**options) -> Client:
        options = {"flush_interval": 0.01, "backoff_base": 0.02, "backoff_max": 0.2, **options}
        options.setdefault("on_error", lambda events, code, message: errors.append((events, code, message)))
        client = Client(options.pop("base_url", server.url), "arena", "secret", **options)
        made.append(client)
        return client

    make.errors = errors
    yield make
    for client in made:
        client.close(timeout=1)

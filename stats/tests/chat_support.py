"""Helpers shared by the chat tests: a recorder in place of the live path's publish."""

from django.db import transaction

from stats.live import publish


class Published:
    """What chat_publish_on_commit was asked to send: `calls` as called, `sent` as it would
    have gone out (after commit, never for a rolled-back transaction), as the real one does."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict]] = []
        self.sent: list[tuple[str, dict]] = []

    def __call__(self, *, game, frame: dict) -> None:
        self.calls.append((game.slug, frame))
        transaction.on_commit(lambda: self.sent.append((game.slug, frame)))


def published_record(monkeypatch) -> Published:
    """Put a recorder in place of chat_publish_on_commit for this test (its `published` fixture)."""
    recorder = Published()
    # raising=False: the tests stand on their own whichever of this and publish.py lands first.
    monkeypatch.setattr(publish, "chat_publish_on_commit", recorder, raising=False)
    return recorder

"""Helpers shared by the chat tests: a recorder in place of the live path's publish."""

import json

from django.db import transaction

from stats.live import publish


class Published:
    """The chat frames the receivers handed to publish_on_commit: `calls` as called, `sent`
    as they would have gone out (after commit, never for a rolled-back transaction), as the
    real one does. Each as (group, frame)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict]] = []
        self.sent: list[tuple[str, dict]] = []

    def __call__(self, build) -> None:
        chat = [(group, json.loads(m["text"])) for group, m in build() if m["type"] == "game.chat"]
        self.calls += chat
        transaction.on_commit(lambda: self.sent.extend(chat))


def published_record(monkeypatch) -> Published:
    """Put a recorder in place of publish_on_commit for this test (its `published` fixture)."""
    recorder = Published()
    monkeypatch.setattr(publish, "publish_on_commit", recorder)
    return recorder

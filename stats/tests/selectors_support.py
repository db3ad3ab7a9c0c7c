"""Helpers shared by the selector and read test modules."""

import pytest

from stats import selectors


@pytest.fixture
def snapshot_builds(monkeypatch):
    """The game ids of each full snapshot build (selectors.game_snapshot) from here on."""
    builds, build = [], selectors.game_snapshot

    def counted(*, game_id):
        builds.append(game_id)
        return build(game_id=game_id)

    monkeypatch.setattr(selectors, "game_snapshot", counted)
    selectors._snapshots.clear()
    return builds

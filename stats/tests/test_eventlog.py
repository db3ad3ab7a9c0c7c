"""The write path's fixed SQL (stats.eventlog): what goes in comes back out, whichever way
the rows went (COPY for a big batch on PostgreSQL, INSERT otherwise)."""

from datetime import UTC, datetime, timedelta

import pytest

from stats import eventlog, services
from stats.models import ScoreEvent
from stats.scoring import services as scoring
from stats.tests.support import event_in


def _event(i: int, start: datetime, team: str):
    return event_in(
        f"e-{i}.x:{i}", f"p{i % 7}", i - 5, kind="kill" if i % 2 else "score", team=team,
        at=start + timedelta(seconds=i) if i % 3 else None,
        stats={"kills": i} if i % 2 else None, match="m1" if i % 5 else None,
    )  # fmt: skip


@pytest.mark.parametrize("size", [3, eventlog.COPY_MIN_ROWS + 10])
def test_a_batch_is_stored_exactly_as_sent(game, size):
    """Team names may hold what COPY's text format must escape (a backslash, and the
    characters the name rules refuse would be the others); times with and without a zone
    offset of their own; stats and matches; both sizes of batch."""
    scoring.stat_declare(game=game, name="kills")
    scoring.match_start(game_id=game.pk, match_id="m1")
    start = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    teams = ["red", "back\\slash", "ünïcødé", "x\\ty\\n"]
    events = [_event(i, start, teams[i % 4]) for i in range(size)]
    result = services.score_events_record(game_id=game.pk, events=events)
    assert (result.accepted, result.last_seq) == (size, size)
    stored = {e.event_id: e for e in ScoreEvent.objects.filter(game=game).select_related("player", "match")}
    for i, sent in enumerate(events):
        row = stored[sent.id]
        assert (row.seq, row.player.name, row.points, row.kind, row.team) == (
            i + 1, sent.player, sent.points, sent.kind, sent.team
        )  # fmt: skip
        assert row.stats == sent.stats and row.match.match_id == "m1"  # the open match by default
        assert row.at == (sent.at or row.received_at)
    assert services.score_events_record(game_id=game.pk, events=events).duplicates == size

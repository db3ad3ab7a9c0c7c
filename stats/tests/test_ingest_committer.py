"""Group commit (stats.ingest.committer and services.score_event_batches_record): frames that
arrive together are one transaction, each a savepoint, each sender answered with its own."""

import asyncio

import pytest
from asgiref.sync import sync_to_async
from django.db import DatabaseError

from stats import services
from stats.ingest import committer
from stats.models import ScoreEvent
from stats.tests.support import event_in


def test_batches_are_savepoints_a_refused_one_stores_nothing_and_spoils_none(game):
    outcomes = services.score_event_batches_record(
        game_id=game.pk,
        batches=[[event_in("a")], [event_in("b"), event_in("bad", stats={"nope": 1})], [event_in("c"), event_in("a")]],
    )
    assert [type(o).__name__ for o in outcomes] == ["RecordResult", "EventsRefused", "RecordResult"]
    assert (outcomes[0].last_seq, outcomes[2].accepted, outcomes[2].duplicates, outcomes[2].last_seq) == (1, 1, 1, 2)
    assert list(ScoreEvent.objects.order_by("seq").values_list("event_id", "seq")) == [("a", 1), ("c", 2)]


@pytest.mark.django_db(transaction=True)
async def test_frames_submitted_together_are_written_in_one_group(game, monkeypatch):
    groups = []
    record = committer._batches_record

    async def recording(*, game_id, batches):
        groups.append(len(batches))
        return await record(game_id=game_id, batches=batches)

    monkeypatch.setattr(committer, "_batches_record", recording)
    writer = committer.committer_for(game.pk)
    futures = [writer.submit([event_in(f"e{i}")]) for i in range(5)]
    futures.append(writer.submit([event_in("e0", points=9)]))  # a conflict: refused alone
    outcomes = await asyncio.gather(*futures, return_exceptions=True)
    assert groups == [6]
    assert [o.last_seq for o in outcomes[:5]] == [1, 2, 3, 4, 5]
    assert isinstance(outcomes[5], services.EventConflict)
    later = await writer.submit([event_in("late")])
    assert later.last_seq == 6 and groups == [6, 1]


@pytest.mark.django_db(transaction=True)
async def test_a_failed_group_write_fails_each_of_its_frames(game, monkeypatch):
    async def failing(*, game_id, batches):
        raise DatabaseError("the database went away")

    monkeypatch.setattr(committer, "_batches_record", failing)
    writer = committer.committer_for(game.pk)
    outcomes = await asyncio.gather(
        writer.submit([event_in("a")]), writer.submit([event_in("b")]), return_exceptions=True
    )
    assert all(isinstance(o, DatabaseError) for o in outcomes)
    assert not await sync_to_async(ScoreEvent.objects.exists)()


def test_a_group_holds_at_most_the_setting_of_events(game, settings):
    settings.WEBGAME_GROUP_COMMIT_MAX_EVENTS = 3

    async def take():
        writer = committer.Committer(game.pk)
        for n in (2, 1, 1, 5):
            writer.pending.append(([event_in(f"x{n}")] * n, None))
        return [len(g) for g in (writer._group_take(), writer._group_take(), writer._group_take())]

    assert asyncio.run(take()) == [2, 1, 1]  # 2+1, then 1 (5 would pass 3), then the 5 alone

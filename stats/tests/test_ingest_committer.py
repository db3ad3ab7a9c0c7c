"""Group commit (stats.ingest.committer and services.score_event_batches_record): frames that
arrive together are one transaction and one run of the log, each sender answered with its own."""

import asyncio

import pytest
from asgiref.sync import sync_to_async
from django.db import DatabaseError

from stats import services
from stats.ingest import committer, group
from stats.models import ScoreEvent
from stats.tests.support import event_in


def test_a_refused_batch_stores_nothing_and_spoils_none_of_its_group(game):
    outcomes = group.score_event_batches_record(
        game_id=game.pk,
        batches=[[event_in("a")], [event_in("b"), event_in("bad", stats={"nope": 1})], [event_in("c"), event_in("a")]],
    )
    assert [type(o).__name__ for o in outcomes] == ["RecordResult", "EventsRefused", "RecordResult"]
    assert (outcomes[0].last_seq, outcomes[2].accepted, outcomes[2].duplicates, outcomes[2].last_seq) == (1, 1, 1, 2)
    assert list(ScoreEvent.objects.order_by("seq").values_list("event_id", "seq")) == [("a", 1), ("c", 2)]


def test_a_repeat_of_an_earlier_frame_of_the_group_is_a_duplicate_or_a_conflict(game):
    outcomes = group.score_event_batches_record(
        game_id=game.pk,
        batches=[
            [event_in("a"), event_in("b")],
            [event_in("b")],
            [event_in("a", points=5), event_in("c")],
            [event_in("d")],
        ],
    )
    assert isinstance(outcomes[2], services.EventConflict) and outcomes[2].ids == ["a"]
    first, repeat, _, last = outcomes
    assert (first.accepted, first.last_seq, repeat.accepted, repeat.duplicates, repeat.last_seq) == (2, 2, 0, 1, 2)
    assert (last.accepted, last.last_seq, [r.seq for r in last.events]) == (1, 3, [3])
    assert list(ScoreEvent.objects.order_by("seq").values_list("event_id", flat=True)) == ["a", "b", "d"]


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


@pytest.mark.django_db(transaction=True)
def test_http_posts_on_a_server_loop_share_the_committers_groups(game, monkeypatch):
    """A POST's thread hands its events to the server loop's committer and waits for its own
    result; several threads at once are one group."""
    import threading

    from stats.live import publish

    groups: list[int] = []
    record, submit = committer._batches_record, committer.Committer.submit
    submitted: list[int] = []
    all_in = asyncio.Event()  # set on the server loop (submit runs there)

    def counting_submit(self, events):
        submitted.append(len(events))
        if len(submitted) == 4:
            all_in.set()
        return submit(self, events)

    async def recording(*, game_id, batches):
        if not groups:  # the first write waits until every post is queued behind it
            async with asyncio.timeout(20):
                await all_in.wait()
        groups.append(len(batches))
        return await record(game_id=game_id, batches=batches)

    monkeypatch.setattr(committer, "_batches_record", recording)
    monkeypatch.setattr(committer.Committer, "submit", counting_submit)
    loop = asyncio.new_event_loop()
    runner = threading.Thread(target=loop.run_forever, daemon=True)
    runner.start()
    monkeypatch.setattr(publish, "_server_loop", loop)
    try:
        results: dict[int, object] = {}

        def post(n: int) -> None:
            results[n] = committer.events_record_grouped(game_id=game.pk, events=[event_in(f"h{n}")])

        # However the threads are scheduled, the posts that queue while a group is written
        # are the next group: two groups at most.
        threads = [threading.Thread(target=post, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=20)
        assert sorted(r.last_seq for r in results.values()) == [1, 2, 3, 4]
        assert sum(groups) == 4 and len(groups) <= 2
    finally:

        async def drained() -> None:  # the pushes the commits handed to the loop
            await asyncio.gather(*(t for t in asyncio.all_tasks() if t is not asyncio.current_task()))

        asyncio.run_coroutine_threadsafe(drained(), loop).result(timeout=20)
        loop.call_soon_threadsafe(loop.stop)
        runner.join(timeout=5)
        loop.close()

"""Group commit (stats.ingest.committer and services.score_event_batches_record): frames that
arrive together are one transaction and one run of the log, each sender answered with its own."""

import asyncio
import threading

import pytest
from django.db import DatabaseError

from stats import services
from stats.ingest import committer, group
from stats.models import ScoreEvent
from stats.scoring import record
from stats.scoring import services as scoring
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


def test_each_event_is_planned_once_and_a_single_batch_is_a_group_of_one(game, monkeypatch):
    """One write path (#20): record.plan_make sees each fresh event once (it also ran once per
    frame with stats, then again for the whole group), and services.score_events_record is
    the group write with one batch."""
    scoring.stat_declare(game=game, name="kills")
    planned, groups, plan_make, batches_record = [], [], record.plan_make, group.score_event_batches_record

    def counting_plan(*, events, **kwargs):
        planned.extend(e.id for e in events)
        return plan_make(events=events, **kwargs)

    def counting_group(*, batches, **kwargs):
        groups.append(len(batches))
        return batches_record(batches=batches, **kwargs)

    monkeypatch.setattr(record, "plan_make", counting_plan)
    monkeypatch.setattr(group, "score_event_batches_record", counting_group)
    batches = [
        [event_in("a", stats={"kills": 1}), event_in("b")],
        [event_in("c", stats={"kills": 2})],
        [event_in("a", stats={"kills": 1})],
    ]
    outcomes = batches_record(game_id=game.pk, batches=batches)
    assert [o.accepted for o in outcomes] == [2, 1, 0]
    assert sorted(planned) == ["a", "b", "c"]
    planned.clear()
    result = services.score_events_record(
        game_id=game.pk, events=[event_in("d", stats={"kills": 1}), event_in("c", stats={"kills": 2})]
    )
    assert (result.accepted, result.duplicates, result.last_seq, planned, groups) == (1, 1, 4, ["d"], [1])


def recorder(monkeypatch, hold: threading.Event | None = None) -> list[int]:
    """Wraps the group write: records each group's size; the first waits for `hold`."""
    groups: list[int] = []
    record = committer.batches_record

    def recording(*, game_id, batches):
        if hold is not None and not groups:
            assert hold.wait(timeout=20)
        groups.append(len(batches))
        return record(game_id=game_id, batches=batches)

    monkeypatch.setattr(committer, "batches_record", recording)
    return groups


@pytest.mark.django_db(transaction=True)
async def test_frames_submitted_together_are_written_in_one_group(game, monkeypatch):
    groups = recorder(monkeypatch)
    writer = committer.Committer(game.pk)
    with writer.wake:  # the writer thread takes nothing before all six are queued
        futures = [writer.submit_async([event_in(f"e{i}")]) for i in range(5)]
        futures.append(writer.submit_async([event_in("e0", points=9)]))  # a conflict: refused alone
    outcomes = await asyncio.wait_for(asyncio.gather(*futures, return_exceptions=True), 20)
    assert [outcome.last_seq for outcome in outcomes[:5]] == [1, 2, 3, 4, 5]
    assert isinstance(outcomes[5], services.EventConflict)
    assert groups == [6]
    late = await asyncio.wait_for(writer.submit_async([event_in("late")]), 20)
    assert late.last_seq == 6 and groups == [6, 1]


@pytest.mark.django_db(transaction=True)
async def test_a_failed_group_write_fails_each_of_its_frames(game, monkeypatch):
    def failing(*, game_id, batches):
        raise DatabaseError("the database went away")

    monkeypatch.setattr(committer, "batches_record", failing)
    writer = committer.Committer(game.pk)
    with writer.wake:
        futures = [writer.submit_async([event_in("a")]), writer.submit_async([event_in("b")])]
    outcomes = await asyncio.wait_for(asyncio.gather(*futures, return_exceptions=True), 20)
    assert all(isinstance(outcome, DatabaseError) for outcome in outcomes)
    assert not await asyncio.to_thread(ScoreEvent.objects.exists)


def test_a_group_holds_at_most_the_setting_of_events(game, settings):
    settings.GROUP_COMMIT_MAX_EVENTS = 3
    writer = committer.Committer(game.pk)
    for n in (2, 1, 1, 5):
        writer.pending.append(([event_in(f"x{n}")] * n, None))
    sizes = [len(writer._group_take()) for _ in range(3)]
    assert sizes == [2, 1, 1]  # 2+1, then 1 (5 would pass 3), then the 5 alone


@pytest.mark.django_db(transaction=True)
async def test_a_socket_awaits_the_writer_threads_answer(game):
    outcome = await committer.committer_for(game.pk).submit_async([event_in("s")])
    assert outcome.last_seq == 1


@pytest.mark.django_db(transaction=True)
async def test_http_posts_in_a_server_share_the_committers_groups(game, monkeypatch):
    """A POST queues its events for the game's writer and awaits its own result on the loop
    (no thread waits); posts that queue while a group is written are the next group: two
    groups at most."""
    all_in, submitted, submit = threading.Event(), [], committer.Committer.submit_async

    def counting_submit(self, events):
        future = submit(self, events)
        submitted.append(1)
        if len(submitted) == 4:
            all_in.set()
        return future

    groups = recorder(monkeypatch, hold=all_in)
    monkeypatch.setattr(committer.Committer, "submit_async", counting_submit)
    monkeypatch.setattr(committer, "http_grouped", lambda: True)
    monkeypatch.setitem(committer._committers, game.pk, committer.Committer(game.pk))
    posts = [committer.events_record_grouped(game_id=game.pk, events=[event_in(f"h{n}")]) for n in range(4)]
    results = await asyncio.wait_for(asyncio.gather(*posts), timeout=20)
    assert sorted(r.last_seq for r in results) == [1, 2, 3, 4]
    assert sum(groups) == 4 and len(groups) <= 2


@pytest.mark.django_db(transaction=True)
async def test_outside_a_server_a_post_writes_directly_in_its_thread(game, monkeypatch):
    """No server loop registered (the test client, a shell): the write is the service's, in
    the caller's thread, where a test's transaction can see it."""
    monkeypatch.setattr(committer, "http_grouped", lambda: False)
    monkeypatch.setattr(committer, "committer_for", lambda game_id: pytest.fail("grouped outside a server"))
    result = await committer.events_record_grouped(game_id=game.pk, events=[event_in("direct")])
    assert result.last_seq == 1


@pytest.mark.django_db(transaction=True)
async def test_a_frame_whose_sender_went_is_still_written_and_the_others_are_settled(game, monkeypatch):
    """A group's futures are settled on their loop in one hop per group; a frame whose socket
    (or POST) went away, its future cancelled, is still written."""
    groups = recorder(monkeypatch)
    writer = committer.Committer(game.pk)
    with writer.wake:
        frames = [writer.submit_async([event_in(f"s{i}")]) for i in range(3)]
        conflict = writer.submit_async([event_in("s0", points=9)])
        frames[1].cancel()  # its socket went away before the commit
    results = await asyncio.gather(frames[0], frames[2])
    assert [r.last_seq for r in results] == [1, 3]
    with pytest.raises(services.EventConflict):
        await conflict
    assert groups == [4]
    stored = await asyncio.to_thread(
        lambda: list(ScoreEvent.objects.order_by("seq").values_list("event_id", flat=True))
    )
    assert stored == ["s0", "s1", "s2"]

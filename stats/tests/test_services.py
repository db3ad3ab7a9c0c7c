import pytest
from django.db import transaction
from django.db.models import Sum

from stats import eventlog, services
from stats.models import ApiKey, Game, Player, Rollup, RollupCursor, ScoreEvent
from stats.scoring import services as scoring
from stats.scoring.models import Match
from stats.tests.games import game_make
from stats.tests.support import event_in, writers_run


def record(game, *events):
    return services.score_events_record(game_id=game.pk, events=list(events))


def seqs(game) -> list[int]:
    return list(ScoreEvent.objects.filter(game=game).order_by("seq").values_list("seq", flat=True))


def test_record_assigns_seq_from_one_in_batch_order(game):
    result = record(game, event_in("a"), event_in("b"), event_in("c"))
    assert (result.accepted, result.duplicates, result.last_seq) == (3, 0, 3)
    ordered = ScoreEvent.objects.filter(game=game).order_by("seq").values_list("event_id", "seq")
    assert list(ordered) == [("a", 1), ("b", 2), ("c", 3)]


def test_retried_event_is_stored_once_and_reported_as_duplicate(game):
    record(game, event_in("a", points=5))
    retry = record(game, event_in("a", points=5))
    assert (retry.accepted, retry.duplicates, retry.last_seq) == (0, 1, 1)
    assert ScoreEvent.objects.filter(game=game).count() == 1
    assert Player.objects.get(game=game, name="ada").total == 5


def test_retry_without_timestamp_matches_event_stored_with_one(game):
    from datetime import UTC, datetime

    record(game, event_in("a", at=datetime(2025, 1, 1, tzinfo=UTC)))
    assert record(game, event_in("a")).duplicates == 1


def test_duplicate_ids_within_one_batch_are_stored_once(game):
    result = record(game, event_in("a", points=2), event_in("a", points=2), event_in("b"))
    assert (result.accepted, result.duplicates) == (2, 1)
    assert seqs(game) == [1, 2]


def test_partly_retried_batch_stores_only_new_events(game):
    record(game, event_in("a"))
    result = record(game, event_in("a"), event_in("b"))
    assert (result.accepted, result.duplicates, result.last_seq) == (1, 1, 2)


def test_large_batch_is_stored_gap_free_with_totals_and_retried_exactly_once(game):
    # Past COPY_MIN_ROWS: PostgreSQL takes the rows by COPY, SQLite by the ORM.
    events = [event_in(f"e{i}", f"p{i % 7}", 1 + i % 3) for i in range(3 * eventlog.COPY_MIN_ROWS)]
    record(game, *events)
    retry = record(game, *events, event_in("last", "p0", 1))
    assert (retry.accepted, retry.duplicates, retry.last_seq) == (1, len(events), len(events) + 1)
    assert seqs(game) == list(range(1, len(events) + 2))
    totals = dict(Player.objects.filter(game=game).values_list("name", "total"))
    expected = {f"p{k}": sum(e.points for e in events if e.player == f"p{k}") for k in range(7)}
    expected["p0"] += 1
    assert totals == expected


def test_id_reused_with_other_content_raises_conflict_and_stores_nothing(game):
    record(game, event_in("a", points=5))
    with pytest.raises(services.EventConflict) as exc:
        record(game, event_in("new"), event_in("a", points=6))
    assert exc.value.ids == ["a"]
    assert list(ScoreEvent.objects.filter(game=game).values_list("event_id", flat=True)) == ["a"]
    assert Game.objects.get(pk=game.pk).last_seq == 1


def test_id_repeated_with_other_content_in_one_batch_is_a_conflict(game):
    with pytest.raises(services.EventConflict):
        record(game, event_in("a", points=1), event_in("a", points=2))
    assert not ScoreEvent.objects.filter(game=game).exists()


def test_id_repeated_with_another_time_in_one_batch_is_a_conflict(game):
    from datetime import UTC, datetime

    with pytest.raises(services.EventConflict):
        record(
            game, event_in("a", at=datetime(2025, 1, 1, tzinfo=UTC)), event_in("a", at=datetime(2025, 1, 2, tzinfo=UTC))
        )
    assert not ScoreEvent.objects.filter(game=game).exists()


def test_same_id_in_another_game_is_a_separate_event(game):
    other = game_make(prefix="other", name="Other")
    record(game, event_in("a"))
    assert record(other, event_in("a", points=9)).accepted == 1


def test_player_and_game_totals_are_kept(game):
    record(game, event_in("a", "ada", 10), event_in("b", "bob", 3), event_in("c", "ada", -4))
    game.refresh_from_db()
    assert (game.last_seq, game.event_count, game.points_total) == (3, 3, 9)
    totals = dict(Player.objects.filter(game=game).values_list("name", "total"))
    assert totals == {"ada": 6, "bob": 3}
    assert Player.objects.get(game=game, name="ada").event_count == 2


def test_correction_appends_an_event_and_leaves_the_original(game):
    record(game, event_in("a", "ada", 10))
    original = ScoreEvent.objects.get(game=game, event_id="a")
    correction = services.score_event_correct(event_pk=original.pk, points=7)
    assert (correction.seq, correction.points, correction.kind) == (2, -3, "correction")
    assert correction.corrects_id == original.pk
    original.refresh_from_db()
    assert original.points == 10
    assert services.score_event_effective_points(event=original) == 7
    assert Player.objects.get(game=game, name="ada").total == 7


def test_second_correction_is_relative_to_the_corrected_points(game):
    record(game, event_in("a", "ada", 10))
    event = ScoreEvent.objects.get(game=game, event_id="a")
    services.score_event_correct(event_pk=event.pk, points=7)
    second = services.score_event_correct(event_pk=event.pk, points=12)
    assert second.points == 5
    assert Player.objects.get(game=game, name="ada").total == 12


def test_correction_to_the_same_points_records_nothing(game):
    record(game, event_in("a", points=10))
    event = ScoreEvent.objects.get(game=game, event_id="a")
    assert services.score_event_correct(event_pk=event.pk, points=10) is None
    assert seqs(game) == [1]


def test_rollups_fold_events_per_minute(game):
    record(game, event_in("a", points=2), event_in("b", points=3))
    assert services.rollups_compute(game_id=game.pk) == 2
    assert Rollup.objects.filter(game=game).aggregate(e=Sum("events"), p=Sum("points")) == {"e": 2, "p": 5}
    assert RollupCursor.objects.get(game=game).seq == 2


def test_rollups_rerun_counts_nothing_twice(game):
    record(game, event_in("a", points=2))
    services.rollups_compute(game_id=game.pk)
    assert services.rollups_compute(game_id=game.pk) == 0
    assert Rollup.objects.get(game=game).events == 1


def test_rollups_fold_only_events_past_the_cursor(game):
    record(game, event_in("a", points=2))
    services.rollups_compute(game_id=game.pk)
    record(game, event_in("b", points=5))
    assert services.rollups_compute(game_id=game.pk) == 1
    assert Rollup.objects.filter(game=game).aggregate(e=Sum("events"), p=Sum("points")) == {"e": 2, "p": 7}


def test_rollups_read_at_most_one_batch_per_run(game):
    record(game, *[event_in(f"e{i}") for i in range(5)])
    assert services.rollups_compute(game_id=game.pk, batch=2) == 2
    assert RollupCursor.objects.get(game=game).seq == 2
    assert services.rollups_compute(game_id=game.pk, batch=10) == 3


def test_api_key_is_stored_only_as_a_hash(game):
    key, raw = services.api_key_create(game=game)
    stored = ApiKey.objects.get(pk=key.pk)
    assert raw not in (stored.hashed, stored.prefix, stored.name)
    assert stored.hashed == services.api_key_hash(raw)


def test_game_create_refuses_a_bad_slug(db):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        services.game_create(slug="Bad Slug!", name="x")


WRITERS = 4
BATCHES = 8


def _post_batches(game_id: int, writer: int) -> None:
    for b in range(BATCHES):
        # Every writer also posts the same shared id: it must be stored exactly once.
        events = [event_in(f"w{writer}-b{b}-{i}", f"p{i}", 1) for i in range(3)]
        events.append(event_in(f"shared-{b}", "shared", 1))
        services.score_events_record(game_id=game_id, events=events)


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_get_unique_gap_free_seqs_and_store_each_id_once():
    game = game_make(prefix="busy", name="Busy")
    assert writers_run(lambda w: _post_batches(game.pk, w), WRITERS) == []
    expected = WRITERS * BATCHES * 3 + BATCHES
    assert seqs(game) == list(range(1, expected + 1))
    game.refresh_from_db()
    assert (game.last_seq, game.event_count, game.points_total) == (expected, expected, expected)
    assert Player.objects.get(game=game, name="shared").total == BATCHES
    assert _orphans() == 0


def _orphans() -> int:
    """Log rows pointing at a game, player or match that is not there (the log has no
    foreign-key constraints in the database: see ScoreEvent)."""
    events = ScoreEvent.objects.all()
    return (
        events.exclude(game_id__in=Game.objects.values("pk")).count()
        + events.exclude(player_id__in=Player.objects.values("pk")).count()
        + events.filter(match__isnull=False).exclude(match_id__in=Match.objects.values("pk")).count()
    )


def test_deletes_still_cascade_through_the_log_without_database_constraints(game):
    record(game, event_in("a", "ada"), event_in("b", "ken"), event_in("c", "ada"))
    fix = services.score_event_correct(event_pk=ScoreEvent.objects.get(game=game, event_id="a").pk, points=3)
    Player.objects.get(game=game, name="ken").delete()
    assert sorted(ScoreEvent.objects.filter(game=game).values_list("event_id", flat=True)) == ["a", "c", fix.event_id]
    ScoreEvent.objects.get(game=game, event_id="a").delete()  # its correction goes with it
    assert list(ScoreEvent.objects.filter(game=game).values_list("event_id", flat=True)) == ["c"]
    game.delete()
    assert ScoreEvent.objects.count() == 0 and _orphans() == 0


def test_a_deleted_match_leaves_its_events_without_a_match(game):
    match, _ = scoring.match_start(game_id=game.pk, match_id="m1")
    record(game, event_in("a", match="m1"))
    match.delete()
    assert ScoreEvent.objects.get(game=game, event_id="a").match_id is None


@pytest.mark.django_db(transaction=True)
def test_rolled_back_transaction_leaves_no_seq_behind():
    game = game_make(prefix="undo", name="Undo")
    with pytest.raises(RuntimeError), transaction.atomic():
        record(game, event_in("a"))
        raise RuntimeError("abort")
    assert record(game, event_in("b")).last_seq == 1

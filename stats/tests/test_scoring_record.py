"""Game stats on the write path (stats.scoring.record through services.score_events_record):
stats kept per operator and order, teams and matches, exactly once, all or nothing."""

import pytest

from stats import services
from stats.models import ScoreEvent
from stats.scoring import periods
from stats.scoring import services as scoring
from stats.scoring.models import StatTotal
from stats.scoring.record import EventsRefused
from stats.tests.games import game_make
from stats.tests.support import event_in, writers_run


def record(game, *events):
    return services.score_events_record(game_id=game.pk, events=list(events))


def total(game, owner, stat, *, period="all", kind="p"):
    row = StatTotal.objects.filter(game=game, period=period, kind=kind, owner=owner, stat=stat).first()
    return None if row is None else row.value


@pytest.fixture
def arena(game):
    for name, op, order in [
        ("kills", "incr", "desc"),
        ("deaths", "incr", "desc"),
        ("lap_ms", "best", "asc"),
        ("top_speed", "best", "desc"),
        ("rating", "set", "desc"),
        ("position", "set", "asc"),
    ]:
        scoring.stat_declare(game=game, name=name, op=op, order=order)
    return game


def test_incr_stats_add_up_per_player(arena):
    record(arena, event_in("a", stats={"kills": 2, "deaths": 1}), event_in("b", stats={"kills": 3}))
    assert (total(arena, "ada", "kills"), total(arena, "ada", "deaths")) == (5, 1)
    assert ScoreEvent.objects.get(event_id="a").stats == {"kills": 2, "deaths": 1}


@pytest.mark.parametrize(
    ("stat", "values", "kept"),
    [
        ("lap_ms", [61_000, 59_500, 60_000], 59_500),  # best, lower is better
        ("top_speed", [180, 210, 190], 210),  # best, higher is better
        ("rating", [1500, 1480, 1510], 1510),  # set: the last value
        ("position", [3, 1, 2], 2),  # set ignores the order
    ],
)
def test_best_and_set_keep_their_value_in_one_batch_and_across_batches(arena, stat, values, kept):
    record(arena, *(event_in(f"x{i}", points=0, stats={stat: v}) for i, v in enumerate(values)))
    assert total(arena, "ada", stat) == kept
    record(arena, *(event_in(f"y{i}", points=0, stats={stat: v}) for i, v in enumerate(values)))
    assert total(arena, "ada", stat) == kept


def test_today_and_week_totals_follow_the_event_time(arena):
    record(arena, event_in("old", stats={"kills": 4}, at="2026-01-05T10:00:00Z"), event_in("now", stats={"kills": 1}))
    assert total(arena, "ada", "kills", period="d2026-01-05") == 4
    assert total(arena, "ada", "kills", period="w2026-02") == 4
    assert total(arena, "ada", "kills", period=periods.period_key("today")) == 1
    assert total(arena, "ada", "points", period="d2026-01-05") == 1


def test_an_unknown_stat_refuses_the_whole_batch_and_names_it(arena):
    with pytest.raises(EventsRefused) as refused:
        record(arena, event_in("a", stats={"kills": 1}), event_in("b", stats={"kils": 1}))
    assert refused.value.code == "unknown_stat" and "kils" in refused.value.message
    assert refused.value.details[0]["field"] == "stats.kils"
    assert not ScoreEvent.objects.exists() and not StatTotal.objects.exists()


def test_a_derived_stat_is_not_written_to(arena):
    scoring.stat_declare(game=arena, name="kd", numerator="kills", denominator="deaths")
    with pytest.raises(EventsRefused):
        record(arena, event_in("a", stats={"kd": 1}))


def test_a_retry_counts_no_stat_twice_and_a_changed_retry_is_a_conflict(arena):
    record(arena, event_in("a", stats={"kills": 2}, team="red"))
    assert record(arena, event_in("a", stats={"kills": 2})).duplicates == 1
    assert total(arena, "ada", "kills") == 2
    with pytest.raises(services.EventConflict):
        record(arena, event_in("a", stats={"kills": 3}))
    with pytest.raises(services.EventConflict):
        record(arena, event_in("a", stats={"kills": 2}, team="blue"))


def test_events_fall_into_the_open_match_and_teams_get_totals(arena):
    match, created = scoring.match_start(game_id=arena.pk, match_id="m1", name="Final")
    assert created
    result = record(
        arena,
        event_in("a", "ada", 3, stats={"kills": 1}, team="red"),
        event_in("b", "bob", 2, stats={"kills": 2}, team="blue"),
        event_in("c", "ada", 1, stats={"kills": 1}),  # her team from the roster
    )
    key = periods.match_key(match.pk)
    assert (
        total(arena, "red", "kills", period=key, kind="t"),
        total(arena, "red", "points", period=key, kind="t"),
    ) == (2, 4)
    assert total(arena, "blue", "points", period=key, kind="t") == 2
    assert [e.team for e in result.events] == ["red", "blue", "red"]
    assert {e.match_id for e in result.events} == {match.pk}


def test_events_for_an_ended_match_are_refused_clearly(arena):
    scoring.match_start(game_id=arena.pk, match_id="m1")
    record(arena, event_in("a", match="m1"))
    ended = scoring.match_end(game_id=arena.pk, match_id="m1")
    assert (ended.status, ended.first_seq, ended.last_seq) == ("finished", 1, 1)
    with pytest.raises(EventsRefused) as refused:
        record(arena, event_in("b", match="m1"))
    assert (refused.value.status, refused.value.code) == (409, "match_ended")
    with pytest.raises(EventsRefused) as unknown:
        record(arena, event_in("c", match="nope"))
    assert (unknown.value.status, unknown.value.code) == (422, "unknown_match")
    # With no live match, events carry none.
    assert record(arena, event_in("d")).events[0].match_id is None


def test_match_lifecycle_start_retry_end_and_the_open_match(arena):
    first, _ = scoring.match_start(game_id=arena.pk, match_id="m1", name="One")
    again, created = scoring.match_start(game_id=arena.pk, match_id="m1", name="One")
    assert again.pk == first.pk and not created
    with pytest.raises(scoring.ScoringConflict):
        scoring.match_start(game_id=arena.pk, match_id="m1", name="Other")
    second, _ = scoring.match_start(game_id=arena.pk, name="Two")
    arena.refresh_from_db()
    assert arena.open_match_id == second.pk
    scoring.match_end(game_id=arena.pk, match_id=second.match_id)
    arena.refresh_from_db()
    assert arena.open_match_id == first.pk  # the other live one
    scoring.match_end(game_id=arena.pk, match_id="m1")
    assert scoring.match_end(game_id=arena.pk, match_id="m1").status == "finished"  # idempotent
    arena.refresh_from_db()
    assert arena.open_match_id is None


def test_stat_declaration_is_idempotent_and_checked(arena):
    from django.core.exceptions import ValidationError

    assert scoring.stat_declare(game=arena, name="kills")[1] is False
    with pytest.raises(scoring.ScoringConflict):
        scoring.stat_declare(game=arena, name="kills", op="best")
    for bad in [{"name": "points"}, {"name": "Kills"}, {"name": "kd", "numerator": "kills", "denominator": "nope"}]:
        with pytest.raises(ValidationError):
            scoring.stat_declare(game=arena, **bad)


WRITERS, BATCHES = 4, 6


def _post(game_id: int, writer: int) -> None:
    for b in range(BATCHES):
        # Every writer posts the same shared ids too: their stats must count once.
        events = [event_in(f"w{writer}-{b}", f"p{writer}", 1, stats={"kills": 1, "lap_ms": 60_000 - b})]
        events.append(event_in(f"shared-{b}", "shared", 1, stats={"kills": 2, "rating": b}, team="red"))
        services.score_events_record(game_id=game_id, events=events)


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_count_every_stat_exactly_once():
    """Run on PostgreSQL by CI's second pass (row locks and upserts under real concurrency)."""
    game = game_make(prefix="busy-stats", name="Busy")
    for name, op, order in [("kills", "incr", "desc"), ("lap_ms", "best", "asc"), ("rating", "set", "desc")]:
        scoring.stat_declare(game=game, name=name, op=op, order=order)
    match, _ = scoring.match_start(game_id=game.pk, match_id="m1")
    assert writers_run(lambda w: _post(game.pk, w), WRITERS) == []
    assert total(game, "shared", "kills") == 2 * BATCHES
    assert total(game, "shared", "rating") == BATCHES - 1
    assert [total(game, f"p{w}", "kills") for w in range(WRITERS)] == [BATCHES] * WRITERS
    assert [total(game, f"p{w}", "lap_ms") for w in range(WRITERS)] == [60_000 - BATCHES + 1] * WRITERS
    assert total(game, "red", "kills", period=periods.match_key(match.pk), kind="t") == 2 * BATCHES

import random
from collections import defaultdict
from datetime import timedelta

import pytest
from django.contrib.auth.models import AnonymousUser, User

from stats import selectors, services
from stats.models import Game, ScoreEvent
from stats.tests.games import game_make
from stats.tests.selectors_support import snapshot_builds
from stats.tests.support import event_in

snapshot_builds = snapshot_builds  # the fixture: counts full builds


def record(game, *events):
    return services.score_events_record(game_id=game.pk, events=list(events))


@pytest.fixture
def private_game(db):
    return game_make(prefix="secret", name="Secret", is_public=False)


def test_snapshot_seq_matches_the_totals_and_events_it_carries(game):
    record(game, event_in("a", "ada", 5), event_in("b", "bob", 2), event_in("c", "ada", 1))
    snap = selectors.game_snapshot(game_id=game.pk)
    assert snap["seq"] == 3 == snap["game"]["last_seq"]
    assert [e["seq"] for e in snap["recent"]] == [1, 2, 3]
    assert snap["leaderboard"] == [
        {"player": "ada", "total": 6, "events": 2},
        {"player": "bob", "total": 2, "events": 1},
    ]
    assert snap["players"] == 2
    assert snap["game"]["points"] == sum(e["points"] for e in snap["recent"])


def test_snapshot_of_an_empty_game_is_seq_zero(game):
    snap = selectors.game_snapshot(game_id=game.pk)
    assert (snap["seq"], snap["leaderboard"], snap["recent"], snap["series"]) == (0, [], [], [])


def test_snapshot_leaderboard_breaks_ties_by_name(game):
    record(game, event_in("a", "zed", 3), event_in("b", "amy", 3), event_in("c", "max", 9))
    names = [row["player"] for row in selectors.game_snapshot(game_id=game.pk)["leaderboard"]]
    assert names == ["max", "amy", "zed"]


def test_snapshot_recent_is_the_last_events_in_seq_order(game, settings):
    settings.WEBGAME_RECENT_EVENTS = 3
    record(game, *[event_in(f"e{i}") for i in range(6)])
    assert [e["seq"] for e in selectors.game_snapshot(game_id=game.pk)["recent"]] == [4, 5, 6]


def _forward_series(events: list[ScoreEvent], window: int) -> dict[str, list]:
    """Running totals computed forwards from seq 1, cut to the last `window` events."""
    running: dict[str, int] = defaultdict(int)
    points: list[tuple[str, list]] = []
    for event in events:
        running[event.player.name] += event.points
        points.append((event.player.name, [int(event.at.timestamp() * 1000), running[event.player.name]]))
    series = defaultdict(list)
    for name, point in points[-window:] if window else []:
        series[name].append(point)
    return series


@pytest.mark.parametrize("window", [1000, 7])
def test_series_rebuilt_backwards_equals_forward_running_totals(game, monkeypatch, window):
    monkeypatch.setattr(selectors, "SERIES_WINDOW", window)
    rng = random.Random(42)
    roster = ["ada", "bob", "cy", "di", "ed", "flo", "gus"]
    for batch in range(8):
        record(game, *[event_in(f"b{batch}-{i}", rng.choice(roster), rng.randint(-5, 20)) for i in range(5)])
    snap = selectors.game_snapshot(game_id=game.pk)
    top = [row["player"] for row in snap["leaderboard"][: selectors.SERIES_PLAYERS]]
    events = list(ScoreEvent.objects.filter(game=game, player__name__in=top).select_related("player").order_by("seq"))
    forward = _forward_series(events, window)
    assert [s["player"] for s in snap["series"]] == top
    for series in snap["series"]:
        assert series["points"] == forward[series["player"]]


def test_events_after_returns_missed_events_and_touched_players(game):
    record(game, event_in("a", "ada", 1), event_in("b", "bob", 2), event_in("c", "ada", 3))
    run = selectors.game_events_after(game_id=game.pk, after_seq=1, limit=10)
    assert [e["seq"] for e in run.events] == [2, 3]
    assert sorted(run.players, key=lambda p: p["player"]) == [
        {"player": "ada", "total": 4, "events": 2},
        {"player": "bob", "total": 2, "events": 1},
    ]
    assert run.last_seq == run.game["last_seq"] == 3


def test_events_after_exactly_the_limit_are_returned(game):
    record(game, *[event_in(f"e{i}") for i in range(4)])
    assert len(selectors.game_events_after(game_id=game.pk, after_seq=0, limit=4).events) == 4


def test_events_after_more_than_the_limit_is_none(game):
    record(game, *[event_in(f"e{i}") for i in range(5)])
    assert selectors.game_events_after(game_id=game.pk, after_seq=0, limit=4) is None


def test_events_page_pages_through_the_log(game):
    record(game, *[event_in(f"e{i}") for i in range(5)])
    first = selectors.game_events_page(game_id=game.pk, after_seq=0, limit=2)
    assert ([e["seq"] for e in first["events"]], first["next_after_seq"], first["more"]) == ([1, 2], 2, True)
    last = selectors.game_events_page(game_id=game.pk, after_seq=4, limit=2)
    assert ([e["seq"] for e in last["events"]], last["next_after_seq"], last["more"]) == ([5], 5, False)


def test_events_page_past_the_end_is_empty(game):
    page = selectors.game_events_page(game_id=game.pk, after_seq=9, limit=2)
    assert page == {"events": [], "next_after_seq": 9, "more": False}


def test_anonymous_sees_only_public_games(game, private_game):
    assert list(selectors.game_list_visible(user=AnonymousUser())) == [game]


def test_listed_viewer_sees_the_private_game(game, private_game):
    user = User.objects.create_user("vera")
    private_game.viewers.add(user)
    assert set(selectors.game_list_visible(user=user)) == {game, private_game}
    assert selectors.game_get_visible(slug=private_game.slug, user=user) == private_game


def test_other_user_does_not_see_the_private_game(private_game):
    user = User.objects.create_user("otto")
    with pytest.raises(selectors.GameNotVisible):
        selectors.game_get_visible(slug=private_game.slug, user=user)


def test_staff_sees_every_game(game, private_game):
    staff = User.objects.create_user("sam", is_staff=True)
    assert set(selectors.game_list_visible(user=staff)) == {game, private_game}


def test_private_game_is_not_visible_to_anonymous(private_game):
    with pytest.raises(selectors.GameNotVisible):
        selectors.game_get_visible(slug=private_game.slug, user=AnonymousUser())


def test_game_with_several_viewers_is_listed_once(private_game):
    user = User.objects.create_user("vera")
    private_game.viewers.add(user, User.objects.create_user("vic"))
    assert list(selectors.game_list_visible(user=user)) == [private_game]


def test_api_key_get_finds_a_valid_key(game):
    key, raw = services.api_key_create(game=game)
    assert selectors.api_key_get(raw=raw) == key


def test_api_key_get_refuses_a_wrong_secret(game):
    _, raw = services.api_key_create(game=game)
    assert selectors.api_key_get(raw=raw[:-2] + "xx") is None


def test_api_key_get_refuses_a_revoked_key(game):
    key, raw = services.api_key_create(game=game)
    key.revoked = True
    key.save()
    assert selectors.api_key_get(raw=raw) is None


def test_api_key_get_refuses_a_key_revoked_after_it_was_cached(game):
    key, raw = services.api_key_create(game=game)
    assert selectors.api_key_get(raw=raw) == key
    key.revoked = True
    key.save()
    assert selectors.api_key_get(raw=raw) is None


def test_shared_snapshot_is_read_again_once_the_seq_moves(game):
    assert selectors.game_snapshot_shared(game_id=game.pk)["seq"] == 0
    record(game, event_in("a", points=2))
    assert selectors.game_snapshot_shared(game_id=game.pk)["seq"] == 1


def test_shared_snapshot_is_a_copy_the_caller_may_change(game):
    selectors.game_snapshot_shared(game_id=game.pk)["viewers"] = 7
    assert "viewers" not in selectors.game_snapshot_shared(game_id=game.pk)


def test_many_reads_of_one_state_build_the_snapshot_once(game, snapshot_builds):
    record(game, event_in("a", "ada", 5))
    reads = [selectors.game_snapshot_shared(game_id=game.pk) for _ in range(100)]
    assert snapshot_builds == [game.pk]
    assert {r["seq"] for r in reads} == {1}
    record(game, event_in("b", "bob", 2))  # a new state: the next read builds again
    assert selectors.game_snapshot_shared(game_id=game.pk)["leaderboard"][1]["player"] == "bob"
    assert snapshot_builds == [game.pk, game.pk]


def test_shared_snapshot_equals_a_build_but_for_the_clock(game, snapshot_builds):
    record(game, event_in("a", "ada", 5), event_in("b", "bob", 2))
    selectors.game_snapshot_shared(game_id=game.pk)
    shared, built = selectors.game_snapshot_shared(game_id=game.pk), selectors.game_snapshot(game_id=game.pk)
    assert shared["server_ms"] >= built["server_ms"] - 1000
    assert {k: v for k, v in shared.items() if k != "server_ms"} == {k: v for k, v in built.items() if k != "server_ms"}


def test_shared_snapshot_rate_and_clock_are_per_read(game, snapshot_builds, monkeypatch):
    """The same seq means no new event: the rate chart only loses seconds older than its window."""
    record(game, event_in("a"))
    first = selectors.game_snapshot_shared(game_id=game.pk)
    assert sum(n for _, n in first["rate"]) == 1
    later = selectors.timezone.now() + timedelta(seconds=selectors.RATE_SECONDS + 2)
    monkeypatch.setattr(selectors.timezone, "now", lambda: later)
    again = selectors.game_snapshot_shared(game_id=game.pk)
    assert (again["rate"], again["server_ms"]) == ([], int(later.timestamp() * 1000))
    assert snapshot_builds == [game.pk]


def test_shared_snapshot_shows_a_rename_without_a_new_event(game, snapshot_builds):
    selectors.game_snapshot_shared(game_id=game.pk)
    game.name = "Arena II"
    game.save()
    assert selectors.game_snapshot_shared(game_id=game.pk)["game"]["name"] == "Arena II"
    assert snapshot_builds == [game.pk]


def test_shared_snapshot_of_a_new_game_with_a_reused_id_is_built_again(game, snapshot_builds):
    record(game, event_in("a", "ada", 5))
    selectors.game_snapshot_shared(game_id=game.pk)
    old_pk = game.pk
    game.delete()
    again = game_make(prefix="again", name="Again")
    Game.objects.filter(pk=again.pk).update(id=old_pk)  # as SQLite does after a rollback
    record(Game.objects.get(pk=old_pk), event_in("z", "zed", 9))
    assert selectors.game_snapshot_shared(game_id=old_pk)["leaderboard"][0]["player"] == "zed"


@pytest.mark.parametrize("raw", ["", "nonsense", "wg_", "xx_abcd_efgh"])
def test_api_key_get_refuses_malformed_keys(game, raw):
    assert selectors.api_key_get(raw=raw) is None


def test_history_reads_the_rollups(game):
    record(game, event_in("a", points=2), event_in("b", points=3))
    services.rollups_compute(game_id=game.pk)
    history = selectors.game_history(game_id=game.pk, range="5m")
    assert [b[1:] for b in history["buckets"]] == [[2, 5]]
    assert (history["rolled_up_seq"], history["last_seq"], history["bucket_ms"]) == (2, 2, 60_000)


def test_history_refuses_an_unknown_range(game):
    with pytest.raises(ValueError):
        selectors.game_history(game_id=game.pk, range="forever")


def test_history_of_a_long_match_merges_minutes_into_wider_buckets(game):
    from datetime import timedelta

    from django.utils import timezone

    start = timezone.now() - timedelta(days=2)
    record(game, event_in("old", points=4, at=start), event_in("old2", points=1, at=start + timedelta(minutes=1)))
    record(game, event_in("new", points=2))
    services.rollups_compute(game_id=game.pk)
    history = selectors.game_history(game_id=game.pk, range="match")
    assert len(history["buckets"]) <= selectors.HISTORY_MAX_BUCKETS
    assert history["bucket_ms"] > 60_000
    assert sum(b[1] for b in history["buckets"]) == 3
    assert sum(b[2] for b in history["buckets"]) == 7


@pytest.mark.django_db(transaction=True)
async def test_api_key_aget_reads_a_key_once_then_answers_from_the_cache_on_the_loop(game, monkeypatch):
    from asgiref.sync import sync_to_async

    key, raw = await sync_to_async(services.api_key_create)(game=game)
    selectors.api_key_cache_clear()
    assert (await selectors.api_key_aget(raw=raw)).pk == key.pk  # read from the database
    monkeypatch.setattr(selectors, "api_key_get", lambda **kwargs: pytest.fail("not from the cache"))
    assert (await selectors.api_key_aget(raw=raw)).pk == key.pk
    assert await selectors.api_key_aget(raw="not-a-key") is None

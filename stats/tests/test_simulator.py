"""The demo simulator's bursts: pure, deterministic per seed, and shaped like a real match;
and the demo's game server (demo_key, demo_client, demo_play), against a real web process."""

import time
from collections import Counter

import pytest
from webgame_client import ClientClosed

from stats import selectors, services, simulator
from stats.models import ApiKey, ScoreEvent
from stats.schemas import EventIn
from stats.simulator import DEMO_STATS, FOES, TEAM_OF, TEAMS, demo_client, demo_key, demo_play, events_simulate
from stats.tests.games import game_make

SEEDS = [f"task-{n}-7" for n in range(300)]
PLAIN_STATS = {s["name"] for s in DEMO_STATS if "numerator" not in s}


def test_the_same_seed_gives_the_very_same_events():
    for seed in SEEDS[:20]:
        first, again = events_simulate(seed=seed), events_simulate(seed=seed)
        assert [e.model_dump() for e in first] == [e.model_dump() for e in again]


def test_other_seeds_give_other_events_and_other_ids():
    bursts = [events_simulate(seed=seed) for seed in SEEDS[:20]]
    assert len({tuple((e.player, e.kind) for e in burst) for burst in bursts}) > 10
    ids = [e.id for burst in bursts for e in burst]
    assert len(ids) == len(set(ids))


def test_every_event_names_its_team_and_carries_declared_stats_and_no_match():
    for seed in SEEDS:
        for event in events_simulate(seed=seed):
            assert event.team == TEAM_OF[event.player] and event.team in TEAMS
            assert event.stats and set(event.stats) <= PLAIN_STATS
            assert event.match is None  # it falls into the open match, so a retry is the same content
            assert event.at is None


def test_each_kill_is_followed_by_the_death_of_a_player_of_the_other_team():
    kills = deaths = 0
    for seed in SEEDS:
        events = events_simulate(seed=seed)
        for i, event in enumerate(events):
            if event.kind == "kill":
                victim = events[i + 1]
                assert (victim.kind, victim.stats, victim.points) == ("death", {"deaths": 1}, 0)
                assert victim.player in FOES[event.team] and victim.team != event.team
                kills += 1
            elif event.kind == "death":
                assert events[i - 1].kind == "kill"
                deaths += 1
    assert kills == deaths > 300


def test_kills_score_and_assists_come_from_a_teammate_of_the_killer():
    assists = 0
    for seed in SEEDS:
        events = events_simulate(seed=seed)
        for i, event in enumerate(events):
            if event.kind == "kill":
                assert (event.points, event.stats["kills"]) == (100, 1)
            if event.kind == "assist":
                killer = next(e for e in reversed(events[:i]) if e.kind == "kill")
                assert event.team == killer.team and event.player != killer.player
                assert (event.points, event.stats) == (50, {"assists": 1})
                assists += 1
    assert assists > 50


def test_best_streak_counts_kills_without_dying_in_the_burst():
    for seed in SEEDS:
        alive: Counter = Counter()
        for event in events_simulate(seed=seed):
            if event.kind == "death":
                alive[event.player] = 0
            elif event.kind == "kill":
                alive[event.player] += 1
                assert event.stats["best_streak"] == alive[event.player]


def test_both_teams_kill_and_every_player_plays():
    events = [e for seed in SEEDS for e in events_simulate(seed=seed)]
    assert {e.team for e in events if e.kind == "kill"} == set(TEAMS)
    assert {e.player for e in events} == set(TEAM_OF)


def test_a_burst_has_one_to_max_plays_kills_events():
    for seed in SEEDS:
        plays = [e for e in events_simulate(seed=seed, max_plays=2) if e.kind == "kill"]
        assert 1 <= len(plays) <= 2 * 3  # a play may be a double or a triple kill


def test_a_long_seed_still_makes_valid_distinct_ids():
    events = events_simulate(seed="x" * 200)
    assert all(len(e.id) <= 64 for e in events)
    assert len({e.id for e in events}) == len(events)
    assert [EventIn.model_validate(e.model_dump()) for e in events] == events


# The demo's game server. Its events go to a real web process (uvicorn, as the Procfile runs
# it), on the test database: what it stored is read from there.

WAIT = 30.0  # seconds: a bound on every wait, never a sleep


@pytest.fixture
def arena(web, transactional_db, settings):
    if web.popen is None:
        web.start()  # a test that stopped it failed before starting it again
    settings.DEMO_SERVER_URL = web.url
    settings.DEMO_MATCH_SECONDS = 90
    return game_make(prefix="arena", name="Arena")


def stored_ids(game) -> set[str]:
    return set(ScoreEvent.objects.filter(game=game).values_list("event_id", flat=True))


def condition_wait(condition, what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not within {WAIT}s"
        time.sleep(0.02)


def test_the_demo_key_is_derived_once_per_game_and_opens_the_api(transactional_db):
    arena, other = (game_make(prefix=s, name=s) for s in ("arena", "other"))
    key = demo_key(game=arena)
    assert key is not None and demo_key(game=arena) == key  # every process and run finds the same key
    assert demo_key(game=other) not in (None, key)
    row = ApiKey.objects.get(game=arena)
    assert (row.name, row.revoked, row.hashed) == ("demo simulator", False, services.api_key_hash(key))
    assert key not in row.hashed and selectors.api_key_get(raw=key).game == arena
    arena.delete()
    again = services.game_create(slug=arena.slug, name="Arena")  # the same slug again
    assert demo_key(game=again) != key  # a game made again: no key a web process still caches


def test_a_revoked_demo_key_stops_the_demo_in_that_game(arena):
    demo_key(game=arena)
    ApiKey.objects.filter(game=arena).update(revoked=True)
    assert demo_key(game=arena) is None
    assert demo_play(game=arena, seed="s-1") == 0
    assert not ScoreEvent.objects.filter(game=arena).exists()
    assert ApiKey.objects.filter(game=arena).count() == 1  # no second key made behind the operator's back


def test_demo_play_sends_the_burst_through_the_web_process_over_the_socket(arena):
    sent = demo_play(game=arena, seed="s-1")
    burst = events_simulate(seed="s-1")
    assert sent == len(burst) and stored_ids(arena) == {e.id for e in burst}  # stored before it returns
    stored = ScoreEvent.objects.filter(game=arena).select_related("match", "player").order_by("seq")
    assert [(e.player.name, e.points, e.kind, e.team, e.stats) for e in stored] == [
        (e.player, e.points, e.kind, e.team, e.stats) for e in burst
    ]
    assert {e.match.match_id for e in stored} == {"demo-1"}
    client = demo_client(slug=arena.slug, key=demo_key(game=arena))
    assert client.transport == "socket" and client.stats.http_fallbacks == 0


def test_the_same_seed_again_is_only_duplicates(arena):
    sent = demo_play(game=arena, seed="s-2")
    client = demo_client(slug=arena.slug, key=demo_key(game=arena))
    assert demo_play(game=arena, seed="s-2") == sent
    assert ScoreEvent.objects.filter(game=arena).count() == sent
    assert (client.stats.acked, client.stats.duplicates) == (2 * sent, sent)


def test_a_client_per_game_kept_until_its_server_or_key_changes(arena, settings, web):
    key = demo_key(game=arena)
    client = demo_client(slug=arena.slug, key=key)
    assert demo_client(slug=arena.slug, key=key) is client
    settings.DEMO_SERVER_URL = f"http://localhost:{web.port}"
    moved = demo_client(slug=arena.slug, key=key)
    assert moved is not client
    with pytest.raises(ClientClosed):
        client.send("ada", 1)  # the old one was closed, not left with a thread and a socket
    assert demo_play(game=arena, seed="s-3") > 0 and moved.stats.acked > 0


def test_events_played_while_the_web_process_is_down_arrive_when_it_is_back(arena, web, monkeypatch):
    monkeypatch.setattr(simulator, "FLUSH_SECONDS", 0.5)
    demo_play(game=arena, seed="s-4")  # connects the client while the server is up
    web.stop()
    try:
        sent = demo_play(game=arena, seed="s-5")  # not acked within FLUSH_SECONDS: kept, not lost
        assert sent > 0 and stored_ids(arena).isdisjoint(e.id for e in events_simulate(seed="s-5"))
    finally:
        web.start()
    condition_wait(lambda: {e.id for e in events_simulate(seed="s-5")} <= stored_ids(arena), "the kept burst stored")

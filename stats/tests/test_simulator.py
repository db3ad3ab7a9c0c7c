"""The demo simulator's bursts: pure, deterministic per seed, and shaped like a real match."""

from collections import Counter

from stats.schemas import EventIn
from stats.simulator import DEMO_STATS, FOES, TEAM_OF, TEAMS, events_simulate

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

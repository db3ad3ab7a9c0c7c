"""The cost of one batch of stats (issue #19), in one process, no server:

    python -m bench.write_bounds [--database sqlite|postgresql]

One 1,000-event batch, every event a new player in a team of a new match, each carrying N
stats: N=32 (what a key holder could send before BATCH_MAX_STAT_VALUES, 32,000 values) and
N=4 (4,000 values: the most a batch may carry now). Prints the rows written and the time."""

import argparse
import time

from bench.gamestats import django_start, pg_drop

STATS = [f"s{i}" for i in range(32)]


def one_batch(game, stats_each: int, tag: str) -> tuple[int, float]:
    from stats import services
    from stats.schemas import EventIn
    from stats.scoring import services as scoring
    from stats.scoring.models import MatchPlayer, StatTotal

    scoring.match_start(game_id=game.pk, match_id=f"m-{tag}")
    stats = dict.fromkeys(STATS[:stats_each], 7)
    events = [
        EventIn(id=f"{tag}-{i}", player=f"{tag}-p{i}", team=f"{tag}-t{i % 8}", match=f"m-{tag}", stats=stats)
        for i in range(1000)
    ]
    before = StatTotal.objects.filter(game=game).count() + MatchPlayer.objects.count()
    start = time.perf_counter()
    services.score_events_record(game_id=game.pk, events=events)
    took = time.perf_counter() - start
    rows = StatTotal.objects.filter(game=game).count() + MatchPlayer.objects.count() - before + 2 * len(events)
    return rows, took


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="postgresql")
    args = parser.parse_args()
    pg_name = django_start(args.database)
    try:
        from stats import services
        from stats.scoring import services as scoring

        game = services.game_create(slug="bounds", name="Bounds")
        for name in STATS:
            scoring.stat_declare(game=game, name=name)
        for round_ in range(3):
            for stats_each in (32, 4):
                rows, took = one_batch(game, stats_each, f"r{round_}n{stats_each}")
                print(f"{args.database}: 1,000 events x {stats_each:2} stats: ~{rows:7,} rows, {took * 1000:7.0f} ms")
    finally:
        if pg_name:
            pg_drop(pg_name)


if __name__ == "__main__":
    main()

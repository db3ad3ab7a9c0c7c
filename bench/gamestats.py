"""Game stats on the write path and the leaderboard (issue #11), in one process, no server.

    python -m bench.gamestats [--database sqlite|postgresql] [--fill 1000000]

1. Write CPU: 1,000-event batches through services.score_events_record, points only against
   three stats each (with a team and a match), interleaved. CPU is this process's (for SQLite
   that includes the database; for PostgreSQL the server's CPU is added from pg_stat_activity's
   backend via /proc). The goal: stats within 1.5x the CPU per event of points only.
2. Leaderboards at `--fill` events: the query count and the time of each kind of read.

For an A/B against an older tree, run this file from that tree's root with `--points-only`:
    git worktree add /tmp/wg-old <commit>; cd /tmp/wg-old && python <this tree>/bench/gamestats.py --points-only
"""

import argparse
import os
import statistics
import sys
import tempfile
import time

ROUNDS = 12
BATCH = 1000


def django_start(database: str) -> str | None:
    """Point Django at a fresh database; returns the PostgreSQL database to drop after."""
    sys.path.insert(0, os.getcwd())
    # Production settings: DEBUG would log every query's SQL, a cost no deployment pays.
    os.environ["DEBUG"] = "false"
    os.environ.setdefault("SECRET_KEY", "bench-only-not-secret")
    # The write path publishes after commit: to the machine's Redis if there is one (a failed
    # publish costs both kinds alike).
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/15")
    os.environ["DJANGO_SETTINGS_MODULE"] = "webgame.settings"
    pg_name = None
    if database == "postgresql":
        import psycopg

        pg_name = f"webgame_gamestats_{os.getpid()}"
        with psycopg.connect("postgres://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{pg_name}"')
        os.environ["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{pg_name}"
    else:
        os.environ["DATABASE_URL"] = f"sqlite:///{tempfile.mkdtemp()}/gamestats.sqlite3"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return pg_name


def pg_drop(name: str) -> None:
    import psycopg
    from django.db import connections

    connections.close_all()
    with psycopg.connect("postgres://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def backend_cpu() -> float:
    """CPU seconds of this connection's PostgreSQL backend (0 for SQLite: it is in-process)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return 0.0
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def batch_make(n: int, *, with_stats: bool, players: int = 100) -> list:
    from stats.schemas import EventIn

    if not with_stats:
        return [EventIn(id=f"b{n}-{i}", player=f"p{i % players}", points=1) for i in range(BATCH)]
    return [
        EventIn(
            id=f"s{n}-{i}",
            player=f"p{i % players}",
            points=1,
            stats={"kills": i % 3, "deaths": i % 2, "assists": 1},
            team="red" if i % players < players // 2 else "blue",
        )
        for i in range(BATCH)
    ]


def write_cpu(game_id: int, with_stats: bool, n: int) -> tuple[float, float]:
    from stats import services

    events = batch_make(n, with_stats=with_stats)
    cpu0, db0, wall0 = time.process_time(), backend_cpu(), time.perf_counter()
    services.score_events_record(game_id=game_id, events=events)
    return (time.process_time() - cpu0 + backend_cpu() - db0) / BATCH * 1e6, (time.perf_counter() - wall0) * 1000


def writes_bench(points_only: bool) -> None:
    from stats import services

    kinds = [False] if points_only else [False, True]
    games = {k: services.game_create(slug=f"w{int(k)}", name="w").pk for k in kinds}
    if not points_only:
        from stats.scoring import services as scoring

        game = services.Game.objects.get(pk=games[True])
        for name in ("kills", "deaths", "assists"):
            scoring.stat_declare(game=game, name=name)
        scoring.match_start(game_id=game.pk, match_id="m1")
    samples = {k: [] for k in kinds}
    for n in range(ROUNDS + 2):
        for kind in kinds:
            cpu_us, wall_ms = write_cpu(games[kind], kind, n)
            if n >= 2:  # the first rounds warm caches and create the players
                samples[kind].append((cpu_us, wall_ms))
    base = statistics.median(s[0] for s in samples[False])
    for kind in kinds:
        cpu, wall = statistics.median(s[0] for s in samples[kind]), statistics.median(s[1] for s in samples[kind])
        label = "3 stats + team + match" if kind else "points only"
        print(f"write  {label:24} cpu/event {cpu:7.1f} us  batch wall {wall:6.1f} ms  ratio {cpu / base:4.2f}x")


def fill(game, total: int) -> None:
    from stats import services
    from stats.scoring import services as scoring

    for name in ("kills", "deaths", "assists"):
        scoring.stat_declare(game=game, name=name)
    scoring.stat_declare(game=game, name="kd", numerator="kills", denominator="deaths")
    scoring.match_start(game_id=game.pk, match_id="m1")
    started = time.perf_counter()
    for n in range(total // BATCH):
        events = batch_make(n, with_stats=True, players=1000)
        services.score_events_record(game_id=game.pk, events=events)
    print(f"fill   {total:,} events in {time.perf_counter() - started:.0f} s", flush=True)


def reads_bench(total: int) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from stats import services
    from stats.scoring.leaderboard import Query, leaderboard_read

    game = services.game_create(slug="board", name="board")
    fill(game, total)
    queries = {
        "points all-time top 10": Query(),
        "kills today top 10": Query(stat="kills", period="today"),
        "kills this week around p500": Query(stat="kills", period="week", around="p500"),
        "kd (derived) top 10": Query(stat="kd"),
        "points in match m1, teams": Query(match_id="m1", entity="team"),
    }
    for label, query in queries.items():
        times = []
        for _ in range(5):
            with CaptureQueriesContext(connection) as captured:
                started = time.perf_counter()
                leaderboard_read(game=game, query=query)
                times.append((time.perf_counter() - started) * 1000)
        print(f"read   {label:30} {len(captured.captured_queries)} queries  median {statistics.median(times):6.1f} ms")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    p.add_argument("--fill", type=int, default=1_000_000, help="events in the leaderboard game (0: skip)")
    p.add_argument("--points-only", action="store_true", help="the write step without stats (for an old tree)")
    args = p.parse_args()
    pg_name = django_start(args.database)
    try:
        print(f"gamestats on {args.database} (tree {os.getcwd()})", flush=True)
        writes_bench(args.points_only)
        if args.fill and not args.points_only:
            reads_bench(args.fill)
    finally:
        if pg_name:
            pg_drop(pg_name)


if __name__ == "__main__":
    main()

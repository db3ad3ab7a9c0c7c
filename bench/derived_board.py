"""A flood of derived-stat leaderboard reads against another game's writes (issue #19):

    python -m bench.derived_board [--readers 16] [--seconds 10] [--players 20000]

A game with 20,000 players ranked by K/D (a ratio, computed when read), read anonymously and
back to back by `--readers` connections, while one-event POSTs go to another game one after
another: their p50 and p99, against the same POSTs with no readers. One uvicorn process on
SQLite, with the anonymous read limit out of the way (it measures the cost, not the limiter)."""

import argparse
import asyncio
import json
import os
import statistics

from bench import cli, report
from bench.load import Http, Poster, event_make
from bench.reads import get_loop
from bench.servers import stack

BOARD, OTHER = "board", "other"
LEADERBOARD = f"/api/games/{BOARD}/leaderboard?stat=kd&limit=10"


def arguments() -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.derived_board", description=__doc__)
    p.add_argument("--app-server", default="uvicorn")
    p.add_argument("--readers", type=int, default=16)
    p.add_argument("--seconds", type=float, default=10)
    p.add_argument("--players", type=int, default=20000)
    cli.stack_options(p, port=8500, redis_port=16500)
    return cli.parse(p)


async def seed(port: int, key: str, players: int) -> None:
    http, headers = Http("127.0.0.1", port), {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    stats = [{"name": "kills"}, {"name": "deaths"}, {"name": "kd", "numerator": "kills", "denominator": "deaths"}]
    for body in stats:
        status, _ = await http.request("POST", f"/api/games/{BOARD}/stats", json.dumps(body).encode(), headers)
        assert status in (200, 201), status
    for start in range(0, players, 1000):
        events = [
            {"id": f"s{n}", "player": f"p{n}", "stats": {"kills": n % 37, "deaths": n % 11}}
            for n in range(start, min(players, start + 1000))
        ]
        status, body = await http.request(
            "POST", f"/api/games/{BOARD}/events", json.dumps({"events": events}).encode(), headers
        )
        assert status == 202, body[:300]
    http.close()


async def post_row(port: int, key: str, readers: int, seconds: float) -> dict:
    loop = asyncio.get_running_loop()
    until, tally = loop.time() + seconds, {}
    reading = [asyncio.ensure_future(get_loop(port, LEADERBOARD, until, tally)) for _ in range(readers)]
    await asyncio.sleep(0.5 if readers else 0)
    poster, n = Poster(port, OTHER, key, connections=1), 0
    while loop.time() < until:
        await poster.post([event_make(n)])
        n += 1
    poster.close()
    await asyncio.gather(*reading)
    posts = sorted(poster.post_ms)
    return {
        "readers": readers,
        "posts": len(posts),
        "post_p50_ms": round(statistics.median(posts), 1) if posts else None,
        "post_p99_ms": round(posts[int(len(posts) * 0.99)], 1) if posts else None,
        "post_errors": poster.errors,
        "boards_ok_per_s": round(len(tally.get(200, [])) / seconds, 1),
        "boards_busy": len(tally.get(503, [])),
    }


async def measure(port: int, keys: dict, args) -> list[dict]:
    await seed(port, keys[BOARD], args.players)
    await get_loop(port, LEADERBOARD, asyncio.get_running_loop().time() + 0.5, {})  # warm
    return [await post_row(port, keys[OTHER], readers, args.seconds) for readers in (0, args.readers)]


def main() -> None:
    args = arguments()
    args.no_pin = False
    if args.client_cpus and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {int(c) for c in args.client_cpus.split(",")})
    with stack(args) as st:
        keys = st.games_create([BOARD, OTHER])
        web = st.web(args.app_server, name="derived", API_ANON_READ_RATE="100000000")
        rows = asyncio.run(measure(web.port, keys, args))
    cols = ["readers", "posts", "post_p50_ms", "post_p99_ms", "post_errors", "boards_ok_per_s", "boards_busy"]
    title = f"One-event POSTs while connections read a K/D leaderboard of {args.players:,} players"
    print(report.table(title, rows, cols))


if __name__ == "__main__":
    main()

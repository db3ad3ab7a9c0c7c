"""Reads (issue #10): how many anonymous snapshot reads one web process serves, and what heavy
reads do to writes: the median one-event POST while 32 connections read `events?limit=1000`.

`python -m bench.reads` starts its own Valkey, SQLite database and web server (uvicorn by
default), with the anonymous read limit raised out of the way: it measures throughput, not
the limiter. See docs/benchmarks.md.
"""

import argparse
import asyncio
import os
import statistics
import time

from bench import cli, report
from bench.load import Http, Poster, event_make
from bench.servers import cpu_seconds, stack

SLUG = "reads"
SEED_EVENTS, SEED_BATCH = 5000, 1000  # enough for full 1,000-event pages and a 50-event recent list
PAGE = f"/api/games/{SLUG}/events?after_seq=0&limit=1000"
SNAPSHOT = f"/api/games/{SLUG}/snapshot"


def arguments() -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.reads", description=__doc__)
    p.add_argument("--app-server", default="uvicorn", help="uvicorn or daphne")
    p.add_argument("--seconds", type=float, default=5, help="duration of each snapshot row")
    p.add_argument("--clients", default="1,8", help="snapshot readers (keep-alive connections) per row")
    p.add_argument("--readers", type=int, default=32, help="connections reading 1,000-event pages")
    p.add_argument("--post-seconds", type=float, default=10, help="duration of each POST-latency row")
    cli.stack_options(p, port=8400, redis_port=16400)
    return cli.parse(p)


async def seed(port: int, key: str) -> None:
    poster = Poster(port, SLUG, key, connections=1)
    for start in range(0, SEED_EVENTS, SEED_BATCH):
        await poster.post([event_make(n) for n in range(start, start + SEED_BATCH)])
    poster.close()
    if poster.sent != SEED_EVENTS:
        raise RuntimeError(f"seeding stored {poster.sent} of {SEED_EVENTS} events")


async def get_loop(port: int, path: str, until: float, tally: dict) -> None:
    """GET `path` back to back on one keep-alive connection until `until` (loop time)."""
    loop, http = asyncio.get_running_loop(), Http("127.0.0.1", port)
    while loop.time() < until:
        began = time.perf_counter()
        try:
            status, _ = await http.request("GET", path, headers={"Accept": "application/json"})
        except (OSError, asyncio.IncompleteReadError):
            status = 0
            http.close()
        tally.setdefault(status, []).append((time.perf_counter() - began) * 1000)
    http.close()


async def snapshot_row(port: int, pids: list[int], clients: int, seconds: float) -> dict:
    tally: dict[int, list[float]] = {}
    loop = asyncio.get_running_loop()
    cpu0, t0 = cpu_seconds(pids), loop.time()
    await asyncio.gather(*(get_loop(port, SNAPSHOT, t0 + seconds, tally) for _ in range(clients)))
    wall, cpu = loop.time() - t0, cpu_seconds(pids) - cpu0
    ok = sorted(tally.get(200, []))
    return {
        "clients": clients,
        "reads_ok": len(ok),
        "reads_per_s": round(len(ok) / wall, 1),
        "cpu_ms_per_read": round(cpu * 1000 / len(ok), 2) if ok else None,
        "p50_ms": round(ok[len(ok) // 2], 1) if ok else None,
        "refused": sum(len(v) for k, v in tally.items() if k != 200),
    }


async def post_row(port: int, key: str, readers: int, seconds: float) -> dict:
    """One-event POSTs one after another for `seconds`, while `readers` connections read pages."""
    loop = asyncio.get_running_loop()
    until = loop.time() + seconds
    tally: dict[int, list[float]] = {}
    reading = [asyncio.ensure_future(get_loop(port, PAGE, until, tally)) for _ in range(readers)]
    await asyncio.sleep(0.5 if readers else 0)  # the reads are under way before the first POST
    poster, n = Poster(port, SLUG, key, connections=1), 0
    while loop.time() < until:
        await poster.post([event_make(SEED_EVENTS + n)])  # ids carry the time: unique across rows
        n += 1
    poster.close()
    await asyncio.gather(*reading)
    posts = poster.post_ms
    return {
        "readers": readers,
        "posts": len(posts),
        "post_errors": poster.errors,
        "post_p50_ms": round(statistics.median(posts), 1) if posts else None,
        "post_max_ms": round(max(posts), 1) if posts else None,
        "pages_ok_per_s": round(len(tally.get(200, [])) / seconds, 1),
        "pages_refused": sum(len(v) for k, v in tally.items() if k != 200),
    }


async def measure(port: int, pids: list[int], key: str, args) -> dict:
    await seed(port, key)
    await get_loop(port, SNAPSHOT, asyncio.get_running_loop().time() + 0.5, {})  # warm: imports, connections
    snapshots = [await snapshot_row(port, pids, int(c), args.seconds) for c in args.clients.split(",")]
    posts = [await post_row(port, key, readers, args.post_seconds) for readers in (0, args.readers)]
    return {"snapshot": snapshots, "post": posts}


def reads_bench(st, args) -> dict:
    """The `reads` step of `make bench` (python -m bench), on its stack, with this module's
    default durations."""
    opts = argparse.Namespace(seconds=5, clients="1,8", readers=32, post_seconds=10)
    key = st.games_create([SLUG])[SLUG]
    web = st.web(args.app_server, name=f"reads-{args.app_server}", API_ANON_READ_RATE="100000000")
    try:
        return asyncio.run(measure(web.port, web.pids, key, opts))
    finally:
        st.stop(web)


def main() -> None:
    args = arguments()
    if args.client_cpus and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {int(c) for c in args.client_cpus.split(",")})
    results: dict = {"machine": report.machine(), "args": vars(args)}
    print(f"bench.reads on {results['machine']['cpu']} x{results['machine']['cores']}", flush=True)
    with stack(args) as st:
        key = st.games_create([SLUG])[SLUG]
        web = st.web(args.app_server, name=f"reads-{args.app_server}", API_ANON_READ_RATE="100000000")
        results.update(asyncio.run(measure(web.port, web.pids, key, args)))
    server = args.app_server
    cols = ["clients", "reads_ok", "reads_per_s", "cpu_ms_per_read", "p50_ms", "refused"]
    print(report.table(f"Anonymous snapshot reads, one {server} process", results["snapshot"], cols))
    cols = ["readers", "posts", "post_p50_ms", "post_max_ms", "post_errors", "pages_ok_per_s", "pages_refused"]
    print(report.table(f"One-event POSTs while connections read 1,000-event pages ({server})", results["post"], cols))
    print(f"\nJSON: {report.save({'reads': results})}")


if __name__ == "__main__":
    main()

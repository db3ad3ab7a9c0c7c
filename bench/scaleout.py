"""Scale-out: one web process against two on the same Redis. Events are posted to the first
process only; the second one's viewers get them through the channel layer. Two layouts of
two processes: viewers spread evenly ("even"), or all on the second process, which then only
fans out while the first only takes the POSTs ("split", as docs/deploy.md suggests for many
viewers and high event rates).

The machine has 2 cores, which the clients also need, so capacity is computed per process
from its own CPU cost: a process's capacity is the deliveries it would make in a second of
one full core (its deliveries / its CPU seconds), and N processes on N cores add up."""

import asyncio
import time

from bench.crowd import Crowd, hist_percentile
from bench.load import Poster
from bench.servers import cpu_seconds

DRAIN_TIMEOUT = 15.0


async def scale_step(procs: list, slug: str, key: str, counts: list[int], rate: float, args) -> dict:
    """`counts`: the viewers of each process (0: it only takes the POSTs)."""
    path = f"/ws/games/{slug}/"
    crowds = [
        Crowd([(p.port, path)], n, args.clients, args.client_cpus) if n else None
        for p, n in zip(procs, counts, strict=True)
    ]
    for crowd in filter(None, crowds):
        await crowd.__aenter__()
    try:
        await asyncio.sleep(0.5)
        poster = Poster(procs[0].port, slug, key)
        cpu0, t0 = [cpu_seconds(p.pids) for p in procs], time.monotonic()
        await poster.at_rate(rate, args.seconds)
        seen = [await crowd.finish(poster.last_seq, DRAIN_TIMEOUT) if crowd else None for crowd in crowds]
        wall = time.monotonic() - t0
        cpu = [cpu_seconds(p.pids) - c for p, c in zip(procs, cpu0, strict=True)]
        poster.close()
    finally:
        for crowd in filter(None, crowds):
            await crowd.__aexit__(None, None, None)
    per = [_process_row(i, n, s, c, poster.sent) for i, (n, s, c) in enumerate(zip(counts, seen, cpu, strict=True))]
    watched = [p for p in per if p["viewers"]]
    return {
        "processes": len(procs),
        "layout": "split" if 0 in counts else "even",
        "viewers": sum(counts),
        "rate": rate,
        "posted": poster.sent,
        "deliveries_per_s": round(sum(p["deliveries"] for p in per) / wall),
        "capacity_deliveries_per_s": sum(p["deliveries_per_cpu_s"] or 0 for p in watched),
        "all_cpu_s": round(sum(cpu), 2),
        "deliveries_per_all_cpu_s": round(sum(p["deliveries"] for p in per) / sum(cpu)) if sum(cpu) else None,
        "p99_ms": max(p["p99_ms"] for p in watched),
        "gaps": sum(p["gaps"] for p in watched),
        "per_process": per,
    }


def _process_row(i: int, viewers: int, seen: dict | None, cpu: float, posted: int) -> dict:
    deliveries = seen["deliveries"] if seen else 0
    return {
        "process": i,
        "viewers": viewers,
        "deliveries": deliveries,
        "cpu_s": round(cpu, 2),
        "deliveries_per_cpu_s": round(deliveries / cpu) if cpu and viewers else None,
        "p99_ms": hist_percentile(seen["hist"], 0.99) if seen else None,
        "gaps": seen["gaps"] if seen else 0,
        "missing": posted * viewers - deliveries,
    }


def scaleout_bench(st, args, slug: str, key: str) -> list[dict]:
    rows = []
    viewers = args.scale_viewers
    for counts in ([viewers], [viewers // 2, viewers - viewers // 2], [0, viewers]):
        # One core per web process where there are two cores: process i on cpu i.
        cpus = [str(i) if args.server_cpus else None for i in range(len(counts))]
        procs = [st.web(args.app_server, name=f"scale{len(counts)}-{i}", cpus=cpus[i]) for i in range(len(counts))]
        rows.append(asyncio.run(scale_step(procs, slug, key, counts, args.scale_rate, args)))
        for proc in procs:
            st.stop(proc)
    return rows

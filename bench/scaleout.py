"""Scale-out: one web process against two on the same Redis. Events are posted to the first
process only; the second one's viewers get them through the channel layer.

The machine has 2 cores, which the clients also need, so capacity is computed per process
from its own CPU cost: a process's capacity is the deliveries it would make in a second of
one full core (its deliveries / its CPU seconds), and N processes on N cores add up."""

import asyncio
import time

from bench.crowd import Crowd, hist_percentile
from bench.load import Poster
from bench.servers import cpu_seconds

DRAIN_TIMEOUT = 15.0


async def scale_step(procs: list, slug: str, key: str, viewers: int, rate: float, seconds: float, args) -> dict:
    share = viewers // len(procs)
    crowds = [Crowd([(p.port, f"/ws/games/{slug}/")], share, args.clients, args.client_cpus) for p in procs]
    for crowd in crowds:
        await crowd.__aenter__()
    try:
        await asyncio.sleep(0.5)
        poster = Poster(procs[0].port, slug, key)
        cpu0, t0 = [cpu_seconds(p.pids) for p in procs], time.monotonic()
        await poster.at_rate(rate, seconds)
        seen = [await crowd.finish(poster.last_seq, DRAIN_TIMEOUT) for crowd in crowds]
        wall = time.monotonic() - t0
        cpu = [cpu_seconds(p.pids) - c for p, c in zip(procs, cpu0, strict=True)]
        poster.close()
    finally:
        for crowd in crowds:
            await crowd.__aexit__(None, None, None)
    per = [
        {
            "process": i,
            "viewers": share,
            "deliveries": s["deliveries"],
            "cpu_s": round(c, 2),
            "deliveries_per_cpu_s": round(s["deliveries"] / c) if c else None,
            "p99_ms": hist_percentile(s["hist"], 0.99),
            "gaps": s["gaps"],
            "missing": poster.sent * share - s["deliveries"],
        }
        for i, (s, c) in enumerate(zip(seen, cpu, strict=True))
    ]
    return {
        "processes": len(procs),
        "viewers": viewers,
        "rate": rate,
        "posted": poster.sent,
        "deliveries_per_s": round(sum(s["deliveries"] for s in seen) / wall),
        "capacity_deliveries_per_s": sum(p["deliveries_per_cpu_s"] or 0 for p in per),
        "gaps": sum(p["gaps"] for p in per),
        "per_process": per,
    }


def scaleout_bench(st, args, slug: str, key: str) -> list[dict]:
    rows = []
    for count in (1, 2):
        # One core per web process where there are two cores: process i on cpu i.
        cpus = [str(i) if args.server_cpus else None for i in range(count)]
        procs = [st.web(args.app_server, name=f"scale{count}-{i}", cpus=cpus[i]) for i in range(count)]
        rows.append(asyncio.run(scale_step(procs, slug, key, args.scale_viewers, args.scale_rate, args.seconds, args)))
        for proc in procs:
            st.stop(proc)
    return rows

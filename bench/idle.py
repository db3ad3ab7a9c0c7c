"""Idle cost: many connected viewers and no events. Server CPU % and RSS per connection."""

import asyncio
import time

from bench.crowd import Crowd
from bench.servers import cpu_seconds, rss_kb


async def idle_measure(proc, path: str, viewers: int, seconds: float, args) -> dict:
    await asyncio.sleep(1)
    rss0 = rss_kb(proc.pids)
    async with Crowd([(proc.port, path)], viewers, args.clients, args.client_cpus) as crowd:
        await asyncio.sleep(2)  # connect-time work settles
        rss1, cpu0, t0 = rss_kb(proc.pids), cpu_seconds(proc.pids), time.monotonic()
        await asyncio.sleep(seconds)
        cpu, wall = cpu_seconds(proc.pids) - cpu0, time.monotonic() - t0
        seen = await crowd.finish(0, 0)
    return {
        "viewers": viewers,
        "open_at_end": viewers - seen["closed"],
        "cpu_pct_of_core": round(100 * cpu / wall, 2),
        "rss_before_mb": round(rss0 / 1024, 1),
        "rss_after_mb": round(rss1 / 1024, 1),
        "kb_per_connection": round((rss1 - rss0) / viewers, 1),
    }


def idle_bench(st, args, key_slug: str, servers: list[str]) -> list[dict]:
    rows = []
    for server in servers:
        proc = st.web(server, name=f"idle-{server}", **({"CHANNEL_LAYER": "core"} if server == "naive" else {}))
        row = asyncio.run(idle_measure(proc, f"/ws/games/{key_slug}/", args.idle_viewers, args.idle_seconds, args))
        rows.append({"server": server, **row})
        st.stop(proc)
    return rows

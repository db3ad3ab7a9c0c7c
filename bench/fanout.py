"""Fan-out: N viewers of one game, events posted at a fixed rate, figures per step."""

import asyncio
import time
from dataclasses import dataclass, field

from bench.client import ClientPoster
from bench.crowd import Crowd, hist_percentile, sorted_percentile
from bench.load import Poster
from bench.servers import cpu_seconds

DRAIN_TIMEOUT = 15.0


@dataclass
class Target:
    """What the viewers watch and where events are posted."""

    label: str
    pids: list[int]
    ws: list[tuple[int, str]]  # (port, path) for viewers, spread evenly
    http_port: int
    slug: str
    key: str
    pids_by_name: dict[str, list[int]] = field(default_factory=dict)


async def fanout_step(target: Target, viewers: int, rate: float, seconds: float, args, via: str = "http") -> dict:
    async with Crowd(target.ws, viewers, args.clients, args.client_cpus) as crowd:
        # One event per POST over 4 connections, or one event per frame over an ingest socket
        # (the Python client, each event sent alone as soon as it is given).
        poster = (ClientPoster if via == "socket" else Poster)(target.http_port, target.slug, target.key)
        await asyncio.sleep(0.5)  # let connect-time work (snapshots, presence) settle
        cpu0 = {name: cpu_seconds(pids) for name, pids in target.pids_by_name.items()}
        cpu_start, began = cpu_seconds(target.pids), time.monotonic()
        posting = await poster.at_rate(rate, seconds)
        seen = await crowd.finish(poster.last_seq, DRAIN_TIMEOUT)
        wall, cpu = time.monotonic() - began, cpu_seconds(target.pids) - cpu_start
        per_process = {name: cpu_seconds(pids) - cpu0[name] for name, pids in target.pids_by_name.items()}
        poster.close()
    expected = poster.sent * viewers
    deliveries = seen["deliveries"]
    lastv = seen["last_viewer_us"]
    return {
        "server": target.label if via == "http" else f"{target.label} (ingest socket)",
        "viewers": viewers,
        "rate": rate,
        "posted": poster.sent,
        "post_errors": poster.errors,
        "poster_transport": poster.transport() if hasattr(poster, "transport") else None,
        "posted_rate": round(poster.sent / posting, 1),
        # The POST round trip as the poster saw it: when posted_rate falls short of the rate,
        # this says whether the server took long to answer (4 connections in flight).
        "post_p50_ms": round(sorted_percentile(sorted(poster.post_ms), 0.5), 1),
        "post_p99_ms": round(sorted_percentile(sorted(poster.post_ms), 0.99), 1),
        "deliveries": deliveries,
        "missing": expected - deliveries,
        "deliveries_per_s": round(deliveries / wall, 0),
        "server_cpu_s": round(cpu, 3),
        "cpu_s_per_1k": round(1000 * cpu / deliveries, 4) if deliveries else None,
        "deliveries_per_cpu_s": round(deliveries / cpu, 0) if cpu else None,
        "cpu_by_process": {k: round(v, 3) for k, v in per_process.items()},
        "p50_ms": hist_percentile(seen["hist"], 0.50),
        "p99_ms": hist_percentile(seen["hist"], 0.99),
        "p999_ms": hist_percentile(seen["hist"], 0.999),
        "last_viewer_p50_ms": round(sorted_percentile(lastv, 0.5) / 1000, 2),
        "last_viewer_p99_ms": round(sorted_percentile(lastv, 0.99) / 1000, 2),
        "last_viewer_max_ms": round(lastv[-1] / 1000, 2) if lastv else None,
        "gaps": seen["gaps"],
        "resyncs": seen["resyncs"],
        "frames": seen["frames"],
        "frame_types": seen["frame_types"],
        "behind": seen["behind"],
        "client_busy": round(seen["client_busy"], 2),
        "client_bound": seen["client_busy"] > 0.85 or seen["behind"] > 0,
    }

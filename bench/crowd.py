"""The harness side of the viewers: spawns bench.clients processes, waits until every socket
is open, then collects and merges their figures."""

import asyncio
import json
import sys

from bench.servers import ROOT, pinned

CONNECT_TIMEOUT = 180


class Crowd:
    def __init__(self, targets: list[tuple[int, str]], count: int, processes: int, cpus: str | None) -> None:
        self.targets, self.count = targets, count
        self.processes, self.cpus = max(1, min(processes, count)), cpus
        self.procs: list[asyncio.subprocess.Process] = []

    async def __aenter__(self) -> "Crowd":
        share = [self.count // self.processes + (i < self.count % self.processes) for i in range(self.processes)]
        for n in share:
            # Each process spreads its sockets over every (port, path), so every server sees
            # every client process.
            cfg = {"host": "127.0.0.1", "targets": self.targets, "count": n}
            cmd = pinned([sys.executable, "-m", "bench.clients", json.dumps(cfg)], self.cpus)
            self.procs.append(
                await asyncio.create_subprocess_exec(
                    *cmd, cwd=ROOT, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, limit=1 << 27
                )
            )
        for proc in self.procs:
            line = await asyncio.wait_for(proc.stdout.readline(), CONNECT_TIMEOUT)
            if not line:
                raise RuntimeError("a client process died while connecting (see its stderr above)")
        return self

    async def finish(self, expect: int, wait_s: float) -> dict:
        """Tell every process the last seq and how long to wait for it; merge what they saw."""
        order = json.dumps({"expect": expect, "timeout": wait_s}).encode() + b"\n"
        for proc in self.procs:
            proc.stdin.write(order)
            await proc.stdin.drain()
        parts = []
        for proc in self.procs:
            line = await asyncio.wait_for(proc.stdout.readline(), wait_s + 60)
            parts.append(json.loads(line))
        return merge(parts)

    async def __aexit__(self, *exc) -> None:
        for proc in self.procs:
            if proc.returncode is None:
                proc.stdin.close()
                try:
                    await asyncio.wait_for(proc.wait(), 10)
                except TimeoutError:
                    proc.kill()
                    await proc.wait()


def merge(parts: list[dict]) -> dict:
    total = {k: sum(p[k] for p in parts) for k in ("frames", "deliveries", "gaps", "resyncs", "dups", "behind")}
    total["closed"] = sum(p["closed"] for p in parts)
    hist: dict[int, int] = {}
    last: dict[str, float] = {}
    for p in parts:
        for b, n in p["hist"].items():
            hist[int(b)] = hist.get(int(b), 0) + n
        for seq, lat in p["last_seen"].items():
            last[seq] = max(last.get(seq, 0), lat)
    total["hist"] = hist
    total["frame_types"] = {}
    for p in parts:
        for kind, n in p.get("types", {}).items():
            total["frame_types"][kind] = total["frame_types"].get(kind, 0) + n
    total["last_viewer_us"] = sorted(last.values())
    # A client process near a full core was the limit, not the server.
    total["client_busy"] = max(p["cpu_s"] / max(p["wall_s"], 1e-3) for p in parts)
    return total


def hist_percentile(hist: dict[int, int], q: float, bin_us: int = 50) -> float:
    """Upper edge (ms) of the bin holding the q-th fraction of deliveries."""
    count = sum(hist.values())
    if not count:
        return float("nan")
    need, seen = q * count, 0
    for b in sorted(hist):
        seen += hist[b]
        if seen >= need:
            return (b + 1) * bin_us / 1000
    return float("nan")


def sorted_percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return values[min(len(values) - 1, int(q * len(values)))]

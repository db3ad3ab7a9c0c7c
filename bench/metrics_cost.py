"""What the metrics cost the hot paths: ns per call of the stats.ops.metrics functions the live
code calls, in one process (PROMETHEUS_MULTIPROC_DIR unset) and in multiprocess mode (values
written to a memory-mapped file), set against what a frame's hand-out costs anyway.

    .venv/bin/python bench/metrics_cost.py

Runs itself once per mode in a child process (prometheus_client picks its mode at import).
Bounded: 200,000 calls per function, best of 5 runs. No Django set-up is needed.
"""

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CALLS = 200_000
RUNS = 5
# A frame to N sockets costs ~20 us per socket here (webgame/settings.py, FRAME_TICK_PER_VIEWER_US;
# docs/benchmarks.md): the fan-out's own cost that the per-frame call is added to.
FRAME_NS_PER_SOCKET = 20_000


def best_ns(call, calls: int = CALLS) -> float:
    best = float("inf")
    for _ in range(RUNS):
        start = time.perf_counter_ns()
        for _ in range(calls):
            call()
        best = min(best, (time.perf_counter_ns() - start) / calls)
    return best


def child() -> None:
    sys.path.insert(0, str(ROOT))
    from stats.ops import metrics

    def nothing() -> None:
        pass

    def socket_pair() -> None:
        metrics.socket_closed(metrics.socket_opened(type(None)))

    cases = [
        ("an empty function call (baseline)", nothing),
        ("frame_dropped(): one unlabelled Counter.inc", metrics.frame_dropped),
        ("events_frame_out(1, 1000): a frame to 1,000 sockets", lambda: metrics.events_frame_out(1, 1000)),
        ("events_frame_out(3, 1000): a coalesced one", lambda: metrics.events_frame_out(3, 1000)),
        ("other_frame_out(1000)", lambda: metrics.other_frame_out(1000)),
        ("socket_opened + socket_closed (a gauge, twice)", socket_pair),
        ("events_ingested('http', 1)", lambda: metrics.events_ingested("http", 1)),
        ("request_observe(...): Histogram.labels().observe", lambda: metrics.request_observe("r", "GET", 200, 0.01)),
    ]
    mode = "multiprocess" if metrics.MULTIPROC_DIR else "single process"
    print(f"\n{mode}:")
    for name, call in cases:
        print(f"  {best_ns(call):8.0f} ns  {name}")
    per_frame = best_ns(lambda: metrics.events_frame_out(1, 1000))
    share = per_frame / (1000 * FRAME_NS_PER_SOCKET)
    print(f"  a frame to 1,000 sockets costs ~{1000 * FRAME_NS_PER_SOCKET / 1e6:.0f} ms; its count adds {share:.6%}")


def main() -> None:
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    subprocess.run([sys.executable, __file__, "--child"], env=env, check=True)
    with tempfile.TemporaryDirectory(prefix="metrics-bench-") as directory:
        subprocess.run(
            [sys.executable, __file__, "--child"], env={**env, "PROMETHEUS_MULTIPROC_DIR": directory}, check=True
        )


if __name__ == "__main__":
    child() if "--child" in sys.argv else main()

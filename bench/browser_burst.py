"""Browser burst: one dashboard open in headless Chromium while ~500 events/s stream into its
game for ~10 s (batches POSTed to the HTTP API by a separate process, 127.0.0.1 only).

    .venv/bin/python -m bench.browser_burst [--rate 500] [--seconds 10] [--batch 50]

Reports redraws per second, frames received, long tasks (PerformanceObserver "longtask"), the
longest main-thread stall seen by a requestAnimationFrame probe and a setInterval probe, and
whether the page's final totals equal the snapshot API's. Prints a table and writes JSON to
bench/results/. A benchmark, never part of the test suite: nothing here asserts a speed.
"""

import argparse
import http.client
import json
import multiprocessing
import random
import time
import urllib.request
from datetime import UTC, datetime

from bench import report
from bench.servers import stack

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]  # fmt: skip
SLUG = "burst"
PLAYERS = 200

# Installed before the page's own scripts: counts long tasks and measures main-thread stalls.
PROBE = """
window.__probe = { on: false, longtasks: [], rafMaxGapMs: 0, rafFrames: 0, intervalMaxLateMs: 0 };
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) if (window.__probe.on) window.__probe.longtasks.push(e.duration);
}).observe({ type: "longtask", buffered: true });
(() => {
  let last = performance.now();
  const frame = () => {
    const now = performance.now();
    if (window.__probe.on) {
      window.__probe.rafMaxGapMs = Math.max(window.__probe.rafMaxGapMs, now - last);
      window.__probe.rafFrames += 1;
    }
    last = now;
    requestAnimationFrame(frame);
  };
  requestAnimationFrame(frame);
  let due = performance.now() + 50;
  setInterval(() => {
    const now = performance.now();
    if (window.__probe.on) window.__probe.intervalMaxLateMs = Math.max(window.__probe.intervalMaxLateMs, now - due);
    due = now + 50;
  }, 50);
})();
"""

PAGE_READ = """() => {
  const w = window.webgame;
  const rows = Array.from(document.querySelectorAll("#leaderboard-table tbody tr:not(.empty)"));
  const num = (text) => Number(text.replace(/[^0-9-]/g, ""));
  return {
    stats: { ...w.stats },
    lastSeq: w.live.lastSeq,
    lagMs: w.live.lagMs,
    status: w.socket.status,
    table: Object.fromEntries(rows.map((r) => [r.cells[1].textContent, num(r.cells[3].textContent)])),
    points: num(document.getElementById("kpi-points").textContent),
    probe: window.__probe,
    now: performance.now(),
  };
}"""


def post_loop(port: int, key: str, rate: float, seconds: float, batch: int, out) -> None:
    """The load: fixed number of batches on a fixed schedule, then stop (bounded either way)."""
    rng = random.Random(7)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    batches = max(1, round(rate * seconds / batch))
    period = batch / rate
    start = time.monotonic()
    accepted, statuses, latencies = 0, {}, []
    for i in range(batches):
        delay = start + i * period - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        if time.monotonic() - start > seconds * 3:
            break  # the server cannot keep up: stop rather than run on
        events = [
            {"id": f"b{i}-{j}", "player": f"p{rng.randrange(PLAYERS):03d}", "points": rng.randint(-5, 20)}
            for j in range(batch)
        ]
        sent = time.monotonic()
        conn.request("POST", f"/api/games/{SLUG}/events", body=json.dumps({"events": events}), headers=headers)
        response = conn.getresponse()
        body = json.loads(response.read())
        latencies.append((time.monotonic() - sent) * 1000)
        statuses[response.status] = statuses.get(response.status, 0) + 1
        accepted += body.get("accepted", 0)
    elapsed = time.monotonic() - start
    out.put({"accepted": accepted, "elapsed_s": elapsed, "statuses": statuses, "post_ms": sorted(latencies)})


def snapshot_get(port: int) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/games/{SLUG}/snapshot", timeout=10) as response:
        return json.load(response)


def percentile(values: list[float], q: float) -> float | None:
    return values[min(len(values) - 1, int(q * len(values)))] if values else None


def burst_run(args, port: int, key: str) -> dict:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        page.add_init_script(PROBE)
        page.goto(f"http://127.0.0.1:{port}/games/{SLUG}/")
        page.wait_for_function("() => window.webgame && window.webgame.socket.status === 'live'", timeout=30_000)
        time.sleep(1)
        page.evaluate("() => { window.__probe.on = true; }")
        before = page.evaluate(PAGE_READ)
        spawn = multiprocessing.get_context("spawn")  # no fork of a process running Playwright's threads
        results = spawn.Queue()
        poster = spawn.Process(target=post_loop, args=(port, key, args.rate, args.seconds, args.batch, results))
        poster.start()
        posted = results.get(timeout=args.seconds * 3 + 30)
        poster.join(timeout=10)
        during = page.evaluate(PAGE_READ)
        page.evaluate("() => { window.__probe.on = false; }")
        final_seq = snapshot_get(port)["seq"]
        page.wait_for_function(f"() => window.webgame.live.lastSeq >= {final_seq}", timeout=30_000)
        page.wait_for_timeout(300)  # one more animation frame or so, for the table
        after = page.evaluate(PAGE_READ)
        snapshot = snapshot_get(port)
        browser.close()
    return summarise(args, posted, before, during, after, snapshot)


def summarise(args, posted, before, during, after, snapshot) -> dict:
    window_s = (during["now"] - before["now"]) / 1000
    counters = ["frames", "events", "redraws", "snapshots", "gaps", "renderMs"]
    delta = {k: during["stats"][k] - before["stats"][k] for k in counters}
    parts = {k: round(v - before["stats"]["partsMs"].get(k, 0), 1) for k, v in during["stats"]["partsMs"].items()}
    longtasks = during["probe"]["longtasks"]
    expected = {p["player"]: p["total"] for p in snapshot["leaderboard"]}
    return {
        "events_posted": posted["accepted"],
        "post_seconds": round(posted["elapsed_s"], 2),
        "posted_rate": round(posted["accepted"] / posted["elapsed_s"], 1),
        "post_p50_ms": percentile(posted["post_ms"], 0.5),
        "post_p99_ms": percentile(posted["post_ms"], 0.99),
        "http_statuses": posted["statuses"],
        "window_s": round(window_s, 2),
        "frames_received": delta["frames"],
        "events_received": delta["events"],
        "frames_per_s": round(delta["frames"] / window_s, 1),
        "redraws": delta["redraws"],
        "redraws_per_s": round(delta["redraws"] / window_s, 1),
        "raf_frames_per_s": round(during["probe"]["rafFrames"] / window_s, 1),
        "render_ms_per_redraw": round(delta["renderMs"] / max(1, delta["redraws"]), 2),
        "render_max_ms": round(during["stats"]["renderMaxMs"], 1),
        "render_ms_by_part": parts,
        "gaps_resumed": delta["gaps"],
        "snapshots": delta["snapshots"],
        "longtasks": len(longtasks),
        "longtask_total_ms": round(sum(longtasks), 1),
        "longtask_max_ms": round(max(longtasks, default=0), 1),
        "max_raf_gap_ms": round(during["probe"]["rafMaxGapMs"], 1),
        "max_interval_late_ms": round(during["probe"]["intervalMaxLateMs"], 1),
        "lag_ms_last": after["lagMs"],
        "final_seq_page": after["lastSeq"],
        "final_seq_snapshot": snapshot["seq"],
        "totals_match": after["table"] == expected and after["points"] == snapshot["game"]["points"],
        "socket_status": after["status"],
    }


COLUMNS = [
    "posted_rate", "events_posted", "frames_received", "frames_per_s", "redraws_per_s", "raf_frames_per_s",
    "render_ms_per_redraw", "longtasks", "longtask_max_ms", "max_raf_gap_ms", "max_interval_late_ms", "lag_ms_last",
    "totals_match",
]  # fmt: skip


def arguments() -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.browser_burst", description=__doc__.split("\n\n")[0])
    p.add_argument("--rate", type=float, default=500, help="events per second to post")
    p.add_argument("--seconds", type=float, default=10, help="how long to post")
    p.add_argument("--batch", type=int, default=50, help="events per POST")
    p.add_argument("--port", type=int, default=8150, help="daphne takes the first free port from here")
    p.add_argument("--redis-port", type=int, default=8170, help="the embedded Valkey's first port to try")
    args = p.parse_args()
    args.client_cpus = args.server_cpus = None  # bench.servers.Stack reads these; no pinning here
    return args


def main() -> None:
    args = arguments()
    with stack(args) as s:
        # DEBUG serves static files straight from the source tree (no collectstatic needed).
        env = {"DEBUG": "true", "API_RATE_LIMIT": "100000"}
        key = s.games_create([SLUG], **env)[SLUG]
        web = s.web("daphne", **env)
        result = burst_run(args, web.port, key)
    config = {"rate": args.rate, "seconds": args.seconds, "batch": args.batch, "server": "daphne", "db": "sqlite"}
    print(report.table("Browser burst: one dashboard under a burst", [result], COLUMNS))
    print(f"\nHTTP statuses: {result['http_statuses']}")
    print(f"POST p50 {result['post_p50_ms']:.1f} ms, p99 {result['post_p99_ms']:.1f} ms")
    print(f"redraws {result['redraws']} in {result['window_s']} s; render ms by part {result['render_ms_by_part']}")
    print(f"long tasks total {result['longtask_total_ms']} ms")
    print(f"final seq: page {result['final_seq_page']}, snapshot {result['final_seq_snapshot']}")
    report.RESULTS.mkdir(exist_ok=True)
    path = report.RESULTS / f"browser_burst-{datetime.now(UTC).strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps({"machine": report.machine(), "config": config, "result": result}, indent=1))
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()

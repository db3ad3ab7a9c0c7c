"""`make bench` (python -m bench [options]): every benchmark in one run, baselines included.

All traffic is on 127.0.0.1; each step is bounded in events and seconds. See docs/benchmarks.md.
"""

import argparse
import asyncio

from bench import cli, report
from bench.chat import chat_bench
from bench.fanout import Target, fanout_step
from bench.idle import idle_bench
from bench.ingest import ingest_bench
from bench.login import COLUMNS as LOGIN_COLUMNS
from bench.login import login_bench
from bench.reads import reads_bench
from bench.scaleout import scaleout_bench
from bench.servers import stack

ALL = ("latency", "fanout", "chat", "ingest", "reads", "login", "idle", "scaleout")
FANOUT_COLUMNS = [
    "server", "viewers", "rate", "posted_rate", "post_p50_ms", "deliveries_per_s", "cpu_s_per_1k",
    "deliveries_per_cpu_s", "p50_ms", "p99_ms", "p999_ms", "last_viewer_p50_ms", "last_viewer_p99_ms", "gaps",
    "missing", "frames", "client_busy", "client_bound",
]  # fmt: skip


def arguments() -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--only", default=",".join(ALL), help=f"comma-separated subset of {','.join(ALL)}")
    p.add_argument("--servers", default="uvicorn,daphne,raw,naive", help="what fan-out and latency compare")
    p.add_argument("--app-server", default="uvicorn", help="ASGI server for ingest and scale-out")
    p.add_argument("--viewers", default="1000", help="viewer counts for the fan-out steps")
    p.add_argument("--rates", default="50,200", help="event rates (events/s) stepped up at each viewer count")
    p.add_argument("--big", action="store_true", help="add the 5,000-viewer step (several minutes more)")
    p.add_argument("--seconds", type=float, default=5, help="posting time of each fan-out step")
    p.add_argument("--clients", type=int, default=2, help="viewer processes per step")
    p.add_argument("--chat-viewers", type=int, default=1000, help="viewers of the chat step")
    p.add_argument("--chat-events-rate", type=float, default=200, help="events/s of the chat step")
    p.add_argument("--posters", default="http,socket", help="how fan-out steps send events to the app")
    p.add_argument("--batch", type=int, default=1000, help="events per batched POST (ingest)")
    p.add_argument("--ingest-seconds", type=float, default=4)
    p.add_argument("--idle-viewers", type=int, default=1000)
    p.add_argument("--idle-seconds", type=float, default=8)
    p.add_argument("--scale-viewers", type=int, default=1000)
    p.add_argument("--scale-rate", type=float, default=200)
    cli.stack_options(p, port=8300, redis_port=16300)
    return cli.parse(p)


def fanout_plan(args) -> list[tuple[str, int, float]]:
    viewers = [int(v) for v in args.viewers.split(",")] + ([5000] if args.big else [])
    rates = [float(r) for r in args.rates.split(",")]
    return [(server, v, r) for server in args.servers.split(",") for v in viewers for r in rates]


def target_start(st, server: str, slug: str, key: str):
    proc = st.web(server, name=server, **({"CHANNEL_LAYER": "core"} if server == "naive" else {}))
    label = {"uvicorn": "app/uvicorn", "daphne": "app/daphne", "raw": "raw websockets", "naive": "naive consumer"}
    target = Target(label[server], proc.pids, [(proc.port, f"/ws/games/{slug}/")], proc.http_port, slug, key)
    return proc, target


def steps_run(st, args, keys: dict, steps: list[tuple[str, int, float, float]], vias=("http",)) -> list[dict]:
    rows = []
    for server, viewers, rate, seconds in steps:
        # The app also takes its events over the ingest socket; the baselines know only POSTs.
        for via in vias if server in ("uvicorn", "daphne") else ("http",):
            slug = f"{server}-{viewers}-{int(rate)}"
            proc, target = target_start(st, server, slug, keys[slug])
            row = asyncio.run(fanout_step(target, viewers, rate, seconds, args, via))
            st.stop(proc)
            title = f"{row['server']}: {viewers} viewers, {rate:g} events/s"
            print(report.table(title, [row], FANOUT_COLUMNS), flush=True)
            rows.append(row)
    return rows


def main() -> None:
    args = arguments()
    only = set(args.only.split(","))
    results: dict = {"machine": report.machine(), "args": vars(args)}
    print(f"webgame bench on {results['machine']['cpu']} x{results['machine']['cores']}", flush=True)
    servers = args.servers.split(",")
    latency = [(s, 100, 10.0, 10.0) for s in servers] if "latency" in only else []
    fanout = [(s, v, r, args.seconds) for s, v, r in fanout_plan(args)] if "fanout" in only else []
    slugs = [f"{s}-{v}-{int(r)}" for s, v, r, _ in latency + fanout] + ["idle", "scale"]
    with stack(args) as st:
        keys = st.games_create(slugs)
        if latency:
            results["latency"] = steps_run(st, args, keys, latency)
        if fanout:
            results["fanout"] = steps_run(st, args, keys, fanout, vias=args.posters.split(","))
        if "chat" in only:
            results["chat"] = chat_bench(st, args)
        if "ingest" in only:
            results["ingest"] = ingest_bench(st, args)
        if "reads" in only:
            results["reads"] = reads_bench(st, args)
        if "login" in only:
            opts = argparse.Namespace(servers="uvicorn,daphne", gates="1,0", clients=32, attempts=10)
            opts.baseline_seconds, opts.sources = 8, "each,one"
            results["login"] = login_bench(st, opts)
        if "idle" in only:
            idle_servers = [s for s in ("uvicorn", "daphne", "raw") if s in servers]
            results["idle"] = idle_bench(st, args, "idle", idle_servers)
        if "scaleout" in only:
            results["scaleout"] = scaleout_bench(st, args, "scale", keys["scale"])
    summary_print(results)
    print(f"\nJSON: {report.save(results)}")


def summary_print(results: dict) -> None:
    if results.get("latency"):
        print(report.table("Latency at light load (100 viewers, 10 events/s)", results["latency"], FANOUT_COLUMNS))
    if results.get("fanout"):
        print(report.table("Fan-out", results["fanout"], FANOUT_COLUMNS))
    if results.get("chat"):
        title = "Chat never delays the stats (the same load, without and with 20 chat messages/s)"
        print(report.table(title, results["chat"], ["chat_sent_per_s", *FANOUT_COLUMNS]))
    if results.get("ingest"):
        cols = [
            "database",
            "server",
            "grouped",
            "threads",
            "conc",
            "batch",
            "events",
            "events_per_s",
            "events_per_cpu_s",
            "events_per_frame",
            "post_p50_ms",
            "errors",
        ]
        print(report.table("Ingest", results["ingest"], cols))
    if results.get("reads"):
        cols = ["clients", "reads_ok", "reads_per_s", "cpu_ms_per_read", "p50_ms", "refused"]
        print(report.table("Anonymous snapshot reads, one process", results["reads"]["snapshot"], cols))
        cols = ["readers", "posts", "post_p50_ms", "post_max_ms", "post_errors", "pages_ok_per_s", "pages_refused"]
        print(report.table("One-event POSTs while connections read 1,000-event pages", results["reads"]["post"], cols))
    if results.get("login"):
        title = "Login flood: another game's one-event POST, alone and during it"
        print(report.table(title, results["login"], LOGIN_COLUMNS))
    if results.get("idle"):
        cols = ["server", "viewers", "open_at_end", "cpu_pct_of_core", "rss_before_mb", "rss_after_mb"]
        print(report.table("Idle viewers", results["idle"], [*cols, "kb_per_connection"]))
    if results.get("scaleout"):
        cols = ["processes", "layout", "viewers", "rate", "posted", "deliveries_per_s", "capacity_deliveries_per_s"]
        cols += ["deliveries_per_all_cpu_s", "p99_ms", "gaps"]
        print(report.table("Scale-out (events posted to process 0 only)", results["scaleout"], cols))
        for row in results["scaleout"]:
            title = f"  {row['processes']} process(es), {row['layout']}, per process"
            print(report.table(title, row["per_process"], list(row["per_process"][0])))


if __name__ == "__main__":
    main()

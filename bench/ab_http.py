"""A/B rows of issue #20, for one tree (run from that tree's root, with its venv; copy this file
into an older tree to run it there): one-event POSTs from 16 clients and 1,000-event batches
from 2 into a PostgreSQL database of its own, then 1,000 viewers x 200 events/s posted over
HTTP. Prints one `ABROW {json}` line. Usage: python -m bench.ab_http <label>
"""

import asyncio
import json
import sys
import time

ARGV = ["bench", "--only", "ingest,fanout", "--servers", "uvicorn", "--viewers", "1000", "--rates", "200"]


def main(label: str) -> dict:
    sys.argv = [*ARGV, "--posters", "http"]
    from bench.__main__ import arguments, target_start
    from bench.fanout import fanout_step
    from bench.ingest import PG_URL, ingest_run, pg_database
    from bench.servers import stack

    args = arguments()
    args.ingest_seconds = 6
    out = {"label": label, "at": time.strftime("%H:%M:%S")}
    with stack(args) as st:
        name = f"webgame_ab_{label}"
        pg_database(name, create=True)
        try:
            key = st.games_create(["ingest"], DATABASE_URL=f"{PG_URL}/{name}")["ingest"]
            web = st.web("uvicorn", name="ab", DATABASE_URL=f"{PG_URL}/{name}")
            seconds = args.ingest_seconds
            out["post1x16"] = asyncio.run(ingest_run(web.port, "ingest", key, web.pids, 1, seconds, 16))
            out["batch1000x2"] = asyncio.run(ingest_run(web.port, "ingest", key, web.pids, 1000, seconds, 2))
            st.stop(web)
        finally:
            pg_database(name, create=False)
        slug = "uvicorn-1000-200"
        proc, target = target_start(st, "uvicorn", slug, st.games_create([slug])[slug])
        row = asyncio.run(fanout_step(target, 1000, 200.0, args.seconds, args, "http"))
        st.stop(proc)
    keep = ("posted_rate", "post_p50_ms", "deliveries_per_cpu_s", "p50_ms", "p99_ms", "last_viewer_p99_ms", "gaps")
    out["fanout"] = {k: row.get(k) for k in (*keep, "missing")}
    return out


if __name__ == "__main__":
    print("ABROW " + json.dumps(main(sys.argv[1] if len(sys.argv) > 1 else "run")), flush=True)

"""Ingest: events/s into SQLite and PostgreSQL, batched POSTs against one event per request,
and single events over the ingest socket: raw, one per frame, and through the Python client."""

import asyncio
import json
import shutil
import subprocess
import time

from bench.client import stream_run
from bench.load import Poster, event_make
from bench.servers import cpu_seconds

PG_URL = "postgres://postgres@127.0.0.1:5432"


def pg_available() -> bool:
    if shutil.which("pg_isready") is None:
        return False
    return subprocess.run(["pg_isready", "-q", "-h", "127.0.0.1", "-p", "5432"], check=False).returncode == 0


def pg_database(name: str, create: bool) -> None:
    import psycopg

    with psycopg.connect(f"{PG_URL}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        if create:
            conn.execute(f'CREATE DATABASE "{name}"')


async def ingest_run(port: int, slug: str, key: str, pids: list[int], batch: int, seconds: float, conc: int) -> dict:
    poster = Poster(port, slug, key, connections=conc)
    cpu0, t0 = cpu_seconds(pids), time.monotonic()
    await poster.flat_out(seconds, batch, conc)
    wall, cpu = time.monotonic() - t0, cpu_seconds(pids) - cpu0
    poster.close()
    posts = sorted(poster.post_ms)
    return {
        "batch": batch,
        "events": poster.sent,
        "errors": poster.errors,
        "events_per_s": round(poster.sent / wall, 0),
        "server_cpu_s": round(cpu, 2),
        "events_per_cpu_s": round(poster.sent / cpu, 0) if cpu else None,
        "post_p50_ms": round(posts[len(posts) // 2], 1) if posts else None,
    }


def ingest_steps(st, args, label: str, url: str, key: str) -> list[dict]:
    """One web process per setting: group commit of HTTP POSTs off (the baseline: each POST
    commits alone, as before), then on (the default), with the ingest socket: one event per
    frame from a raw socket (the floor: no batching at all), then the Python client streaming
    single events, batching what piles up (what a game server gets)."""
    rows = []
    # The baseline is the configuration before group commit (#13): 4 request threads, each POST
    # committing alone; then the same threads as today's default, still ungrouped, so that the
    # gain of each part shows.
    for grouped, threads in ((False, 4), (False, 16), (True, 16)):
        web = st.web(args.app_server, name=f"ingest-{label}-{int(grouped)}-{threads}", DATABASE_URL=url,
                     GROUP_COMMIT_HTTP=str(grouped).lower(), WEB_SYNC_THREADS=str(threads))  # fmt: skip
        steps = [(1, 16)] if not grouped else [(1, 4), (1, 16), (args.batch, 2)]
        for batch, conc in steps:
            row = asyncio.run(ingest_run(web.port, "ingest", key, web.pids, batch, args.ingest_seconds, conc))
            rows.append({"database": label, "server": args.app_server, "grouped": grouped, "threads": threads,
                         "conc": conc, **row})  # fmt: skip
        if grouped:
            row = asyncio.run(socket_run(web.port, "ingest", key, web.pids, args.ingest_seconds, inflight=256))
            rows.append({"database": label, "server": args.app_server, "grouped": True, "threads": threads, "conc": 1,
                         **row})  # fmt: skip
            row = stream_run(web.port, "ingest", key, web.pids, args.ingest_seconds)
            rows.append({"database": label, "server": args.app_server, "grouped": True, "threads": threads, "conc": 1,
                         **row})  # fmt: skip
        st.stop(web)
    return rows


def ingest_bench(st, args) -> list[dict]:
    databases = [("sqlite", f"sqlite:///{st.tmp}/ingest.sqlite3")]
    if pg_available():
        databases.append(("postgresql", f"{PG_URL}/webgame_bench_{st.redis_port}"))
    else:
        print("ingest: PostgreSQL skipped: pg_isready finds no server on 127.0.0.1:5432", flush=True)
    rows = []
    for label, url in databases:
        if label == "postgresql":
            pg_database(url.rsplit("/", 1)[1], create=True)
        try:
            keys = st.games_create(["ingest"], DATABASE_URL=url)
            rows += ingest_steps(st, args, label, url, keys["ingest"])
        finally:
            if label == "postgresql":
                pg_database(url.rsplit("/", 1)[1], create=False)
    return rows


async def socket_run(port: int, slug: str, key: str, pids: list[int], seconds: float, inflight: int) -> dict:
    """Single events over one ingest socket, one per frame, up to `inflight` frames unanswered."""
    import websockets

    url = f"ws://127.0.0.1:{port}/ws/ingest/{slug}/"
    counts = {"acked": 0, "errors": 0, "sent": 0, "answered": 0}
    cpu0, t0 = cpu_seconds(pids), time.monotonic()
    async with websockets.connect(url, additional_headers={"Authorization": f"Bearer {key}"}) as ws:
        window = asyncio.Semaphore(inflight)
        finished = asyncio.Event()
        sending = True

        async def reader() -> None:
            async for text in ws:
                answer = json.loads(text)
                counts["acked"] += answer["accepted"] if answer["type"] == "ack" else 0
                counts["errors"] += answer["type"] == "error"
                counts["answered"] += 1
                window.release()
                if not sending and counts["answered"] == counts["sent"]:
                    return finished.set()

        reading = asyncio.create_task(reader())
        while time.monotonic() - t0 < seconds:
            await window.acquire()
            event = event_make(counts["sent"])
            await ws.send(json.dumps({"type": "events", "ref": counts["sent"], "events": [event]}))
            counts["sent"] += 1
        sending = False
        if counts["answered"] < counts["sent"]:
            async with asyncio.timeout(60):
                await finished.wait()
        reading.cancel()
    wall, cpu = time.monotonic() - t0, cpu_seconds(pids) - cpu0
    return {
        "batch": "1 event per frame (raw socket)",
        "events": counts["acked"],
        "errors": counts["errors"],
        "events_per_s": round(counts["acked"] / wall, 0),
        "server_cpu_s": round(cpu, 2),
        "events_per_cpu_s": round(counts["acked"] / cpu, 0) if cpu else None,
        "events_per_frame": 1,
        "post_p50_ms": None,
    }

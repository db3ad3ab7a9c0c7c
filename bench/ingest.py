"""Ingest: events/s into SQLite and PostgreSQL, batched POSTs against one event per request."""

import asyncio
import shutil
import subprocess
import time

from bench.load import Poster
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
            web = st.web(args.app_server, name=f"ingest-{label}", DATABASE_URL=url)
            for batch, conc in ((1, 4), (args.batch, 2)):
                row = asyncio.run(
                    ingest_run(web.port, "ingest", keys["ingest"], web.pids, batch, args.ingest_seconds, conc)
                )
                rows.append({"database": label, "server": args.app_server, **row})
            st.stop(web)
        finally:
            if label == "postgresql":
                pg_database(url.rsplit("/", 1)[1], create=False)
    return rows

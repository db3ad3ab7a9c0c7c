"""`python -m bench.post_cpu [--posts N] [--clients C] [--profile]`, run from a tree's root: the
CPU one event POST costs in one process, through webgame.asgi.application called bare (no
server, no socket), with the write real (a SQLite file of its own, group commit on) and Redis
a Valkey of its own. Prints CPU µs per POST (time.process_time, every thread of the process:
the loop, the request threads and the committer) and the thread hops per POST (asgiref
SyncToAsync calls). An A/B of two trees is two runs of this, one from each root, in turn.

No server and no network, so it is steadier than bench.ab_http on a busy machine; what it
leaves out (the HTTP parser, the kernel) is the same in both trees."""

import argparse
import asyncio
import cProfile
import json
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path

WARMUP = 200


def django_ready(folder: str, redis_url: str) -> str:
    """Set up Django on a fresh SQLite file: the raw API key of a new game `bench`."""
    os.environ.update(
        DJANGO_SETTINGS_MODULE="webgame.settings",
        DATABASE_URL=f"sqlite:///{folder}/db.sqlite3",
        REDIS_URL=redis_url,
        DEBUG="false",
        SECRET_KEY="bench-post-cpu-" + "x" * 40,
        ALLOWED_HOSTS="127.0.0.1",
        API_RATE_LIMIT="100000000",
    )
    sys.path.insert(0, os.getcwd())
    import django

    django.setup()
    from django.core.management import call_command

    from stats import services

    call_command("migrate", verbosity=0)
    game = services.game_create(slug="bench", name="bench")
    return services.api_key_create(game=game, name="bench")[1]


class HopCounter:
    """Counts asgiref's sync_to_async calls (each is a hand-off to a thread and back)."""

    def __init__(self) -> None:
        from asgiref.sync import SyncToAsync

        self.calls, original = 0, SyncToAsync.__call__

        async def counted(this, *args, **kwargs):
            self.calls += 1
            return await original(this, *args, **kwargs)

        SyncToAsync.__call__ = counted


async def post(app, key: str, n: int) -> int:
    body = json.dumps({"id": f"e{n}", "player": f"p{n % 20}", "points": 1 + n % 7}).encode()
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": "/api/games/bench/events", "raw_path": b"/api/games/bench/events",
        "query_string": b"", "root_path": "", "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 8000),
        "headers": [(b"host", b"127.0.0.1"), (b"authorization", f"Bearer {key}".encode()),
                    (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
    }  # fmt: skip
    done = asyncio.Event()
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    status = []

    async def receive():
        if messages:
            return messages.pop()
        await done.wait()  # Django's handler listens for a disconnect while the view runs
        return {"type": "http.disconnect"}

    async def send(message):
        if message["type"] == "http.response.start":
            status.append(message["status"])
        elif not message.get("more_body"):
            done.set()

    await app(scope, receive, send)
    done.set()
    return status[0]


async def run(app, key: str, posts: int, clients: int, start: int) -> None:
    statuses = []
    for first in range(start, start + posts, clients):
        statuses += await asyncio.gather(*(post(app, key, n) for n in range(first, first + clients)))
    if set(statuses) != {202}:
        raise SystemExit(f"unexpected statuses: {sorted(set(statuses))}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=16, help="POSTs in flight together")
    parser.add_argument("--profile", action="store_true", help="also print cProfile's top functions")
    args = parser.parse_args()
    from stats.tests.support import ValkeyProc

    valkey = ValkeyProc().start()
    try:
        with tempfile.TemporaryDirectory() as folder:
            key = django_ready(folder, valkey.url)
            measure(key, args)
    finally:
        valkey.stop()


def measure(key: str, args) -> None:
    from webgame.asgi import application

    loop = asyncio.new_event_loop()
    loop.run_until_complete(run(application, key, WARMUP, args.clients, 0))
    hops = HopCounter()
    profile = cProfile.Profile() if args.profile else None
    cpu, wall = time.process_time(), time.perf_counter()
    if profile:
        profile.enable()
    loop.run_until_complete(run(application, key, args.posts, args.clients, WARMUP))
    if profile:
        profile.disable()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    print(f"{Path.cwd().name}: {args.posts} POSTs, {args.clients} at a time: "
          f"{cpu / args.posts * 1e6:.0f} µs CPU per POST, {hops.calls / args.posts:.1f} hops per POST, "
          f"{args.posts / wall:.0f} POSTs/s")  # fmt: skip
    if profile:
        pstats.Stats(profile).sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    main()

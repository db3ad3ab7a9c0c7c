"""Login flood (issue #19): another game's one-event POST, alone and while clients send wrong
passwords to /accounts/login/.

Each flooding client has an address of its own (the server runs with BEHIND_PROXY on and the
client names its address in X-Forwarded-For, as a proxy would) and a username of its own, and
sends ATTEMPTS wrong passwords: every attempt is under both lockout limits, so each one costs a
real password check (PBKDF2, the production hasher). That is the worst the lockout allows; the
password-check gate (LOGIN_CONCURRENCY) is what keeps it from the other requests. Rows with the
gate off (LOGIN_CONCURRENCY=0) show what it does. All traffic is on 127.0.0.1, bounded in
attempts and seconds.

`python -m bench.login` starts its own Valkey, SQLite database and web server.
"""

import argparse
import asyncio
import os
import secrets
import statistics
import time

from bench import cli, report
from bench.load import Http, Poster, event_make
from bench.servers import cpu_seconds, stack

SLUG = "loginflood"
CSRF = "b" * 32  # Django takes an unmasked token equal to the cookie's secret


def arguments() -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.login", description=__doc__)
    p.add_argument("--servers", default="uvicorn,daphne", help="ASGI servers to run it on")
    p.add_argument("--gates", default="1,0", help="LOGIN_CONCURRENCY values (0: no gate)")
    p.add_argument("--sources", default="each,one", help="each client its own address, or all from one")
    p.add_argument("--clients", type=int, default=32, help="flooding clients, each its own address")
    p.add_argument("--attempts", type=int, default=10, help="wrong passwords per client")
    p.add_argument("--baseline-seconds", type=float, default=8, help="POSTs alone, before the flood")
    cli.stack_options(p, port=8500, redis_port=16500)
    return cli.parse(p)


def address_make() -> str:
    return f"10.{secrets.randbelow(256)}.{secrets.randbelow(256)}.{secrets.randbelow(254) + 1}"


async def flood_client(port: int, attempts: int, tally: dict, address: str) -> None:
    """One username, `attempts` wrong passwords one after another, from `address`."""
    http = Http("127.0.0.1", port)
    username = f"victim-{secrets.token_hex(4)}"
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "Cookie": f"csrftoken={CSRF}",
        "X-Forwarded-For": address,
    }
    for n in range(attempts):
        body = f"csrfmiddlewaretoken={CSRF}&username={username}&password=wrong-{n}".encode()
        try:
            status, _ = await http.request("POST", "/accounts/login/", body, headers)
        except (OSError, asyncio.IncompleteReadError):
            status = 0
            http.close()
        tally[status] = tally.get(status, 0) + 1
    http.close()


async def posts_while(port: int, key: str, done) -> list[float]:
    """One-event POSTs one after another until done() says stop."""
    poster, n = Poster(port, SLUG, key, connections=1), 0
    while not done():
        await poster.post([event_make(n)])
        n += 1
    poster.close()
    if poster.errors:
        raise RuntimeError(f"{poster.errors} POSTs failed")
    return poster.post_ms


def quantiles(ms: list[float]) -> tuple[float, float]:
    ordered = sorted(ms)
    return round(statistics.median(ordered), 1), round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 1)


async def measure(port: int, pids: list[int], key: str, args, source: str) -> dict:
    loop = asyncio.get_running_loop()
    until = loop.time() + 1
    await posts_while(port, key, lambda: loop.time() > until)  # warm: imports, connections
    until = loop.time() + args.baseline_seconds
    alone = await posts_while(port, key, lambda: loop.time() > until)
    tally: dict[int, int] = {}
    cpu0, t0 = cpu_seconds(pids), loop.time()
    one = address_make()  # source "one": every client behind one address, as the flood was
    addresses = [one if source == "one" else address_make() for _ in range(args.clients)]
    flood = asyncio.gather(*(flood_client(port, args.attempts, tally, address) for address in addresses))
    during = await posts_while(port, key, flood.done)
    await flood
    wall, cpu = loop.time() - t0, cpu_seconds(pids) - cpu0
    (a50, a99), (d50, d99) = quantiles(alone), quantiles(during)
    return {
        "alone_posts": len(alone),
        "alone_p50_ms": a50,
        "alone_p99_ms": a99,
        "flood": f"{args.clients}x{args.attempts}",
        "flood_s": round(wall, 1),
        "server_cpu_s": round(cpu, 1),
        "answers": " ".join(f"{status}:{count}" for status, count in sorted(tally.items())),
        "posts": len(during),
        "p50_ms": d50,
        "p99_ms": d99,
        "p99_ratio": round(d99 / a99, 2) if a99 else None,
    }


COLUMNS = ["server", "gate", "source", "alone_p50_ms", "alone_p99_ms", "flood", "flood_s", "server_cpu_s", "answers"]
COLUMNS += ["posts", "p50_ms", "p99_ms", "p99_ratio"]


def login_bench(st, args) -> list[dict]:
    """Also the `login` step of `make bench` (python -m bench), with this module's defaults."""
    key, rows = st.games_create([SLUG])[SLUG], []
    for server in args.servers.split(","):
        for source in args.sources.split(","):
            for gate in args.gates.split(",") if source == "each" else ["1"]:  # one address: the lockout's case
                web = st.web(server, name=f"login-{server}-{gate}", BEHIND_PROXY="true", LOGIN_CONCURRENCY=gate)
                try:
                    measured = asyncio.run(measure(web.port, web.pids, key, args, source))
                finally:
                    st.stop(web)
                row = {"server": server, "gate": gate, "source": source, **measured}
                print(report.table(f"Login flood, {server}, gate {gate}, {source}", [row], COLUMNS), flush=True)
                rows.append(row)
    return rows


def main() -> None:
    args = arguments()
    if args.client_cpus and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {int(c) for c in args.client_cpus.split(",")})
    results: dict = {"machine": report.machine(), "args": vars(args)}
    print(f"bench.login on {results['machine']['cpu']} x{results['machine']['cores']}", flush=True)
    started = time.monotonic()
    with stack(args) as st:
        results["login"] = login_bench(st, args)
    print(report.table("Login flood: another game's one-event POST", results["login"], COLUMNS))
    print(f"\n{time.monotonic() - started:.0f} s; JSON: {report.save({'login': results})}")


if __name__ == "__main__":
    main()

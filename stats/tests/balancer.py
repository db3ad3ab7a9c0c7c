"""The load-balanced stack of the balancer run (stats/tests/test_lb.py): Debian's HAProxy with the
repository's deploy/haproxy.cfg in front of two uvicorn processes behind it (BEHIND_PROXY on),
each on a free 127.0.0.1 port; and readers of what they report (a process's open sockets from
its /metrics, HAProxy's request log)."""

import contextlib
import http.client
import re
import socket
import subprocess
from collections import Counter

from stats.tests.support import ROOT, Proc, UvicornProc, ValkeyProc

HAPROXY = "/usr/sbin/haproxy"
CONFIG = ROOT / "deploy" / "haproxy.cfg"
ENSURE_SCRIPT = ROOT / "scripts" / "ensure_haproxy.sh"
# What Debian's own global section gives the file in production (docs/deploy.md), minus what
# needs root (chroot, user) or would collide with the system service (its admin socket): the
# log goes to stdout, which Proc writes to the test's log file.
TEST_GLOBAL = "global\n    log stdout format raw local0 info\n"


def haproxy_ensure() -> None:
    """Install Debian's haproxy if it is missing (as root on Debian), or fail saying how."""
    subprocess.run(["sh", str(ENSURE_SCRIPT)], check=True, timeout=600)


class BalancedUvicornProc(UvicornProc):
    """A web process behind the balancer, configured as docs/deploy.md says: BEHIND_PROXY=true
    (client addresses from X-Forwarded-For) and uvicorn's --proxy-headers from the balancer's
    address only. No PROMETHEUS_MULTIPROC_DIR: /metrics then shows this process alone."""

    def env(self) -> dict[str, str]:
        env = {**super().env(), "BEHIND_PROXY": "true"}
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        return env

    def command(self) -> list[str]:
        return [*super().command(), "--proxy-headers", "--forwarded-allow-ips", "127.0.0.1"]


class HAProxyProc(Proc):
    """/usr/sbin/haproxy in the foreground (-db) with deploy/haproxy.cfg, never the system service."""

    def __init__(self, servers: list[UvicornProc], port: int | None = None):
        super().__init__(port, "haproxy")
        self.servers = servers
        self.global_path = self.log_path.with_suffix(".global.cfg")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        self.global_path.write_text(TEST_GLOBAL)
        return [HAPROXY, "-db", "-f", str(self.global_path), "-f", str(CONFIG)]

    def env(self) -> dict[str, str]:
        web1, web2 = (f"127.0.0.1:{server.port}" for server in self.servers)
        return {
            **super().env(),
            "WEBGAME_LB_BIND": f"127.0.0.1:{self.port}",
            "WEBGAME_WEB1": web1,
            "WEBGAME_WEB2": web2,
            "WEBGAME_HOST": "127.0.0.1",
        }


@contextlib.contextmanager
def balanced_stack(database_url: str):
    """Valkey, two web processes and HAProxy in front of them; all stopped afterwards."""
    started: list[Proc] = []
    try:
        valkey = ValkeyProc().start()
        started.append(valkey)
        webs = []
        for _ in range(2):
            webs.append(BalancedUvicornProc(database_url=database_url, redis_url=valkey.url).start())
            started.append(webs[-1])
        lb = HAProxyProc(webs).start()
        started.append(lb)
        yield webs, lb
    finally:
        for proc in reversed(started):
            proc.stop()


def http_get(port: int, path: str) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", path, headers={"Host": "127.0.0.1"})
        response = conn.getresponse()
        return response.status, response.read().decode(errors="replace")
    finally:
        conn.close()


def oversized_post_status(port: int, path: str) -> int:
    """The status answered to a POST announcing a body over MAX_BODY_BYTES, none of it sent:
    the balancer must answer on the headers alone (else this waits for its 10 s body timeout)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2097152\r\n\r\n".encode())
        return int(sock.recv(64).split(b" ", 2)[1])


SOCKETS_OPEN = re.compile(r'^webgame_sockets_open\{kind="game"\} (\S+)$', re.M)


def game_sockets(port: int) -> int:
    """The game WebSockets one web process serves now, from its own /metrics (scraped directly,
    as Prometheus would: the balancer refuses /metrics)."""
    status, text = http_get(port, "/metrics")
    assert status == 200, (status, text[:200])
    found = SOCKETS_OPEN.search(text)
    return int(float(found.group(1))) if found else 0


# HAProxy's httplog: "... webgame webgame_web/web2 0/0/1/4/5 202 178 - - ---- 3/3/0/0/+1 0/0
# "POST /api/games/lb/events HTTP/1.1"": the server, the status, the termination state, and
# the retries (+ when the request was redispatched to another server).
HTTPLOG = re.compile(
    r"\] webgame \S+/(?P<server>\S+) \S+/(?P<total_ms>-?\d+) (?P<status>-?\d+) \S+ \S+ \S+ (?P<term>\S+) "
    r"\d+/\d+/\d+/\d+/(?P<redispatched>\+?)(?P<retries>\d+) \d+/\d+ \"(?P<method>\S+) (?P<path>\S+)"
)


def haproxy_log_summary(log: str) -> dict:
    """Requests by method and status, by server, those retried (redispatched) by HAProxy, and
    the slowest POST (the one that was waiting on the process when it died)."""
    answers: Counter = Counter()
    retried: Counter = Counter()
    redispatched = 0
    by_server: Counter = Counter()
    slowest_post: dict = {"ms": -1}
    for found in HTTPLOG.finditer(log):
        if found["method"] == "POST" and int(found["total_ms"]) > slowest_post["ms"]:
            slowest_post = {"ms": int(found["total_ms"]), "status": int(found["status"]), "server": found["server"]}
            slowest_post["retries"] = found["redispatched"] + found["retries"]
        answers[f"{found['method']} {found['status']}"] += 1
        by_server[found["server"]] += 1
        retried[found["method"]] += int(found["retries"]) > 0
        redispatched += bool(found["redispatched"])
    return {
        "answers": dict(answers),
        "by_server": dict(by_server),
        "retried": dict(retried),
        "redispatched": redispatched,
        "slowest_post": slowest_post,
        "servers_marked_down": sorted(set(re.findall(r"Server webgame_web/(\S+) is DOWN", log))),
    }

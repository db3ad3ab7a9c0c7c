"""The clients of the chaos and churn runs: a game server that retries every batch until it
is acknowledged, viewers that keep their state exactly as dashboard.js does, and viewers that
come and go (some without a close frame)."""

import asyncio
import http.client
import json
import random
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable
from urllib.parse import urlparse

import websockets


def origin_of(ws_url: str) -> str:
    """The Origin a browser sends to a socket of the page's own server."""
    parsed = urlparse(ws_url)
    return f"{'https' if parsed.scheme == 'wss' else 'http'}://{parsed.netloc}"


class Poster(threading.Thread):
    """Posts `events` events in batches at `rate` events/s; each batch is retried (same ids)
    until it gets a 2xx, through refused connections, resets, 5xx and 429."""

    def __init__(self, *, url: str, slug: str, key: str, events: int, rate: int, batch: int):
        super().__init__(daemon=True)
        parsed = urlparse(url)
        self.host, self.port = parsed.hostname, parsed.port
        self.path, self.key = f"/api/games/{slug}/events", key
        self.events, self.rate, self.batch = events, rate, batch
        rng = random.Random(5)
        self.points = {f"c-{i}": rng.randint(1, 20) for i in range(events)}
        self.acked: set[str] = set()
        self.accepted_sum = self.duplicates_sum = self.retries = 0
        self.statuses: Counter = Counter()
        self.finished_at = 0.0

    def body(self, first: int) -> bytes:
        ids = [f"c-{i}" for i in range(first, min(first + self.batch, self.events))]
        return json.dumps(
            {"events": [{"id": i, "player": f"p{int(i[2:]) % 30}", "points": self.points[i]} for i in ids]}
        ).encode()

    def send(self, body: bytes) -> tuple[int, dict, str | None]:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=5)
        try:
            conn.request(
                "POST",
                self.path,
                body=body,
                headers={"Authorization": f"Bearer {self.key}", "Content-Type": "application/json"},
            )
            response = conn.getresponse()
            return response.status, json.loads(response.read() or b"{}"), response.getheader("Retry-After")
        finally:
            conn.close()

    def post_until_acked(self, first: int) -> None:
        body, backoff = self.body(first), 0.05
        while True:
            try:
                status, answer, retry_after = self.send(body)
            except (OSError, http.client.HTTPException, ValueError):
                status, answer, retry_after = 0, {}, None
            self.statuses[status] += 1
            if 200 <= status < 300:
                self.accepted_sum += answer["accepted"]
                self.duplicates_sum += answer["duplicates"]
                self.acked.update(e["id"] for e in json.loads(body)["events"])
                return
            if 400 <= status < 500 and status != 429:
                raise AssertionError(f"batch {first} refused: {status} {answer}")
            self.retries += 1
            time.sleep(float(retry_after) if retry_after else backoff * random.uniform(0.5, 1.5))
            backoff = min(backoff * 2, 1.0)

    def run(self) -> None:
        start = time.monotonic()
        for n, first in enumerate(range(0, self.events, self.batch)):
            time.sleep(max(0.0, start + n * self.batch / self.rate - time.monotonic()))
            self.post_until_acked(first)
        self.finished_at = time.monotonic()


class ChaosViewer:
    """dashboard.js's rules: absolute totals, drop seq <= lastSeq, resume on a gap (ignoring
    frames until the answer), reconnect with capped backoff and jitter."""

    def __init__(self, url: str):
        self.url = url
        self.last_seq, self.totals, self.game = 0, {}, {}
        self.awaiting_resume = False
        self.reconnects = self.resumes = 0

    def apply(self, frame: dict) -> dict | None:
        """Apply one server frame; returns a frame to send back, if any."""
        if frame["type"] == "snapshot":
            self.last_seq, self.game = frame["seq"], frame["game"]
            self.totals = {row["player"]: row["total"] for row in frame["leaderboard"]}
            self.awaiting_resume = False
            return None
        if frame["type"] != "events" or not frame["events"]:
            return None
        if self.awaiting_resume and not frame.get("resumed"):
            return None
        if frame["events"][0]["seq"] > self.last_seq + 1:
            self.awaiting_resume = True
            self.resumes += 1
            return {"type": "resume", "after_seq": self.last_seq}
        self.awaiting_resume = False
        if frame["events"][-1]["seq"] <= self.last_seq:
            return None
        self.last_seq = frame["events"][-1]["seq"]
        self.totals.update({row["player"]: row["total"] for row in frame["players"]})
        self.game = frame["game"]
        return None

    def matches(self, seq: int, game: dict, leaders: dict[str, int]) -> bool:
        same_game = (self.game.get("events"), self.game.get("points")) == (game["events"], game["points"])
        return self.last_seq == seq and same_game and all(self.totals.get(n) == t for n, t in leaders.items())

    def connect(self) -> websockets.connect:
        return websockets.connect(
            self.url, origin=origin_of(self.url), open_timeout=5, ping_interval=5, ping_timeout=10
        )

    async def run(self, stop: asyncio.Event) -> None:
        backoff = 0.2
        while not stop.is_set():
            try:
                async with self.connect() as ws:
                    backoff = 0.2
                    self.awaiting_resume = False
                    async for raw in ws:
                        reply = self.apply(json.loads(raw))
                        if reply is not None:
                            await ws.send(json.dumps(reply))
                        if stop.is_set():
                            return
            except (OSError, TimeoutError, websockets.WebSocketException):
                pass
            if stop.is_set():
                return
            self.reconnects += 1
            await asyncio.sleep(backoff * random.uniform(0.5, 1.5))
            backoff = min(backoff * 2, 2.0)


class ChurnViewer(ChaosViewer):
    """A browser tab that comes and goes: for `churn_seconds`, visits of 1-5 s, each ended by a
    close (~60 %), a resume without `after_seq` and a close at once (~10 %), or by vanishing
    without a close frame (~30 %: the TCP connection aborted, half of them with a reset). A
    visit still open when the churn ends stays until the pool stops (`connected`). Every
    outcome is counted; an exception other than the network's fails the run."""

    ABORT, RESUME = 0.3, 0.1
    MAX_VISITS = 200

    def __init__(self, url: str, *, seed: int, churn_seconds: float):
        super().__init__(url)
        self.rng = random.Random(seed)
        self.churn_seconds = churn_seconds
        self.churn_until = float("inf")
        self.connected = False
        self.connections = 0
        self.exits: Counter = Counter()
        self.connect_failures: Counter = Counter()
        self.closed_by_server: Counter = Counter()

    async def run(self, stop: asyncio.Event) -> None:
        self.churn_until = time.monotonic() + self.churn_seconds
        await asyncio.sleep(self.rng.uniform(0, 1))  # not all at once
        for _ in range(self.MAX_VISITS):
            if stop.is_set() or time.monotonic() >= self.churn_until:
                return
            await self.visit(stop, self.rng.uniform(1, 5))
            await asyncio.sleep(self.rng.uniform(0, 0.5))

    async def visit(self, stop: asyncio.Event, lifetime: float) -> None:
        try:
            ws = await self.connect()
        except (OSError, TimeoutError, websockets.WebSocketException) as exc:
            self.connect_failures[type(exc).__name__] += 1
            return
        self.connections += 1
        self.last_seq, self.totals, self.game, self.awaiting_resume = 0, {}, {}, False
        stays = time.monotonic() + lifetime >= self.churn_until
        reader = asyncio.ensure_future(self.read(ws))
        waits = [reader, asyncio.ensure_future(stop.wait())] if stays else [reader]
        self.connected = stays
        try:
            await asyncio.wait(waits, timeout=None if stays else lifetime, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self.connected = False
            for task in waits:
                task.cancel()
            await asyncio.gather(*waits, return_exceptions=True)
        if reader.done() and not reader.cancelled():
            reader.result()  # a bug of this client fails the run
            self.closed_by_server[ws.close_code] += 1
            return
        await self.leave(ws)

    async def read(self, ws) -> None:
        """Follow the stream until the server ends it (a normal close ends the loop quietly)."""
        try:
            async for raw in ws:
                reply = self.apply(json.loads(raw))
                if reply is not None:
                    await ws.send(json.dumps(reply))
        except websockets.ConnectionClosed:
            pass

    async def leave(self, ws) -> None:
        draw = self.rng.random()
        if draw < self.ABORT:
            rst = self.rng.random() < 0.5
            self.exits["vanish_rst" if rst else "vanish_fin"] += 1
            if rst:
                sock = ws.transport.get_extra_info("socket")
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            ws.transport.abort()
            await asyncio.wait_for(ws.wait_closed(), 5)
            return
        if draw < self.ABORT + self.RESUME:
            self.exits["resume_then_close"] += 1
            try:
                await ws.send(json.dumps({"type": "resume"}))  # no after_seq: answered bad_field
            except websockets.ConnectionClosed:
                pass
        else:
            self.exits["close"] += 1
        await ws.close()


def viewers_converged(viewers: list[ChaosViewer], game_id: int) -> bool:
    """Whether every viewer shows the database's snapshot of the game."""
    from stats import selectors

    snapshot = selectors.game_snapshot(game_id=game_id)
    want = {row["player"]: row["total"] for row in snapshot["leaderboard"]}
    return all(v.matches(snapshot["seq"], snapshot["game"], want) for v in viewers)


class ViewerPool:
    """`count` viewers (made by `viewer(url)`) on one event loop in a thread. stop() cancels
    them, or first lets them finish on their own for `grace` seconds (the stop event)."""

    def __init__(self, *, url: str, count: int, viewer: Callable[[str], ChaosViewer] = ChaosViewer):
        self.viewers = [viewer(url) for _ in range(count)]
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.task: asyncio.Future | None = None
        self.stop_event: asyncio.Event | None = None
        self.error: BaseException | None = None  # what a viewer raised, if any

    def _run(self) -> None:
        self.stop_event = asyncio.Event()
        self.task = self.loop.create_task(self._all(self.stop_event))
        try:
            self.loop.run_until_complete(self.task)
        except asyncio.CancelledError:
            pass
        except Exception as exc:  # noqa: BLE001 - kept for the test to report
            self.error = exc
        leftovers = asyncio.all_tasks(self.loop)  # websockets' keepalive tasks
        for task in leftovers:
            task.cancel()
        if leftovers:  # (gather() of nothing needs a current loop, which this thread has not)
            self.loop.run_until_complete(asyncio.gather(*leftovers, return_exceptions=True))
        self.loop.close()

    async def _all(self, stop: asyncio.Event) -> None:
        await asyncio.gather(*(v.run(stop) for v in self.viewers))

    def start(self) -> None:
        self.thread.start()
        while self.task is None:
            time.sleep(0.01)

    def stop(self, grace: float = 0.0) -> None:
        if self.task is None:
            return  # never started
        for action, wait in ((self.stop_event.set, grace), (self.task.cancel, 10)):
            if not wait or not self.thread.is_alive():
                continue
            try:
                self.loop.call_soon_threadsafe(action)
            except RuntimeError:  # the loop closed meanwhile
                return
            self.thread.join(wait)

    def reconnects(self) -> int:
        return sum(v.reconnects for v in self.viewers)

    def resumes(self) -> int:
        return sum(v.resumes for v in self.viewers)


class StatusViewer(ChaosViewer):
    """A dashboard through a Redis outage: it notes when the server says "degraded" and
    "live" (`status` frames, time.monotonic()), and pings every `ping_every` seconds as
    dashboard.js does, which keeps it current from the database while degraded."""

    def __init__(self, url: str, *, ping_every: float = 2.0):
        super().__init__(url)
        self.ping_every = ping_every
        self.told: list[tuple[bool, float]] = []  # (live, when)
        self.seq_seen: list[tuple[int, float]] = []  # (last_seq, when) after each frame that moved it

    def apply(self, frame: dict) -> dict | None:
        if frame["type"] == "status":
            self.told.append((frame["live"], time.monotonic()))
            return None
        before = self.last_seq
        reply = super().apply(frame)
        if self.last_seq != before:
            self.seq_seen.append((self.last_seq, time.monotonic()))
        return reply

    def told_at(self, live: bool, after: float) -> float | None:
        return next((at for state, at in self.told if state is live and at >= after), None)

    def reached_at(self, seq: int, after: float) -> float | None:
        """When it first held `seq` or later, at or after `after`."""
        held = [at for s, at in self.seq_seen if s >= seq]
        return max(after, held[0]) if held else None

    def connect(self) -> websockets.connect:
        return _PingingConnect(self, super().connect())


class _PingingConnect:
    """`async with` around websockets.connect that also sends the app's pings on the socket."""

    def __init__(self, viewer: StatusViewer, connect) -> None:
        self.viewer, self.connect = viewer, connect
        self.task: asyncio.Task | None = None

    async def __aenter__(self):
        ws = await self.connect.__aenter__()
        self.task = asyncio.ensure_future(self._pings(ws))
        return ws

    async def __aexit__(self, *exc):
        self.task.cancel()
        return await self.connect.__aexit__(*exc)

    async def _pings(self, ws) -> None:
        while True:
            await asyncio.sleep(self.viewer.ping_every)
            try:
                await ws.send('{"type": "ping"}')
            except websockets.WebSocketException:
                return

"""The clients of the chaos run: a game server that retries every batch until it is
acknowledged, and viewers that keep their state exactly as dashboard.js does."""

import asyncio
import http.client
import json
import random
import threading
import time
from collections import Counter
from urllib.parse import urlparse

import websockets


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

    async def run(self, stop: asyncio.Event) -> None:
        backoff = 0.2
        while not stop.is_set():
            try:
                async with websockets.connect(
                    self.url, origin="http://127.0.0.1", open_timeout=5, ping_interval=5, ping_timeout=10
                ) as ws:
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


class ViewerPool:
    """`count` viewers on one event loop in a thread."""

    def __init__(self, *, url: str, count: int):
        self.viewers = [ChaosViewer(url) for _ in range(count)]
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.task: asyncio.Future | None = None

    def _run(self) -> None:
        stop = asyncio.Event()  # never set: the pool ends by cancellation
        self.task = self.loop.create_task(self._all(stop))
        try:
            self.loop.run_until_complete(self.task)
        except asyncio.CancelledError:
            pass
        leftovers = asyncio.all_tasks(self.loop)  # websockets' keepalive tasks
        for task in leftovers:
            task.cancel()
        self.loop.run_until_complete(asyncio.gather(*leftovers, return_exceptions=True))
        self.loop.close()

    async def _all(self, stop: asyncio.Event) -> None:
        await asyncio.gather(*(v.run(stop) for v in self.viewers))

    def start(self) -> None:
        self.thread.start()
        while self.task is None:
            time.sleep(0.01)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.task.cancel)
        self.thread.join(10)

    def reconnects(self) -> int:
        return sum(v.reconnects for v in self.viewers)

    def resumes(self) -> int:
        return sum(v.resumes for v in self.viewers)

"""The event poster: HTTP/1.1 keep-alive connections, events at a fixed rate (or batches as
fast as they are taken). Event ids carry their post time: `b<unix microseconds>x<n>`."""

import asyncio
import json
import time


class Http:
    """One keep-alive connection: enough HTTP/1.1 for JSON requests and answers."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader = self.writer = None

    async def request(
        self, method: str, path: str, body: bytes = b"", headers: dict | None = None
    ) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        head = f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nContent-Length: {len(body)}\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        self.writer.write(head.encode() + b"\r\n" + body)
        status_line = await self.reader.readline()
        length, close = 0, False
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
            elif name.lower() == "connection" and value.strip().lower() == "close":
                close = True
        data = await self.reader.readexactly(length) if length else b""
        if close:
            self.close()
        return int(status_line.split()[1]), data

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


def event_make(n: int, players: int = 20) -> dict:
    return {"id": f"b{int(time.time() * 1e6)}x{n}", "player": f"p{n % players}", "points": 1 + n % 7}


class Poster:
    def __init__(self, port: int, slug: str, key: str, connections: int = 4) -> None:
        self.path = f"/api/games/{slug}/events"
        self.headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        self.pool: asyncio.Queue[Http] = asyncio.Queue()
        for _ in range(connections):
            self.pool.put_nowait(Http("127.0.0.1", port))
        self.sent = self.errors = self.last_seq = self.n = 0
        self.post_ms: list[float] = []

    async def post(self, events: list[dict], deadline: float | None = None) -> None:
        http = await self.pool.get()
        if deadline is not None and asyncio.get_running_loop().time() > deadline:
            self.pool.put_nowait(http)
            return  # the server is behind the schedule: stop on time (posted_rate tells)
        try:
            began = time.perf_counter()
            payload = events[0] if len(events) == 1 else {"events": events}  # one event: the plain form
            status, body = await http.request("POST", self.path, json.dumps(payload).encode(), self.headers)
            self.post_ms.append((time.perf_counter() - began) * 1000)
            if status == 202:
                self.sent += len(events)
                self.last_seq = max(self.last_seq, json.loads(body)["last_seq"])
            else:
                self.errors += 1
        except (OSError, asyncio.IncompleteReadError):
            self.errors += 1
            http.close()
        finally:
            self.pool.put_nowait(http)

    async def at_rate(self, rate: float, seconds: float, batch: int = 1) -> float:
        """Post `rate` events/s for `seconds` (in batches of `batch`). Returns the elapsed time."""
        loop = asyncio.get_running_loop()
        tasks, start = [], loop.time()
        for i in range(int(rate * seconds / batch)):
            if loop.time() - start > seconds:
                break  # the server cannot take the rate: stop on time, posted_rate says so
            delay = start + i * batch / rate - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            events = [event_make(self.n + j) for j in range(batch)]
            self.n += batch
            tasks.append(asyncio.ensure_future(self.post(events, deadline=start + seconds + 1)))
        await asyncio.gather(*tasks)
        return loop.time() - start

    async def flat_out(self, seconds: float, batch: int, concurrency: int) -> float:
        """Post batches back to back from `concurrency` connections for `seconds`."""
        loop = asyncio.get_running_loop()
        start = loop.time()

        async def worker() -> None:
            while loop.time() - start < seconds:
                events = [event_make(self.n + j) for j in range(batch)]
                self.n += batch
                await self.post(events)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return loop.time() - start

    def close(self) -> None:
        while not self.pool.empty():
            self.pool.get_nowait().close()

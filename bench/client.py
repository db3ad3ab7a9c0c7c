"""The benchmarks' game server: the repository's own Python client (clients/python,
webgame_client), as issue #13 asks, rather than a socket poster of the bench's own.

`ClientPoster` is load.Poster's interface (at_rate, sent, errors, last_seq, post_ms) for the
fan-out steps: each event leaves alone, at once (batch_max=1, flush_interval=0), and its id
carries its send time (load.event_make), which the viewers measure their latency from.
`stream_run` is the ingest row: a game-server thread calling send() as fast as it can."""

import asyncio
import threading
import time

from webgame_client import BufferFull, Client

from bench.load import event_make
from bench.servers import cpu_seconds

FLUSH_TIMEOUT = 60.0


class ClientPoster:
    def __init__(self, port: int, slug: str, key: str) -> None:
        self.sent = self.errors = self.last_seq = self.n = 0
        self.post_ms: list[float] = []  # send() -> ack, per event
        self._sent_at: dict[str, float] = {}
        self._lock = threading.Lock()  # on_ack runs on the client's thread
        self.client = Client(
            f"http://127.0.0.1:{port}",
            slug,
            key,
            batch_max=1,
            flush_interval=0,
            max_in_flight=256,  # as many frames unanswered as the raw socket poster had
            on_ack=self._acked,
            on_error=self._failed,
        )

    def _acked(self, events: list[dict], last_seq: int | None) -> None:
        now = time.perf_counter()
        with self._lock:
            for event in events:
                self.post_ms.append((now - self._sent_at.pop(event["id"])) * 1000)
            self.sent += len(events)
            self.last_seq = max(self.last_seq, last_seq or 0)

    def _failed(self, events: list[dict], code: str, message: str) -> None:
        with self._lock:
            for event in events:
                self._sent_at.pop(event["id"], None)
            self.errors += len(events)

    async def at_rate(self, rate: float, seconds: float, batch: int = 1) -> float:
        """send() `rate` events/s for `seconds`, then wait for their acks. Returns the posting
        time (as Poster's: the schedule, not the wait for the last acks)."""
        loop = asyncio.get_running_loop()
        start = loop.time()
        for i in range(int(rate * seconds)):
            if loop.time() - start > seconds:
                break
            delay = start + i / rate - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            event = event_make(self.n)
            self.n += 1
            with self._lock:
                self._sent_at[event["id"]] = time.perf_counter()
            self.client.send(event["player"], event["points"], id=event["id"])
        elapsed = loop.time() - start
        await asyncio.to_thread(self.client.flush, FLUSH_TIMEOUT)
        return elapsed

    def transport(self) -> dict:
        """How the events went: frames, frames sent again, and falls back to HTTP (a socket
        that could not be opened: then events go one POST at a time, and latency grows)."""
        stats = self.client.stats
        return {"frames": stats.frames, "retries": stats.retries, "http_fallbacks": stats.http_fallbacks}

    def close(self) -> None:
        self.client.close(timeout=5)


def stream_run(port: int, slug: str, key: str, pids: list[int], seconds: float) -> dict:
    """Single events streamed over one ingest socket by the client with its defaults: a game
    server's thread calls send() once per event, as fast as it can, for `seconds`; the client
    batches whatever piled up while the previous frames were in flight. Events/s are acked
    events over the time until the last is acked."""
    full = 0
    cpu0, t0 = cpu_seconds(pids), time.monotonic()
    with Client(f"http://127.0.0.1:{port}", slug, key, close_timeout=FLUSH_TIMEOUT) as client:
        n = 0
        while time.monotonic() - t0 < seconds:
            event = event_make(n)
            try:
                client.send(event["player"], event["points"], id=event["id"])
                n += 1
            except BufferFull:  # max_pending unacked: the server is the bound, let it catch up
                full += 1
                time.sleep(0.001)
        flushed = client.flush(FLUSH_TIMEOUT)
        wall, cpu = time.monotonic() - t0, cpu_seconds(pids) - cpu0
        stats = client.stats
    return {
        "batch": "client (socket)",
        "events": stats.acked,
        "errors": stats.failed + (not flushed),
        "events_per_s": round(stats.acked / wall, 0),
        "server_cpu_s": round(cpu, 2),
        "events_per_cpu_s": round(stats.acked / cpu, 0) if cpu else None,
        "events_per_frame": round(stats.sent / stats.frames, 1) if stats.frames else None,
        "frames": stats.frames,
        "buffer_full": full,
        "transport_fallbacks": stats.http_fallbacks,
        "post_p50_ms": None,
    }

"""The synchronous Client a game server holds: send() from any thread, never waiting on the
network; a background thread running an asyncio loop does the rest (see transport.py)."""

import asyncio
import atexit
import concurrent.futures
import logging
import threading
from datetime import datetime
from types import TracebackType

from .engine import AckCallback, Config, Engine, ErrorCallback
from .events import event_make
from .outbox import Outbox
from .stats import ClientStats, Counters
from .transport import Runner, urls

log = logging.getLogger("webgame_client")


def error_log(events: list[dict], code: str, message: str) -> None:
    """The default on_error: a game server that set none still hears of lost events."""
    log.error("webgame_client: %d event(s) not delivered (%s): %s", len(events), code, message)


class _ThreadPerCall(concurrent.futures.ThreadPoolExecutor):
    """The loop's executor (DNS lookups, HTTP POSTs): a daemon thread per call. A pool would
    refuse work once the interpreter starts exiting, which is exactly when the atexit hook
    needs to flush; the calls are rare (a connect, a POST while the socket is refused)."""

    def submit(self, fn, /, *args, **kwargs) -> concurrent.futures.Future:  # type: ignore[override]
        future: concurrent.futures.Future = concurrent.futures.Future()

        def call() -> None:
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(fn(*args, **kwargs))
                except BaseException as exc:  # noqa: BLE001 - handed to the awaiting coroutine
                    future.set_exception(exc)

        threading.Thread(target=call, name="webgame-client-call", daemon=True).start()
        return future


class Client:
    """Streams one game's events to a webgame server.

    `send()` buffers; a background thread batches up to `batch_max` events per frame (waiting
    at most `flush_interval` s for a batch to fill), keeps up to `max_in_flight` frames
    unanswered on the ingest socket, sends unacked frames again after a reconnect (with
    exponential backoff and jitter up to `backoff_max` s), and POSTs over HTTP while the socket
    cannot be opened. A frame refused for good calls `on_error(events, code, message)`, an acked
    one `on_ack(events, last_seq)` (both on the client's thread, before flush() sees the events
    settled). `close()` (or leaving a `with` block, or the interpreter's exit) flushes
    for up to `close_timeout` s."""

    def __init__(
        self,
        base_url: str,
        slug: str,
        key: str,
        *,
        batch_max: int = 500,
        flush_interval: float = 0.05,
        max_in_flight: int = 8,
        max_retries: int | None = 10,
        backoff_base: float = 0.1,
        backoff_max: float = 10.0,
        socket_retry: float = 30.0,
        timeout: float = 10.0,
        answer_timeout: float = 30.0,
        max_pending: int = 100_000,
        close_timeout: float = 10.0,
        on_error: ErrorCallback | None = None,
        on_ack: AckCallback | None = None,
        ws_url: str | None = None,
    ) -> None:
        ws, http = urls(base_url, slug, ws_url)
        config = Config(
            batch_max=batch_max,
            flush_interval=flush_interval,
            max_in_flight=max_in_flight,
            max_retries=max_retries,
            backoff_base=backoff_base,
            backoff_max=backoff_max,
            socket_retry=socket_retry,
            timeout=timeout,
            answer_timeout=answer_timeout,
        )
        self.close_timeout = close_timeout
        self._counters = Counters()
        self._outbox = Outbox(batch_max=batch_max, max_pending=max_pending)
        self._engine = Engine(config, self._outbox, self._counters, on_error or error_log, on_ack)
        self._runner = Runner(self._engine, ws_url=ws, http_url=http, key=key)
        self._closed = self._flushed = False
        self._close_lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._loop.set_default_executor(_ThreadPerCall(max_workers=1))
        # Made before the loop runs (no other thread touches the loop yet), so that close()
        # always finds the task to cancel, however soon it comes.
        self._task = self._loop.create_task(self._runner.run())
        self._thread = threading.Thread(target=self._loop_run, name=f"webgame-client-{slug}", daemon=True)
        self._thread.start()
        _open_clients.add(self)

    def _loop_run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_forever()

    def send(
        self,
        player: str,
        points: int = 0,
        *,
        stats: dict[str, int] | None = None,
        team: str | None = None,
        match: str | None = None,
        kind: str | None = None,
        at: datetime | str | None = None,
        id: str | None = None,
    ) -> str:
        """Buffer one event and return its id (made with uuid4 unless given; it is kept across
        retries, so a retry is a duplicate for the server, never a second count). Raises
        ValueError/TypeError for an event the server would refuse, BufferFull when
        `max_pending` events are undelivered, ClientClosed after close()."""
        event = event_make(player, points, stats=stats, team=team, match=match, kind=kind, at=at, id=id)
        if self._outbox.put(event):
            self._wake()
        self._counters.add(sent=1)
        return event["id"]

    def _wake(self) -> None:
        try:
            self._loop.call_soon_threadsafe(self._engine.poke.set)
        except RuntimeError:
            pass  # the loop is closed: close() reports what is left

    def flush(self, timeout: float | None = None) -> bool:
        """Send what is buffered now (no lingering for fuller batches) and wait until every
        event so far is acked or given up on. True only when all of them were acked: False if
        `timeout` s passed first (`pending` > 0), or if any event was given up on (on_error)
        since the last flush() that returned, which that False reports once."""
        self._outbox.flushing(+1)
        try:
            self._wake()
            return self._outbox.settled_wait(timeout)
        finally:
            self._outbox.flushing(-1)

    def close(self, timeout: float | None = None) -> bool:
        """Flush for up to `timeout` s (default: close_timeout), then stop the client's thread;
        events still undelivered go to on_error with code "closed". True if all were delivered
        (acked; see flush()). Idempotent."""
        if threading.current_thread() is self._thread:
            raise RuntimeError("close() from on_error would wait on itself")
        with self._close_lock:
            if self._closed:
                return self._flushed
            self._closed = True
        self._flushed = self.flush(self.close_timeout if timeout is None else timeout)
        stopping = asyncio.run_coroutine_threadsafe(self._stop(), self._loop)
        try:
            stopping.result(5)  # _stop() gives the runner 3 s
        except (concurrent.futures.TimeoutError, concurrent.futures.CancelledError):
            log.warning("webgame_client: the client's thread did not stop in time")
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        if not self._thread.is_alive():
            self._loop.close()
        _open_clients.discard(self)
        return self._flushed

    async def _stop(self) -> None:
        """Cancel the runner (its socket session cancels its own tasks), then report what is
        left."""
        self._task.cancel()
        await asyncio.wait({self._task}, timeout=3)
        self._engine.abandon("closed", "not delivered before close()")

    @property
    def stats(self) -> ClientStats:
        return self._counters.snapshot()

    @property
    def pending(self) -> int:
        """Events given to send() and not yet acked or given up on."""
        return self._outbox.pending

    @property
    def transport(self) -> str:
        """What carries frames now: "socket", "http", or "none" (idle, or between tries)."""
        return self._runner.transport

    def __enter__(self) -> "Client":
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()


_open_clients: set[Client] = set()


@atexit.register
def _clients_close() -> None:
    """A game server that exits without close() still delivers what it buffered."""
    for client in list(_open_clients):
        try:
            client.close()
        except Exception:
            log.exception("webgame_client: closing a client at exit failed")

"""The Python client (clients/python, webgame_client) against the real server in a daphne
process: over the ingest socket, over the HTTP fallback, across a server crash, at close, and
with events the server refuses. Counts are read from the database, where "exactly once" is
true or not."""

import contextlib
import socket
import sys
import threading
import time

from django.db.models import Sum

from stats.models import Game, ScoreEvent
from stats.tests.support import ROOT, free_port

sys.path.insert(0, str(ROOT / "clients" / "python" / "src"))

from webgame_client import Client

WAIT = 30.0  # seconds: a bound on every wait, never a sleep


def client_for(live, game, key, **options) -> tuple[Client, list[tuple[list[dict], str, str]]]:
    """A client with quick timings, and the list its on_error fills."""
    errors: list[tuple[list[dict], str, str]] = []
    options = {"flush_interval": 0.01, "backoff_base": 0.05, "backoff_max": 0.5, **options}
    options.setdefault("on_error", lambda events, code, message: errors.append((events, code, message)))
    return Client(live.url, game.slug, key, **options), errors


def stored(game) -> tuple[set[str], int]:
    """The ids the game's log holds (asserting none twice), and their points."""
    ids = list(ScoreEvent.objects.filter(game=game).values_list("event_id", flat=True))
    assert len(ids) == len(set(ids)), "an event id stored twice"
    points = ScoreEvent.objects.filter(game=game).aggregate(total=Sum("points"))["total"] or 0
    return set(ids), points


def condition_wait(condition, what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not within {WAIT}s"
        time.sleep(0.02)


def test_socket_delivers_every_event_exactly_once(live, game, api_key):
    client, errors = client_for(live, game, api_key, batch_max=100)
    with client:
        ids = [client.send(f"p{i % 5}", i % 7, kind="score") for i in range(1000)]
        assert client.flush(WAIT)
        assert client.transport == "socket"
        again = client.send("p0", 3, id="fixed-id")
        client.send("p0", 3, id="fixed-id")  # the same event twice: counted once
        assert client.flush(WAIT)
    assert stored(game) == ({*ids, again}, sum(i % 7 for i in range(1000)) + 3)
    stats = client.stats
    assert (stats.sent, stats.acked, stats.duplicates, stats.failed) == (1002, 1002, 1, 0)
    assert stats.http_fallbacks == 0 and errors == []
    game.refresh_from_db()
    assert game.event_count == 1001


def test_refused_socket_falls_back_to_http_and_the_socket_sees_its_events_as_duplicates(live, game, api_key):
    refused = f"ws://127.0.0.1:{live.port}/ws/no-such-route/"  # a path with no route: 403
    with client_for(live, game, api_key, ws_url=refused)[0] as client:
        ids = [client.send("ada", 2) for _ in range(50)]
        assert client.flush(WAIT)
    assert client.stats.http_fallbacks >= 1 and client.stats.acked == 50
    assert stored(game) == (set(ids), 100)
    with client_for(live, game, api_key)[0] as socket_client:
        for event_id in ids:
            socket_client.send("ada", 2, id=event_id)
        assert socket_client.flush(WAIT)
    assert socket_client.stats.http_fallbacks == 0
    assert socket_client.stats.duplicates == 50
    assert stored(game) == (set(ids), 100)


def test_a_server_killed_mid_stream_loses_and_doubles_nothing(live, game, api_key):
    client, errors = client_for(live, game, api_key, batch_max=50, flush_interval=0.002, socket_retry=0.5)
    with client:
        ids = [client.send("ada", 1) for _ in range(200)]
        assert client.flush(WAIT)
        sending = threading.Thread(target=lambda: ids.extend(client.send("ken", 1) for _ in range(3000)))
        sending.start()
        condition_wait(lambda: client.stats.acked > 400, "acks after the first flush")
        live.kill()  # with frames in flight: unanswered, maybe committed
        sending.join(WAIT)
        ids += [client.send("zed", 1) for _ in range(100)]  # while the server is down
        condition_wait(lambda: client.stats.http_fallbacks >= 1, "the client finding the server gone")
        live.start()
        assert client.flush(WAIT)
    assert stored(game) == (set(ids), 3300)
    stats = client.stats
    assert (stats.acked, stats.failed) == (3300, 0) and errors == []
    assert stats.retries >= 1


class AckEater:
    """A TCP proxy in front of the server that, once muted, passes the client's bytes on and
    drops the server's: frames are committed and their acks lost, as when a connection dies
    between the commit and the ack. cut() then closes every connection it carries."""

    def __init__(self, port: int) -> None:
        self.port, self.muted = port, False
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # closed
            server = socket.create_connection(("127.0.0.1", self.port))
            self.sockets += [client, server]
            threading.Thread(target=self._pump, args=(client, server, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, True), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, mutable: bool) -> None:
        try:
            while data := source.recv(65536):
                if not (mutable and self.muted):
                    sink.sendall(data)
        except OSError:
            pass  # cut

    def cut(self) -> None:
        sockets, self.sockets, self.muted = self.sockets, [], False
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)  # close() alone would not wake a pump's recv()
            sock.close()

    def close(self) -> None:
        self.cut()
        self.listener.close()


def test_acks_lost_after_commit_come_back_as_duplicates_not_double_counts(live, game, api_key):
    proxy = AckEater(live.port)
    client = Client(proxy.url, game.slug, api_key, flush_interval=0.01, backoff_base=0.05, answer_timeout=WAIT)
    try:
        first = client.send("ada", 1)
        assert client.flush(WAIT)
        proxy.muted = True
        ids = [first, *(client.send("ken", 1) for _ in range(100))]
        condition_wait(lambda: len(stored(game)[0]) == 101, "the unacked frames' commit")
        assert client.pending == 100  # committed, and the client cannot know
        proxy.cut()
        assert client.flush(WAIT)
    finally:
        client.close(1)
        proxy.close()
    assert stored(game) == (set(ids), 101)
    stats = client.stats
    assert (stats.acked, stats.duplicates, stats.failed, stats.http_fallbacks) == (101, 100, 0, 0)
    assert stats.retries >= 1


def test_close_flushes_what_is_buffered(live, game, api_key):
    client, _ = client_for(live, game, api_key, flush_interval=60)  # would linger a minute
    ids = [client.send("ada", 1) for _ in range(20)]
    assert client.close(WAIT) is True
    assert stored(game) == (set(ids), 20)


def test_refused_events_go_to_on_error_and_the_rest_is_stored(live, game, api_key):
    client, errors = client_for(live, game, api_key)
    with client:
        client.send("ada", 1, stats={"nope": 1}, id="unknown-stat")
        assert client.flush(WAIT) is False and client.pending == 0  # settled, not delivered (#22)
        client.send("ada", 1, id="taken")
        assert client.flush(WAIT)
        client.send("ada", 2, id="taken")  # the same id with other content
        assert client.flush(WAIT) is False and client.pending == 0
        good = client.send("ken", 5)
        assert client.flush(WAIT)
    assert [(code, [e["id"] for e in events]) for events, code, _ in errors] == [
        ("unknown_stat", ["unknown-stat"]),
        ("id_conflict", ["taken"]),
    ]
    assert "nope" in errors[0][2]  # the message names what was wrong
    assert stored(game) == ({"taken", good}, 6)
    assert (client.stats.failed, client.stats.acked, client.stats.retries) == (2, 2, 0)


def test_a_key_for_another_game_is_reported_not_retried(live, game, api_key):
    other = Game.objects.create(slug="other", name="Other")
    client, errors = client_for(live, other, api_key, socket_retry=60)
    with client:
        client.send("ada", 1)
        assert client.flush(WAIT) is False and client.pending == 0
    [(events, code, _)] = errors
    assert code == "not_found" and len(events) == 1
    assert client.stats.http_fallbacks == 1  # the socket refused (403), then HTTP said 404


def test_nothing_listening_close_reports_the_events(game, api_key):
    lost: list[tuple] = []
    client = Client(f"http://127.0.0.1:{free_port()}", game.slug, api_key, on_error=lambda *args: lost.append(args))
    client.send("ada", 1)
    assert client.close(0.5) is False
    assert [code for _, code, _ in lost] == ["closed"] and client.stats.failed == 1


def test_a_batch_over_the_sockets_frame_limit_is_delivered_in_frames_under_it(live, game, api_key):
    """Issue #19: 500 events of ~203 bytes (99 KiB as one frame) were refused too_large on
    every retry, and none was stored. The client splits frames by bytes, under 64 KiB."""
    client, errors = client_for(live, game, api_key, batch_max=500, flush_interval=60)
    with client:
        ids = [client.send(f"player-{i % 7:02d}-{'p' * 40}", 1, kind="score", team="t" * 32, match=None,
                           id=f"big-{i:04d}-{'x' * 55}") for i in range(500)]  # fmt: skip
        assert client.flush(WAIT)
    assert stored(game) == (set(ids), 500)
    stats = client.stats
    assert (stats.acked, stats.failed, stats.retries, stats.http_fallbacks) == (500, 0, 0, 0) and errors == []
    assert stats.frames >= 2


def test_a_revoked_keys_socket_refuses_the_client_and_stores_nothing_more(live, game, api_key):
    """Issue #19: an open socket kept storing a revoked key's events. Now a frame after the
    revocation is refused (key_revoked, then close 4401) within INGEST_KEY_RECHECK_SECONDS:
    the client reports it, and what is stored is exactly what was acked."""
    acked: list[str] = []
    client, errors = client_for(
        live, game, api_key, max_retries=1, on_ack=lambda events, _: acked.extend(e["id"] for e in events)
    )
    with client:
        client.send("ada", 1)
        assert client.flush(WAIT)
        key = game.api_keys.get()
        key.revoked = True
        key.save()  # as the admin's change form does
        deadline = time.monotonic() + WAIT
        while client.flush(WAIT):  # one event per flush, until one is refused
            assert time.monotonic() < deadline, "the revoked key's frames were still acked"
            refused = client.send("ada", 1)
    assert errors[0][1] == "key_revoked" and [e["id"] for e in errors[0][0]] == [refused]
    assert stored(game)[0] == set(acked) and refused not in acked

"""The client against a fake ingest server: delivery, retries, fallback, errors, close."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from fakeserver import free_port, wait_for
from webgame_client import BufferFull, Client, ClientClosed

SRC = Path(__file__).resolve().parents[1] / "src"


def ids_send(client: Client, count: int, player: str = "ada") -> list[str]:
    return [client.send(player, 1) for _ in range(count)]


def test_events_arrive_once_in_frames_of_batch_max(client_make, fake):
    client = client_make(batch_max=100)
    ids = ids_send(client, 1000)
    assert client.flush(10)
    assert set(fake.stored) == set(ids)
    assert all(len(frame["events"]) <= 100 for frame in fake.ws_frames)
    assert sum(len(frame["events"]) for frame in fake.ws_frames) == 1000
    stats = client.stats
    assert (stats.sent, stats.acked, stats.failed, stats.duplicates) == (1000, 1000, 0, 0)
    assert (stats.retries, stats.http_fallbacks) == (0, 0)
    assert stats.frames == len(fake.ws_frames) >= 10
    assert client.transport == "socket"


def test_with_no_linger_each_event_leaves_at_once_in_a_frame_of_its_own(client_make, fake):
    """batch_max=1, flush_interval=0: a game server that wants each event on the wire as it
    happens. Each event arrives with no flush() to push it, one frame per event."""
    client = client_make(batch_max=1, flush_interval=0)
    for n in range(20):
        event_id = client.send("ada", n)
        wait_for(lambda event_id=event_id: event_id in fake.stored, what=f"event {n} stored")
    assert [len(frame["events"]) for frame in fake.ws_frames] == [1] * 20
    assert (client.stats.frames, client.stats.acked) == (20, 20)


def test_on_ack_hears_of_each_acked_frame_with_the_games_last_seq(client_make, fake):
    acks: list[tuple[list[str], int | None]] = []

    def on_ack(events: list[dict], last_seq: int | None) -> None:
        acks.append(([e["id"] for e in events], last_seq))

    client = client_make(batch_max=10, on_ack=on_ack)
    ids = ids_send(client, 30)
    assert client.flush(10)  # returns after the last frame's callback
    assert [i for frame_ids, _ in acks for i in frame_ids] == ids
    assert [last_seq for _, last_seq in acks] == [10, 20, 30]
    fake.refuse_socket = True  # over HTTP too
    client_http = client_make(on_ack=on_ack)
    event_id = client_http.send("ken", 1)
    assert client_http.flush(10)
    assert acks[-1] == ([event_id], 31)


def test_a_failing_on_ack_stops_nothing(client_make, fake):
    client = client_make(batch_max=1, on_ack=lambda events, last_seq: 1 / 0)
    ids = ids_send(client, 3)
    assert client.flush(10)
    assert set(fake.stored) == set(ids) and client.stats.acked == 3


def test_frames_are_pipelined_up_to_max_in_flight(client_make, fake):
    fake.answer_delay = 0.05
    client = client_make(batch_max=10, max_in_flight=4)
    ids_send(client, 200)
    assert client.flush(10)
    assert fake.max_unanswered == 4  # never more, and not one at a time either
    assert len(fake.stored) == 200


def test_refs_are_distinct_and_event_fields_go_as_given(client_make, fake):
    client = client_make()
    client.send("ada", 5, stats={"kills": 2}, team="red", match="m1", kind="kill", at="2026-01-01T00:00:00Z", id="e-1")
    assert client.flush(5)
    assert fake.stored["e-1"] == {
        "id": "e-1",
        "player": "ada",
        "points": 5,
        "stats": {"kills": 2},
        "team": "red",
        "match": "m1",
        "kind": "kill",
        "at": "2026-01-01T00:00:00Z",
    }


def test_a_lost_answer_is_retried_with_the_same_ids_and_counted_once(client_make, fake):
    fake.script = ["drop_after_store"]  # stored, then the socket goes before the ack
    client = client_make(batch_max=50)
    ids = ids_send(client, 50)
    assert client.flush(10)
    assert set(fake.stored) == set(ids)
    assert [e["id"] for e in fake.ws_frames[1]["events"]] == ids  # the same events again
    stats = client.stats
    assert (stats.acked, stats.duplicates, stats.retries, stats.failed) == (50, 50, 1, 0)
    assert fake.handshakes == 2


def test_a_frame_dropped_unstored_is_stored_on_retry(client_make, fake):
    fake.script = ["drop"]
    client = client_make()
    ids = ids_send(client, 3)
    assert client.flush(10)
    assert set(fake.stored) == set(ids)
    assert client.stats.duplicates == 0 and client.stats.retries == 1


@pytest.mark.parametrize("code", ["rate_limited", "unavailable"])
def test_transient_refusals_are_retried(client_make, fake, code):
    fake.script = [code, code]
    client = client_make()
    ids = ids_send(client, 5)
    assert client.flush(10)
    assert set(fake.stored) == set(ids)
    assert client.stats.retries == 2 and client.stats.failed == 0
    assert client_make.errors == []


@pytest.mark.parametrize("code", ["invalid", "id_conflict", "unknown_stat", "unknown_match", "match_ended"])
def test_permanent_refusals_go_to_on_error_and_are_not_retried(client_make, fake, code):
    fake.script = [code]
    client = client_make()
    ids = ids_send(client, 3)
    assert client.flush(10) is False and client.pending == 0  # settled, not delivered: False
    [(events, got_code, message)] = client_make.errors
    assert [e["id"] for e in events] == ids and got_code == code and message
    assert len(fake.ws_frames) == 1 and not fake.stored
    assert (client.stats.failed, client.stats.acked, client.stats.retries) == (3, 0, 0)
    later = client.send("ada", 1)
    assert client.flush(10) and later in fake.stored  # the socket goes on; this flush's events were all acked


def test_retries_stop_at_max_retries(client_make, fake):
    fake.script = ["unavailable"] * 10
    client = client_make(max_retries=2)
    ids_send(client, 2)
    assert client.flush(10) is False and client.pending == 0
    [(_, code, message)] = client_make.errors
    assert code == "unavailable" and "after 2 retries" in message
    assert len(fake.ws_frames) == 3 and client.stats.failed == 2


def test_an_unanswered_frame_means_a_dead_socket(client_make, fake):
    fake.script = ["silent"]
    client = client_make(answer_timeout=0.3)
    ids = ids_send(client, 2)
    assert client.flush(10)
    assert set(fake.stored) == set(ids) and fake.handshakes == 2


def test_refused_socket_falls_back_to_http_then_returns_to_the_socket(client_make, fake):
    fake.refuse_socket = True
    client = client_make(socket_retry=0.3)
    first = ids_send(client, 20)
    assert client.flush(10)
    assert set(fake.stored) == set(first) and fake.posts and not fake.ws_frames
    assert client.stats.http_fallbacks >= 1
    fake.refuse_socket = False
    wait_for(lambda: client.transport != "http", what="the HTTP spell's end")
    second = ids_send(client, 20)
    assert client.flush(10)
    assert set(fake.stored) == {*first, *second}
    assert {e["id"] for frame in fake.ws_frames for e in frame["events"]} == set(second)


def test_http_rate_limit_waits_and_retries(client_make, fake):
    fake.refuse_socket = True
    fake.http_script = [(429, "rate_limited", {"Retry-After": "0"}), (503, "whatever", {})]
    client = client_make()
    ids = ids_send(client, 4)
    assert client.flush(10)
    assert set(fake.stored) == set(ids) and len(fake.posts) == 3
    assert client.stats.retries == 2 and client_make.errors == []


def test_wrong_key_is_reported_not_retried_forever(client_make, server, fake):
    client = client_make()
    client._runner.key = "wrong"  # the socket says 403, HTTP says 401
    ids_send(client, 2)
    assert client.flush(10) is False and client.pending == 0
    [(events, code, _)] = client_make.errors
    assert code == "unauthorized" and len(events) == 2


def test_server_restart_retries_without_double_count(client_make, server, fake):
    client = client_make(batch_max=20)
    before = ids_send(client, 40)
    assert client.flush(10)
    server.stop()
    during = ids_send(client, 40)
    wait_for(lambda: client.stats.http_fallbacks >= 1, what="the client noticing the server is gone")
    assert not client.flush(0.2)
    server.start()
    assert client.flush(10)
    assert set(fake.stored) == {*before, *during}
    assert client.stats.acked == 80 and client.stats.failed == 0


def test_close_flushes_what_lingers(client_make, fake):
    client = client_make(flush_interval=60)
    ids = ids_send(client, 5)
    assert client.close(5) is True
    assert set(fake.stored) == set(ids)
    with pytest.raises(ClientClosed):
        client.send("ada", 1)
    assert client.close() is True  # idempotent


def test_close_reports_what_it_could_not_deliver(client_make):
    client = client_make(base_url=f"http://127.0.0.1:{free_port()}")  # nobody listens
    ids = ids_send(client, 3)
    assert client.close(0.3) is False
    [(events, code, _)] = client_make.errors
    assert code == "closed" and [e["id"] for e in events] == ids
    assert client.stats.failed == 3 and client.pending == 0


def test_context_manager_closes(server, fake):
    with Client(server.url, "arena", "secret", flush_interval=60) as client:
        ids = ids_send(client, 3)
    assert set(fake.stored) == set(ids)


def test_buffer_full_when_max_pending_are_undelivered(client_make):
    client = client_make(base_url=f"http://127.0.0.1:{free_port()}", max_pending=2)
    ids_send(client, 2)
    with pytest.raises(BufferFull):
        client.send("ada", 1)


def exit_without_close(url: str) -> None:
    """A game server's process that sends and exits, never calling close()."""
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(SRC)!r})
        from webgame_client import Client
        client = Client({url!r}, "arena", "secret", flush_interval=60)
        for i in range(7):
            client.send("ada", 1, id=f"exit-{{i}}")
    """)
    subprocess.run([sys.executable, "-c", script], check=True, timeout=30, env={**os.environ, "PYTHONPATH": ""})


def test_interpreter_exit_flushes_an_unclosed_client(server, fake):
    exit_without_close(server.url)
    assert set(fake.stored) == {f"exit-{i}" for i in range(7)}
    assert fake.ws_frames and not fake.posts


def test_interpreter_exit_flushes_over_http_too(server, fake):
    fake.refuse_socket = True  # the POST runs on a thread while the interpreter exits
    exit_without_close(server.url)
    assert set(fake.stored) == {f"exit-{i}" for i in range(7)}
    assert fake.posts and not fake.ws_frames


def test_flush_is_true_only_when_every_event_was_acked(client_make, fake):
    """Issue #22: flush() returned True with failed=1. A failure is reported by the flush that
    sees it; the next flush speaks for its own events."""
    fake.script = ["", "invalid"]
    client = client_make(batch_max=2)
    ids_send(client, 2)
    assert client.flush(10) is True
    ids_send(client, 2)
    assert client.flush(10) is False and client.pending == 0 and client.stats.failed == 2
    ids_send(client, 2)
    assert client.flush(10) is True


def test_frames_stay_under_the_servers_64_kib_limit(client_make, fake):
    """Issue #19: 500 events of ~200 bytes made one 99 KiB frame, which the server refuses
    (too_large) on every retry. Frames are split by bytes, under 65,536."""
    client = client_make(batch_max=500, flush_interval=60)
    ids = [client.send("ada", 1, kind="score", team="t" * 32, match="m" * 64, id=f"e{i:04d}-{'x' * 58}")
           for i in range(500)]  # fmt: skip
    assert client.flush(10)
    assert set(fake.stored) == set(ids) and len(fake.ws_frames) >= 2
    assert max(len(json.dumps(frame, separators=(",", ":"))) for frame in fake.ws_frames) <= 65_536


def test_a_frame_the_server_finds_too_large_is_sent_again_in_halves(client_make, fake):
    """A server whose limit is below the client's: its too_large answer splits the frame,
    and later frames are made smaller than the refused one."""
    fake.script = ["too_large"]
    client = client_make(batch_max=10, flush_interval=60)
    ids = ids_send(client, 10)
    assert client.flush(10)
    assert set(fake.stored) == set(ids) and client_make.errors == []
    assert [len(frame["events"]) for frame in fake.ws_frames] == [10, 5, 5]
    more = ids_send(client, 10)
    assert client.flush(10) and set(more) <= set(fake.stored)
    assert all(len(frame["events"]) < 10 for frame in fake.ws_frames[3:])

"""The parts without a server: event checks, frames, backoff, answers."""

import json
import random
from datetime import UTC, datetime

import pytest
from webgame_client.answers import _http_error, ws_answer
from webgame_client.backoff import Backoff
from webgame_client.events import event_make, frames_make, orders_new
from webgame_client.transport import refusal_reason
from websockets.datastructures import Headers
from websockets.exceptions import InvalidStatus
from websockets.http11 import Response


def test_event_gets_a_fresh_id_unless_given():
    first, second = event_make("ada", 1), event_make("ada", 1)
    assert first["id"] != second["id"] and len(first["id"]) == 32
    assert event_make("ada", 1, id="m1-e77")["id"] == "m1-e77"
    assert {k: v for k, v in event_make("ada").items() if k != "id"} == {"player": "ada", "points": 0}


def test_event_time_keeps_its_zone():
    at = datetime(2026, 11, 21, 19, 0, tzinfo=UTC)
    assert event_make("ada", 1, at=at)["at"] == "2026-11-21T19:00:00+00:00"
    with pytest.raises(ValueError, match="time zone"):
        event_make("ada", 1, at=datetime(2026, 11, 21, 19, 0))


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"points": True}, TypeError),
        ({"points": 1.5}, TypeError),
        ({"points": 10**9 + 1}, ValueError),
        ({"player": ""}, ValueError),
        ({"player": "x" * 65}, ValueError),
        ({"player": "a\u200bb"}, ValueError),
        ({"player": 7}, TypeError),
        ({"id": "has space"}, ValueError),
        ({"id": "x" * 65}, ValueError),
        ({"kind": "Score"}, ValueError),
        ({"kind": "correction"}, ValueError),
        ({"stats": {"points": 1}}, ValueError),
        ({"stats": {"Kills": 1}}, ValueError),
        ({"stats": {"kills": "1"}}, TypeError),
        ({"team": "t" * 33}, ValueError),
        ({"at": 1763751600}, TypeError),
    ],
)
def test_events_the_server_would_refuse_raise_at_send(fields, error):
    """One bad event would refuse its whole batch on the server: it must fail here instead."""
    arguments = {"player": "ada", "points": 1, **fields}
    with pytest.raises(error):
        event_make(arguments.pop("player"), arguments.pop("points"), **arguments)


def test_frames_are_halved_until_they_fit():
    events = [event_make("ada", 1, id=f"e{i}") for i in range(100)]
    frames, too_large = frames_make(events, orders_new(), max_bytes=2_000)
    assert not too_large and len(frames) > 1
    assert [e for f in frames for e in f.events] == events
    assert all(len(f.ws_text(2**62).encode()) <= 2_000 for f in frames)
    assert [f.order for f in frames] == sorted(f.order for f in frames)


def test_an_event_too_large_alone_is_set_apart():
    big = event_make("ada", 1, team="t", id="big")
    big["pad"] = "x" * 3_000  # as if it were huge
    frames, too_large = frames_make([event_make("ada", 1, id="a"), big], orders_new(), max_bytes=2_000)
    assert too_large == [big] and [e["id"] for f in frames for e in f.events] == ["a"]


def test_frame_texts_are_the_protocol_shapes():
    [frame], _ = frames_make([event_make("ada", 1, id="a")], orders_new())
    assert json.loads(frame.ws_text(41)) == {
        "type": "events",
        "ref": 41,
        "events": [{"id": "a", "player": "ada", "points": 1}],
    }
    assert json.loads(frame.http_body()) == {"events": [{"id": "a", "player": "ada", "points": 1}]}


def test_backoff_grows_to_its_cap_with_jitter_and_resets():
    backoff = Backoff(base=0.1, cap=2.0, rng=random.Random(7))
    waits = [backoff.next() for _ in range(12)]
    ceilings = [min(2.0, 0.1 * 2**n) for n in range(12)]
    assert all(c / 2 <= w <= c for w, c in zip(waits, ceilings, strict=True))
    assert len(set(waits)) == len(waits)  # jittered
    backoff.reset()
    assert backoff.next() <= 0.1
    with pytest.raises(ValueError):
        Backoff(base=0, cap=1)


def test_answers_from_the_socket():
    ack = ws_answer({"type": "ack", "ref": 1, "accepted": 3, "duplicates": 2, "last_seq": 9})
    assert ack is not None and ack.ok and (ack.accepted, ack.duplicates, ack.last_seq) == (3, 2, 9)
    assert ws_answer({"type": "ack", "ref": 1, "accepted": 1}).last_seq is None  # type: ignore[union-attr]
    error = ws_answer({"type": "error", "ref": 2, "code": "rate_limited", "message": "slow down"})
    assert error is not None and error.retryable
    invalid = ws_answer({"type": "error", "ref": 3, "code": "invalid", "message": "bad"})
    assert invalid is not None and not invalid.retryable
    assert ws_answer({"type": "pong"}) is None
    limited = ws_answer({"type": "error", "ref": 4, "code": "rate_limited", "message": "m", "retry_after": 2})
    assert limited is not None and limited.retry_after == 2.0
    details = [{"field": "events.0.points", "message": "no"}]
    detailed = ws_answer({"type": "error", "code": "invalid", "message": "bad", "details": details})
    assert detailed is not None and detailed.message == "bad (events.0.points: no)"


def test_answers_from_http_errors():
    limited = _http_error(429, {"error": {"code": "rate_limited", "message": "m"}}, "3")
    assert limited.retryable and limited.retry_after == 3.0
    assert _http_error(502, {}, None).code == "server_error"
    assert _http_error(500, {}, None).retryable
    refused = _http_error(422, {"error": {"code": "unknown_stat", "message": "m"}}, None)
    assert refused.code == "unknown_stat" and not refused.retryable
    assert _http_error(418, {}, None).code == "http_418"


def test_a_refused_handshake_is_logged_with_the_servers_reason():
    body = json.dumps({"error": {"code": "unauthorized", "message": "send the key", "details": []}}).encode()
    said = refusal_reason(InvalidStatus(Response(401, "Unauthorized", Headers(), body)))
    assert said.endswith("HTTP 401: unauthorized: send the key")
    bare = refusal_reason(InvalidStatus(Response(403, "Forbidden", Headers(), b"")))  # daphne: no body
    assert bare.endswith("HTTP 403") and refusal_reason(TimeoutError()) == "TimeoutError"

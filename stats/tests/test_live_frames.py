"""stats.live.frames: every frame the server sends, its builders, models and AsyncAPI document."""

import json
from pathlib import Path

import pytest
from pydantic import ValidationError
from websockets.client import ClientProtocol
from websockets.protocol import State
from websockets.uri import parse_uri

from stats.live import frames
from stats.live.frames import OutFrame


@pytest.mark.parametrize("size", [5, 125, 126, 300, 65_535, 70_000])
def test_wire_bytes_parse_back_to_the_text_at_every_length_encoding(size):
    text = "é" + "x" * (size - 2)  # multi-byte: the length is of the UTF-8 bytes
    client = ClientProtocol(parse_uri("ws://127.0.0.1/"), state=State.OPEN, max_size=None)
    client.receive_data(OutFrame(text).wire())
    [frame] = client.events_received()
    assert frame.data.decode() == text and frame.fin


def test_wire_bytes_are_built_once_per_frame():
    frame = OutFrame("{}")
    assert frame.wire() is frame.wire()


GAME = {"slug": "g", "name": "G", "is_public": True, "last_seq": 3, "events": 3, "points": 6}
EVENT = {"id": "e", "seq": 3, "player": "ada", "points": 2, "kind": "score", "at": "2026-11-30T00:00:00+00:00",
         "at_ms": 1, "received_ms": 2}  # fmt: skip


def test_events_frames_from_publish_merge_and_replay_are_one_shape():
    one = frames.events_text(
        events_json=json.dumps([EVENT]), players=[{"player": "ada", "total": 6, "events": 3}], game=GAME
    )
    replay = frames.events_text(events_json="[]", players=[], game=GAME, resumed=True)
    second = {**EVENT, "seq": 4, "id": "f"}
    merged = frames.events_merge([
        (json.dumps([EVENT]), [{"player": "ada", "total": 6, "events": 3}], GAME, []),
        (json.dumps([second]), [{"player": "ada", "total": 8, "events": 4}], {**GAME, "last_seq": 4}, []),
    ])  # fmt: skip
    for text in (one, replay, merged):
        frames.frame_validate(json.loads(text))
    merged = json.loads(merged)
    assert [e["seq"] for e in merged["events"]] == [3, 4]
    assert merged["players"] == [{"player": "ada", "total": 8, "events": 4}]  # the last run's totals
    assert merged["game"]["last_seq"] == 4 and "resumed" not in merged
    assert json.loads(replay)["resumed"] is True


def test_a_merge_joins_the_stats_each_run_changed():
    """A run carries only the stats it changed; the merged frame carries all of them."""
    red = {"match": "m1", "team": "red"}
    ada = {"player": "ada", "total": 6, "team": "red"}
    first = (json.dumps([EVENT]), [{**ada, "events": 3, "stats": {"kills": 2}}], GAME, [{**red, "stats": {"kills": 2}}])
    later = {**GAME, "last_seq": 4}
    second = (json.dumps([{**EVENT, "seq": 4, "id": "f"}]), [{**ada, "events": 4, "stats": {"deaths": 1}}], later, [])
    third = ("[]", [], later, [{**red, "stats": {"deaths": 1}}])
    merged = json.loads(frames.events_merge([first, second, third]))
    frames.frame_validate(merged)
    assert merged["players"] == [{**ada, "events": 4, "stats": {"kills": 2, "deaths": 1}}]
    assert merged["teams"] == [{**red, "stats": {"kills": 2, "deaths": 1}}]


@pytest.mark.parametrize(
    "frame",
    [
        frames.status(live=False),
        frames.status(live=True),
        frames.pong(3),
        frames.pong(),
        frames.connection_established("g"),
        frames.connection_established(),
        frames.error("bad_json", "the frame is not valid JSON"),
        json.loads(frames.presence_text(2)),
        json.loads(frames.lobby_game_text(GAME)),
    ],
)
def test_every_builder_makes_a_frame_its_model_accepts(frame):
    frames.frame_validate(frame)


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "events", "events": [], "players": [], "game": GAME, "extra": 1},  # an undocumented field
        {"type": "pong", "seq": -1},
        {"type": "status", "live": False, "reason": "other"},
        {"type": "nope"},
    ],
)
def test_a_frame_outside_the_definitions_is_refused(frame):
    with pytest.raises(ValidationError):
        frames.frame_validate(frame)


def test_the_asyncapi_document_is_generated_from_the_models():
    """docs/asyncapi.json is `python -m stats.live.frames`: regenerate it when a frame changes."""
    path = Path(__file__).resolve().parents[2] / "docs" / "asyncapi.json"
    assert json.loads(path.read_text()) == frames.asyncapi(), "stale: python -m stats.live.frames > docs/asyncapi.json"
    documented = Path(__file__).resolve().parents[2].joinpath("docs", "protocol.md").read_text()
    for model in frames.FRAMES:
        kind = model.model_fields["type"].annotation.__args__[0]
        assert f"`{kind}`" in documented, f"docs/protocol.md does not describe the {kind} frame"

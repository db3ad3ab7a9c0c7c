"""Every frame the server sends on a WebSocket: one builder per frame, one model per frame.

The builders are what the live path sends: publish (a new run of events), the feed's merge
of several runs into one frame, and the database replay all build an `events` frame with
`events_text` here, so the three can never disagree. The models (pydantic) describe the same
frames for checking: the test suite validates every frame it receives against them
(`frame_validate`), and docs/asyncapi.json is generated from them (`python -m
stats.live.frames`; a test fails when it is stale).

Hot paths build text, not models: an events frame is joined from JSON parts that were
encoded once per publish, and wrapped once in an OutFrame whose bytes every socket shares.
"""

import json
from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter


def json_compact(value) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


class OutFrame:
    """A frame bound for many sockets of this process, encoded once for all of them. The
    sinks (stats.live.sinks) write `asgi` through the server, or `wire` (the WebSocket bytes,
    built once) straight to a socket where the server allows it."""

    __slots__ = ("_wire", "asgi", "burst")

    def __init__(self, text: str, burst: object | None = None) -> None:
        self.asgi = {"type": "websocket.send", "text": text}  # shared: the servers only read it
        self._wire: bytes | None = None
        # The frames one flush cut from one burst share a token: a socket takes all or none
        # of them (stats.live.sinks.BoundedSender), as it did the one frame they were.
        self.burst = burst

    @property
    def text(self) -> str:
        return self.asgi["text"]

    def wire(self) -> bytes:
        """The frame as a server sends it: unmasked, unfragmented, uncompressed."""
        if self._wire is None:
            from websockets.frames import Frame, Opcode  # uvicorn's protocol library

            self._wire = Frame(Opcode.TEXT, self.text.encode()).serialize(mask=False, extensions=[])
        return self._wire


# Builders --------------------------------------------------------------------------------


def events_text(
    *, events_json: str, players: list[dict], game: dict, teams: list[dict] | None = None, resumed: bool = False
) -> str:
    """An `events` frame from its events already encoded as a JSON array (`events_json`)."""
    tail = f',"teams":{json_compact(teams)}' if teams else ""
    tail += ',"resumed":true' if resumed else ""
    players_json, game_json = json_compact(players), json_compact(game)
    return f'{{"type":"events","events":{events_json},"players":{players_json},"game":{game_json}{tail}}}'


def _stats_union(kept: dict | None, new: dict) -> dict:
    """`new` over `kept`, their `stats` joined: a run carries only the stats it changed."""
    if kept is None or "stats" not in kept:
        return new
    return {**kept, **new, "stats": {**kept["stats"], **new.get("stats", {})}}


def events_merge(runs: list[tuple[str, list[dict], dict, list[dict]]]) -> str:
    """One `events` frame for contiguous runs of (events_json, players, game, teams): the
    events joined, each player's and team's totals as of its last run, the game as of the last."""
    if len(runs) == 1:
        return events_text(events_json=runs[0][0], players=runs[0][1], game=runs[0][2], teams=runs[0][3])
    players: dict[str, dict] = {}
    teams: dict[tuple, dict] = {}
    for _, run_players, _, run_teams in runs:
        for p in run_players:
            players[p["player"]] = _stats_union(players.get(p["player"]), p)
        for t in run_teams or ():
            key = (t["match"], t["team"])
            teams[key] = _stats_union(teams.get(key), t)
    events_json = "[" + ",".join(run[0][1:-1] for run in runs if run[0] != "[]") + "]"
    return events_text(
        events_json=events_json, players=list(players.values()), game=runs[-1][2], teams=list(teams.values())
    )


def error(code: str, message: str, **extra) -> dict:
    return {"type": "error", "code": code, "message": message, **extra}


def connection_established(game: str | None = None) -> dict:
    frame = {"type": "connection_established", "message": "You are now connected!"}
    return frame if game is None else {**frame, "game": game}


def status(*, live: bool) -> dict:
    return {"type": "status", "live": True} if live else {"type": "status", "live": False, "reason": "layer_down"}


def pong(seq: int | None = None) -> dict:
    return {"type": "pong"} if seq is None else {"type": "pong", "seq": seq}


def match_frame(match: dict) -> dict:
    return {"type": "match", "match": match}


def presence_text(viewers: int) -> str:
    return json_compact({"type": "presence", "viewers": viewers})


def lobby_game_text(game: dict) -> str:
    return json_compact({"type": "game", "game": game})


# Models ----------------------------------------------------------------------------------


class _Frame(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GameWire(_Frame):
    slug: str
    name: str
    is_public: bool
    last_seq: int = Field(ge=0)
    events: int = Field(ge=0)
    points: int


class EventWire(_Frame):
    id: str
    seq: int = Field(ge=1)
    player: str
    points: int
    kind: str
    at: str
    at_ms: int
    received_ms: int
    stats: dict[str, int] | None = None
    team: str | None = None
    match: str | None = None


class PlayerWire(_Frame):
    player: str
    total: int = Field(description="all-time points")
    events: int = Field(ge=0)
    stats: dict[str, int] | None = Field(
        default=None, description="all-time values of declared stats; in `events` frames, only those that changed"
    )
    team: str | None = Field(default=None, description="the player's team in the game's open match")


class TeamWire(_Frame):
    """A team's totals in one match (in `events` frames: only the stats that changed)."""

    match: str
    team: str
    stats: dict[str, int]


class StatWire(_Frame):
    """A stat the game declares; `points` always comes first. A derived stat is the ratio
    numerator / max(denominator, 1), computed by the reader."""

    name: str
    label: str
    format: Literal["integer", "duration_ms", "percent", "ratio"]
    order: Literal["desc", "asc"]
    op: Literal["incr", "best", "set"] | None
    numerator: str | None = None
    denominator: str | None = None


class MatchTeamWire(_Frame):
    team: str
    stats: dict[str, int]


class MatchWire(_Frame):
    id: str
    name: str
    status: Literal["live", "finished"]
    started_ms: int
    ended_ms: int | None
    first_seq: int = Field(ge=1)
    last_seq: int | None = Field(ge=0, description="the last seq while it was live (null while live)")
    teams: list[MatchTeamWire]


class SeriesWire(_Frame):
    player: str
    points: list[tuple[int, int]]


class ChatWire(_Frame):
    id: int = Field(ge=1)
    user: str
    text: str = Field(max_length=500)
    at_ms: int


class Snapshot(_Frame):
    """The first frame on a game socket, and a resync when a replay would be too long."""

    type: Literal["snapshot"]
    seq: int = Field(ge=0, description="the last event this state reflects")
    game: GameWire
    players: int = Field(ge=0)
    leaderboard: list[PlayerWire]
    recent: list[EventWire]
    series: list[SeriesWire]
    rate: list[tuple[int, int]]
    viewers: int | None
    server_ms: int
    chat: list[ChatWire] | None = Field(default=None, description="the last 50 messages, oldest first")
    stats: list[StatWire] = Field(description="the game's stats, points first")
    match: MatchWire | None = Field(description="the game's open match, with its teams' totals")


class Events(_Frame):
    """New events in seq order, with no gap from the previous frame; `players` are absolute."""

    type: Literal["events"]
    events: list[EventWire]
    players: list[PlayerWire]
    game: GameWire
    teams: list[TeamWire] | None = Field(default=None, description="match totals of the teams these events touched")
    resumed: Literal[True] | None = None


class ConnectionEstablished(_Frame):
    type: Literal["connection_established"]
    message: str
    game: str | None = None


class Presence(_Frame):
    type: Literal["presence"]
    viewers: int = Field(ge=0)


class Pong(_Frame):
    type: Literal["pong"]
    seq: int | None = Field(default=None, ge=0, description="the last seq sent to this socket (game sockets)")


class Status(_Frame):
    """Whether live pushes reach this socket (false while the channel layer is down)."""

    type: Literal["status"]
    live: bool
    reason: Literal["layer_down"] | None = None


class Error(_Frame):
    type: Literal["error"]
    code: str
    message: str
    details: list | None = None
    ref: int | None = Field(default=None, description="ingest socket: the refused frame's ref (null if it had none)")
    retry_after: int | None = Field(default=None, description="ingest socket, rate_limited: seconds to wait")


class Ack(_Frame):
    """Ingest socket: a frame's events are committed (answers come in the order sent)."""

    type: Literal["ack"]
    ref: int = Field(ge=0)
    accepted: int = Field(ge=0)
    duplicates: int = Field(ge=0)
    last_seq: int = Field(ge=0)


class Chat(_Frame):
    """A chat message, to everyone watching the game (rendered as text, never HTML)."""

    type: Literal["chat"]
    message: ChatWire


class ChatDeleted(_Frame):
    """Staff removed a message: take it off the page."""

    type: Literal["chat_deleted"]
    id: int = Field(ge=1)


class MatchFrame(_Frame):
    """A match of the game started or ended."""

    type: Literal["match"]
    match: MatchWire


class Games(_Frame):
    type: Literal["games"]
    games: list[GameWire]


class LobbyGame(_Frame):
    type: Literal["game"]
    game: GameWire


FRAMES = (
    Snapshot, Events, ConnectionEstablished, Presence, Pong, Status, Error, Chat, ChatDeleted, MatchFrame, Games,
    LobbyGame, Ack,
)  # fmt: skip
_any_frame = TypeAdapter(Annotated[Union[FRAMES], Field(discriminator="type")])  # noqa: UP007 - a tuple of classes


def frame_validate(frame: dict) -> BaseModel:
    """Raises pydantic.ValidationError if `frame` is not one the server may send."""
    return _any_frame.validate_python(frame)


def asyncapi() -> dict:
    """An AsyncAPI 3.0 document of the WebSocket endpoints, from the models above."""
    from stats.live.asyncapi import document

    return document(FRAMES)


if __name__ == "__main__":
    print(json.dumps(asyncapi(), indent=2))

"""The HTTP API's answers as pydantic models, for its OpenAPI document (django-ninja's
`response=`). The views return the selectors' dicts as they are (JsonResponse): these describe
them, and schemathesis checks every answer against them (stats/tests/test_openapi_schemathesis.py).
"""

from typing import Annotated, Literal

from pydantic import BaseModel, Field, create_model

from stats.live.frames import EventWire, GameWire, MatchWire, Snapshot, StatWire
from stats.scoring.periods import PERIODS
from stats.selectors import HISTORY_RANGES


class Games(BaseModel):
    games: list[GameWire]


class Accepted(BaseModel):
    accepted: int = Field(ge=0)
    duplicates: int = Field(ge=0)
    last_seq: int = Field(ge=0)


class EventPage(BaseModel):
    events: list[EventWire]
    next_after_seq: int = Field(ge=0, description="pass as `after_seq` for the next page")
    more: bool


class History(BaseModel):
    range: Literal[HISTORY_RANGES]
    from_ms: int
    to_ms: int
    bucket_ms: int = Field(ge=60000)
    buckets: list[Annotated[list[int], Field(min_length=3, max_length=3)]] = Field(
        description="[start_ms, events, points] per bucket"
    )
    rolled_up_seq: int = Field(ge=0)
    last_seq: int = Field(ge=0)


class ChatMessage(BaseModel):
    id: int
    user: str = Field(description="the sender's username")
    text: str
    at_ms: int = Field(description="when it was sent, in ms since the epoch")


class ChatPage(BaseModel):
    messages: list[ChatMessage]
    before: int | None = Field(description="pass as `before` for the older page; null if none")
    more: bool


# The socket's snapshot frame but for what only a socket has (its viewers and the chat).
SOCKET_ONLY = ("viewers", "chat")
SnapshotBody = create_model(
    "SnapshotBody",
    __doc__=Snapshot.__doc__,
    **{name: (field.annotation, field) for name, field in Snapshot.model_fields.items() if name not in SOCKET_ONLY},
)


class Stats(BaseModel):
    stats: list[StatWire]


class MatchPage(BaseModel):
    matches: list[MatchWire]
    next_before: int | None = Field(description="pass as `before` for the next page")


class LeaderboardEntry(BaseModel):
    rank: int = Field(description="ties share a rank: 1, 2, 2, 4")
    player: str = Field(default=None)
    team: str = Field(default=None)
    value: float = Field(description="an integer, or a derived stat's ratio")
    parts: dict[str, int] = Field(
        default=None, description="a derived stat's numerator and denominator values, by stat name"
    )


class Leaderboard(BaseModel):
    stat: StatWire
    period: Literal[PERIODS]
    match: str | None
    entity: Literal["player", "team"]
    around: str | None
    total: int = Field(description="how many players (or teams) have a value")
    entries: list[LeaderboardEntry]

"""Validation of what clients send (HTTP bodies and WebSocket frames), with pydantic.

Strict types: a float, bool or numeric string is not an integer number of points, and a
naive timestamp is refused rather than guessed.
"""

import unicodedata
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
)

MAX_POINTS = 10**9


def _clean_name(value: str) -> str:
    # Printable ASCII (nearly every name) needs neither the NFC pass nor the per-character
    # category scan, which together were ~10% of a 1,000-event POST (profiled).
    if not (value.isascii() and value.isprintable()):
        value = unicodedata.normalize("NFC", value)
        if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn") for ch in value):
            raise ValueError("must not contain control or invisible characters")
    value = value.strip()
    if not value:
        raise ValueError("must not be blank")
    return value


PlayerName = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_clean_name)]
# Client ids: what UUIDs, ULIDs and counters use. "~" is kept for server-made ids (corrections).
EventId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:\-]+$")]
Kind = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[a-z][a-z0-9_]*$")]
Points = Annotated[StrictInt, Field(ge=-MAX_POINTS, le=MAX_POINTS)]


class EventIn(BaseModel):
    """One score event as a game server posts it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: EventId
    player: PlayerName
    points: Points
    kind: Kind = "score"
    at: AwareDatetime | None = None


class EventBatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    events: list[EventIn] = Field(min_length=1)


class ResumeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["resume"]
    # Capped like the replay API's after_seq: a seq past bigint would fail in the database.
    after_seq: Annotated[StrictInt, Field(ge=0, le=2**62)]


class PingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["ping"]


def errors_describe(exc) -> list[dict]:
    """pydantic's errors as `{"field": "events.3.points", "message": ...}`, without input echo."""
    return [
        {"field": ".".join(str(p) for p in err["loc"]) or "(body)", "message": err["msg"]}
        for err in exc.errors(include_url=False, include_input=False)
    ]

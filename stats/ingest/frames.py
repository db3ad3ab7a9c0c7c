"""The ingest socket's frames: what a game server sends (checked with the HTTP body's event
model) and what it is answered."""

from typing import Annotated, Literal

from django.db import DatabaseError
from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError

from stats import services
from stats.live import frames
from stats.schemas import MAX_SEQ, EventIn, PingIn, errors_describe
from stats.scoring.record import EventsRefused

__all__ = ["IngestEventsIn", "PingIn", "ack", "error_for", "ref_of"]

Ref = Annotated[StrictInt, Field(ge=0, le=MAX_SEQ)]


class IngestEventsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["events"]
    ref: Ref
    events: list[EventIn] = Field(min_length=1)


def ref_of(content: dict) -> int | None:
    """The frame's ref if it is a valid one, so that even a refused frame's answer names it."""
    ref = content.get("ref")
    return ref if type(ref) is int and 0 <= ref <= MAX_SEQ else None


def ack(ref: int, result: services.RecordResult) -> dict:
    return {
        "type": "ack",
        "ref": ref,
        "accepted": result.accepted,
        "duplicates": result.duplicates,
        "last_seq": result.last_seq,
    }


def error_for(exc: BaseException, ref: int | None) -> dict:
    """The error frame for what refused a frame: the HTTP API's codes."""
    if isinstance(exc, ValidationError):
        return frames.error("invalid", "some fields are invalid", details=errors_describe(exc), ref=ref)
    if isinstance(exc, services.EventConflict):
        details = [{"field": "id", "message": i} for i in exc.ids]
        return frames.error("id_conflict", str(exc), details=details, ref=ref)
    if isinstance(exc, EventsRefused):
        extra = {"details": exc.details} if exc.details else {}
        return frames.error(exc.code, exc.message, ref=ref, **extra)
    if isinstance(exc, DatabaseError):
        return frames.error("unavailable", "the database failed; send the frame again", ref=ref)
    return frames.error("unavailable", "the frame could not be stored; send it again", ref=ref)
